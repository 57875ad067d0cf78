//! Access to the registry database: tenants, API tokens and the event log.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, SqlxPostgresConnector,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::entities::registry::tenants::TenantStatus;
use crate::entities::registry::{api_tokens, tenant_events, tenants};
use crate::error::{Error, Result};
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::{self, Scope};

/// Handle on the registry database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Registry {
    db: DatabaseConnection,
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

/// One admin connection to another database of the same server (the template, a new
/// tenant database), for work that must happen inside that database.
pub async fn admin_connection_to(
    admin_url: &SecretString,
    database: &str,
    application_name: &str,
) -> Result<DatabaseConnection> {
    let options = PgConnectOptions::from_str(admin_url.expose_secret())
        .map_err(|e| Error::Internal(anyhow::anyhow!("admin URL: {e}")))?
        .database(database)
        .application_name(application_name)
        .disable_statement_logging();
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
        })
    }

    /// Applies pending registry migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        use registry_migration::MigratorTrait;
        registry_migration::Migrator::up(&self.db, None)
            .await
            .context("registry migrations")
    }

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
    /// the change it describes has already happened.
    pub async fn record_event(&self, tenant_id: Option<Uuid>, slug: &str, kind: &str, detail: Option<String>) {
        let event = tenant_events::ActiveModel {
            tenant_id: Set(tenant_id),
            slug: Set(slug.to_owned()),
            kind: Set(kind.to_owned()),
            detail: Set(detail),
            created_at: Set(Utc::now().into()),
            ..Default::default()
        };
        if let Err(err) = event.insert(&self.db).await {
            tracing::error!(tenant.slug = %slug, event.kind = kind, error = %err, "cannot record tenant event");
        }
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
        db: &impl ConnectionTrait,
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
        .insert(db)
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

impl Registry {
    /// Announces a change on the registry's notification channel (see `invalidation`).
    /// A failure is logged: other instances still converge through the cache TTL.
    pub async fn notify(&self, change: &crate::tenancy::invalidation::RegistryChange) {
        let payload = match serde_json::to_string(change) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, "cannot encode registry change");
                return;
            }
        };
        let notify = sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [crate::tenancy::invalidation::CHANNEL.into(), payload.into()],
        );
        if let Err(err) = self.db.execute_raw(notify).await {
            tracing::error!(error = %err, ?change, "cannot notify other instances of a registry change");
        }
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
}
