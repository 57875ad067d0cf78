//! Which tenant a tenant database belongs to (`tenant_identity`, one row), so that a
//! restore can tell a backup of another tenant by what it holds.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::error::Result;

/// Records the tenant a database belongs to, unless it already says. Run as the
/// database's owner (the login role may only read it).
pub async fn record(db: &impl ConnectionTrait, tenant_id: Uuid, slug: &str) -> Result<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO tenant_identity (tenant_id, slug) VALUES ($1, $2) ON CONFLICT (singleton) DO NOTHING",
        [tenant_id.into(), slug.into()],
    ))
    .await?;
    Ok(())
}

/// Makes the database say it belongs to this tenant (a restore of another tenant's
/// backup, when the operator allowed it).
pub async fn overwrite(db: &impl ConnectionTrait, tenant_id: Uuid, slug: &str) -> Result<()> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO tenant_identity (tenant_id, slug) VALUES ($1, $2)
         ON CONFLICT (singleton) DO UPDATE SET tenant_id = $1, slug = $2, recorded_at = now()",
        [tenant_id.into(), slug.into()],
    ))
    .await?;
    Ok(())
}

/// The tenant a database says it belongs to: `None` when it does not say (made
/// before identities were recorded).
pub async fn read(db: &impl ConnectionTrait) -> Result<Option<(Uuid, String)>> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tenant_id, slug FROM tenant_identity",
        ))
        .await?;
    Ok(match row {
        Some(row) => Some((row.try_get("", "tenant_id")?, row.try_get("", "slug")?)),
        None => None,
    })
}
