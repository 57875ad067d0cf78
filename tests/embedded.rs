//! The embedded default, run as a real process: `nusa-journal` with no configuration.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::ServerProcess;
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
