//! The template database: a database migrated to the latest tenant schema, copied with
//! `CREATE DATABASE ... TEMPLATE` so a new tenant needs no migrations of its own.
//!
//! Objects in the template belong to a NOLOGIN role, [`TEMPLATE_OWNER`]; after a copy
//! `REASSIGN OWNED` hands them to the tenant's role. The template's comment records
//! its schema version; a stale or missing template is rebuilt, and any failure falls
//! back to plain migrations. The template refuses connections (`ALLOW_CONNECTIONS
//! false`), so nobody holds one while it is copied.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use secrecy::SecretString;

use crate::error::{Error, Result};
use crate::tenancy::registry::admin_connection_to;

/// Cannot collide with a tenant database: slugs never start with `_`.
pub const TEMPLATE_DB: &str = "nusa_journal__template";
/// Owns the template's objects until they are reassigned to a tenant role.
pub const TEMPLATE_OWNER: &str = "nusa_template_owner";

fn version_comment(version: &str) -> String {
    format!("nusa-journal tenant template, schema {version}")
}

/// The schema version of the template, if it exists.
pub async fn current_version(admin: &DatabaseConnection) -> Result<Option<String>> {
    let row = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
            [TEMPLATE_DB.into()],
        ))
        .await?;
    let comment: Option<String> = match row {
        Some(row) => row.try_get("", "comment").ok().flatten(),
        None => return Ok(None),
    };
    Ok(comment.and_then(|c| c.rsplit("schema ").next().map(str::to_owned)))
}

/// Makes sure the template exists at `version`, rebuilding it if needed.
pub async fn ensure(admin: &DatabaseConnection, admin_url: &SecretString, version: &str) -> Result<()> {
    if current_version(admin).await?.as_deref() == Some(version) {
        return Ok(());
    }
    // One rebuild at a time across every instance: a session advisory lock held on one
    // admin connection while the others do the work. Whoever waited re-checks first.
    let unavailable = |e: sea_orm::sqlx::Error| Error::Internal(anyhow::anyhow!("template lock: {e}"));
    let mut lock = admin
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(unavailable)?;
    // Waited for with a deadline: a rebuild stuck elsewhere must not hold provisioning
    // here for ever (on timeout the caller migrates the new database instead).
    let deadline = tokio::time::Instant::now() + REBUILD_LOCK_WAIT;
    loop {
        let taken: bool = sea_orm::sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(REBUILD_LOCK_KEY)
            .fetch_one(&mut *lock)
            .await
            .map_err(unavailable)?;
        if taken {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Internal(anyhow::anyhow!(
                "another instance has been rebuilding the template for {REBUILD_LOCK_WAIT:?}"
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let rebuilt = async {
        if current_version(admin).await?.as_deref() == Some(version) {
            return Ok(());
        }
        rebuild(admin, admin_url, version).await
    }
    .await;
    let _ = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(REBUILD_LOCK_KEY)
        .execute(&mut *lock)
        .await;
    rebuilt
}

/// Longest wait for another instance's template rebuild.
const REBUILD_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Advisory lock key for "rebuilding the template" ("NUSATMPL").
const REBUILD_LOCK_KEY: i64 = 0x4e55_5341_544d_504c;

async fn rebuild(admin: &DatabaseConnection, admin_url: &SecretString, version: &str) -> Result<()> {
    tracing::info!(schema = version, "building the tenant template database");
    let exec = |sql: String| async move { admin.execute_unprepared(&sql).await.map(|_| ()) };
    exec(format!(
        r#"DO $$ BEGIN
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{TEMPLATE_OWNER}') THEN
               CREATE ROLE "{TEMPLATE_OWNER}" NOLOGIN;
             END IF;
           END $$"#
    ))
    .await?;
    exec(format!(r#"GRANT "{TEMPLATE_OWNER}" TO CURRENT_USER"#)).await?;
    exec(format!(r#"DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)"#)).await?;
    exec(format!(
        r#"CREATE DATABASE "{TEMPLATE_DB}" TEMPLATE template0 ENCODING 'UTF8'"#
    ))
    .await?;
    exec(format!(r#"REVOKE ALL ON DATABASE "{TEMPLATE_DB}" FROM PUBLIC"#)).await?;
    exec(format!(r#"GRANT CREATE ON SCHEMA public TO "{TEMPLATE_OWNER}""#))
        .await
        .ok();

    let migrated = migrate_template(admin_url).await;
    if let Err(err) = migrated {
        let _ = exec(format!(r#"DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)"#)).await;
        return Err(err);
    }
    exec(format!(
        r#"COMMENT ON DATABASE "{TEMPLATE_DB}" IS '{}'"#,
        version_comment(version)
    ))
    .await?;
    exec(format!(
        r#"ALTER DATABASE "{TEMPLATE_DB}" WITH ALLOW_CONNECTIONS false"#
    ))
    .await?;
    Ok(())
}

/// Runs the tenant migrations in the template as [`TEMPLATE_OWNER`].
async fn migrate_template(admin_url: &SecretString) -> Result<()> {
    use migration::MigratorTrait;
    let db = admin_connection_to(admin_url, TEMPLATE_DB, "nusa-journal-template").await?;
    // The schema `public` belongs to the database owner (the admin); let the owner role create in it.
    db.execute_unprepared(&format!(
        r#"GRANT CREATE ON SCHEMA public TO "{TEMPLATE_OWNER}"; SET ROLE "{TEMPLATE_OWNER}""#
    ))
    .await?;
    let result = migration::Migrator::up(&db, None)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("template migrations: {e}")));
    let _ = db.close().await;
    result
}
