//! Tenant lifecycle and fleet operations: provisioning with rollback, the template
//! database, `migrate tenants`, backup and restore, delete and purge.

use crate::common;

use std::sync::Arc;

use common::{error_code, run_cli, TestApp};
use migration::MigratorTrait;
use nusa_journal::tenancy::ownership;
use nusa_journal::tenancy::provision::ProvisionStep;
use nusa_journal::tenancy::slug::TenantSlug;
use nusa_journal::tenancy::template;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::json;

const COMPANY: &str = "{ company { name legalName } }";

async fn count(db: &DatabaseConnection, sql: &str, value: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [value.into()]))
        .await
        .expect("query")
        .expect("row");
    row.try_get("", "n").expect("n")
}

pub(crate) async fn database_exists(name: &str) -> bool {
    count(
        &common::superuser("postgres").await,
        "SELECT count(*) AS n FROM pg_database WHERE datname = $1",
        name,
    )
    .await
        > 0
}

pub(crate) async fn role_exists(name: &str) -> bool {
    count(
        &common::superuser("postgres").await,
        "SELECT count(*) AS n FROM pg_roles WHERE rolname = $1",
        name,
    )
    .await
        > 0
}

pub(crate) async fn event_kinds(app: &TestApp, slug: &str) -> Vec<String> {
    app.services
        .registry
        .events(slug)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect()
}

async fn create(app: &TestApp, slug: &str) -> serde_json::Value {
    app.admin(
        "mutation($input: CreateTenantInput!) { createTenant(input: $input) { tenant { slug status schemaVersion } token } }",
        json!({ "input": { "slug": slug, "name": "PT Uji" } }),
    )
    .await
    .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_slug_give_one_tenant_and_one_conflict() {
    let app = Arc::new(TestApp::spawn().await);
    let slug = common::unique_slug("race");
    let (a, b) = tokio::join!(create(&app, &slug), create(&app, &slug));
    let codes: Vec<&str> = [&a, &b]
        .iter()
        .map(|body| {
            if body["errors"].is_null() {
                "OK"
            } else {
                error_code(body)
            }
        })
        .collect();
    assert!(codes.contains(&"OK") && codes.contains(&"CONFLICT"), "{a} {b}");
    assert!(database_exists(&TenantSlug::parse(&slug).expect("slug").database_name()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_any_provisioning_step_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let provisioner = app.services.lifecycle.provisioner();
    for step in [
        ProvisionStep::CreateRole,
        ProvisionStep::CreateDatabase,
        ProvisionStep::RestrictDatabase,
        ProvisionStep::Migrate,
        ProvisionStep::Seed,
        ProvisionStep::Activate,
    ] {
        let slug = common::unique_slug("fail");
        let parsed = TenantSlug::parse(&slug).expect("slug");
        provisioner.inject_failure(Some(step));
        let body = create(&app, &slug).await;
        provisioner.inject_failure(None);
        assert_eq!(error_code(&body), "INTERNAL", "{step:?}: {body}");
        assert!(
            !body.to_string().contains("injected"),
            "detail stays in the log: {body}"
        );
        assert!(
            common::tenant_row(&app, &slug).await.is_none(),
            "{step:?}: registry row left"
        );
        assert!(
            !database_exists(&parsed.database_name()).await,
            "{step:?}: database left"
        );
        assert!(
            !role_exists(&parsed.role_name("nusa_tenant_")).await,
            "{step:?}: role left"
        );
        assert!(
            !role_exists(&ownership::owner_role(&parsed.role_name("nusa_tenant_"))).await,
            "{step:?}: owner role left"
        );
        assert!(
            event_kinds(&app, &slug)
                .await
                .contains(&"provisioning_failed".to_owned()),
            "{step:?}: no event"
        );
        // The slug can be used again.
        let again = create(&app, &slug).await;
        assert_eq!(
            again["data"]["createTenant"]["tenant"]["status"], "ACTIVE",
            "{step:?}: {again}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_role_fails_provisioning_cleanly_and_is_left_alone() {
    let app = TestApp::spawn().await;
    let slug = common::unique_slug("taken");
    let parsed = TenantSlug::parse(&slug).expect("slug");
    let role = parsed.role_name("nusa_tenant_");
    let admin = common::superuser("postgres").await;
    admin
        .execute_unprepared(&format!(r#"CREATE ROLE "{role}" NOLOGIN"#))
        .await
        .expect("role");
    let body = create(&app, &slug).await;
    assert!(!body["errors"].is_null(), "{body}");
    assert!(common::tenant_row(&app, &slug).await.is_none());
    assert!(!database_exists(&parsed.database_name()).await);
    assert!(
        role_exists(&role).await,
        "a role this run did not create is not dropped"
    );
    admin
        .execute_unprepared(&format!(r#"DROP ROLE "{role}""#))
        .await
        .expect("drop");
    assert_eq!(
        create(&app, &slug).await["data"]["createTenant"]["tenant"]["status"],
        "ACTIVE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_left_provisioning_by_a_crash_are_rolled_back() {
    let app = TestApp::spawn().await;
    let slug = common::unique_slug("crash");
    let parsed = TenantSlug::parse(&slug).expect("slug");
    let (database, role) = (parsed.database_name(), parsed.role_name("nusa_tenant_"));
    // What a crash between CREATE DATABASE and activation leaves.
    let admin = common::superuser("postgres").await;
    admin
        .execute_unprepared(&format!(r#"CREATE ROLE "{role}" LOGIN"#))
        .await
        .expect("leftover role");
    admin
        .execute_unprepared(&format!(r#"CREATE DATABASE "{database}" OWNER "{role}""#))
        .await
        .expect("leftover database");
    app.services
        .registry
        .db()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO tenants (id, slug, name, status, db_host, db_port, db_name, db_username) VALUES (gen_random_uuid(), $1, 'PT Crash', 'PROVISIONING', '127.0.0.1', 5432, $2, $3)",
            [slug.clone().into(), database.clone().into(), role.clone().into()],
        ))
        .await
        .expect("row");
    let (status, body) = app.tenant(&slug, Some("nj_x"), COMPANY, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "TENANT_UNAVAILABLE")
    );

    let rolled_back = app
        .services
        .lifecycle
        .provisioner()
        .reconcile(std::time::Duration::ZERO)
        .await
        .expect("reconcile");
    assert_eq!(rolled_back, 1);
    assert!(common::tenant_row(&app, &slug).await.is_none());
    assert!(!database_exists(&database).await && !role_exists(&role).await);
    assert!(event_kinds(&app, &slug)
        .await
        .contains(&"provisioning_rolled_back".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_copied_from_a_current_template_owned_by_their_owner_role() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("tmpl", "PT Cetakan").await;
    let admin = common::superuser("postgres").await;
    let version = template::current_version(&admin).await.expect("template version");
    assert_eq!(version.as_deref(), Some(migration::latest_version().as_str()));
    assert_eq!(
        count(
            &admin,
            "SELECT count(*) AS n FROM pg_database WHERE datname = $1 AND NOT datallowconn",
            template::TEMPLATE_DB
        )
        .await,
        1,
        "nobody can connect to the template"
    );
    let tenant_row = common::tenant_row(&app, &tenant.slug).await.expect("row");
    let own = common::superuser(&tenant_row.db_name).await;
    assert_eq!(
        count(
            &own,
            "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tableowner <> $1",
            &ownership::owner_role(&tenant_row.db_username)
        )
        .await,
        0,
        "every table belongs to the tenant's owner role"
    );
    let (status, body) = app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({})).await;
    assert_eq!(
        (status, body["data"]["company"]["name"].clone()),
        (StatusCode::OK, json!("PT Cetakan"))
    );

    // A stale template is rebuilt; a missing one too.
    admin
        .execute_unprepared(&format!(
            r#"COMMENT ON DATABASE "{}" IS 'nusa-journal tenant template, schema m00000000_000000_old'"#,
            template::TEMPLATE_DB
        ))
        .await
        .expect("age it");
    let stale = app.create_tenant("tmpl-stale", "PT Basi").await;
    assert_eq!(
        template::current_version(&admin).await.expect("version").as_deref(),
        Some(migration::latest_version().as_str())
    );
    assert_eq!(
        app.tenant(&stale.slug, Some(&stale.token), COMPANY, json!({})).await.0,
        StatusCode::OK
    );
}

async fn roll_back_last_migration(app: &TestApp, slug: &str) {
    let tenant = common::tenant_row(app, slug).await.expect("row");
    // As the owner role: the login role may change no schema.
    let db = ownership::owner_connection(
        &app.config.tenant_admin_url,
        &tenant.db_name,
        &ownership::owner_role(&tenant.db_username),
        "test",
    )
    .await
    .expect("connect");
    migration::Migrator::down(&db, Some(1)).await.expect("down");
    db.close().await.ok();
    let previous: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let previous = previous.iter().rev().nth(1).cloned();
    app.services
        .registry
        .db()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE tenants SET schema_version = $1, last_migration_result = NULL WHERE slug = $2",
            [previous.into(), slug.into()],
        ))
        .await
        .expect("registry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_tenants_carries_on_past_a_broken_tenant_and_reruns_only_it() {
    let app = TestApp::spawn().await;
    let mut slugs = Vec::new();
    for i in 0..30 {
        let tenant = app.create_tenant(&format!("fleet{i}"), "PT Armada").await;
        slugs.push(tenant.slug);
    }
    for slug in &slugs {
        roll_back_last_migration(&app, slug).await;
    }
    // Behind the binary: requests are refused with a clear message.
    let some = app.create_tenant("fleet-probe", "PT Probe").await;
    roll_back_last_migration(&app, &some.slug).await;
    let (status, body) = app.tenant(&some.slug, Some(&some.token), COMPANY, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::SERVICE_UNAVAILABLE, "TENANT_UNAVAILABLE")
    );
    assert!(body.to_string().contains("migrate tenants"), "{body}");

    let (dry_ok, dry, _) = run_cli(&["migrate", "tenants", "--dry-run"], &app.process_env()).await;
    assert!(dry_ok, "{dry}");
    assert_eq!(
        dry.lines().filter(|l| l.contains(": would migrate from")).count(),
        31,
        "{dry}"
    );

    // Break one tenant: nobody may connect to its database (migrations run over an
    // admin connection, which a revoked CONNECT would not stop).
    let broken = slugs[7].clone();
    let broken_row = common::tenant_row(&app, &broken).await.expect("row");
    let admin = common::superuser("postgres").await;
    let (revoke, grant) = (
        format!(
            r#"ALTER DATABASE "{}" WITH ALLOW_CONNECTIONS false"#,
            broken_row.db_name
        ),
        format!(r#"ALTER DATABASE "{}" WITH ALLOW_CONNECTIONS true"#, broken_row.db_name),
    );
    admin.execute_unprepared(&revoke).await.expect("break");

    let (ok, out, _) = run_cli(&["migrate", "tenants", "--concurrency", "4"], &app.process_env()).await;
    assert!(!ok, "a failed tenant makes the exit code non-zero:\n{out}");
    let migrated = out.lines().filter(|l| l.contains(": migrated from")).count();
    assert_eq!(migrated, 30, "{out}");
    let failed: Vec<&str> = out.lines().filter(|l| l.contains(": failed: ")).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(
        failed[0].starts_with(&broken) && failed[0].contains("not currently accepting connections"),
        "{}",
        failed[0]
    );
    assert!(
        out.contains("30 migrated, 0 already current, 0 would migrate, 1 failed"),
        "{out}"
    );
    assert!(common::tenant_row(&app, &broken)
        .await
        .expect("row")
        .last_migration_result
        .is_some_and(|r| r.starts_with("failed:")));
    let healthy = common::tenant_row(&app, &slugs[0]).await.expect("row");
    assert_eq!(healthy.schema_version, Some(migration::latest_version()));
    assert_eq!(
        app.tenant(&some.slug, Some(&some.token), COMPANY, json!({})).await.0,
        StatusCode::OK,
        "migrated tenants serve again"
    );

    admin.execute_unprepared(&grant).await.expect("fix");
    let (ok, out, _) = run_cli(&["migrate", "tenants", "--concurrency", "4"], &app.process_env()).await;
    assert!(ok, "{out}");
    let migrated: Vec<&str> = out.lines().filter(|l| l.contains(": migrated from")).collect();
    assert_eq!(migrated.len(), 1, "{out}");
    assert!(migrated[0].starts_with(&broken));
    assert!(
        out.contains("1 migrated, 30 already current, 0 would migrate, 0 failed"),
        "{out}"
    );
}

/// A session holding a tenant database's schema lock key (here the tenant's own login
/// role, with its sealed password) makes `migrate tenants` fail that tenant once
/// `MIGRATE_LOCK_WAIT_MS` has passed, instead of waiting for ever; once the session
/// lets go, the next run migrates it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_schema_lock_fails_the_tenant_within_the_deadline() {
    use nusa_journal::tenancy::credentials::{single_connection, unseal};
    use std::time::{Duration, Instant};

    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("lockheld", "PT Terkunci").await;
    let slug = tenant.slug.as_str();
    roll_back_last_migration(&app, slug).await;
    let row = common::tenant_row(&app, slug).await.expect("row");
    let password = unseal(app.services.lifecycle.sealer(), &row).expect("unseal");
    let holder = single_connection(&row, &password, "test-lock-holder")
        .await
        .expect("login role");
    holder
        .execute_unprepared(&format!("SELECT pg_advisory_lock({})", ownership::SCHEMA_LOCK_KEY))
        .await
        .expect("the login role takes the key");

    let wait = Duration::from_millis(1500);
    let mut env = app.process_env();
    env.push(("MIGRATE_LOCK_WAIT_MS".into(), wait.as_millis().to_string()));
    let started = Instant::now();
    let (ok, out, err) = tokio::time::timeout(
        Duration::from_secs(60),
        run_cli(&["migrate", "tenants", "--tenant", slug], &env),
    )
    .await
    .expect("migrate tenants gives up rather than hang");
    let took = started.elapsed();
    assert!(!ok, "{out}{err}");
    assert!(
        out.contains(&format!("{slug}: failed:")) && out.contains("schema lock"),
        "{out}{err}"
    );
    assert!(
        out.contains("0 migrated, 0 already current, 0 would migrate, 1 failed"),
        "{out}"
    );
    assert!(took >= wait, "gave up after {took:?}, before the {wait:?} deadline");
    let after = common::tenant_row(&app, slug).await.expect("row");
    assert!(
        after
            .last_migration_result
            .as_deref()
            .is_some_and(|r| r.starts_with("failed:")),
        "{:?}",
        after.last_migration_result
    );
    assert_ne!(after.schema_version, Some(migration::latest_version()));

    // The session ends: its lock goes with it, and the tenant migrates.
    holder.close().await.ok();
    let (ok, out, err) = run_cli(&["migrate", "tenants", "--tenant", slug], &env).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("{slug}: migrated from")), "{out}");
    assert_eq!(
        common::tenant_row(&app, slug).await.expect("row").schema_version,
        Some(migration::latest_version())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_runners_migrate_each_tenant_once() {
    let app = TestApp::spawn().await;
    let mut slugs = Vec::new();
    for i in 0..8 {
        let tenant = app.create_tenant(&format!("pair{i}"), "PT Pasangan").await;
        roll_back_last_migration(&app, &tenant.slug).await;
        slugs.push(tenant.slug);
    }
    let env = app.process_env();
    let (first, second) = tokio::join!(
        run_cli(&["migrate", "tenants", "--concurrency", "4"], &env),
        run_cli(&["migrate", "tenants", "--concurrency", "4"], &env)
    );
    assert!(first.0 && second.0, "{}\n{}", first.1, second.1);
    let both = format!("{}{}", first.1, second.1);
    for slug in &slugs {
        let migrated = both
            .lines()
            .filter(|l| l.starts_with(&format!("{slug}: migrated")))
            .count();
        assert_eq!(migrated, 1, "{slug} migrated exactly once:\n{both}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_then_restore_brings_back_the_backed_up_books() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("backup", "PT Cadangan").await;
    let set_legal = |name: &'static str| {
        let (app, tenant) = (&app, &tenant);
        async move {
            let query = format!(r#"mutation {{ updateCompany(input: {{ legalName: "{name}" }}) {{ legalName }} }}"#);
            let (status, body) = app.tenant(&tenant.slug, Some(&tenant.token), &query, json!({})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    set_legal("PT Cadangan Sebelum").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("backup.dump");
    let env = app.process_env();
    let (ok, out, err) = run_cli(
        &["tenant", "backup", &tenant.slug, "--out", file.to_str().expect("path")],
        &env,
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(std::fs::metadata(&file).expect("dump file").len() > 0);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("dump file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a backup holds the books: owner only");
    }

    set_legal("PT Cadangan Sesudah").await;
    let old_db = common::tenant_row(&app, &tenant.slug).await.expect("row").db_name;
    let (ok, out, err) = run_cli(
        &[
            "tenant",
            "restore",
            &tenant.slug,
            "--from",
            file.to_str().expect("path"),
        ],
        &env,
    )
    .await;
    assert!(ok, "{out}{err}");
    let restored = common::eventually(std::time::Duration::from_secs(2), || async {
        let (_, body) = app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({})).await;
        body["data"]["company"]["legalName"] == "PT Cadangan Sebelum"
    })
    .await;
    assert!(restored, "the tenant serves the data from the backup");
    let new_db = common::tenant_row(&app, &tenant.slug).await.expect("row").db_name;
    assert_ne!(new_db, old_db);
    assert!(!database_exists(&old_db).await, "the old database is dropped");
    assert!(event_kinds(&app, &tenant.slug).await.contains(&"restored".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_is_soft_and_purge_wants_a_backup_or_force() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("gone", "PT Hilang").await;
    let database = common::tenant_row(&app, &tenant.slug).await.expect("row").db_name;
    assert_eq!(
        app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({}))
            .await
            .0,
        StatusCode::OK
    );

    let (_, body) = app
        .admin(
            "mutation($s: String!) { deleteTenant(slug: $s) { status } }",
            json!({ "s": tenant.slug }),
        )
        .await;
    assert_eq!(body["data"]["deleteTenant"]["status"], "DELETED", "{body}");
    let (status, body) = app.tenant(&tenant.slug, Some(&tenant.token), COMPANY, json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "TENANT_NOT_FOUND"),
        "deleted at once"
    );
    assert!(database_exists(&database).await, "data kept");
    let tokens = app
        .services
        .registry
        .tokens_of(common::tenant_row(&app, &tenant.slug).await.expect("row").id)
        .await
        .expect("tokens");
    assert!(tokens.iter().all(|t| t.revoked_at.is_some()), "tokens revoked");

    let purge = "mutation($s: String!, $f: Boolean) { purgeTenant(slug: $s, force: $f) }";
    let (_, body) = app.admin(purge, json!({ "s": tenant.slug, "f": false })).await;
    assert_eq!(error_code(&body), "CONFLICT", "no backup after the delete: {body}");
    assert!(database_exists(&database).await);

    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("final.dump");
    let (ok, out, err) = run_cli(
        &["tenant", "backup", &tenant.slug, "--out", file.to_str().expect("path")],
        &app.process_env(),
    )
    .await;
    assert!(ok, "{out}{err}");
    let (_, body) = app.admin(purge, json!({ "s": tenant.slug, "f": false })).await;
    assert_eq!(body["data"]["purgeTenant"], true, "{body}");
    let login = TenantSlug::parse(&tenant.slug).expect("slug").role_name("nusa_tenant_");
    assert!(
        !database_exists(&database).await
            && !role_exists(&login).await
            && !role_exists(&ownership::owner_role(&login)).await,
        "database, login role and owner role are gone"
    );
    assert!(common::tenant_row(&app, &tenant.slug).await.is_none());
    let kinds = event_kinds(&app, &tenant.slug).await;
    for kind in ["created", "deleted", "backed_up", "purged"] {
        assert!(kinds.contains(&kind.to_owned()), "{kind} in {kinds:?}");
    }

    // force skips the backup; an active tenant cannot be purged.
    let other = app.create_tenant("gone-force", "PT Paksa").await;
    let (_, body) = app.admin(purge, json!({ "s": other.slug, "f": true })).await;
    assert_eq!(error_code(&body), "CONFLICT", "delete first: {body}");
    app.admin(
        "mutation($s: String!) { deleteTenant(slug: $s) { status } }",
        json!({ "s": other.slug }),
    )
    .await;
    let (_, body) = app.admin(purge, json!({ "s": other.slug, "f": true })).await;
    assert_eq!(body["data"]["purgeTenant"], true, "{body}");
}

#[tokio::test]
async fn admin_lists_tenants_and_templates_and_the_cli_prints_a_table() {
    let app = TestApp::spawn().await;
    let a = app.create_tenant("list-a", "PT Daftar A").await;
    let b = app.create_tenant("list-b", "PT Daftar B").await;
    let (_, body) = app
        .admin("{ tenants(first: 1) { totalCount pageInfo { hasNextPage endCursor } nodes { slug schemaVersion lastMigrationResult } } coaTemplates { key accountCount } }", json!({}))
        .await;
    assert_eq!(body["data"]["tenants"]["totalCount"], 2, "{body}");
    assert_eq!(body["data"]["tenants"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(body["data"]["tenants"]["nodes"][0]["lastMigrationResult"], "ok");
    let cursor = body["data"]["tenants"]["pageInfo"]["endCursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let (_, next) = app
        .admin(
            "query($c: String) { tenants(first: 5, after: $c) { nodes { slug } pageInfo { hasNextPage } } }",
            json!({ "c": cursor }),
        )
        .await;
    let mut seen = vec![
        body["data"]["tenants"]["nodes"][0]["slug"].clone(),
        next["data"]["tenants"]["nodes"][0]["slug"].clone(),
    ];
    seen.sort_by_key(|v| v.to_string());
    let mut expected = vec![json!(a.slug), json!(b.slug)];
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(seen, expected);
    let templates = body["data"]["coaTemplates"].as_array().expect("templates");
    assert!(templates
        .iter()
        .any(|t| t["key"] == "id-sak-emkm" && t["accountCount"].as_i64() > Some(20)));
    assert!(templates.iter().any(|t| t["key"] == "empty" && t["accountCount"] == 0));

    let (_, bad) = app
        .admin(
            "mutation { createTenant(input: { slug: \"pt-x-nope\", name: \"X\", coaTemplate: \"nope\" }) { token } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");

    let (ok, out, err) = run_cli(&["tenant", "list"], &app.process_env()).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("SLUG"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&a.slug) && l.contains("ACTIVE") && l.contains(&migration::latest_version())),
        "{out}"
    );
}

#[tokio::test]
async fn a_status_change_from_a_stale_read_is_a_conflict_and_changes_nothing() {
    use nusa_journal::entities::registry::tenant_events::EventKind;
    use nusa_journal::entities::registry::tenants::TenantStatus;
    use nusa_journal::tenancy::registry::StatusChange;

    let app = TestApp::spawn().await;
    let slug = common::unique_slug("stale");
    create(&app, &slug).await;
    // Read as ACTIVE, then deleted by someone else before our suspend writes.
    let stale = common::tenant_row(&app, &slug).await.expect("row");
    let parsed = nusa_journal::tenancy::slug::TenantSlug::parse(&slug).expect("slug");
    app.services.lifecycle.delete(&parsed).await.expect("delete");
    let late = app
        .services
        .registry
        .change_status(
            stale,
            StatusChange {
                from: &[TenantStatus::Active, TenantStatus::Suspended],
                status: TenantStatus::Suspended,
                revoke_tokens: false,
                reason: None,
                event: EventKind::Suspended,
                detail: None,
            },
        )
        .await;
    assert_eq!(late.err().map(|e| e.code()), Some("CONFLICT"));
    let row = common::tenant_row(&app, &slug).await.expect("row");
    assert_eq!(
        row.status,
        TenantStatus::Deleted,
        "a deleted tenant is not brought back"
    );
    let kinds = event_kinds(&app, &slug).await;
    assert!(
        !kinds.contains(&"suspended".to_owned()),
        "no event for a change that did not happen: {kinds:?}"
    );
}
