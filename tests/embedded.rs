//! The embedded default, run as a real process: `nusa-journal` with no configuration.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_nusa-journal");

struct Running {
    child: Child,
    base: String,
    demo_token: Option<String>,
}

/// Starts the binary and reads its banner until it serves.
async fn start(envs: &[(&str, &str)], expect_demo: bool) -> Running {
    let mut command = Command::new(BINARY);
    for var in [
        "REGISTRY_DATABASE_URL",
        "NUSA_MASTER_KEY",
        "NUSA_ADMIN_TOKEN",
        "TENANT_DB_ADMIN_URL",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command
        .env("BIND_ADDR", "127.0.0.1:0")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn nusa-journal");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut base = None;
    let mut demo_token = None;
    let banner = async {
        while let Ok(Some(line)) = lines.next_line().await {
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
    tokio::time::timeout(Duration::from_secs(120), banner)
        .await
        .expect("the service prints its banner");
    // Keep draining stdout so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Running {
        child,
        base: base.expect("listening line"),
        demo_token,
    }
}

async fn stop(mut running: Running) {
    let pid = Pid::from_raw(running.child.id().expect("pid") as i32);
    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    let status = tokio::time::timeout(Duration::from_secs(60), running.child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert!(status.success(), "exit status {status}");
}

async fn company(base: &str, token: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{base}/pt-demo/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": "{ company { id name baseCurrency } }" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.expect("json")["data"]["company"].clone()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn serves_the_demo_tenant_and_reuses_its_data_on_the_second_run() {
    let data = tempfile::tempdir().expect("temp dir");
    let data_dir = data.path().to_str().expect("utf-8 path").to_owned();
    let envs = [("NUSA_DATA_DIR", data_dir.as_str())];

    let first = start(&envs, true).await;
    let token = first.demo_token.clone().expect("demo token printed");
    let first_company = company(&first.base, &token).await;
    assert_eq!(first_company["name"], "PT Demo Nusantara");
    assert_eq!(first_company["baseCurrency"], "IDR");
    for secret in [
        "master.key",
        "admin-token",
        "demo-token",
        "postgres/superuser-password",
    ] {
        assert_eq!(mode(&data.path().join(secret)), 0o600, "{secret}");
    }
    stop(first).await;
    assert!(
        !data.path().join("postgres/pgdata/postmaster.pid").exists(),
        "stopping the service stops the cluster it started"
    );

    let second = start(&envs, true).await;
    assert_eq!(
        second.demo_token.as_deref(),
        Some(token.as_str()),
        "the same demo token works again"
    );
    let second_company = company(&second.base, &token).await;
    assert_eq!(
        second_company["id"], first_company["id"],
        "the same tenant database, not a new one"
    );
    stop(second).await;
}

#[tokio::test]
async fn with_a_registry_url_no_local_cluster_is_started() {
    let server = common::server();
    let registry_db = format!("test_registry_{}", uuid::Uuid::new_v4().simple());
    nusa_journal::embedded::ensure_database(&server.url("postgres"), &registry_db)
        .await
        .expect("registry db");
    let data = tempfile::tempdir().expect("temp dir");
    let url = server.url(&registry_db);
    let key = nusa_journal::tenancy::sealing::MasterKey::generate_base64();
    let envs = [
        ("NUSA_DATA_DIR", data.path().to_str().expect("utf-8")),
        ("REGISTRY_DATABASE_URL", url.expose_secret()),
        ("NUSA_MASTER_KEY", key.as_str()),
        ("NUSA_ADMIN_TOKEN", "an-admin-token-for-tests"),
    ];
    let running = start(&envs, false).await;
    let ready = reqwest::get(format!("{}/readyz", running.base))
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);
    assert!(!data.path().join("postgres").exists(), "no local cluster");
    stop(running).await;
}
