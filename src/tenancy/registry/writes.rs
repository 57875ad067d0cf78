//! Every write to the registry. A status change is one transaction that updates the
//! row, appends its event and queues its notification (`pg_notify` is delivered at
//! commit, so other instances never hear of a change that rolled back).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use super::changes::{notify_statement, RegistryChange};
use super::Registry;
use crate::entities::registry::tenant_events::EventKind;
use crate::entities::registry::tenants::{self, TenantStatus};
use crate::entities::registry::{api_tokens, tenant_events};
use crate::error::{Error, Result};

/// A tenant's move to another status, with what the event log should say.
#[derive(Debug, Clone)]
pub struct StatusChange {
    /// The statuses the move starts from, checked in the same statement that writes
    /// (a concurrent change in between makes this one a `CONFLICT`).
    pub from: &'static [TenantStatus],
    pub status: TenantStatus,
    /// Revoke every live token of the tenant in the same transaction (soft delete).
    pub revoke_tokens: bool,
    /// Shown to the tenant's callers (`status_reason`).
    pub reason: Option<String>,
    pub event: EventKind,
    pub detail: Option<String>,
}

/// What `migrate tenants` learnt about one tenant.
#[derive(Debug, Clone)]
pub struct MigrationRecord {
    /// The schema version now applied; `None` keeps the known one (a failure).
    pub schema_version: Option<String>,
    /// `ok` or `failed: <reason>`.
    pub result: String,
    pub event: EventKind,
    pub detail: String,
}

pub(super) async fn insert_event(
    db: &impl ConnectionTrait,
    tenant_id: Option<Uuid>,
    slug: &str,
    kind: EventKind,
    detail: Option<String>,
) -> Result<()> {
    tenant_events::ActiveModel {
        tenant_id: Set(tenant_id),
        slug: Set(slug.to_owned()),
        kind: Set(kind),
        detail: Set(detail),
        created_at: Set(Utc::now().into()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Revokes every live token of a tenant.
async fn revoke_live_tokens(db: &impl ConnectionTrait, tenant_id: Uuid) -> Result<u64> {
    let revoked = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_tokens::Column::TenantId.eq(tenant_id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(revoked.rows_affected)
}

impl Registry {
    /// Writes the new status, records the event and notifies every instance, all in
    /// one transaction. The caller applies the change to its own caches.
    pub async fn change_status(&self, tenant: tenants::Model, change: StatusChange) -> Result<tenants::Model> {
        let txn = self.db.begin().await?;
        let slug = tenant.slug.clone();
        let updated = tenants::Entity::update_many()
            .col_expr(tenants::Column::Status, Expr::value(change.status))
            .col_expr(tenants::Column::StatusReason, Expr::value(change.reason))
            .col_expr(tenants::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(tenants::Column::Id.eq(tenant.id))
            .filter(tenants::Column::Status.is_in(change.from.iter().copied()))
            .exec_with_returning(&txn)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                Error::conflict(
                    "slug",
                    format!("the status of '{slug}' changed meanwhile; read it again and retry"),
                )
            })?;
        if change.revoke_tokens {
            revoke_live_tokens(&txn, updated.id).await?;
        }
        insert_event(&txn, Some(updated.id), &slug, change.event, change.detail).await?;
        // The caller applies it here (Lifecycle::change_status): our listener skips the echo.
        txn.execute_raw(notify_statement(&RegistryChange::Tenant { slug }, self.instance, true)?)
            .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Announces a change on the registry's channel, to every instance including this
    /// one, unless `applied_here` (the caller has applied it to this instance's caches).
    /// A failure is logged: other instances still converge through the directory's TTL.
    pub async fn notify(&self, change: &RegistryChange, applied_here: bool) {
        let sent = match notify_statement(change, self.instance, applied_here) {
            Ok(statement) => self.db.execute_raw(statement).await.map_err(Error::from),
            Err(err) => Err(err),
        };
        if let Err(err) = sent {
            tracing::error!(error = %err, ?change, "cannot notify other instances of a registry change");
        }
    }

    /// Inserts a new tenant row; a taken slug is `CONFLICT`.
    pub async fn insert_tenant(&self, row: tenants::ActiveModel, slug: &str) -> Result<tenants::Model> {
        row.insert(&self.db).await.map_err(|err| match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Error::conflict("slug", format!("tenant '{slug}' already exists"))
            }
            _ => err.into(),
        })
    }

    /// PROVISIONING -> ACTIVE, with the sealed password and the schema version its
    /// database was built at.
    pub async fn activate_provisioned(
        &self,
        row: &tenants::Model,
        sealed_password: String,
        schema_version: String,
        operation: Uuid,
    ) -> Result<tenants::Model> {
        let now = Utc::now();
        let activated = tenants::Entity::update_many()
            .col_expr(tenants::Column::DbPassword, Expr::value(Some(sealed_password)))
            .col_expr(tenants::Column::Status, Expr::value(TenantStatus::Active))
            .col_expr(tenants::Column::SchemaVersion, Expr::value(Some(schema_version)))
            .col_expr(tenants::Column::LastMigrationResult, Expr::value(Some("ok".to_owned())))
            .col_expr(tenants::Column::LastMigratedAt, Expr::value(Some(now)))
            .col_expr(tenants::Column::UpdatedAt, Expr::value(now))
            .filter(tenants::Column::Id.eq(row.id))
            .filter(tenants::Column::Status.eq(TenantStatus::Provisioning))
            .filter(self.holds(operation))
            .exec_with_returning(&self.db)
            .await?;
        activated.into_iter().next().ok_or_else(lost_lease)
    }

    /// True (in SQL) while this instance holds the open operation `operation`: a step
    /// that commits an operation's result is conditional on it, so that an instance
    /// whose lease lapsed (and which another instance is rolling back) cannot commit.
    fn holds(&self, operation: Uuid) -> sea_orm::sea_query::SimpleExpr {
        Expr::cust_with_values(
            "EXISTS (SELECT 1 FROM long_operations o WHERE o.id = $1 AND o.owner = $2 AND o.finished_at IS NULL)",
            [operation, self.instance],
        )
    }

    /// Removes a tenant's row (rollback of provisioning, purge); its events stay.
    pub async fn delete_tenant_row(&self, id: Uuid) -> Result<()> {
        tenants::Entity::delete_by_id(id).exec(&self.db).await?;
        Ok(())
    }

    /// Points the tenant at another database of its server, at `schema_version` (read
    /// from that database), and lifts a pause of its writes (restore). Only while the
    /// tenant is still on `tenant.db_name` and this instance holds `operation`.
    pub async fn switch_database(
        &self,
        tenant: &tenants::Model,
        db_name: String,
        schema_version: String,
        operation: Uuid,
    ) -> Result<tenants::Model> {
        let switched = tenants::Entity::update_many()
            .col_expr(tenants::Column::DbName, Expr::value(db_name))
            .col_expr(tenants::Column::SchemaVersion, Expr::value(Some(schema_version)))
            .col_expr(tenants::Column::WritesPaused, Expr::value(false))
            .col_expr(tenants::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(tenants::Column::Id.eq(tenant.id))
            .filter(tenants::Column::DbName.eq(tenant.db_name.clone()))
            .filter(self.holds(operation))
            .exec_with_returning(&self.db)
            .await?;
        switched.into_iter().next().ok_or_else(lost_lease)
    }

    /// Pauses or resumes a tenant's writes (its mutations get `TENANT_READ_ONLY`).
    pub async fn set_writes_paused(&self, tenant_id: Uuid, paused: bool) -> Result<()> {
        let row = tenants::ActiveModel {
            id: Set(tenant_id),
            writes_paused: Set(paused),
            updated_at: Set(Utc::now().into()),
            ..Default::default()
        };
        row.update(&self.db).await?;
        Ok(())
    }

    /// Tenant rows of the embedded cluster follow it to another port.
    pub async fn repoint_port(&self, host: &str, old_port: u16, new_port: u16) -> Result<u64> {
        let moved = tenants::Entity::update_many()
            .col_expr(tenants::Column::DbPort, Expr::value(i32::from(new_port)))
            .col_expr(tenants::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(tenants::Column::DbHost.eq(host))
            .filter(tenants::Column::DbPort.eq(i32::from(old_port)))
            .exec(&self.db)
            .await?;
        Ok(moved.rows_affected)
    }

    /// Records a `migrate tenants` outcome on the row and in the log, and notifies
    /// (servers refuse tenants whose schema is behind, from their cached row).
    /// Logged, never raised: the migration itself has happened.
    pub async fn record_migration(&self, tenant: &tenants::Model, record: MigrationRecord) {
        let now = Utc::now();
        let mut row = tenants::ActiveModel {
            id: Set(tenant.id),
            ..Default::default()
        };
        if let Some(version) = record.schema_version {
            row.schema_version = Set(Some(version));
        }
        row.last_migration_result = Set(Some(record.result));
        row.last_migrated_at = Set(Some(now.into()));
        row.updated_at = Set(now.into());
        if let Err(err) = row.update(&self.db).await {
            tracing::error!(tenant.slug = %tenant.slug, error = %err, "cannot record migration result");
        }
        self.notify(
            &RegistryChange::Tenant {
                slug: tenant.slug.clone(),
            },
            false,
        )
        .await;
        self.record_event(Some(tenant.id), &tenant.slug, record.event, Some(record.detail))
            .await;
    }

    /// Revokes a token (idempotent: an already revoked token keeps its first revocation time).
    pub async fn revoke_token(&self, id: Uuid) -> Result<Option<api_tokens::Model>> {
        let Some(row) = self.token_by_id(id).await? else {
            return Ok(None);
        };
        if row.revoked_at.is_some() {
            return Ok(Some(row));
        }
        let mut active: api_tokens::ActiveModel = row.into();
        active.revoked_at = Set(Some(Utc::now().into()));
        Ok(Some(active.update(&self.db).await?))
    }

    /// Records that a token was used just now.
    pub async fn touch_token(&self, id: Uuid) -> Result<()> {
        api_tokens::ActiveModel {
            id: Set(id),
            last_used_at: Set(Some(Utc::now().into())),
            ..Default::default()
        }
        .update(&self.db)
        .await?;
        Ok(())
    }
}

/// A long operation that could not commit its result: its lease lapsed and another
/// instance took it over (and rolls it back).
fn lost_lease() -> Error {
    Error::Internal(anyhow::anyhow!(
        "the operation's lease lapsed and another instance took it over; nothing was committed"
    ))
}
