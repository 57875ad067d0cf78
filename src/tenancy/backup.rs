//! Per-tenant backup and restore with `pg_dump` / `pg_restore` (custom format), run as
//! the tenant's own role. The child gets a clean environment: only a password file
//! (0600, removed when the tool ends) naming this tenant's password, never the
//! service's own variables (master key, admin token, database URLs).

use std::path::Path;

use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use tokio::process::Command;

use crate::entities::registry::tenants;
use crate::error::{Error, Result};
use crate::tenancy::slug::TenantSlug;
use local_postgres::PgBinaries;

/// A `.pgpass` file for one tenant's role, 0600, removed when dropped.
struct PasswordFile {
    path: std::path::PathBuf,
}

impl PasswordFile {
    fn write(tenant: &tenants::Model, password: &SecretString) -> Result<PasswordFile> {
        let escape = |field: &str| field.replace('\\', "\\\\").replace(':', "\\:");
        let line = format!(
            "{}:{}:*:{}:{}\n",
            escape(&tenant.db_host),
            tenant.db_port,
            escape(&tenant.db_username),
            escape(password.expose_secret())
        );
        let name = format!(
            "nusa-journal-pgpass-{}",
            Alphanumeric.sample_string(&mut rand::thread_rng(), 16)
        );
        let path = std::env::temp_dir().join(name);
        write_new_private(&path, line.as_bytes())
            .map_err(|e| Error::Internal(anyhow::anyhow!("writing a password file for pg tools: {e}")))?;
        Ok(PasswordFile { path })
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Creates `path` (it must not exist yet, and is never followed as a link) with mode
/// 0600 and writes `contents`.
fn write_new_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(contents)
}

fn tool(name: &str, tenant: &tenants::Model, passfile: &PasswordFile) -> Result<Command> {
    let binaries = PgBinaries::locate_client().map_err(Error::Internal)?;
    let mut command = Command::new(binaries.tool(name));
    command
        .env_clear()
        .env("PGPASSFILE", &passfile.path)
        .env("LC_ALL", "C")
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
/// The file is created 0600 before `pg_dump` writes it (a backup holds the books).
pub async fn dump(tenant: &tenants::Model, password: &SecretString, out: &Path) -> Result<()> {
    create_private_output(out)?;
    let passfile = PasswordFile::write(tenant, password)?;
    let mut command = tool("pg_dump", tenant, &passfile)?;
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

/// Creates (or truncates) `out` with mode 0600, so the dump is never readable by others,
/// not even while it is being written.
fn create_private_output(out: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(out)
        .and_then(|_| std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600)));
    created.map_err(|e| Error::bad_input("out", format!("cannot write {}: {e}", out.display())))
}

/// Restores `from` into the (fresh, empty) database `database`, as the tenant role.
pub async fn restore_into(tenant: &tenants::Model, password: &SecretString, database: &str, from: &Path) -> Result<()> {
    let passfile = PasswordFile::write(tenant, password)?;
    let mut command = tool("pg_restore", tenant, &passfile)?;
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
