//! Per-tenant backup and restore with `pg_dump` / `pg_restore` (custom format). A dump
//! runs as the tenant's login role (it may read every table); a restore runs as the
//! admin acting as the tenant's owner role (`--role`, `--no-owner`), since the login
//! role may create nothing, and so that a restore can never hand ownership back to it.
//! The child gets a clean environment: only a password file (0600, removed when the
//! tool ends) naming the one password it needs, never the service's own variables
//! (master key, admin token, database URLs).

use std::path::Path;

use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use tokio::process::Command;

use crate::entities::registry::tenants;
use crate::error::{Error, Result};
use crate::tenancy::slug::TenantSlug;
use local_postgres::PgBinaries;

/// Who a pg tool connects as, and where.
struct Login {
    host: String,
    port: u16,
    username: String,
    password: Option<SecretString>,
    /// TLS settings of the URL (`sslmode`, `sslrootcert`, ...) as libpq variables, so a
    /// tool connects as securely as the service does.
    tls: Vec<(&'static str, String)>,
}

impl Login {
    /// The tenant's login role on its server.
    fn tenant(tenant: &tenants::Model, password: &SecretString) -> Login {
        Login {
            host: tenant.db_host.clone(),
            port: u16::try_from(tenant.db_port).unwrap_or(5432),
            username: tenant.db_username.clone(),
            password: Some(password.clone()),
            tls: Vec::new(),
        }
    }

    /// The admin of the admin URL (host, port and user as the driver reads them; the
    /// password percent-decoded from the URL).
    fn admin(admin_url: &SecretString) -> Result<Login> {
        use std::str::FromStr;
        let invalid = |e: String| Error::Internal(anyhow::anyhow!("admin URL: {e}"));
        let options = sea_orm::sqlx::postgres::PgConnectOptions::from_str(admin_url.expose_secret())
            .map_err(|e| invalid(e.to_string()))?;
        let url = url::Url::parse(admin_url.expose_secret()).map_err(|e| invalid(e.to_string()))?;
        let password = url
            .password()
            .map(|raw| {
                percent_encoding::percent_decode_str(raw)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .map(SecretString::from);
        let host = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => options.get_host().to_owned(),
        };
        Ok(Login {
            host,
            port: options.get_port(),
            username: options.get_username().to_owned(),
            password,
            tls: tls_variables(&url),
        })
    }
}

/// The URL's TLS parameters as the libpq variables that carry them.
fn tls_variables(url: &url::Url) -> Vec<(&'static str, String)> {
    url.query_pairs()
        .filter_map(|(key, value)| {
            let variable = match key.as_ref() {
                "sslmode" => "PGSSLMODE",
                "sslrootcert" => "PGSSLROOTCERT",
                "sslcert" => "PGSSLCERT",
                "sslkey" => "PGSSLKEY",
                _ => return None,
            };
            Some((variable, value.into_owned()))
        })
        .collect()
}

/// A `.pgpass` file for one role, 0600, removed when dropped.
struct PasswordFile {
    path: std::path::PathBuf,
}

impl PasswordFile {
    fn write(login: &Login) -> Result<PasswordFile> {
        let escape = |field: &str| field.replace('\\', "\\\\").replace(':', "\\:");
        let password = login.password.as_ref().map(|p| p.expose_secret()).unwrap_or_default();
        let line = format!(
            "{}:{}:*:{}:{}\n",
            escape(&login.host),
            login.port,
            escape(&login.username),
            escape(password)
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

fn tool(name: &str, tenant: &tenants::Model, login: &Login, passfile: &PasswordFile) -> Result<Command> {
    let binaries = PgBinaries::locate_client().map_err(Error::Internal)?;
    let mut command = Command::new(binaries.tool(name));
    command
        .env_clear()
        .env("PGPASSFILE", &passfile.path)
        .env("LC_ALL", "C")
        .env("PGAPPNAME", format!("nusa-journal-{name}:{}", tenant.slug))
        .envs(login.tls.iter().map(|(key, value)| (*key, value)))
        .args([
            "--host",
            &login.host,
            "--port",
            &login.port.to_string(),
            "--username",
            &login.username,
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
    let login = Login::tenant(tenant, password);
    let passfile = PasswordFile::write(&login)?;
    let mut command = tool("pg_dump", tenant, &login, &passfile)?;
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

/// Restores `from` into the (fresh, empty) database `database`, as the admin of
/// `admin_url` acting as the tenant's owner role `owner`: every restored object belongs
/// to the owner, whatever the dump says.
pub async fn restore_into(
    tenant: &tenants::Model,
    admin_url: &SecretString,
    owner: &str,
    database: &str,
    from: &Path,
) -> Result<()> {
    let login = Login::admin(admin_url)?;
    let passfile = PasswordFile::write(&login)?;
    let mut command = tool("pg_restore", tenant, &login, &passfile)?;
    command
        .arg(format!("--role={owner}"))
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

/// What `pg_restore --list` tells of a backup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupListing {
    /// The database it was taken from (`dbname:` in the archive's header).
    pub database: Option<String>,
}

/// Checks that `from` is a backup `pg_restore` can read (its table of contents lists),
/// and returns what its header says. Nothing connects anywhere: no credential is given.
pub async fn verify(from: &Path) -> Result<BackupListing> {
    let binaries = PgBinaries::locate_client().map_err(Error::Internal)?;
    let output = Command::new(binaries.tool("pg_restore"))
        .env_clear()
        .env("LC_ALL", "C")
        .arg("--list")
        .arg(from)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot run pg_restore --list: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::bad_input(
            "from",
            format!("{} is not a readable backup: {}", from.display(), stderr.trim()),
        ));
    }
    Ok(parse_listing(&String::from_utf8_lossy(&output.stdout)))
}

fn parse_listing(listing: &str) -> BackupListing {
    let database = listing
        .lines()
        .take_while(|line| line.starts_with(';'))
        .find_map(|line| line.trim_start_matches(';').trim().strip_prefix("dbname:"))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty());
    BackupListing { database }
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
    fn the_admin_urls_tls_settings_reach_the_tools() {
        let url = SecretString::from("postgres://admin:p%40ss@db.example:6543/postgres?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x");
        let login = Login::admin(&url).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            login.tls,
            vec![
                ("PGSSLMODE", "verify-full".to_owned()),
                ("PGSSLROOTCERT", "/etc/ca.pem".to_owned())
            ]
        );
        assert_eq!((login.host.as_str(), login.port), ("db.example", 6543));
        assert_eq!(
            login.password.map(|p| p.expose_secret().to_owned()).as_deref(),
            Some("p@ss")
        );
    }

    #[test]
    fn the_listing_header_names_the_database() {
        let listing = ";\n; Archive created at 2026-11-29 15:00:00 UTC\n;     dbname: nusa_journal_pt_a\n;     TOC Entries: 40\n;\n215; 1259 16390 TABLE public account nusa\n";
        assert_eq!(parse_listing(listing).database.as_deref(), Some("nusa_journal_pt_a"));
        assert_eq!(parse_listing("215; 1259 TABLE public x\n").database, None);
    }

    #[test]
    fn restored_names_fit_and_differ() {
        let slug = TenantSlug::parse(&format!("{}bc", "a-".repeat(24))).unwrap_or_else(|e| panic!("{e}"));
        let a = restored_database_name(&slug);
        assert!(a.len() <= 63, "{a}");
        assert!(a.starts_with("nusa_journal_a_a_"));
        assert_ne!(a, restored_database_name(&slug));
    }
}
