//! The foundation: slugs over HTTP, unknown tenants, isolation between tenants,
//! sealed credentials, role isolation.

use crate::common;

use common::{error_code, TestApp};
use nusa_journal::entities::registry::tenants;
use reqwest::StatusCode;
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::{ConnectOptions, Connection};
use sea_orm::ConnectionTrait;
use secrecy::ExposeSecret;
use serde_json::json;

const COMPANY: &str = "{ company { id name baseCurrency fiscalYearStartMonth } }";

fn tenant_options(row: &tenants::Model, password: &str, database: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        .host(&row.db_host)
        .port(row.db_port as u16)
        .username(&row.db_username)
        .password(password)
        .database(database)
        .disable_statement_logging()
}

#[tokio::test]
async fn bad_slugs_get_400_invalid_tenant_slug_over_http() {
    let app = TestApp::spawn().await;
    let fifty_one = "a".repeat(51);
    let bad_paths = [
        "/admin2--x/graphql".to_owned(),
        "/PT-Maju/graphql".to_owned(),
        "/pt--maju/graphql".to_owned(),
        "/ab/graphql".to_owned(),
        format!("/{fifty_one}/graphql"),
        "/pt_maju/graphql".to_owned(),
        "/../graphql".to_owned(),
        "/%2e%2e/graphql".to_owned(),
        "/pt%20maju/graphql".to_owned(),
        "/pt-m%D0%B0ju/graphql".to_owned(),    // Cyrillic 'а'
        "/%EF%BD%90t-maju/graphql".to_owned(), // full-width 'ｐ'
        "/%FF%FE/graphql".to_owned(),          // not UTF-8
        "/-ptmaju/graphql".to_owned(),
        "/healthz/graphql".to_owned(),
        "/postgres/graphql".to_owned(),
        "/template1/graphql".to_owned(),
        "/api/graphql".to_owned(),
    ];
    for path in bad_paths {
        let (status, body) = app.raw_post(&path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(error_code(&body), "INVALID_TENANT_SLUG", "{path}: {body}");
    }
    assert_eq!(app.services.connections.stats.cache_misses.get(), 0);
}

#[tokio::test]
async fn unknown_tenant_is_404_and_opens_no_connection() {
    let app = TestApp::spawn().await;
    let slug = common::unique_slug("nobody");
    let (status, body) = app.tenant(&slug, Some("nj_x"), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(error_code(&body), "TENANT_NOT_FOUND");
    let (status, body) = app.tenant(&slug, None, COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let stats = &app.services.connections.stats;
    assert_eq!(stats.cache_misses.get(), 0, "no pool lookup for an unknown tenant");
    assert_eq!(stats.pool_opens.get(), 0);
    let seen = app
        .services
        .registry
        .db()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT pid FROM pg_stat_activity WHERE application_name = 'nusa-journal:{slug}'"),
        ))
        .await
        .expect("pg_stat_activity");
    assert!(seen.is_empty());
}

#[tokio::test]
async fn each_tenant_sees_only_its_own_company() {
    let app = TestApp::spawn().await;
    let maju = app.create_tenant("pt-maju", "PT Maju Jaya").await;
    let sinar = app.create_tenant("cv-sinar", "CV Sinar Terang").await;

    let (status, body) = app.tenant(&maju.slug, Some(&maju.token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["company"]["name"], "PT Maju Jaya");
    assert_eq!(body["data"]["company"]["baseCurrency"], "IDR");
    let (status, other) = app.tenant(&sinar.slug, Some(&sinar.token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_eq!(other["data"]["company"]["name"], "CV Sinar Terang");
    assert_ne!(body["data"]["company"]["id"], other["data"]["company"]["id"]);

    // A change in one tenant's books does not show in the other's.
    let (status, updated) = app
        .tenant(
            &maju.slug,
            Some(&maju.token),
            r#"mutation { updateCompany(input: { legalName: "PT Maju Jaya Tbk", taxId: "01.234.567.8-901.000" }) { legalName taxId } }"#,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["data"]["updateCompany"]["taxId"], "012345678901000",
        "{updated}"
    );
    let (_, other) = app
        .tenant(
            &sinar.slug,
            Some(&sinar.token),
            "{ company { legalName taxId } }",
            json!({}),
        )
        .await;
    assert_eq!(other["data"]["company"]["legalName"], serde_json::Value::Null);

    // One tenant's token does not open the other's books.
    let (status, body) = app.tenant(&sinar.slug, Some(&maju.token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
}

#[tokio::test]
async fn registry_holds_only_sealed_passwords_bound_to_their_tenant() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("seal-a", "PT Segel A").await;
    let b = app.create_tenant("seal-b", "PT Segel B").await;
    let row_a = common::tenant_row(&app, &a.slug).await.expect("tenant row");
    let row_b = common::tenant_row(&app, &b.slug).await.expect("tenant row");
    let sealed_a = row_a.db_password.clone().expect("sealed password");
    assert!(sealed_a.starts_with("v1."), "{sealed_a}");

    let sealer = &app.config.sealer;
    let password_a = sealer
        .open(row_a.id, &sealed_a)
        .expect("opens with the right key and tenant");
    // It really is the role's password: it logs in.
    let conn = tenant_options(&row_a, password_a.expose_secret(), &row_a.db_name)
        .connect()
        .await
        .expect("login");
    conn.close().await.ok();
    // The plain password appears nowhere in the registry.
    let dump = app
        .services
        .registry
        .db()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT t::text AS row FROM tenants t UNION ALL SELECT e::text FROM tenant_events e UNION ALL SELECT k::text FROM api_tokens k",
        ))
        .await
        .expect("dump registry");
    for row in dump {
        let text: String = row.try_get("", "row").expect("text");
        assert!(
            !text.contains(password_a.expose_secret()),
            "plain password found in the registry"
        );
    }
    // A sealed value does not open for another tenant, nor with another key.
    assert!(sealer.open(row_b.id, &sealed_a).is_err());
    let other_key = nusa_journal::tenancy::sealing::Sealer::new(
        nusa_journal::tenancy::sealing::MasterKey::from_base64(
            &nusa_journal::tenancy::sealing::MasterKey::generate_base64(),
        )
        .expect("key"),
        vec![],
    );
    assert!(other_key.open(row_a.id, &sealed_a).is_err());

    // Moving A's sealed value onto B's row makes B unavailable, not A's database reachable.
    app.services
        .registry
        .db()
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "UPDATE tenants SET db_password = $1 WHERE id = $2",
            [sealed_a.clone().into(), row_b.id.into()],
        ))
        .await
        .expect("swap sealed value");
    let (status, body) = app.tenant(&b.slug, Some(&b.token), COMPANY, json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "TENANT_UNAVAILABLE");
    assert!(!body.to_string().contains("v1."), "no sealed value in errors");
}

#[tokio::test]
async fn a_tenant_role_cannot_connect_to_another_tenants_database_or_the_registry() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("role-a", "PT Peran A").await;
    let b = app.create_tenant("role-b", "PT Peran B").await;
    let row_a = common::tenant_row(&app, &a.slug).await.expect("tenant row");
    let row_b = common::tenant_row(&app, &b.slug).await.expect("tenant row");
    let password_a = app
        .config
        .sealer
        .open(row_a.id, row_a.db_password.as_deref().expect("sealed"))
        .expect("open");

    let own = tenant_options(&row_a, password_a.expose_secret(), &row_a.db_name)
        .connect()
        .await;
    assert!(own.is_ok(), "a tenant role reaches its own database");
    own.expect("own").close().await.ok();

    let err = tenant_options(&row_a, password_a.expose_secret(), &row_b.db_name)
        .connect()
        .await
        .expect_err("tenant A's role must not connect to tenant B's database");
    let message = err.to_string();
    assert!(message.contains("permission denied"), "{message}");

    let registry_db = url::Url::parse(app.config.registry_url.expose_secret())
        .expect("url")
        .path()
        .trim_start_matches('/')
        .to_owned();
    let err = tenant_options(&row_a, password_a.expose_secret(), &registry_db)
        .connect()
        .await
        .expect_err("a tenant role must not connect to the registry");
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let page = app
        .client
        .get(format!("{}/pt-anything/graphql", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .expect("graphiql");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.expect("html").contains("/pt-anything/graphql"));
}

#[tokio::test]
async fn unknown_routes_and_methods_get_graphql_shaped_errors() {
    let app = TestApp::spawn().await;
    let unknown = app
        .client
        .get(format!("{}/pt-anything/graphql/extra", app.base))
        .send()
        .await
        .expect("unknown route");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = unknown.json().await.expect("json body");
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    for path in ["/pt-anything/graphql", "/admin/graphql", "/healthz"] {
        let wrong = app
            .client
            .delete(format!("{}{path}", app.base))
            .send()
            .await
            .expect("wrong method");
        assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let allow = wrong
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(allow.contains("GET"), "{path}: Allow {allow:?}");
        let body: serde_json::Value = wrong.json().await.expect("json body");
        assert_eq!(error_code(&body), "BAD_REQUEST", "{path}: {body}");
    }
}
