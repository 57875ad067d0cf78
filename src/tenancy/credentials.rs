//! Connecting to a tenant database as the tenant's own role, from its registry row.
//! The one place that turns a sealed password into connect options.

use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::{DatabaseConnection, SqlxPostgresConnector};
use secrecy::{ExposeSecret, SecretString};

use crate::entities::registry::tenants;
use crate::error::{Error, Result};
use crate::tenancy::sealing::Sealer;

/// Connect options for the tenant's role on its database (statement logging off).
pub fn connect_options(tenant: &tenants::Model, password: &SecretString, application_name: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        .host(&tenant.db_host)
        .port(u16::try_from(tenant.db_port).unwrap_or(5432))
        .database(&tenant.db_name)
        .username(&tenant.db_username)
        .password(password.expose_secret())
        .application_name(application_name)
        .disable_statement_logging()
}

/// The tenant's database password, unsealed.
pub fn unseal(sealer: &Sealer, tenant: &tenants::Model) -> Result<SecretString> {
    let sealed = tenant
        .db_password
        .as_deref()
        .ok_or_else(|| Error::TenantUnavailable("the tenant has no database credentials yet".into()))?;
    sealer.open(tenant.id, sealed).map_err(|err| {
        tracing::error!(tenant.slug = %tenant.slug, error = %err, "cannot unseal tenant credentials");
        Error::TenantUnavailable("the tenant's credentials cannot be opened".into())
    })
}

/// A one-connection pool as the tenant role, for operator work (migrations, seeding):
/// one connection, so session state such as an advisory lock covers all its statements.
pub async fn single_connection(
    tenant: &tenants::Model,
    password: &SecretString,
    application_name: &str,
) -> Result<DatabaseConnection> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(connect_options(tenant, password, application_name))
        .await
        .map_err(|e| Error::TenantUnavailable(format!("cannot connect to the tenant database: {}", describe(&e))))?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// A short description of a connection error, without connection details.
fn describe(err: &sea_orm::sqlx::Error) -> String {
    match err {
        sea_orm::sqlx::Error::Database(db) => db.message().to_owned(),
        sea_orm::sqlx::Error::Io(io) => io.kind().to_string(),
        sea_orm::sqlx::Error::PoolTimedOut => "timed out".into(),
        _ => "connection failed".into(),
    }
}
