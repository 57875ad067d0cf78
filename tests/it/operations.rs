//! Long admin operations finish or roll back cleanly whatever happens to their caller:
//! a client that hangs up, a process killed half-way (another instance, while serving,
//! rolls it back once the lease lapses).

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::common::{self, eventually, ServerProcess, TestApp};
use crate::lifecycle::{database_exists, event_kinds, role_exists};

/// `(step, outcome)` of each operation recorded for `slug`, oldest first.
async fn operations_of(app: &TestApp, slug: &str) -> Vec<(String, Option<String>)> {
    app.services
        .registry
        .db()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT step, outcome FROM long_operations WHERE slug = $1 ORDER BY started_at",
            [slug.into()],
        ))
        .await
        .expect("operations")
        .into_iter()
        .map(|row| {
            (
                row.try_get("", "step").expect("step"),
                row.try_get("", "outcome").expect("outcome"),
            )
        })
        .collect()
}

fn create_tenant_body(slug: &str) -> String {
    json!({
        "query": "mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { slug } token } }",
        "variables": { "input": { "slug": slug, "name": "PT Putus" } }
    })
    .to_string()
}

/// Sends `createTenant` on a raw connection and closes it at once, before any answer.
async fn create_and_hang_up(base: &str, admin_token: &str, slug: &str) {
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let body = create_tenant_body(slug);
    let request = format!(
        "POST /admin/graphql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {admin_token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.flush().await.expect("flush");
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_hangs_up_after_create_tenant_leaves_an_active_tenant_or_nothing() {
    let app = TestApp::spawn().await;
    let slug = common::unique_slug("hangup");
    create_and_hang_up(&app.base, app.admin_token(), &slug).await;
    // Either the server started provisioning (then it must end, whatever the client
    // did), or the hang-up reached it first and nothing was started at all.
    let sent = std::time::Instant::now();
    let settled = eventually(Duration::from_secs(60), || async {
        let operations = operations_of(&app, &slug).await;
        let never_started = operations.is_empty()
            && common::tenant_row(&app, &slug).await.is_none()
            && sent.elapsed() > Duration::from_secs(5);
        never_started || (!operations.is_empty() && operations.iter().all(|(_, outcome)| outcome.is_some()))
    })
    .await;
    assert!(
        settled,
        "the provisioning ended: {:?}",
        operations_of(&app, &slug).await
    );
    let row = common::tenant_row(&app, &slug).await;
    let parsed = nusa_journal::tenancy::slug::TenantSlug::parse(&slug).expect("slug");
    match row {
        Some(row) => {
            assert_eq!(
                row.status,
                nusa_journal::entities::registry::tenants::TenantStatus::Active,
                "finished, not half made: {:?} {:?}",
                operations_of(&app, &slug).await,
                event_kinds(&app, &slug).await
            );
            assert!(database_exists(&row.db_name).await);
            assert_eq!(operations_of(&app, &slug).await[0].1.as_deref(), Some("done"));
        }
        None => {
            assert!(!database_exists(&parsed.database_name()).await);
            assert!(!role_exists(&parsed.role_name("nusa_tenant_")).await);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_while_provisioning_is_rolled_back_by_another_instance_while_serving() {
    let lease = Duration::from_secs(2);
    let app = TestApp::spawn_with(|c| c.limits.operation_lease = lease).await;
    let mut env = app.process_env();
    env.push(("OPERATION_LEASE_MS".into(), lease.as_millis().to_string()));
    env.push(("NUSA_TEST_STALL_PROVISIONING".into(), "1".into()));
    let mut doomed = ServerProcess::start(&env, false).await;
    let slug = common::unique_slug("killed");
    let client = reqwest::Client::new();
    let request = client
        .post(format!("{}/admin/graphql", doomed.base))
        .bearer_auth(app.admin_token())
        .header("content-type", "application/json")
        .body(create_tenant_body(&slug))
        .send();
    let pending = tokio::spawn(request);
    // The doomed server built the database and stalls before activating it.
    let at_activation = eventually(Duration::from_secs(60), || async {
        operations_of(&app, &slug).await.first().map(|(step, _)| step.as_str()) == Some("activate")
    })
    .await;
    assert!(at_activation, "{:?}", operations_of(&app, &slug).await);
    let row = common::tenant_row(&app, &slug).await.expect("a PROVISIONING row");
    assert!(database_exists(&row.db_name).await && role_exists(&row.db_username).await);
    doomed.child.start_kill().expect("SIGKILL");
    doomed.child.wait().await.expect("killed");
    assert!(
        pending.await.expect("task").is_err(),
        "the killed server never answered"
    );

    // The running instance (past its start-up) rolls it back once the lease lapses.
    let cleaned = eventually(Duration::from_secs(60), || async {
        common::tenant_row(&app, &slug).await.is_none()
    })
    .await;
    assert!(cleaned, "the row is gone");
    assert!(!database_exists(&row.db_name).await, "the database is gone");
    assert!(!role_exists(&row.db_username).await, "the role is gone");
    assert_eq!(
        operations_of(&app, &slug).await,
        vec![("activate".to_owned(), Some("rolled_back".to_owned()))]
    );
    assert!(event_kinds(&app, &slug)
        .await
        .contains(&"provisioning_rolled_back".to_owned()));
    // The slug can be used again.
    let (_, body) = app
        .admin(
            "mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { status } } }",
            json!({ "input": { "slug": slug, "name": "PT Lagi" } }),
        )
        .await;
    assert_eq!(body["data"]["createTenant"]["tenant"]["status"], "ACTIVE", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_holder_of_an_operation_commits_its_result() {
    use nusa_journal::tenancy::registry::{OperationDatabases, OperationKind};
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("holder", "PT Pemegang").await;
    let row = common::tenant_row(&app, &tenant.slug).await.expect("row");
    let registry = &app.services.registry;
    let version = migration::latest_version();
    let not_held = registry
        .switch_database(
            &row,
            "nusa_journal_elsewhere".into(),
            version.clone(),
            uuid::Uuid::new_v4(),
        )
        .await;
    assert!(not_held.is_err(), "no lease, no switch");
    assert_eq!(
        common::tenant_row(&app, &tenant.slug).await.expect("row").db_name,
        row.db_name
    );
    let operation = app
        .services
        .lifecycle
        .operations()
        .begin(
            OperationKind::Restore,
            row.id,
            &row.slug,
            "switch",
            OperationDatabases::default(),
        )
        .await
        .expect("operation");
    let held = registry
        .switch_database(&row, "nusa_journal_elsewhere".into(), version, operation.id())
        .await
        .expect("the holder switches");
    assert_eq!(held.db_name, "nusa_journal_elsewhere");
    operation.finish(nusa_journal::tenancy::registry::Outcome::Done).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_a_provisioning_whose_client_went_away() {
    let app = TestApp::spawn().await;
    let mut env = app.process_env();
    env.push(("SHUTDOWN_GRACE_MS".into(), "60000".into()));
    let server = ServerProcess::start(&env, false).await;
    let slug = common::unique_slug("drain");
    create_and_hang_up(&server.base, app.admin_token(), &slug).await;
    // Stop the server as soon as the provisioning has begun (its client is long gone).
    let begun = eventually(Duration::from_secs(30), || async {
        !operations_of(&app, &slug).await.is_empty()
    })
    .await;
    if !begun {
        // The hang-up reached the server before the request: nothing was started.
        assert!(common::tenant_row(&app, &slug).await.is_none());
        return;
    }
    server.stop().await;
    // The process exited only after the provisioning ended: never half made.
    let operations = operations_of(&app, &slug).await;
    assert!(
        operations.iter().all(|(_, outcome)| outcome.is_some()),
        "ended before the process did: {operations:?}"
    );
    let row = common::tenant_row(&app, &slug).await;
    assert!(
        row.as_ref()
            .is_none_or(|row| row.status == nusa_journal::entities::registry::tenants::TenantStatus::Active),
        "{row:?}"
    );
}
