//! Facing the internet: request limits, logs without secrets, metrics, graceful shutdown.

use crate::common;

use std::time::Duration;

use common::{error_code, ServerProcess, TestApp};
use nusa_journal::tenancy::slug::TenantSlug;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const COMPANY: &str = "{ company { name } }";

async fn post_raw(app: &TestApp, slug: &str, token: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/{slug}/graphql", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn healthy(app: &TestApp, slug: &str, token: &str) {
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let (status, body) = app.tenant(slug, Some(token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["company"]["name"].is_string());
}

#[tokio::test]
async fn abusive_requests_get_coded_errors_and_the_server_stays_healthy() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("abuse", "PT Tahan Banting").await;

    let deep = format!(
        "{{ account(code: \"1-1101\") {}{}}}",
        "{ parent ".repeat(10_000),
        "}".repeat(10_000)
    );
    let (status, body) = app.tenant(&t.slug, Some(&t.token), &deep, json!({})).await;
    assert!(status.is_client_error() || status == StatusCode::OK, "{status}");
    assert_eq!(error_code(&body), "BAD_REQUEST", "10,000-deep query: {body}");
    assert!(body["data"].is_null());

    let aliases: String = (0..1000)
        .map(|i| format!("t{i}: trialBalance {{ totalDebit }} "))
        .collect();
    let (_, body) = app
        .tenant(&t.slug, Some(&t.token), &format!("{{ {aliases} }}"), json!({}))
        .await;
    assert_eq!(error_code(&body), "BAD_REQUEST", "1,000 trialBalance aliases: {body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{body}"
    );

    let huge = format!(
        "{{\"query\": \"{{ company {{ name }} }}\", \"variables\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(20 * 1024 * 1024)
    );
    let (status, body) = post_raw(&app, &t.slug, &t.token, huge.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&body), "BAD_REQUEST");

    let batch: Vec<Value> = (0..1000).map(|_| json!({ "query": COMPANY })).collect();
    let (status, body) = post_raw(&app, &t.slug, &t.token, serde_json::to_vec(&batch).expect("json")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        "{body}"
    );
    let small: Vec<Value> = (0..3).map(|_| json!({ "query": COMPANY })).collect();
    let (status, body) = post_raw(&app, &t.slug, &t.token, serde_json::to_vec(&small).expect("json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(3), "a small batch runs");

    let (status, body) = post_raw(&app, &t.slug, &t.token, b"not json".to_vec()).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    let (_, body) = app
        .tenant(&t.slug, Some(&t.token), "{ company { nope } }", json!({}))
        .await;
    assert_eq!(
        error_code(&body),
        "BAD_REQUEST",
        "validation errors carry a code: {body}"
    );

    healthy(&app, &t.slug, &t.token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_configurable_and_slow_requests_time_out() {
    let app = TestApp::spawn_with(|c| {
        c.api.max_depth = 3;
        c.api.request_timeout = Duration::from_millis(500);
        c.api.max_page_size = 5;
    })
    .await;
    let t = app.create_tenant("limits", "PT Batas").await;
    let (_, body) = app
        .tenant(
            &t.slug,
            Some(&t.token),
            "{ accounts { nodes { parent { parent { code } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "BAD_REQUEST", "depth 5 > 3: {body}");
    let (_, body) = app
        .tenant(
            &t.slug,
            Some(&t.token),
            "{ accounts(first: 50) { nodes { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["accounts"]["nodes"].as_array().map(Vec::len),
        Some(5),
        "page cap 5: {body}"
    );

    common::slow_company(&app, &t.slug, 2).await;
    let (status, body) = app.tenant(&t.slug, Some(&t.token), COMPANY, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GATEWAY_TIMEOUT, "TIMEOUT"),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_count_requests_with_bounded_tenant_labels() {
    let app = TestApp::spawn_with(|c| c.api.metrics_tenant_labels = 1).await;
    let first = app.create_tenant("metric-a", "PT Metrik A").await;
    let second = app.create_tenant("metric-b", "PT Metrik B").await;
    app.tenant(&first.slug, Some(&first.token), COMPANY, json!({})).await;
    app.tenant(
        &first.slug,
        Some(&first.token),
        r#"mutation { updateCompany(input: { legalName: "X" }) { legalName } }"#,
        json!({}),
    )
    .await;
    app.tenant(&second.slug, Some(&second.token), COMPANY, json!({})).await;
    app.tenant(&second.slug, Some("nj_wrong"), COMPANY, json!({})).await;
    let text = app.metrics().await;
    let has = |needle: &str| text.lines().any(|l| l.starts_with("nusa_") && l.contains(needle));
    assert!(
        has(&format!(r#"tenant="{}",operation="query",result="ok"}} 1"#, first.slug)),
        "{text}"
    );
    assert!(
        has(&format!(
            r#"tenant="{}",operation="mutation",result="ok"}} 1"#,
            first.slug
        )),
        "{text}"
    );
    assert!(
        has(r#"tenant="other",operation="query",result="ok"} 1"#),
        "the second tenant is 'other': {text}"
    );
    assert!(
        has(r#"tenant="none",operation="unknown",result="UNAUTHENTICATED"} 1"#),
        "{text}"
    );
    assert!(!text.contains(&second.slug), "no label for tenants past the limit");
    assert!(has("nusa_tenant_request_duration_seconds_bucket"), "{text}");
    assert!(has(r#"nusa_tenants{status="ACTIVE"} 2"#), "{text}");
    assert!(has(r#"nusa_tenant_lifecycle_events{kind="created"} 2"#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_request_ids_and_never_secrets() {
    let app = TestApp::spawn().await;
    let log_dir = tempfile::tempdir().expect("dir");
    let log_path = log_dir.path().join("server.log");
    let mut env = app.process_env();
    env.push(("LOG_FORMAT".into(), "json".into()));
    env.push(("RUST_LOG".into(), "debug".into()));
    let server = ServerProcess::start_logging(&env, &log_path).await;
    let client = reqwest::Client::new();
    let admin = |query: Value| {
        let client = client.clone();
        let url = format!("{}/admin/graphql", server.base);
        let token = app.admin_token().to_owned();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&query)
                .send()
                .await
                .expect("admin")
                .json::<Value>()
                .await
                .expect("json")
        }
    };
    let slug = common::unique_slug("logs");
    let created = admin(json!({ "query": format!(r#"mutation {{ createTenant(input: {{ slug: "{slug}", name: "PT Catatan" }}) {{ token }} }}"#) })).await;
    let token = created["data"]["createTenant"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let extra =
        admin(json!({ "query": format!(r#"mutation {{ createApiToken(slug: "{slug}", name: "ci") {{ token }} }}"#) }))
            .await;
    let extra_token = extra["data"]["createApiToken"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let response = client
        .post(format!("{}/{slug}/graphql", server.base))
        .bearer_auth(&token)
        .json(&json!({ "query": "query Books { company { name } accounts(first: 3) { nodes { code } } }", "operationName": "Books" }))
        .send()
        .await
        .expect("tenant request");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    assert_eq!(response.status(), StatusCode::OK);
    client
        .post(format!("{}/{slug}/graphql", server.base))
        .bearer_auth(&extra_token)
        .json(&json!({ "query": "mutation { updateCompany(input: { name: \"PT Catatan Baru\" }) { name } }" }))
        .send()
        .await
        .expect("mutation");
    server.stop().await;

    let logs = std::fs::read_to_string(&log_path).expect("log file");
    let row = app
        .services
        .registry
        .tenant_by_slug(&TenantSlug::parse(&slug).expect("slug"))
        .await
        .expect("registry")
        .expect("row");
    let password = app
        .services
        .lifecycle
        .sealer()
        .open(row.id, row.db_password.as_deref().expect("sealed"))
        .expect("open");
    for (what, secret) in [
        ("tenant token", token.as_str()),
        ("second token", extra_token.as_str()),
        ("tenant database password", password.expose_secret()),
        ("admin token", app.admin_token()),
        ("master key", app.master_key.as_str()),
        ("sealed password", row.db_password.as_deref().expect("sealed")),
    ] {
        assert!(!logs.contains(secret), "the {what} appears in the logs");
    }
    let request_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l.to_string().contains(&request_id) && l.to_string().contains("finished processing request"))
        .unwrap_or_else(|| {
            panic!(
                "no JSON log line for request {request_id}:\n{}",
                &logs[logs.len().saturating_sub(4000)..]
            )
        });
    let text = request_line.to_string();
    assert!(text.contains(&format!(r#""tenant":"{slug}""#)), "{text}");
    assert!(text.contains(r#""operation":"Books""#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_slow_request_finish_and_exits_zero() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("drain", "PT Tuntas").await;
    common::slow_company(&app, &t.slug, 2).await;
    let server = ServerProcess::start(&app.process_env(), false).await;
    let url = format!("{}/{}/graphql", server.base, t.slug);
    let token = t.token.clone();
    let slow = tokio::spawn(async move {
        let response = reqwest::Client::new()
            .post(url)
            .bearer_auth(token)
            .json(&json!({ "query": COMPANY }))
            .send()
            .await
            .expect("request");
        (response.status(), response.json::<Value>().await.expect("json"))
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = tokio::spawn(server.stop());
    let (status, body) = slow.await.expect("slow request");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["company"]["name"], "PT Tuntas");
    stopping.await.expect("the process exits 0");
}

#[tokio::test]
async fn repeated_documents_are_parsed_once_and_broken_ones_every_time() {
    let app = TestApp::spawn().await;
    let t = app.create_tenant("parse-once", "PT Sekali Urai").await;
    let query = "query Named($first: Int) { accounts(first: $first) { nodes { code } } }";
    let (hits, misses) = (
        app.metric("nusa_graphql_document_cache_hits_total").await,
        app.metric("nusa_graphql_document_cache_misses_total").await,
    );
    for first in [1, 2, 3] {
        let (status, body) = app
            .tenant(&t.slug, Some(&t.token), query, json!({ "first": first }))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"]["accounts"]["nodes"].as_array().map(Vec::len), Some(first));
    }
    for _ in 0..2 {
        let (_, body) = app
            .tenant(&t.slug, Some(&t.token), "{ accounts { nodes { code }", json!({}))
            .await;
        assert_eq!(
            error_code(&body),
            "BAD_REQUEST",
            "a broken document is reported each time: {body}"
        );
    }
    assert_eq!(app.metric("nusa_graphql_document_cache_hits_total").await - hits, 2.0);
    assert_eq!(
        app.metric("nusa_graphql_document_cache_misses_total").await - misses,
        3.0
    );
}
