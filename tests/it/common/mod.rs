//! The test harness: real PostgreSQL, real server, real HTTP.
//!
//! The test binary starts one throwaway cluster from the installed binaries (as the
//! `postgres` user when running as root), on a free port, with fsync off; it is
//! stopped and its folder removed when the binary exits. `TEST_DATABASE_ADMIN_URL`
//! points the suite at an existing server instead. Each test gets its own registry
//! database and uniquely named tenants, so tests run in parallel and in any order.
#![allow(dead_code)]

pub mod books;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use local_postgres::{remove_tree, ClusterOptions, LocalCluster};
use nusa_journal::config::{ServiceConfig, TenancyLimits, DEFAULT_ROLE_PREFIX};
use nusa_journal::embedded::ensure_database;
use nusa_journal::services::Services;
use nusa_journal::startup::Application;
use nusa_journal::tenancy::sealing::{MasterKey, Sealer};
use rand::distributions::{Alphanumeric, DistString};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

/// A PostgreSQL server the tests may create databases and roles on.
pub struct TestServer {
    /// Superuser (or CREATEDB+CREATEROLE) URL without a database path.
    admin_base: String,
    pub host: String,
    pub port: u16,
}

impl TestServer {
    pub fn url(&self, db: &str) -> SecretString {
        SecretString::from(format!("{}/{db}", self.admin_base))
    }
}

/// Clusters this binary started, stopped at exit.
static STARTED: Mutex<Vec<(LocalCluster, PathBuf)>> = Mutex::new(Vec::new());
static SERVER: OnceLock<TestServer> = OnceLock::new();

extern "C" fn stop_clusters() {
    let clusters = std::mem::take(&mut *STARTED.lock().unwrap_or_else(|p| p.into_inner()));
    for (mut cluster, dir) in clusters {
        cluster.stop();
        remove_tree(&dir);
    }
}

/// The binary's shared server: the throwaway cluster, or `TEST_DATABASE_ADMIN_URL`.
pub fn server() -> &'static TestServer {
    SERVER.get_or_init(|| {
        init_logs();
        if let Ok(url) = std::env::var("TEST_DATABASE_ADMIN_URL") {
            let parsed = url::Url::parse(&url).expect("TEST_DATABASE_ADMIN_URL is a postgres:// URL");
            let mut base = parsed.clone();
            base.set_path("");
            return TestServer {
                admin_base: base.as_str().trim_end_matches('/').to_owned(),
                host: parsed.host_str().unwrap_or("127.0.0.1").to_owned(),
                port: parsed.port().unwrap_or(5432),
            };
        }
        let (cluster, dir) = start_cluster();
        let server = TestServer {
            admin_base: cluster
                .superuser_url("")
                .expose_secret()
                .trim_end_matches('/')
                .to_owned(),
            host: "127.0.0.1".into(),
            port: cluster.port(),
        };
        let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
        if started.is_empty() {
            // SAFETY: registering a plain extern "C" function with no captured state.
            unsafe { libc::atexit(stop_clusters) };
        }
        started.push((cluster, dir));
        server
    })
}

/// A fresh throwaway cluster in a new folder under the temp dir.
pub fn start_cluster() -> (LocalCluster, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("nusa-test-pg-")
        .tempdir()
        .expect("temp dir")
        .keep();
    let cluster = LocalCluster::start_or_reuse(&ClusterOptions {
        root: dir.clone(),
        durable: false,
    })
    .unwrap_or_else(|e| panic!("cannot start a test PostgreSQL cluster: {e:#}"));
    (cluster, dir)
}

fn init_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        nusa_journal::telemetry::init(nusa_journal::telemetry::LogFormat::Pretty);
    }
}

/// A slug no other test uses: `prefix-` + 8 random characters.
pub fn unique_slug(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 8).to_lowercase()
    )
}

/// A running server with its own registry database.
pub struct TestApp {
    /// The master key (base64), for spawning processes on the same registry.
    pub master_key: String,
    pub base: String,
    pub port: u16,
    /// Where `/admin/graphql` and `/metrics` are: `base`, or the `ADMIN_BIND_ADDR` listener.
    pub admin_base: String,
    pub client: reqwest::Client,
    pub config: ServiceConfig,
    pub services: Services,
}

/// A provisioned tenant and its first token.
pub struct TestTenant {
    pub slug: String,
    pub token: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with a changed configuration (limits, timeouts).
    pub async fn spawn_with(change: impl FnOnce(&mut ServiceConfig)) -> TestApp {
        let server = server();
        let registry_db = format!("test_registry_{}", uuid::Uuid::new_v4().simple());
        ensure_database(&server.url("postgres"), &registry_db)
            .await
            .expect("create registry database");
        let master_key = MasterKey::generate_base64();
        let mut config = ServiceConfig {
            registry_url: server.url(&registry_db),
            tenant_admin_url: server.url("postgres"),
            tenant_db_host: server.host.clone(),
            tenant_db_port: server.port,
            tenant_role_prefix: DEFAULT_ROLE_PREFIX.to_owned(),
            sealer: Sealer::new(MasterKey::from_base64(&master_key).expect("key"), vec![]),
            admin_token: SecretString::from(Alphanumeric.sample_string(&mut rand::thread_rng(), 32)),
            limits: TenancyLimits::default(),
            bind_addr: "127.0.0.1:0".parse().expect("addr"),
            admin_bind_addr: None,
            use_template: true,
            api: nusa_journal::config::ApiLimits::default(),
        };
        change(&mut config);
        Self::spawn_config(config, master_key).await
    }

    /// Spawns with `CORS_ALLOWED_ORIGINS` set to `origins` (every other test gets none).
    pub async fn spawn_with_cors(origins: &[&str]) -> TestApp {
        let origins: Vec<String> = origins.iter().map(|origin| (*origin).to_owned()).collect();
        Self::spawn_with(move |c| c.api.cors_allowed_origins = origins).await
    }

    /// Another instance on the same registry (and with the same keys), maybe configured differently.
    pub async fn another_instance(&self, change: impl FnOnce(&mut ServiceConfig)) -> TestApp {
        let mut config = self.config.clone();
        config.bind_addr = "127.0.0.1:0".parse().expect("addr");
        change(&mut config);
        Self::spawn_config(config, self.master_key.clone()).await
    }

    pub async fn spawn_config(config: ServiceConfig, master_key: String) -> TestApp {
        let app = Application::build(config.clone()).await.expect("build application");
        let port = app.port();
        let base = format!("http://127.0.0.1:{port}");
        let admin_base = app
            .admin_port()
            .map(|admin| format!("http://127.0.0.1:{admin}"))
            .unwrap_or_else(|| base.clone());
        let services = app.services().clone();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        TestApp {
            master_key,
            base,
            admin_base,
            port,
            client: reqwest::Client::new(),
            config,
            services,
        }
    }

    /// The environment a `nusa-journal` process needs to work on this app's registry.
    pub fn process_env(&self) -> Vec<(String, String)> {
        vec![
            (
                "REGISTRY_DATABASE_URL".into(),
                self.config.registry_url.expose_secret().to_owned(),
            ),
            (
                "TENANT_DB_ADMIN_URL".into(),
                self.config.tenant_admin_url.expose_secret().to_owned(),
            ),
            ("NUSA_MASTER_KEY".into(), self.master_key.clone()),
            ("NUSA_ADMIN_TOKEN".into(), self.admin_token().to_owned()),
        ]
    }

    pub fn admin_token(&self) -> &str {
        self.config.admin_token.expose_secret()
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.admin_base))
            .send()
            .await
            .expect("metrics");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("metrics text")
    }

    /// The value of one sample in `/metrics` (0 when it is not there yet).
    pub async fn metric(&self, sample: &str) -> f64 {
        self.metrics()
            .await
            .lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Runs an admin GraphQL operation with the admin token.
    pub async fn admin(&self, query: &str, variables: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/admin/graphql", self.admin_base))
            .bearer_auth(self.admin_token())
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("admin request");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// Provisions a tenant with a unique slug through the admin API.
    pub async fn create_tenant(&self, prefix: &str, name: &str) -> TestTenant {
        let slug = unique_slug(prefix);
        let (status, body) = self
            .admin(
                "mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { slug status } token } }",
                json!({ "input": { "slug": slug, "name": name } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["createTenant"]["tenant"]["status"], "ACTIVE", "{body}");
        let token = body["data"]["createTenant"]["token"]
            .as_str()
            .expect("token")
            .to_owned();
        TestTenant { slug, token }
    }

    /// Runs a tenant GraphQL operation.
    pub async fn tenant(&self, slug: &str, token: Option<&str>, query: &str, variables: Value) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/{slug}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("tenant request");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// Sends a request with a raw, unnormalised path (for `..`, `%2e%2e`, spaces).
    pub async fn raw_post(&self, raw_path: &str) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("connect");
        let body = r#"{"query":"{ company { name } }"}"#;
        let request = format!(
            "POST {raw_path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        let response = String::from_utf8_lossy(&response);
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| u16::from_str(s).ok())
            .unwrap_or(0);
        let json = response
            .split("\r\n\r\n")
            .nth(1)
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, json)
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"].as_str().unwrap_or("<none>")
}

/// The `nusa-journal` binary, run as a real process.
pub const BINARY: &str = env!("CARGO_BIN_EXE_nusa-journal");

/// A `nusa-journal serve` process, killed when dropped.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub base: String,
    /// The demo token, when the embedded default printed one.
    pub demo_token: Option<String>,
    /// The lines printed on stdout up to the token (or the listening line).
    pub banner: Vec<String>,
}

fn binary_command(envs: &[(String, String)]) -> tokio::process::Command {
    program_command(std::path::Path::new(BINARY), envs)
}

/// `program` (a copy of the binary) with none of the service's settings but `envs`, and
/// any free port.
fn program_command(program: &std::path::Path, envs: &[(String, String)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    for var in [
        "REGISTRY_DATABASE_URL",
        "NUSA_MASTER_KEY",
        "NUSA_ADMIN_TOKEN",
        "TENANT_DB_ADMIN_URL",
        "RUST_LOG",
        "NUSA_DATA_DIR",
    ] {
        command.env_remove(var);
    }
    command
        .env("BIND_ADDR", "127.0.0.1:0")
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
}

/// How to launch the binary: which program, from which folder, as which user.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// Another copy of the binary (one an unprivileged user can execute); `BINARY` if unset.
    pub program: Option<PathBuf>,
    /// The working directory; the test's own if unset.
    pub current_dir: Option<PathBuf>,
    /// Run as this uid/gid (the test must be root).
    pub user: Option<(u32, u32)>,
}

impl ServerProcess {
    /// Starts `nusa-journal serve` and reads its banner until it serves.
    pub async fn start(envs: &[(String, String)], expect_demo: bool) -> ServerProcess {
        Self::launch(&Launch::default(), &[], envs, expect_demo).await
    }

    /// Starts the binary with `args` as `launch` says and reads its banner until it
    /// serves (and, with `expect_demo`, until it has printed the demo token).
    pub async fn launch(launch: &Launch, args: &[&str], envs: &[(String, String)], expect_demo: bool) -> ServerProcess {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let program = launch.program.as_deref().unwrap_or(std::path::Path::new(BINARY));
        let mut command = program_command(program, envs);
        if let Some(dir) = &launch.current_dir {
            command.current_dir(dir);
        }
        if let Some((uid, gid)) = launch.user {
            command.uid(uid).gid(gid);
            command.env(
                "HOME",
                launch.current_dir.as_deref().unwrap_or(std::path::Path::new("/")),
            );
        }
        let mut child = command
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nusa-journal");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut errors = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let stderr_tail = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
        let tail = stderr_tail.clone();
        // Keep draining stderr (the logs); keep its last lines for a failure message.
        tokio::spawn(async move {
            while let Ok(Some(line)) = errors.next_line().await {
                let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                tail.push(line);
                let excess = tail.len().saturating_sub(20);
                tail.drain(..excess);
            }
        });
        let mut base = None;
        let mut demo_token = None;
        let mut banner = Vec::new();
        let reading = async {
            while let Ok(Some(line)) = lines.next_line().await {
                banner.push(line.clone());
                if let Some(rest) = line.strip_prefix("Nusa Journal listening on ") {
                    base = Some(rest.trim().to_owned());
                    if !expect_demo {
                        break;
                    }
                }
                if let Some(token) = line.trim().strip_prefix("demo token: ") {
                    demo_token = Some(token.trim().to_owned());
                    break;
                }
            }
        };
        let finished = tokio::time::timeout(std::time::Duration::from_secs(180), reading).await;
        let Some(base) = base.filter(|_| finished.is_ok()) else {
            let _ = child.start_kill();
            let status = child.wait().await;
            panic!(
                "the service did not print its banner ({status:?}); stdout:\n{}\nstderr ends:\n{}",
                banner.join("\n"),
                stderr_tail.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
            );
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess {
            child,
            base,
            demo_token,
            banner,
        }
    }

    /// Starts `nusa-journal serve` with its stderr (the logs) written to `log_path`.
    pub async fn start_logging(envs: &[(String, String)], log_path: &std::path::Path) -> ServerProcess {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let log = std::fs::File::create(log_path).expect("log file");
        let mut child = binary_command(envs)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn nusa-journal");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut base = None;
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(std::time::Duration::from_secs(120), lines.next_line()).await
        {
            if let Some(rest) = line.strip_prefix("Nusa Journal listening on ") {
                base = Some(rest.trim().to_owned());
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess {
            child,
            base: base.expect("listening line"),
            demo_token: None,
            banner: Vec::new(),
        }
    }

    /// SIGTERM, then the exit status must be success.
    pub async fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id().expect("pid") as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = tokio::time::timeout(std::time::Duration::from_secs(60), self.child.wait())
            .await
            .expect("exits in time")
            .expect("status");
        assert!(status.success(), "exit status {status}");
    }
}

/// A `nusa-journal` command with only `envs` of the service's settings, not started
/// (for a test that must kill it half-way).
pub fn cli_command(args: &[&str], envs: &[(String, String)]) -> tokio::process::Command {
    let mut command = binary_command(envs);
    command.args(args).kill_on_drop(true);
    command
}

/// Runs a `nusa-journal` command to completion; returns (success, stdout, stderr).
pub async fn run_cli(args: &[&str], envs: &[(String, String)]) -> (bool, String, String) {
    let output = binary_command(envs)
        .args(args)
        .output()
        .await
        .expect("run nusa-journal");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Polls `check` every 50 ms until it is true or `limit` passes; returns whether it became true.
pub async fn eventually<F, Fut>(limit: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The tenant's registry row.
pub async fn tenant_row(app: &TestApp, slug: &str) -> Option<nusa_journal::entities::registry::tenants::Model> {
    let slug = nusa_journal::tenancy::slug::TenantSlug::parse(slug).expect("slug");
    app.services.registry.tenant_by_slug(&slug).await.expect("registry")
}

/// A superuser connection to database `db` of the test server.
pub async fn superuser(db: &str) -> sea_orm::DatabaseConnection {
    nusa_journal::tenancy::registry::connect_pool(&server().url(db), "test-superuser", 1)
        .await
        .expect("superuser connection")
}

/// Makes the tenant's `company` query sleep for `seconds` (a view, created as superuser),
/// to hold a request in flight.
pub async fn slow_company(app: &TestApp, slug: &str, seconds: u32) {
    use sea_orm::ConnectionTrait;
    let row = tenant_row(app, slug).await.expect("row");
    superuser(&row.db_name)
        .await
        .execute_unprepared(&format!(
            r#"ALTER TABLE company RENAME TO company_data;
               CREATE VIEW company AS SELECT * FROM company_data WHERE pg_sleep({seconds})::text = '';
               GRANT SELECT ON company TO "{}";"#,
            row.db_username
        ))
        .await
        .expect("slow view");
}
