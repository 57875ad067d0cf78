//! Restores that lose nothing: another tenant's backup is refused, writes pause while a
//! restore runs (also for an instance that has not heard of it: the database refuses
//! them), a restore whose process dies is rolled back, an older backup is migrated
//! before it serves, and purge wants a backup that can be read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

use crate::common::{self, cli_command, error_code, eventually, run_cli, superuser, tenant_row, TestApp, TestTenant};
use crate::lifecycle::database_exists;

const COMPANY: &str = "{ company { name legalName } }";

async fn set_legal_name(app: &TestApp, tenant: &TestTenant, name: &str) -> (StatusCode, Value) {
    app.tenant(
        &tenant.slug,
        Some(&tenant.token),
        "mutation($n: String) { updateCompany(input: { legalName: $n }) { legalName } }",
        json!({ "n": name }),
    )
    .await
}

async fn legal_name(app: &TestApp, tenant: &TestTenant) -> Value {
    let (_, body) = app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({})).await;
    body["data"]["company"]["legalName"].clone()
}

async fn backup(app: &TestApp, slug: &str, file: &Path) {
    let (ok, out, err) = run_cli(
        &["tenant", "backup", slug, "--out", file.to_str().expect("path")],
        &app.process_env(),
    )
    .await;
    assert!(ok, "{out}{err}");
}

async fn restore(app: &TestApp, slug: &str, file: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["tenant", "restore", slug, "--from", file.to_str().expect("path")];
    args.extend_from_slice(extra);
    let (ok, out, err) = run_cli(&args, &app.process_env()).await;
    (ok, format!("{out}{err}"))
}

/// Databases whose name starts with `prefix` (a restore's fresh ones are `<db>__r...`).
async fn databases_like(prefix: &str) -> Vec<String> {
    superuser("postgres")
        .await
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname",
            [prefix.into()],
        ))
        .await
        .expect("databases")
        .into_iter()
        .map(|row| row.try_get("", "datname").expect("name"))
        .collect()
}

fn dump_path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_backup_is_refused_and_the_tenant_is_unchanged() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("resta", "PT Satu").await;
    let b = app.create_tenant("restb", "PT Dua").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dump_path(&dir, "a.dump");
    backup(&app, &a.slug, &file).await;
    let before = tenant_row(&app, &b.slug).await.expect("row");
    let garbage = dump_path(&dir, "garbage.dump");
    std::fs::write(&garbage, b"not a backup").expect("garbage");
    let (ok, output) = restore(&app, &b.slug, &garbage, &[]).await;
    assert!(!ok && output.contains("not a readable backup"), "{output}");

    let (ok, output) = restore(&app, &b.slug, &file, &[]).await;
    assert!(!ok, "refused: {output}");
    assert!(output.contains("--allow-other-tenant"), "{output}");
    let after = tenant_row(&app, &b.slug).await.expect("row");
    assert_eq!(after.db_name, before.db_name, "still its own database");
    assert!(!after.writes_paused, "writes resumed");
    assert_eq!(
        databases_like(&format!("{}__r", before.db_name)).await,
        Vec::<String>::new()
    );
    let (_, body) = app.tenant(&b.slug, Some(&b.token), COMPANY, json!({})).await;
    assert_eq!(body["data"]["company"]["name"], "PT Dua", "{body}");
    let (status, body) = set_legal_name(&app, &b, "PT Dua Tbk").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["updateCompany"]["legalName"], "PT Dua Tbk",
        "writes work: {body}"
    );

    // The operator may insist.
    let (ok, output) = restore(&app, &b.slug, &file, &["--allow-other-tenant"]).await;
    assert!(ok, "{output}");
    let served = eventually(Duration::from_secs(10), || async {
        let (_, body) = app.tenant(&b.slug, Some(&b.token), COMPANY, json!({})).await;
        body["data"]["company"]["name"] == "PT Satu"
    })
    .await;
    assert!(served, "B now serves A's books");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_pause_during_a_restore_and_a_dead_restore_is_rolled_back() {
    let lease = Duration::from_secs(2);
    let app = TestApp::spawn_with(|c| c.limits.operation_lease = lease).await;
    let tenant = app.create_tenant("pause", "PT Jeda").await;
    set_legal_name(&app, &tenant, "Sebelum").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dump_path(&dir, "pause.dump");
    backup(&app, &tenant.slug, &file).await;
    let row = tenant_row(&app, &tenant.slug).await.expect("row");

    // A restore that stops for good once writes are paused (then its process dies).
    let mut env = app.process_env();
    env.push(("OPERATION_LEASE_MS".into(), lease.as_millis().to_string()));
    env.push(("NUSA_TEST_STALL_RESTORE".into(), "1".into()));
    let mut stalled = cli_command(
        &[
            "tenant",
            "restore",
            &tenant.slug,
            "--from",
            file.to_str().expect("path"),
        ],
        &env,
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("restore process");
    let paused = eventually(Duration::from_secs(60), || async {
        tenant_row(&app, &tenant.slug)
            .await
            .is_some_and(|row| row.writes_paused)
    })
    .await;
    assert!(paused, "the restore paused writes");

    // This instance heard of it: mutations get 503 TENANT_READ_ONLY with Retry-After.
    let refused = eventually(Duration::from_secs(10), || async {
        let (status, body) = set_legal_name(&app, &tenant, "Selama").await;
        status == StatusCode::SERVICE_UNAVAILABLE && error_code(&body) == "TENANT_READ_ONLY"
    })
    .await;
    assert!(refused, "a write during the restore is refused");
    let response = app
        .client
        .post(format!("{}/{}/graphql", app.base, tenant.slug))
        .bearer_auth(&tenant.token)
        .json(&json!({ "query": "mutation { updateCompany(input: { legalName: \"x\" }) { legalName } }" }))
        .send()
        .await
        .expect("request");
    assert!(response.headers().contains_key("retry-after"));
    // Reads go on.
    assert_eq!(legal_name(&app, &tenant).await, "Sebelum");
    // An instance that has not heard (here: the login role's own session, as any
    // instance's pool holds) cannot commit into the old database either.
    let password = nusa_journal::tenancy::credentials::unseal(&app.config.sealer, &row).expect("password");
    let login = nusa_journal::tenancy::credentials::single_connection(&row, &password, "test-stale-instance")
        .await
        .expect("login connection");
    let write = login
        .execute_unprepared("UPDATE company SET legal_name = 'Hilang'")
        .await
        .expect_err("the database refuses the write");
    assert_eq!(
        nusa_journal::error::Error::from(write).code(),
        "TENANT_READ_ONLY",
        "and the service reports it as the pause"
    );

    // An instance whose row does not say "paused" (it has not heard yet): the database
    // refuses the write, and the answer is the pause's, 503 with Retry-After.
    app.services
        .registry
        .set_writes_paused(row.id, false)
        .await
        .expect("flag off");
    let unaware = app.another_instance(|_| {}).await;
    let (status, body) = set_legal_name(&unaware, &tenant, "Selama").await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "TENANT_READ_ONLY"),
        "{body}"
    );
    app.services
        .registry
        .set_writes_paused(row.id, true)
        .await
        .expect("flag on");

    // The restore's process dies: once its lease lapses, the server puts things back.
    stalled.start_kill().expect("kill");
    stalled.wait().await.expect("killed");
    let resumed = eventually(Duration::from_secs(60), || async {
        tenant_row(&app, &tenant.slug)
            .await
            .is_some_and(|row| !row.writes_paused)
    })
    .await;
    assert!(resumed, "writes resume");
    assert_eq!(tenant_row(&app, &tenant.slug).await.expect("row").db_name, row.db_name);
    assert_eq!(
        databases_like(&format!("{}__r", row.db_name)).await,
        Vec::<String>::new()
    );
    let written = eventually(Duration::from_secs(10), || async {
        set_legal_name(&app, &tenant, "Sesudah").await.0 == StatusCode::OK
    })
    .await;
    assert!(written, "writes work again");
    assert_eq!(legal_name(&app, &tenant).await, "Sesudah");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_from_before_a_migration_is_migrated_and_serves() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("oldbak", "PT Lama").await;
    set_legal_name(&app, &tenant, "Lama").await;
    let row = tenant_row(&app, &tenant.slug).await.expect("row");
    // The database as it was before the migrations that record its tenant and after.
    use migration::MigratorTrait;
    let latest = migration::latest_version();
    let identity_and_after = migration::Migrator::migrations()
        .iter()
        .rev()
        .position(|m| m.name() == "m20261130_000002_tenant_identity")
        .expect("the identity migration")
        + 1;
    migration::Migrator::down(&superuser(&row.db_name).await, Some(identity_and_after as u32))
        .await
        .expect("older schema");
    let dir = tempfile::tempdir().expect("dir");
    let file = dump_path(&dir, "old.dump");
    backup(&app, &tenant.slug, &file).await;

    let (ok, output) = restore(&app, &tenant.slug, &file, &[]).await;
    assert!(ok, "its database name says whose it is: {output}");
    let restored = tenant_row(&app, &tenant.slug).await.expect("row");
    assert_eq!(
        restored.schema_version.as_deref(),
        Some(latest.as_str()),
        "read from the restored database"
    );
    assert!(
        !database_exists(&row.db_name).await,
        "the old database is dropped after the switch"
    );
    let served = eventually(Duration::from_secs(10), || async {
        legal_name(&app, &tenant).await == "Lama"
    })
    .await;
    assert!(served, "the restored books are served");
    let identity = superuser(&restored.db_name)
        .await
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tenant_id FROM tenant_identity",
        ))
        .await
        .expect("identity")
        .expect("a row");
    assert_eq!(
        identity.try_get::<uuid::Uuid>("", "tenant_id").expect("id"),
        restored.id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_wants_a_backup_that_can_be_read() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("unread", "PT Rusak").await;
    let (_, body) = app
        .admin(
            "mutation($s: String!) { deleteTenant(slug: $s) { status } }",
            json!({ "s": tenant.slug }),
        )
        .await;
    assert_eq!(body["data"]["deleteTenant"]["status"], "DELETED", "{body}");
    let dir = tempfile::tempdir().expect("dir");
    let file = dump_path(&dir, "final.dump");
    backup(&app, &tenant.slug, &file).await;
    let good = std::fs::read(&file).expect("backup");
    std::fs::write(&file, b"not a backup at all").expect("spoil");
    let purge = "mutation($s: String!) { purgeTenant(slug: $s, force: false) }";
    let (_, body) = app.admin(purge, json!({ "s": tenant.slug })).await;
    assert_eq!(
        error_code(&body),
        "CONFLICT",
        "an unreadable backup does not count: {body}"
    );
    std::fs::write(&file, good).expect("put back");
    let (_, body) = app.admin(purge, json!({ "s": tenant.slug })).await;
    assert_eq!(body["data"]["purgeTenant"], true, "{body}");
    assert!(common::tenant_row(&app, &tenant.slug).await.is_none(), "purged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_tenants_keeps_a_restores_pause() {
    use nusa_journal::tenancy::ownership::{self, Access};
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("keeppause", "PT Tetap").await;
    let row = tenant_row(&app, &tenant.slug).await.expect("row");
    let own = superuser(&row.db_name).await;
    ownership::set_writable(&own, &row.db_username, Access::ReadOnly)
        .await
        .expect("pause");
    let (ok, out, err) = run_cli(&["migrate", "tenants", "--tenant", &tenant.slug], &app.process_env()).await;
    assert!(ok, "{out}{err}");
    let writable: bool = own
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT has_table_privilege($1, 'public.journal_entry', 'INSERT') AS w",
            [row.db_username.clone().into()],
        ))
        .await
        .expect("privilege")
        .expect("row")
        .try_get("", "w")
        .expect("w");
    assert!(!writable, "migrating did not give the writes back");
}
