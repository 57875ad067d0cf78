//! Per-tenant backup and restore with `pg_dump` / `pg_restore` (custom format), run as
//! the tenant's own role. The password goes through `PGPASSWORD` in the child's
//! environment, never on a command line.

use std::path::Path;

use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use tokio::process::Command;

use crate::entities::registry::tenants;
use crate::error::{Error, Result};
use crate::tenancy::slug::TenantSlug;
use local_postgres::PgBinaries;

fn tool(name: &str, tenant: &tenants::Model, password: &SecretString) -> Result<Command> {
    let binaries = PgBinaries::locate_client().map_err(Error::Internal)?;
    let mut command = Command::new(binaries.tool(name));
    command
        .env("PGPASSWORD", password.expose_secret())
        .env("PGAPPNAME", format!("nusa-journal-{name}:{}", tenant.slug))
        .args([
            "--host",
            &tenant.db_host,
            "--port",
            &tenant.db_port.to_string(),
            "--username",
            &tenant.db_username,
        ])
        .arg("--no-password")
        .kill_on_drop(true);
    Ok(command)
}

async fn run(mut command: Command, what: &str) -> Result<()> {
    let output = command
        .output()
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot run {what}: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(Error::Internal(anyhow::anyhow!("{what} failed: {}", stderr.trim())))
}

/// Dumps the tenant's database to `out` (custom format).
pub async fn dump(tenant: &tenants::Model, password: &SecretString, out: &Path) -> Result<()> {
    let mut command = tool("pg_dump", tenant, password)?;
    command
        .args([
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            &tenant.db_name,
        ])
        .arg("--file")
        .arg(out);
    run(command, "pg_dump").await
}

/// Restores `from` into the (fresh, empty) database `database`, as the tenant role.
pub async fn restore_into(tenant: &tenants::Model, password: &SecretString, database: &str, from: &Path) -> Result<()> {
    let mut command = tool("pg_restore", tenant, password)?;
    command
        .args([
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            database,
        ])
        .arg(from);
    run(command, "pg_restore").await
}

/// A fresh database name for a restore: `nusa_journal_<slug>__r<random>`, within 63
/// bytes. The double underscore keeps it apart from every tenant's own name (slugs have
/// no `--`).
pub fn restored_database_name(slug: &TenantSlug) -> String {
    let suffix = Alphanumeric.sample_string(&mut rand::thread_rng(), 6).to_lowercase();
    let mut base = slug.database_name();
    base.truncate(63 - 9);
    format!("{base}__r{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restored_names_fit_and_differ() {
        let slug = TenantSlug::parse(&format!("{}bc", "a-".repeat(24))).unwrap_or_else(|e| panic!("{e}"));
        let a = restored_database_name(&slug);
        assert!(a.len() <= 63, "{a}");
        assert!(a.starts_with("nusa_journal_a_a_"));
        assert_ne!(a, restored_database_name(&slug));
    }
}
