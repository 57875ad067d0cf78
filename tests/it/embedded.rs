//! The embedded default, run as a real process: `nusa-journal` with no configuration.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Launch, ServerProcess};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

async fn start(envs: &[(&str, &str)], expect_demo: bool) -> ServerProcess {
    let envs: Vec<(String, String)> = envs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ServerProcess::start(&envs, expect_demo).await
}

async fn stop(running: ServerProcess) {
    running.stop().await;
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
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
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
    // The demo books are balanced and not empty.
    let books = reqwest::Client::new()
        .post(format!("{}/pt-demo/graphql", first.base))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ trialBalance(asOf: \"2999-12-31\") { totalDebit totalCredit rows { account { name } } } journalEntries { totalCount } }" }))
        .send()
        .await
        .expect("request")
        .json::<Value>()
        .await
        .expect("json");
    let tb = &books["data"]["trialBalance"];
    assert_eq!(tb["totalDebit"], tb["totalCredit"], "{books}");
    assert_ne!(tb["totalDebit"], "0.00", "{books}");
    assert!(
        tb["rows"]
            .as_array()
            .is_some_and(|r| r.iter().any(|row| row["account"]["name"] == "PPN Keluaran")),
        "{books}"
    );
    assert_eq!(books["data"]["journalEntries"]["totalCount"], 5);
    for secret in ["master.key", "admin-token", "demo-token", "postgres/superuser-password"] {
        assert_eq!(mode(&data.path().join(secret)), 0o600, "{secret}");
    }
    stop(first).await;
    assert!(
        !data.path().join("postgres/pgdata/postmaster.pid").exists(),
        "stopping the service stops the cluster it started"
    );

    let port_file = data.path().join("postgres/port");
    let first_port = std::fs::read_to_string(&port_file).expect("port file");
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
    assert_eq!(
        std::fs::read_to_string(&port_file).expect("port file"),
        first_port,
        "the cluster keeps its port"
    );
    stop(second).await;

    // Someone else took the port meanwhile: the cluster moves and the tenant rows follow.
    let squatter = std::net::TcpListener::bind(("127.0.0.1", first_port.trim().parse::<u16>().expect("port")))
        .expect("take the cluster's port");
    let third = start(&envs, true).await;
    let moved_port = std::fs::read_to_string(&port_file).expect("port file");
    assert_ne!(moved_port, first_port, "a taken port is not reused");
    assert_eq!(
        company(&third.base, &token).await["id"],
        first_company["id"],
        "pt-demo is served from the moved cluster"
    );
    stop(third).await;
    drop(squatter);
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
    let ready = reqwest::get(format!("{}/readyz", running.base)).await.expect("readyz");
    assert_eq!(ready.status(), 200);
    assert!(!data.path().join("postgres").exists(), "no local cluster");
    stop(running).await;
}

// ---- The README's first command, exactly as written: no arguments, no NUSA_DATA_DIR ----

/// A new folder with `mode`, removed at the end of the test.
fn folder_with_mode(parent: Option<&Path>, mode: u32) -> tempfile::TempDir {
    let dir = match parent {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).expect("chmod");
    dir
}

/// The postmaster's pid, from `postmaster.pid` in the cluster folder.
fn postmaster_pid(cluster_dir: &Path) -> i32 {
    let text = std::fs::read_to_string(cluster_dir.join("pgdata/postmaster.pid")).expect("postmaster.pid");
    text.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("pid line")
}

/// No process of the cluster is left: the postmaster is gone and no process names its folder.
async fn nothing_of_it_keeps_running(cluster_dir: &Path, postmaster: i32) {
    let needle = cluster_dir.to_string_lossy().into_owned();
    let gone = common::eventually(std::time::Duration::from_secs(60), || {
        let needle = needle.clone();
        async move {
            let postmaster_alive = std::fs::read_to_string(format!("/proc/{postmaster}/stat"))
                .is_ok_and(|stat| !stat.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')));
            let any_named = std::fs::read_dir("/proc").expect("/proc").flatten().any(|entry| {
                std::fs::read(entry.path().join("cmdline"))
                    .map(|cmd| String::from_utf8_lossy(&cmd).replace('\0', " ").contains(&needle))
                    .unwrap_or(false)
            });
            !postmaster_alive && !any_named
        }
    })
    .await;
    assert!(
        gone,
        "a process of the cluster in {needle} is still running after SIGTERM"
    );
    assert!(
        !cluster_dir.join("pgdata/postmaster.pid").exists(),
        "the cluster was shut down cleanly"
    );
}

/// Runs the binary twice from `launch.current_dir` with nothing set; both runs serve
/// `pt-demo` with the same data and token, and SIGTERM leaves nothing running.
/// Returns the cluster folder and the banner of the first run.
async fn first_command_twice(launch: &Launch) -> (PathBuf, Vec<String>) {
    let cwd = launch.current_dir.clone().expect("a working directory");
    let data_dir = cwd.join(".nusa");
    let first = ServerProcess::launch(launch, &[], &[], true).await;
    let token = first.demo_token.clone().expect("demo token printed");
    let first_company = company(&first.base, &token).await;
    assert_eq!(first_company["name"], "PT Demo Nusantara", "{:?}", first.banner);
    for secret in ["master.key", "admin-token", "demo-token"] {
        assert_eq!(mode(&data_dir.join(secret)), 0o600, "{secret}");
    }
    let cluster_dir = match std::fs::read_to_string(data_dir.join("postgres-location")) {
        Ok(recorded) => PathBuf::from(recorded.trim()),
        Err(_) => data_dir.join("postgres"),
    };
    assert_eq!(mode(&cluster_dir.join("superuser-password")), 0o600);
    let banner = first.banner.clone();
    for (what, path) in [("cluster", &cluster_dir), ("secrets", &data_dir)] {
        assert!(
            banner.iter().any(|line| line.contains(&*path.to_string_lossy())),
            "the start-up lines say where the {what} is ({}): {banner:?}",
            path.display()
        );
    }
    let pid = postmaster_pid(&cluster_dir);
    first.stop().await;
    nothing_of_it_keeps_running(&cluster_dir, pid).await;

    let second = ServerProcess::launch(launch, &[], &[], true).await;
    assert_eq!(second.demo_token.as_deref(), Some(token.as_str()), "same demo token");
    assert_eq!(
        company(&second.base, &token).await["id"],
        first_company["id"],
        "the second run serves the same data"
    );
    let pid = postmaster_pid(&cluster_dir);
    second.stop().await;
    nothing_of_it_keeps_running(&cluster_dir, pid).await;
    (cluster_dir, banner)
}

#[tokio::test]
async fn the_first_command_works_from_a_fresh_empty_folder() {
    let cwd = folder_with_mode(None, 0o755);
    let launch = Launch {
        current_dir: Some(cwd.path().to_path_buf()),
        ..Launch::default()
    };
    let (cluster_dir, _) = first_command_twice(&launch).await;
    assert_eq!(
        cluster_dir,
        cwd.path().join(".nusa/postgres"),
        "a folder the server can reach keeps the cluster inside"
    );
}

/// Removes a cluster folder outside the test's temp folders, even when the test fails.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn as_root_under_a_closed_parent_the_cluster_goes_where_postgres_can_reach() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: only root runs the cluster as another user (the `postgres` user)");
        return;
    }
    let closed_parent = folder_with_mode(None, 0o700);
    let cwd = folder_with_mode(Some(closed_parent.path()), 0o755);
    let launch = Launch {
        current_dir: Some(cwd.path().to_path_buf()),
        ..Launch::default()
    };
    let recorded = cwd.path().join(".nusa/postgres-location");
    let cleanup = async {
        // The location is recorded before the cluster is made: clean it up whatever happens.
        common::eventually(std::time::Duration::from_secs(180), || async { recorded.exists() }).await;
        std::fs::read_to_string(&recorded)
            .ok()
            .map(|p| RemoveOnDrop(PathBuf::from(p.trim())))
    };
    let ((cluster_dir, banner), _guard) = tokio::join!(first_command_twice(&launch), cleanup);
    let clusters = local_postgres::server_user_clusters_dir().expect("clusters dir");
    assert!(
        cluster_dir.starts_with(&clusters),
        "the cluster {} is under {}",
        cluster_dir.display(),
        clusters.display()
    );
    assert!(
        !cwd.path().join(".nusa/postgres").exists(),
        "nothing of the cluster in ./.nusa"
    );
    assert_eq!(mode(&cwd.path().join(".nusa")), 0o700, "the data folder stays closed");
    assert!(banner.iter().any(|l| l.contains("cluster in")), "{banner:?}");
}

/// An unprivileged system user for the test, made if missing (`None` where impossible).
fn unprivileged_user() -> Option<(u32, u32)> {
    const NAME: &str = "nusa-journal-it";
    let existing = || nix::unistd::User::from_name(NAME).ok().flatten();
    if existing().is_none() {
        let made = std::process::Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                NAME,
            ])
            .output();
        if let Err(err) = made {
            eprintln!("useradd could not run: {err}");
        }
    }
    existing().map(|user| (user.uid.as_raw(), user.gid.as_raw()))
}

#[tokio::test]
async fn the_first_command_works_for_an_unprivileged_user() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: the unprivileged case is the other tests' own case when not run as root");
        return;
    }
    let Some((uid, gid)) = unprivileged_user() else {
        eprintln!("skipped: no unprivileged user could be created on this machine");
        return;
    };
    // A copy of the binary the user may run, wherever the checkout is.
    let bin_dir = folder_with_mode(None, 0o755);
    let program = bin_dir.path().join("nusa-journal");
    std::fs::copy(common::BINARY, &program).expect("copy the binary");
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cwd = folder_with_mode(None, 0o700);
    nix::unistd::chown(cwd.path(), Some(uid.into()), Some(gid.into())).expect("chown");
    let launch = Launch {
        program: Some(program),
        current_dir: Some(cwd.path().to_path_buf()),
        user: Some((uid, gid)),
    };
    let (cluster_dir, _) = first_command_twice(&launch).await;
    assert_eq!(cluster_dir, cwd.path().join(".nusa/postgres"));
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(cluster_dir.join("pgdata")).expect("pgdata").uid();
    assert_eq!(owner, uid, "the cluster runs as the user who started the service");
}

#[tokio::test]
async fn a_half_made_cluster_from_an_interrupted_first_run_is_made_again() {
    let cwd = folder_with_mode(None, 0o755);
    // What an initdb killed part-way leaves: a pgdata with a few files, no completion marker.
    let pgdata = cwd.path().join(".nusa/postgres/pgdata");
    std::fs::create_dir_all(pgdata.join("base")).expect("pgdata");
    std::fs::write(pgdata.join("PG_VERSION"), "15\n").expect("PG_VERSION");
    std::fs::write(cwd.path().join(".nusa/postgres/.initdb-pwfile"), "stale").expect("pwfile");
    let launch = Launch {
        current_dir: Some(cwd.path().to_path_buf()),
        ..Launch::default()
    };
    let running = ServerProcess::launch(&launch, &[], &[], true).await;
    let token = running.demo_token.clone().expect("demo token");
    assert_eq!(company(&running.base, &token).await["name"], "PT Demo Nusantara");
    assert!(cwd.path().join(".nusa/postgres/cluster-complete").exists());
    assert!(!cwd.path().join(".nusa/postgres/.initdb-pwfile").exists());
    running.stop().await;
}
