//! The one way into the registry database: tenants, API tokens, the event log and the
//! change notifications. No other module holds registry SQL or queries its entities;
//! a test (`tests/it/structure.rs`) scans the sources for that.
//!
//! - `mod.rs`: connecting, migrating, tenant and token reads.
//! - `writes.rs`: every write to `tenants` and `api_tokens`, each status change
//!   together with its event and its notification, in one transaction.
//! - `changes.rs`: the notification channel, its payload and the listener.
//! - `operations.rs`: long admin operations, their steps and leases.

mod changes;
mod operations;
mod writes;

pub use changes::{listen, Heard, RegistryChange, CHANNEL};
pub use operations::{LongOperation, OperationDatabases, OperationKind, Outcome};
pub use writes::{MigrationRecord, StatusChange};

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    SqlxPostgresConnector,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::entities::registry::tenant_events::EventKind;
use crate::entities::registry::tenants::TenantStatus;
use crate::entities::registry::{api_tokens, tenant_events, tenants};
use crate::error::{Error, Result};
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::{self, Scope};

/// Counts for `/metrics`.
#[derive(Debug, Default)]
pub struct RegistryFigures {
    pub tenants_by_status: Vec<(TenantStatus, i64)>,
    pub events_by_kind: Vec<(EventKind, i64)>,
}

/// What identifies a caller, for all tenants at once: the slugs of every tenant that is
/// not DELETED and the hashes of every live (unrevoked) token. Held in memory by the
/// directory, so an unknown slug or token is refused without asking the registry.
#[derive(Debug, Default)]
pub struct RegistryKeys {
    pub slugs: Vec<(String, TenantStatus)>,
    pub token_hashes: Vec<Vec<u8>>,
}

/// Handle on the registry database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Registry {
    db: DatabaseConnection,
    /// This process's id on the notification channel (its own echoes are told apart).
    instance: Uuid,
}

/// Opens a small pool on a database URL, without statement logging (DDL through an
/// admin pool must never reach a log line).
pub async fn connect_pool(
    url: &SecretString,
    application_name: &str,
    max_connections: u32,
) -> anyhow::Result<DatabaseConnection> {
    let options = PgConnectOptions::from_str(url.expose_secret())
        .map_err(|_| anyhow::anyhow!("{application_name}: not a valid postgres:// URL"))?
        .application_name(application_name)
        .disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .with_context(|| format!("{application_name}: cannot connect to the database"))?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// The admin URL's options for `database` of the same server, without statement
/// logging (DDL through an admin connection must never reach a log line).
pub fn admin_options(admin_url: &SecretString, database: &str, application_name: &str) -> Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(admin_url.expose_secret())
        .map_err(|e| Error::Internal(anyhow::anyhow!("admin URL: {e}")))?
        .database(database)
        .application_name(application_name)
        .disable_statement_logging())
}

/// One admin connection to another database of the same server (the template, a new
/// tenant database), for work that must happen inside that database.
pub async fn admin_connection_to(
    admin_url: &SecretString,
    database: &str,
    application_name: &str,
) -> Result<DatabaseConnection> {
    let options = admin_options(admin_url, database, application_name)?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("connecting to {database} as admin: {e}")))?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

impl Registry {
    pub async fn connect(url: &SecretString) -> anyhow::Result<Self> {
        Ok(Registry {
            db: connect_pool(url, "nusa-journal-registry", 10).await?,
            instance: Uuid::new_v4(),
        })
    }

    /// Applies pending registry migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        use registry_migration::MigratorTrait;
        registry_migration::Migrator::up(&self.db, None)
            .await
            .context("registry migrations")
    }

    /// The registry pool, for what cannot go through a method here (tests' direct
    /// checks). Service code must use the methods.
    #[doc(hidden)]
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// True when the registry database answers.
    pub async fn is_ready(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    pub async fn tenant_by_slug(&self, slug: &TenantSlug) -> Result<Option<tenants::Model>> {
        Ok(tenants::Entity::find()
            .filter(tenants::Column::Slug.eq(slug.as_str()))
            .one(&self.db)
            .await?)
    }

    /// Every tenant slug (but DELETED ones) and every live token hash, read in one
    /// read-only snapshot (one transaction, so both agree with each other).
    pub async fn keys(&self) -> Result<RegistryKeys> {
        use sea_orm::{AccessMode, IsolationLevel, TransactionTrait};
        let txn = self
            .db
            .begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
            .await?;
        let slugs: Vec<(String, TenantStatus)> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Slug)
            .column(tenants::Column::Status)
            .filter(tenants::Column::Status.ne(TenantStatus::Deleted))
            .into_tuple()
            .all(&txn)
            .await?;
        let token_hashes: Vec<Vec<u8>> = api_tokens::Entity::find()
            .select_only()
            .column(api_tokens::Column::TokenHash)
            .filter(api_tokens::Column::RevokedAt.is_null())
            .into_tuple()
            .all(&txn)
            .await?;
        txn.commit().await?;
        Ok(RegistryKeys { slugs, token_hashes })
    }

    /// Tenants ordered by slug, `first` of them after the slug `after`.
    pub async fn tenants(
        &self,
        status: Option<TenantStatus>,
        first: Option<u64>,
        after: Option<&str>,
    ) -> Result<Vec<tenants::Model>> {
        let mut query = tenants::Entity::find().order_by_asc(tenants::Column::Slug);
        if let Some(status) = status {
            query = query.filter(tenants::Column::Status.eq(status));
        }
        if let Some(after) = after {
            query = query.filter(tenants::Column::Slug.gt(after));
        }
        Ok(query.limit(first).all(&self.db).await?)
    }

    pub async fn count_tenants(&self, status: Option<TenantStatus>) -> Result<u64> {
        use sea_orm::PaginatorTrait;
        let mut query = tenants::Entity::find();
        if let Some(status) = status {
            query = query.filter(tenants::Column::Status.eq(status));
        }
        Ok(query.count(&self.db).await?)
    }

    /// Appends to the lifecycle log. A failure to log is itself logged, not raised:
    /// the change it describes has already happened. (Status changes log their event
    /// in their own transaction instead: see [`Registry::change_status`].)
    pub async fn record_event(&self, tenant_id: Option<Uuid>, slug: &str, kind: EventKind, detail: Option<String>) {
        if let Err(err) = writes::insert_event(&self.db, tenant_id, slug, kind, detail).await {
            tracing::error!(tenant.slug = %slug, event.kind = ?kind, error = %err, "cannot record tenant event");
        }
    }

    /// Whether the newest of the tenant's `deleted` / `backed_up` events is a backup.
    /// The files of the backups taken since the tenant's latest delete, newest first.
    pub async fn backups_since_delete(&self, tenant_id: Uuid) -> Result<Vec<String>> {
        let events = tenant_events::Entity::find()
            .filter(tenant_events::Column::TenantId.eq(tenant_id))
            .filter(tenant_events::Column::Kind.is_in([EventKind::Deleted, EventKind::BackedUp]))
            .order_by_desc(tenant_events::Column::Id)
            .limit(100)
            .all(&self.db)
            .await?;
        Ok(events
            .into_iter()
            .take_while(|e| e.kind == EventKind::BackedUp)
            .filter_map(|e| e.detail)
            .collect())
    }

    pub async fn tenant_by_id(&self, id: Uuid) -> Result<Option<tenants::Model>> {
        Ok(tenants::Entity::find_by_id(id).one(&self.db).await?)
    }

    /// Tenants `migrate tenants` looks at: ACTIVE or SUSPENDED (optionally one), by slug.
    pub async fn tenants_to_migrate(&self, only: Option<&TenantSlug>) -> Result<Vec<tenants::Model>> {
        let mut query = tenants::Entity::find()
            .filter(tenants::Column::Status.is_in([TenantStatus::Active, TenantStatus::Suspended]))
            .order_by_asc(tenants::Column::Slug);
        if let Some(slug) = only {
            query = query.filter(tenants::Column::Slug.eq(slug.as_str()));
        }
        Ok(query.all(&self.db).await?)
    }

    /// Rows left PROVISIONING since before `cutoff` (a crash mid-provisioning).
    pub async fn stale_provisioning(&self, cutoff: chrono::DateTime<Utc>) -> Result<Vec<tenants::Model>> {
        Ok(tenants::Entity::find()
            .filter(tenants::Column::Status.eq(TenantStatus::Provisioning))
            .filter(tenants::Column::CreatedAt.lt(cutoff))
            // Rows with an open operation are its lease's business.
            .filter(sea_orm::sea_query::Expr::cust(
                "NOT EXISTS (SELECT 1 FROM long_operations o WHERE o.tenant_id = tenants.id AND o.finished_at IS NULL)",
            ))
            .all(&self.db)
            .await?)
    }

    /// Tenants per status and events per kind, for `/metrics`.
    pub async fn figures(&self) -> Result<RegistryFigures> {
        use sea_orm::sea_query::{Expr, Func};
        let tenants_by_status: Vec<(TenantStatus, i64)> = tenants::Entity::find()
            .select_only()
            .column(tenants::Column::Status)
            .column_as(Expr::from(Func::count(Expr::col(tenants::Column::Id))), "n")
            .group_by(tenants::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        let events_by_kind: Vec<(EventKind, i64)> = tenant_events::Entity::find()
            .select_only()
            .column(tenant_events::Column::Kind)
            .column_as(Expr::from(Func::count(Expr::col(tenant_events::Column::Id))), "n")
            .group_by(tenant_events::Column::Kind)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(RegistryFigures {
            tenants_by_status,
            events_by_kind,
        })
    }

    pub async fn events(&self, slug: &str) -> Result<Vec<tenant_events::Model>> {
        Ok(tenant_events::Entity::find()
            .filter(tenant_events::Column::Slug.eq(slug))
            .order_by_asc(tenant_events::Column::Id)
            .all(&self.db)
            .await?)
    }

    /// Creates a token for a tenant; the returned secret is the only copy.
    pub async fn create_token(
        &self,
        tenant_id: Uuid,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(api_tokens::Model, SecretString)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::bad_input("name", "a token name has 1 to 100 characters"));
        }
        let mut scope_names: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        scope_names.sort();
        scope_names.dedup();
        if scope_names.is_empty() {
            return Err(Error::bad_input("scopes", "a token needs at least one scope"));
        }
        let token = tokens::generate_token();
        let model = api_tokens::ActiveModel {
            id: Set(Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            name: Set(name.to_owned()),
            token_hash: Set(tokens::hash_token(&token)),
            scopes: Set(scope_names),
            created_at: Set(Utc::now().into()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        Ok((model, token))
    }

    /// The token row for a presented token, if any (revoked ones included).
    pub async fn token_by_secret(&self, token: &SecretString) -> Result<Option<api_tokens::Model>> {
        Ok(api_tokens::Entity::find()
            .filter(api_tokens::Column::TokenHash.eq(tokens::hash_token(token)))
            .one(&self.db)
            .await?)
    }

    pub async fn token_by_id(&self, id: Uuid) -> Result<Option<api_tokens::Model>> {
        Ok(api_tokens::Entity::find_by_id(id).one(&self.db).await?)
    }

    pub async fn tokens_of(&self, tenant_id: Uuid) -> Result<Vec<api_tokens::Model>> {
        Ok(api_tokens::Entity::find()
            .filter(api_tokens::Column::TenantId.eq(tenant_id))
            .order_by_asc(api_tokens::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// What registry access looks like in code: SQL naming its tables, its entities'
    /// query builders, or its raw pool.
    const REGISTRY_ACCESS: &[&str] = &[
        "from tenants",
        "update tenants",
        "into tenants",
        "join tenants",
        "from tenant_events",
        "into tenant_events",
        "from api_tokens",
        "update api_tokens",
        "into api_tokens",
        "tenants::entity",
        "tenant_events::entity",
        "api_tokens::entity",
        "registry.db()",
        "registry().db()",
        "registry_changes",
    ];

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_module_but_the_registry_touches_the_registry_database() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        assert!(files.len() > 20, "the scan found the sources ({})", files.len());
        let own = [src.join("tenancy/registry"), src.join("entities/registry")];
        let mut offenders = Vec::new();
        for file in files.iter().filter(|f| !own.iter().any(|dir| f.starts_with(dir))) {
            let text = std::fs::read_to_string(file).unwrap_or_default().to_lowercase();
            for needle in REGISTRY_ACCESS {
                if text.contains(needle) {
                    offenders.push(format!("{}: {needle}", file.display()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "registry access outside tenancy::registry: {offenders:#?}"
        );
    }
}
