//! The tenancy core: the bounded connection manager, tenant tokens, status
//! enforcement, invalidation across instances, and a tenant database that dies.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{error_code, eventually, run_cli, ServerProcess, TestApp, TestTenant};
use local_postgres::{ClusterOptions, LocalCluster};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const COMPANY: &str = "{ company { name } }";
const RENAME: &str = r#"mutation { updateCompany(input: { legalName: "PT Baru" }) { legalName } }"#;

/// Tenant connections of these tenants, as PostgreSQL sees them.
async fn backends_of(app: &TestApp, slugs: &[String]) -> i64 {
    let names: Vec<String> = slugs.iter().map(|s| format!("'nusa-journal:{s}'")).collect();
    let sql = format!(
        "SELECT count(*)::bigint AS n FROM pg_stat_activity WHERE application_name IN ({})",
        names.join(",")
    );
    let row = app
        .services
        .registry
        .db()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .expect("pg_stat_activity")
        .expect("a row");
    row.try_get("", "n").expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_stay_within_capacity_times_pool_size() {
    let app = TestApp::spawn_with(|c| {
        c.limits.cache_capacity = 2;
        c.limits.pool_max_connections = 2;
    })
    .await;
    let mut tenants = Vec::new();
    for i in 0..6 {
        tenants.push(app.create_tenant(&format!("bound{i}"), &format!("PT Batas {i}")).await);
    }
    let slugs: Vec<String> = tenants.iter().map(|t| t.slug.clone()).collect();
    let tenants = Arc::new(tenants);
    let app = Arc::new(app);

    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (app, slugs, done) = (app.clone(), slugs.clone(), done.clone());
        tokio::spawn(async move {
            let (mut highest, mut samples) = (0, 0);
            while !done.load(Ordering::Relaxed) {
                highest = highest.max(backends_of(&app, &slugs).await);
                samples += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (highest, samples)
        })
    };
    let requests = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..12 {
        let (app, tenants, requests) = (app.clone(), tenants.clone(), requests.clone());
        workers.push(tokio::spawn(async move {
            let started = Instant::now();
            let mut i = worker;
            while started.elapsed() < Duration::from_secs(3) {
                let tenant = &tenants[i % tenants.len()];
                let (status, body) = app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({})).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                assert!(
                    body["data"]["company"]["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("PT Batas")),
                    "{body}"
                );
                requests.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("every request succeeds");
    }
    done.store(true, Ordering::Relaxed);
    let (highest, samples) = sampler.await.expect("sampler");
    assert!(samples > 20, "sampled throughout ({samples} samples)");
    assert!(highest > 0, "the sampler saw tenant connections");
    assert!(
        highest <= 4,
        "at most capacity x pool max = 4 tenant connections, saw {highest}"
    );
    assert!(
        app.services.connections.stats.evictions.get() > 0,
        "round robin over 6 tenants evicts"
    );
    let total = requests.load(Ordering::Relaxed);
    eprintln!("bound test: {total} requests, highest {highest} tenant connections, {samples} samples");
    assert!(total >= 12, "every worker completed requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_to_a_cold_tenant_open_one_pool() {
    // 50 at once from one tenant: above the default cap on requests in flight.
    let app = Arc::new(TestApp::spawn_with(|c| c.limits.max_in_flight = 64).await);
    let tenant = Arc::new(app.create_tenant("cold", "PT Dingin").await);
    let mut requests = Vec::new();
    for _ in 0..50 {
        let (app, tenant) = (app.clone(), tenant.clone());
        requests.push(tokio::spawn(async move {
            app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({})).await
        }));
    }
    for request in requests {
        let (status, body) = request.await.expect("request task");
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(app.services.connections.stats.pool_opens.get(), 1);

    let text = app.metrics().await;
    for name in [
        "nusa_tenant_pool_opens_total 1",
        "nusa_tenant_pool_cache_hits_total",
        "nusa_tenant_pool_cache_misses_total",
        "nusa_tenant_pool_evictions_total 0",
        "nusa_tenant_pool_failed_opens_total 0",
        "nusa_tenant_pools_open 1",
        "nusa_tenant_connections_open",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_finishes_while_its_tenant_is_evicted() {
    let app = Arc::new(
        TestApp::spawn_with(|c| {
            c.limits.cache_capacity = 1;
            c.limits.pool_max_connections = 1;
        })
        .await,
    );
    let slow = Arc::new(app.create_tenant("slow", "PT Lambat").await);
    let other = app.create_tenant("other", "PT Lain").await;
    // Make `company` take two seconds in the slow tenant's database.
    common::slow_company(&app, &slow.slug, 2).await;

    let slow_request = {
        let (app, slow) = (app.clone(), slow.clone());
        tokio::spawn(async move { app.tenant(&slow.slug, Some(&slow.token), COMPANY, json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Capacity 1: this evicts the slow tenant's pool while its query runs.
    let (status, body) = app.tenant(&other.slug, Some(&other.token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = slow_request.await.expect("slow request");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["company"]["name"], "PT Lambat", "{body}");
    assert!(app.services.connections.stats.evictions.get() >= 1);
}

async fn status_of(base: &str, tenant: &TestTenant, token: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/{}/graphql", tenant.slug))
        .bearer_auth(token)
        .json(&json!({ "query": COMPANY }))
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_one_process_reach_another_within_two_seconds() {
    let app = TestApp::spawn().await;
    // Long TTL: only the notification can make process B notice in time.
    let mut envs = app.process_env();
    envs.push(("REGISTRY_CACHE_TTL_MS".into(), "600000".into()));
    let a = ServerProcess::start(&envs, false).await;
    let b = ServerProcess::start(&envs, false).await;
    let admin_token = app.admin_token().to_owned();
    let admin = |base: String, query: String| {
        let admin_token = admin_token.clone();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/admin/graphql"))
                .bearer_auth(admin_token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .expect("admin");
            response.json::<Value>().await.expect("json")
        }
    };
    let slug = common::unique_slug("twoproc");
    let created = admin(
        a.base.clone(),
        format!(r#"mutation {{ createTenant(input: {{ slug: "{slug}", name: "PT Dua Proses" }}) {{ token }} }}"#),
    )
    .await;
    let token = created["data"]["createTenant"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let tenant = TestTenant {
        slug: slug.clone(),
        token: token.clone(),
    };
    assert_eq!(
        status_of(&b.base, &tenant, &token).await.0,
        StatusCode::OK,
        "B serves the tenant (and caches it)"
    );

    admin(
        a.base.clone(),
        format!(r#"mutation {{ suspendTenant(slug: "{slug}", reason: "unpaid") {{ status }} }}"#),
    )
    .await;
    let suspended = eventually(Duration::from_secs(2), || async {
        let (status, body) = status_of(&b.base, &tenant, &token).await;
        status == StatusCode::FORBIDDEN && error_code(&body) == "TENANT_SUSPENDED"
    })
    .await;
    assert!(suspended, "B answers 403 TENANT_SUSPENDED within 2 s");

    admin(
        a.base.clone(),
        format!(r#"mutation {{ activateTenant(slug: "{slug}") {{ status }} }}"#),
    )
    .await;
    let active = eventually(Duration::from_secs(2), || async {
        status_of(&b.base, &tenant, &token).await.0 == StatusCode::OK
    })
    .await;
    assert!(active, "B serves again within 2 s");

    let second = admin(
        a.base.clone(),
        format!(r#"mutation {{ createApiToken(slug: "{slug}", name: "second") {{ apiToken {{ id }} token }} }}"#),
    )
    .await;
    let second_token = second["data"]["createApiToken"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let second_id = second["data"]["createApiToken"]["apiToken"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(status_of(&b.base, &tenant, &second_token).await.0, StatusCode::OK);
    admin(
        a.base.clone(),
        format!(r#"mutation {{ revokeApiToken(id: "{second_id}") {{ revokedAt }} }}"#),
    )
    .await;
    let refused = eventually(Duration::from_secs(2), || async {
        status_of(&b.base, &tenant, &second_token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(refused, "B refuses the revoked token within 2 s");
    assert_eq!(
        status_of(&b.base, &tenant, &token).await.0,
        StatusCode::OK,
        "the other token still works"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_tenant_database_gives_503_in_time_and_recovers() {
    let connect_timeout = Duration::from_secs(1);
    let app = TestApp::spawn_with(|c| c.limits.connect_timeout = connect_timeout).await;
    // A second PostgreSQL server, and an instance that provisions onto it. The folder goes
    // when the test ends, even on a failed assertion (the clusters, declared later, stop first).
    let second_dir = tempfile::Builder::new()
        .prefix("nusa-test-pg2-")
        .tempdir()
        .expect("dir");
    let options = ClusterOptions {
        root: second_dir.path().to_path_buf(),
        durable: false,
    };
    let mut second = LocalCluster::start_or_reuse(&options).expect("second cluster");
    let placer = app
        .another_instance(|c| {
            c.tenant_admin_url = second.superuser_url("postgres");
            c.tenant_db_port = second.port();
        })
        .await;
    let remote = placer.create_tenant("remote", "PT Jauh").await;
    let local = app.create_tenant("local", "PT Dekat").await;
    assert_eq!(status_of(&app.base, &remote, &remote.token).await.0, StatusCode::OK);
    assert_eq!(status_of(&app.base, &local, &local.token).await.0, StatusCode::OK);

    second.stop();
    let started = Instant::now();
    let (status, body) = status_of(&app.base, &remote, &remote.token).await;
    let waited = started.elapsed();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "TENANT_UNAVAILABLE");
    assert!(
        waited < connect_timeout + Duration::from_secs(2),
        "503 within the connect timeout, took {waited:?}"
    );
    assert!(
        !body.to_string().contains("postgres://"),
        "no connection details leak: {body}"
    );

    // While the remote tenant keeps failing, the local one answers.
    let failing = {
        let (base, remote) = (
            app.base.clone(),
            TestTenant {
                slug: remote.slug.clone(),
                token: remote.token.clone(),
            },
        );
        tokio::spawn(async move {
            for _ in 0..3 {
                let _ = status_of(&base, &remote, &remote.token).await;
            }
        })
    };
    for _ in 0..10 {
        let (status, body) = status_of(&app.base, &local, &local.token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    failing.await.expect("failing requests");

    drop(second);
    let _second = LocalCluster::start_or_reuse(&options).expect("second cluster again");
    let recovered = eventually(Duration::from_secs(15), || async {
        status_of(&app.base, &remote, &remote.token).await.0 == StatusCode::OK
    })
    .await;
    assert!(recovered, "the tenant recovers when its server returns");
}

#[tokio::test]
async fn token_cases() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("tokens", "PT Token").await;
    let other = app.create_tenant("tokens-other", "PT Token Lain").await;
    let url = format!("{}/{}/graphql", app.base, tenant.slug);
    let body = json!({ "query": COMPANY });

    let missing = app.client.post(&url).json(&body).send().await.expect("request");
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&missing.json().await.expect("json")), "UNAUTHENTICATED");
    for header in [
        "Bearer",
        "Basic abc",
        "Bearer not-a-token",
        "Bearer nj_short",
        &format!("Token {}", tenant.token),
    ] {
        let response = app
            .client
            .post(&url)
            .header("authorization", header)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(error_code(&response.json().await.expect("json")), "UNAUTHENTICATED");
    }
    let unknown = nusa_journal::tenancy::tokens::generate_token();
    let (status, body_unknown) = app
        .tenant(&tenant.slug, Some(unknown.expose_secret()), COMPANY, json!({}))
        .await;
    assert_eq!(
        (status, error_code(&body_unknown)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED")
    );
    let (status, _) = app.tenant(&tenant.slug, Some(&other.token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "another tenant's token");

    // READ scope: queries yes, mutations FORBIDDEN (through the CLI, like an operator would).
    let (ok, stdout, stderr) = run_cli(
        &[
            "tenant",
            "token",
            "create",
            &tenant.slug,
            "--name",
            "reporting",
            "--scope",
            "read",
        ],
        &app.process_env(),
    )
    .await;
    assert!(ok, "{stderr}");
    let read_token = stdout
        .lines()
        .find_map(|l| l.strip_prefix("token (shown once): "))
        .expect("token line")
        .trim()
        .to_owned();
    let (status, body) = app.tenant(&tenant.slug, Some(&read_token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["company"]["name"], "PT Token");
    let stats = &app.services.connections.stats;
    let pool_uses = stats.cache_hits.get() + stats.cache_misses.get();
    let (status, body) = app.tenant(&tenant.slug, Some(&read_token), RENAME, json!({})).await;
    assert_eq!(status, StatusCode::OK, "FORBIDDEN is an error inside GraphQL (API.md)");
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert_eq!(
        stats.cache_hits.get() + stats.cache_misses.get(),
        pool_uses,
        "a refused request does not touch the tenant's pool"
    );
    // In a batch only the mutation is refused; the query runs.
    let response = app
        .client
        .post(format!("{}/{}/graphql", app.base, tenant.slug))
        .bearer_auth(&read_token)
        .json(&json!([{ "query": COMPANY }, { "query": RENAME }, { "query": COMPANY }]))
        .send()
        .await
        .expect("batch");
    assert_eq!(response.status(), StatusCode::OK);
    let batch: Value = response.json().await.expect("json");
    assert_eq!(batch[0]["data"]["company"]["name"], "PT Token", "{batch}");
    assert_eq!(error_code(&batch[1]), "FORBIDDEN", "{batch}");
    assert!(batch[1]["data"].is_null(), "{batch}");
    assert_eq!(batch[2]["data"]["company"]["name"], "PT Token", "{batch}");
    let (_, body) = app
        .tenant(
            &tenant.slug,
            Some(&tenant.token),
            "{ company { legalName } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["company"]["legalName"],
        Value::Null,
        "the READ token changed nothing"
    );
    // A document holding a mutation may still run its query with a READ token.
    let response = app
        .client
        .post(format!("{}/{}/graphql", app.base, tenant.slug))
        .bearer_auth(&read_token)
        .json(&json!({ "query": format!("query Q {COMPANY} {}", RENAME.replace("mutation {", "mutation M {")), "operationName": "Q" }))
        .send()
        .await
        .expect("request");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["company"]["name"], "PT Token", "{body}");

    // WRITE scope alone: mutations yes, queries FORBIDDEN (reading needs READ).
    let (_, created) = app
        .admin(
            "mutation($slug: String!) { createApiToken(slug: $slug, name: \"writer\", scopes: [WRITE]) { token } }",
            json!({ "slug": tenant.slug }),
        )
        .await;
    let write_token = created["data"]["createApiToken"]["token"]
        .as_str()
        .expect("write-only token")
        .to_owned();
    let (status, body) = app.tenant(&tenant.slug, Some(&write_token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(error_code(&body), "FORBIDDEN", "a WRITE-only token cannot read: {body}");
    assert!(body["data"].is_null(), "{body}");
    let (_, body) = app.tenant(&tenant.slug, Some(&write_token), RENAME, json!({})).await;
    assert!(body["errors"].is_null(), "a WRITE token may write: {body}");

    // Revoked.
    let (_, created) = app
        .admin(
            "mutation($slug: String!) { createApiToken(slug: $slug, name: \"temp\", scopes: [READ, WRITE]) { apiToken { id scopes } token } }",
            json!({ "slug": tenant.slug }),
        )
        .await;
    let temp = created["data"]["createApiToken"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        created["data"]["createApiToken"]["apiToken"]["scopes"],
        json!(["READ", "WRITE"])
    );
    let id = created["data"]["createApiToken"]["apiToken"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        app.tenant(&tenant.slug, Some(&temp), RENAME, json!({})).await.0,
        StatusCode::OK
    );
    let (_, revoked) = app
        .admin(
            "mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(revoked["data"]["revokeApiToken"]["revokedAt"].is_string(), "{revoked}");
    let (status, _) = app.tenant(&tenant.slug, Some(&temp), COMPANY, json!({})).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revoked token refused at once on this instance"
    );
    let kinds: Vec<String> = app
        .services
        .registry
        .events(&tenant.slug)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect();
    assert!(
        kinds.contains(&"token_revoked".to_owned()) && kinds.contains(&"token_created".to_owned()),
        "{kinds:?}"
    );

    // The admin API itself wants the admin token.
    let response = app
        .client
        .post(format!("{}/admin/graphql", app.base))
        .bearer_auth(&tenant.token)
        .json(&json!({ "query": "{ tenants { totalCount } }" }))
        .send()
        .await
        .expect("admin");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_open_no_tenant_pool() {
    let app = Arc::new(TestApp::spawn().await);
    let mut tenants = Vec::new();
    for i in 0..20 {
        tenants.push(app.create_tenant(&format!("flood{i}"), "PT Banjir").await);
    }
    let tenants = Arc::new(tenants);
    let mut requests = Vec::new();
    for i in 0..100 {
        let (app, tenants) = (app.clone(), tenants.clone());
        requests.push(tokio::spawn(async move {
            let tenant = &tenants[i % 20];
            let wrong = match i % 4 {
                0 => None,
                1 => Some("garbage".to_owned()),
                2 => Some(
                    nusa_journal::tenancy::tokens::generate_token()
                        .expose_secret()
                        .to_owned(),
                ),
                _ => Some(tenants[(i + 1) % 20].token.clone()),
            };
            app.tenant(&tenant.slug, wrong.as_deref(), COMPANY, json!({})).await
        }));
    }
    for request in requests {
        let (status, body) = request.await.expect("request");
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let stats = &app.services.connections.stats;
    assert_eq!(stats.pool_opens.get(), 0);
    assert_eq!(stats.cache_misses.get(), 0, "no pool was even looked up");
    let slugs: Vec<String> = tenants.iter().map(|t| t.slug.clone()).collect();
    assert_eq!(backends_of(&app, &slugs).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_tenants_get_403_and_lose_their_pool_at_once() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("susp", "PT Ditangguhkan").await;
    assert_eq!(
        app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(backends_of(&app, std::slice::from_ref(&tenant.slug)).await, 1);

    let (ok, _, stderr) = run_cli(
        &["tenant", "suspend", &tenant.slug, "--reason", "unpaid"],
        &app.process_env(),
    )
    .await;
    assert!(ok, "{stderr}");
    let refused = eventually(Duration::from_secs(2), || async {
        let (status, body) = app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({})).await;
        status == StatusCode::FORBIDDEN && error_code(&body) == "TENANT_SUSPENDED"
    })
    .await;
    assert!(refused, "the CLI's suspension reaches the running server");
    let closed = eventually(Duration::from_secs(2), || async {
        backends_of(&app, std::slice::from_ref(&tenant.slug)).await == 0
    })
    .await;
    assert!(closed, "the suspended tenant's pool is closed");
    // A wrong token on a suspended tenant is still 401: status is only told to its own callers.
    let (status, _) = app.tenant(&tenant.slug, Some("nj_wrong"), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, body) = app
        .admin(
            "mutation($s: String!) { activateTenant(slug: $s) { status statusReason } }",
            json!({ "s": tenant.slug }),
        )
        .await;
    assert_eq!(body["data"]["activateTenant"]["status"], "ACTIVE", "{body}");
    assert_eq!(
        app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({}))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_connections_carry_application_name_and_statement_timeout() {
    let app = TestApp::spawn_with(|c| c.limits.statement_timeout = Duration::from_millis(1234)).await;
    let tenant = app.create_tenant("settings", "PT Setelan").await;
    let row = app
        .services
        .registry
        .tenant_by_slug(&nusa_journal::tenancy::slug::TenantSlug::parse(&tenant.slug).expect("slug"))
        .await
        .expect("registry")
        .expect("row");
    // Let the company row report the session's own settings.
    let superuser = nusa_journal::tenancy::registry::connect_pool(&common::server().url(&row.db_name), "test", 1)
        .await
        .expect("connect");
    superuser
        .execute_unprepared(&format!(
            r#"ALTER TABLE company RENAME TO company_data;
               CREATE VIEW company AS
                 SELECT id, name, current_setting('statement_timeout') AS legal_name,
                        current_setting('application_name') AS tax_id, base_currency,
                        fiscal_year_start_month, lock_date, created_at, updated_at, timezone, language
                 FROM company_data;
               GRANT SELECT ON company TO "{}";"#,
            row.db_username
        ))
        .await
        .expect("settings view");
    let (status, body) = app
        .tenant(
            &tenant.slug,
            Some(&tenant.token),
            "{ company { legalName taxId } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["company"]["legalName"], "1234ms");
    assert_eq!(
        body["data"]["company"]["taxId"],
        format!("nusa-journal:{}", tenant.slug)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnecting_listener_flushes_cached_rows() {
    let app = TestApp::spawn_with(|c| c.limits.registry_cache_ttl = Duration::from_secs(600)).await;
    let tenant = app.create_tenant("flush", "PT Siram").await;
    // Let the listener settle (it flushes on connect and hears our own creation notice).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({}))
            .await
            .0,
        StatusCode::OK
    );
    // Change the registry behind the service's back: no notification is sent.
    let registry = app.services.registry.db();
    registry
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE tenants SET status = 'SUSPENDED' WHERE slug = $1",
            [tenant.slug.clone().into()],
        ))
        .await
        .expect("update");
    assert_eq!(
        app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({}))
            .await
            .0,
        StatusCode::OK,
        "the cached row still says ACTIVE"
    );
    // Cut the listener's connection: on reconnect it must flush, since notifications may be lost.
    registry
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        ))
        .await
        .expect("terminate listener");
    let flushed = eventually(Duration::from_secs(5), || async {
        app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({}))
            .await
            .0
            == StatusCode::FORBIDDEN
    })
    .await;
    assert!(flushed, "after the listener reconnects the suspension is seen");
}
