//! `migrate tenants`: applies pending tenant migrations to every tenant, in parallel
//! with a bound. Each tenant is migrated over an admin connection, under a PostgreSQL
//! advisory lock held in its own database, so two runners (or instances) never migrate
//! one tenant at once; the ownership step (`tenancy::ownership`) runs first (it
//! converts a tenant made before the owner role) and again after, and the migrations
//! run as the tenant's owner role, never as its login role. Each outcome is recorded in
//! the registry; one tenant's failure never stops the others.
//!
//! Nothing waits for ever: the schema lock is tried until [`MigrateOptions::lock_wait`]
//! passes, and every statement of the ownership step and the migrations gives up on a
//! lock after `lock_timeout` ([`ownership::LOCK_TIMEOUT`]), e.g. behind a login-role session idle
//! in a transaction. Either is that tenant's failure.

use std::time::Duration;

use futures::StreamExt;
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::SecretString;

use crate::entities::registry::tenant_events::EventKind;
use crate::entities::registry::tenants;
use crate::error::{Error, Result};
use crate::tenancy::ownership::{self, SCHEMA_LOCK_KEY};
use crate::tenancy::registry::{admin_connection_to, MigrationRecord, Registry};
use crate::tenancy::slug::TenantSlug;

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub concurrency: usize,
    pub only: Option<TenantSlug>,
    pub dry_run: bool,
    /// Longest wait for a tenant database's schema lock (`MIGRATE_LOCK_WAIT_MS`).
    pub lock_wait: Duration,
}

/// What `MIGRATE_LOCK_WAIT_MS` defaults to.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(60);

/// How often the schema lock is tried while another session holds it.
const LOCK_RETRY: Duration = Duration::from_millis(200);

/// What happened to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Migrated { from: Option<String>, to: String },
    AlreadyCurrent,
    WouldMigrate { from: Option<String>, pending: Vec<String> },
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct TenantOutcome {
    pub slug: String,
    pub outcome: Outcome,
}

impl std::fmt::Display for TenantOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        match &self.outcome {
            Outcome::Migrated { from, to } => write!(f, "{}: migrated from {} to {to}", self.slug, version(from)),
            Outcome::AlreadyCurrent => write!(f, "{}: already current", self.slug),
            Outcome::WouldMigrate { from, pending } => {
                write!(
                    f,
                    "{}: would migrate from {} ({})",
                    self.slug,
                    version(from),
                    pending.join(", ")
                )
            }
            Outcome::Failed(reason) => write!(f, "{}: failed: {reason}", self.slug),
        }
    }
}

/// Tallies for the summary line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub migrated: usize,
    pub current: usize,
    pub would_migrate: usize,
    pub failed: usize,
}

impl Summary {
    pub fn of(outcomes: &[TenantOutcome]) -> Self {
        let mut s = Summary::default();
        for o in outcomes {
            match o.outcome {
                Outcome::Migrated { .. } => s.migrated += 1,
                Outcome::AlreadyCurrent => s.current += 1,
                Outcome::WouldMigrate { .. } => s.would_migrate += 1,
                Outcome::Failed(_) => s.failed += 1,
            }
        }
        s
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} migrated, {} already current, {} would migrate, {} failed",
            self.migrated, self.current, self.would_migrate, self.failed
        )
    }
}

/// Tenants the runner should look at: not deleted, not still provisioning.
pub async fn tenants_to_consider(registry: &Registry, only: Option<&TenantSlug>) -> Result<Vec<tenants::Model>> {
    registry.tenants_to_migrate(only).await
}

/// Migrates the fleet; `report` sees each outcome as it happens.
pub async fn migrate_tenants(
    registry: &Registry,
    admin_url: &SecretString,
    options: &MigrateOptions,
    report: impl Fn(&TenantOutcome),
) -> Result<Vec<TenantOutcome>> {
    let tenants = tenants_to_consider(registry, options.only.as_ref()).await?;
    if let Some(slug) = &options.only {
        if tenants.is_empty() {
            return Err(Error::NotFound(format!("no active or suspended tenant '{slug}'")));
        }
    }
    let latest = migration::latest_version();
    let report = &report;
    let outcomes: Vec<TenantOutcome> = futures::stream::iter(tenants)
        .map(|tenant| {
            let latest = latest.clone();
            async move {
                let recorded_current = tenant.schema_version.as_deref() == Some(latest.as_str())
                    && tenant.last_migration_result.as_deref() == Some("ok");
                let outcome = if recorded_current {
                    Outcome::AlreadyCurrent
                } else {
                    let outcome = migrate_one(admin_url, &tenant, options).await;
                    if !options.dry_run {
                        record(registry, &tenant, &outcome).await;
                    }
                    outcome
                };
                let done = TenantOutcome {
                    slug: tenant.slug.clone(),
                    outcome,
                };
                report(&done);
                done
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    Ok(outcomes)
}

async fn migrate_one(admin_url: &SecretString, tenant: &tenants::Model, options: &MigrateOptions) -> Outcome {
    match try_migrate_one(admin_url, tenant, options.dry_run, options.lock_wait).await {
        Ok(outcome) => outcome,
        Err(err) => Outcome::Failed(describe(&err)),
    }
}

/// Over an admin connection to the tenant database, under its schema lock: the
/// ownership step (which also converts a tenant whose login role still owns
/// everything: only an admin can create its owner role), the pending migrations as the
/// owner role, then the ownership step again for the grants on what they created.
async fn try_migrate_one(
    admin_url: &SecretString,
    tenant: &tenants::Model,
    dry_run: bool,
    lock_wait: Duration,
) -> Result<Outcome> {
    let application_name = format!("nusa-journal-migrate:{}", tenant.slug);
    let admin = admin_connection_to(admin_url, &tenant.db_name, &application_name).await?;
    if let Err(err) = take_schema_lock(&admin, lock_wait).await {
        let _ = admin.close().await;
        return Err(err);
    }
    let result = async {
        let applied = migration::Migrator::get_applied_migrations(&admin).await?;
        let from = applied.last().map(|m| m.name().to_owned());
        let pending: Vec<String> = migration::Migrator::get_pending_migrations(&admin)
            .await?
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        if dry_run {
            return Ok(if pending.is_empty() {
                Outcome::AlreadyCurrent
            } else {
                Outcome::WouldMigrate { from, pending }
            });
        }
        let login = &tenant.db_username;
        // A restore's pause (writes withdrawn) stays as it is: migrating must not give
        // writes back to a database the tenant is about to leave.
        let access = ownership::current_access(&admin, login).await?;
        ownership::apply_on(&admin, &tenant.db_name, login, access).await?;
        if pending.is_empty() {
            return Ok(Outcome::AlreadyCurrent);
        }
        let owner = ownership::owner_connection(
            admin_url,
            &tenant.db_name,
            &ownership::owner_role(login),
            &application_name,
        )
        .await?;
        let migrated = async {
            owner
                .execute_unprepared(&format!("SET lock_timeout = '{}'", ownership::LOCK_TIMEOUT))
                .await?;
            migration::Migrator::up(&owner, None).await?;
            // A database made before identities were recorded learns whose it is.
            crate::tenancy::identity::record(&owner, tenant.id, &tenant.slug).await
        }
        .await;
        let _ = owner.close().await;
        migrated?;
        ownership::apply_on(&admin, &tenant.db_name, login, access).await?;
        Ok::<_, Error>(Outcome::Migrated {
            from,
            to: migration::latest_version(),
        })
    }
    .await;
    let _ = admin
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_unlock($1)",
            [SCHEMA_LOCK_KEY.into()],
        ))
        .await;
    let _ = admin.close().await;
    result
}

/// Takes the tenant database's schema lock (a session lock on `admin`, a one-connection
/// pool), trying until `wait` passes: a lock held elsewhere for longer is this
/// tenant's failure, not a hang.
async fn take_schema_lock(admin: &sea_orm::DatabaseConnection, wait: Duration) -> Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let row = admin
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_lock($1) AS taken",
                [SCHEMA_LOCK_KEY.into()],
            ))
            .await?;
        let taken: bool = match row {
            Some(row) => row.try_get("", "taken")?,
            None => false,
        };
        if taken {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Internal(anyhow::anyhow!(
                "the tenant database's schema lock is held elsewhere (another runner, or a session holding its \
                 advisory key); gave up after {wait:?}"
            )));
        }
        tokio::time::sleep(LOCK_RETRY.min(deadline - tokio::time::Instant::now())).await;
    }
}

/// The registry learns each tenant's schema version and last result.
async fn record(registry: &Registry, tenant: &tenants::Model, outcome: &Outcome) {
    let (schema_version, result, event) = match outcome {
        Outcome::Migrated { to, .. } => (Some(to.clone()), "ok".to_owned(), EventKind::Migrated),
        Outcome::AlreadyCurrent => (Some(migration::latest_version()), "ok".to_owned(), EventKind::Migrated),
        Outcome::Failed(reason) => (None, format!("failed: {reason}"), EventKind::MigrationFailed),
        Outcome::WouldMigrate { .. } => return,
    };
    let detail = TenantOutcome {
        slug: tenant.slug.clone(),
        outcome: outcome.clone(),
    }
    .to_string();
    registry
        .record_migration(
            tenant,
            MigrationRecord {
                schema_version,
                result,
                event,
                detail,
            },
        )
        .await;
}

/// An operator-facing reason: the database's own message, never connection details.
fn describe(err: &Error) -> String {
    match err {
        Error::Internal(inner) => {
            let text = format!("{inner:#}");
            text.replace('\n', " ")
        }
        other => other.to_string(),
    }
}
