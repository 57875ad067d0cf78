//! Tenant lifecycle operations shared by the admin API and the CLI. Each change is
//! written to the registry, logged in `tenant_events`, and published so that every
//! instance drops its cached rows and the tenant's pool at once.

use std::path::Path;

use sea_orm::{ConnectionTrait, TransactionTrait};
use secrecy::SecretString;

use crate::entities::registry::api_tokens;
use crate::entities::registry::tenant_events::EventKind;
use crate::entities::registry::tenants::{self, TenantStatus};
use crate::error::{Error, Result};
use crate::tenancy::backup;
use crate::tenancy::credentials::unseal;
use crate::tenancy::identity;
use crate::tenancy::invalidation::Invalidation;
use crate::tenancy::operations::Operations;
use crate::tenancy::operations::RunningOperation;
use crate::tenancy::ownership::{self, Access};
use crate::tenancy::provision::{NewTenant, ProvisionedTenant, Provisioner};
use crate::tenancy::registry::{
    admin_connection_to, LongOperation, OperationDatabases, OperationKind, Outcome, Registry, RegistryChange,
    StatusChange,
};
use crate::tenancy::sealing::Sealer;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::Scope;

/// Years books are kept: Indonesian tax law (UU KUP art. 28(11)) keeps books, records
/// and their documents for ten years. A purge of books with posted entries dated within
/// them needs `force` and a reason.
pub const RETENTION_YEARS: u32 = 10;

/// Most characters of a purge's reason (it goes into the registry's event log).
pub const MAX_PURGE_REASON: usize = 1000;

/// Whether an entry dated `newest` is still within the retention period on `today`
/// (future-dated entries are).
pub fn within_retention(newest: chrono::NaiveDate, today: chrono::NaiveDate) -> bool {
    let cutoff = today
        .checked_sub_months(chrono::Months::new(RETENTION_YEARS * 12))
        .unwrap_or(chrono::NaiveDate::MIN);
    newest >= cutoff
}

/// The purge event's detail: whether it was forced, and why books within the retention
/// period went.
fn purge_detail(force: bool, retained: Option<chrono::NaiveDate>, reason: Option<&str>) -> Option<String> {
    match (force, retained, reason) {
        (_, Some(newest), Some(reason)) => Some(format!(
            "forced within the {RETENTION_YEARS}-year retention period (posted entries up to {newest}); reason: {reason}"
        )),
        (true, None, Some(reason)) => Some(format!("forced; reason: {reason}")),
        (true, _, None) => Some("forced".to_owned()),
        (false, None, Some(reason)) => Some(format!("reason: {reason}")),
        (false, _, None) => None,
    }
}

#[derive(Clone)]
pub struct Lifecycle {
    registry: Registry,
    provisioner: Provisioner,
    invalidation: Invalidation,
    sealer: Sealer,
    operations: Operations,
}

impl Lifecycle {
    pub fn new(
        registry: Registry,
        provisioner: Provisioner,
        invalidation: Invalidation,
        sealer: Sealer,
        operations: Operations,
    ) -> Self {
        Lifecycle {
            registry,
            provisioner,
            invalidation,
            sealer,
            operations,
        }
    }

    pub fn operations(&self) -> &Operations {
        &self.operations
    }

    pub fn provisioner(&self) -> &Provisioner {
        &self.provisioner
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Provisions a tenant in a task of its own: a caller that goes away (an HTTP client
    /// closing its connection) leaves it to finish or roll back, never half made.
    pub async fn create_tenant(&self, new: NewTenant) -> Result<ProvisionedTenant> {
        let (provisioner, invalidation) = (self.provisioner.clone(), self.invalidation.clone());
        self.operations
            .detach(async move {
                let slug = new.slug.as_str().to_owned();
                let created = provisioner.create(new).await;
                // Unknown slugs are cached too: announce the new one either way.
                invalidation.publish(RegistryChange::Tenant { slug }).await;
                created
            })
            .await
    }

    /// Finishes or rolls back the long operations whose process died (their lease
    /// lapsed), and tenants left PROVISIONING without a record for longer than
    /// `unrecorded_after`. Run by every instance, a few times per lease. Returns how many
    /// operations it closed.
    pub async fn reclaim_abandoned(&self, unrecorded_after: std::time::Duration) -> Result<usize> {
        let mut closed = 0;
        for operation in self.operations.lapsed().await? {
            let outcome = match operation.kind() {
                Some(OperationKind::Provision) => self.provisioner.roll_back_abandoned(&operation).await,
                Some(OperationKind::Restore) => self.roll_back_restore(&operation).await,
                None => {
                    tracing::warn!(operation = %operation.id, "a long operation of a kind this version does not know; left alone");
                    continue;
                }
            };
            match outcome {
                Ok(outcome) => {
                    self.operations.close(&operation, outcome).await?;
                    self.invalidation
                        .publish(RegistryChange::Tenant {
                            slug: operation.slug.clone(),
                        })
                        .await;
                    closed += 1;
                }
                // Given up at once, so that the next look (of any instance) retries it.
                Err(err) => {
                    tracing::error!(operation = %operation.id, error = %err, "cannot roll back an abandoned operation yet");
                    self.operations.release(&operation).await;
                }
            }
        }
        let unrecorded = self.provisioner.reconcile(unrecorded_after).await?;
        Ok(closed + unrecorded)
    }

    /// A tenant that exists and is not deleted, or `NOT_FOUND`.
    pub async fn existing(&self, slug: &TenantSlug) -> Result<tenants::Model> {
        self.registry
            .tenant_by_slug(slug)
            .await?
            .filter(|t| t.status != TenantStatus::Deleted)
            .ok_or_else(|| Error::NotFound(format!("no tenant '{slug}'")))
    }

    /// ACTIVE -> SUSPENDED: requests get 403 and the pool is closed on every instance.
    pub async fn suspend(&self, slug: &TenantSlug, reason: Option<String>) -> Result<tenants::Model> {
        let tenant = self.existing(slug).await?;
        match tenant.status {
            TenantStatus::Active | TenantStatus::Suspended => {}
            TenantStatus::Provisioning | TenantStatus::Deleted => {
                return Err(Error::conflict("slug", "only an active tenant can be suspended"));
            }
        }
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        let updated = self
            .change_status(
                tenant,
                StatusChange {
                    from: &[TenantStatus::Active, TenantStatus::Suspended],
                    status: TenantStatus::Suspended,
                    revoke_tokens: false,
                    reason: reason.clone(),
                    event: EventKind::Suspended,
                    detail: reason,
                },
            )
            .await?;
        tracing::info!(tenant.slug = %slug, "tenant suspended");
        Ok(updated)
    }

    /// SUSPENDED -> ACTIVE.
    pub async fn activate(&self, slug: &TenantSlug) -> Result<tenants::Model> {
        let tenant = self.existing(slug).await?;
        match tenant.status {
            TenantStatus::Active | TenantStatus::Suspended => {}
            TenantStatus::Provisioning | TenantStatus::Deleted => {
                return Err(Error::conflict("slug", "only a suspended tenant can be activated"));
            }
        }
        let updated = self
            .change_status(
                tenant,
                StatusChange {
                    from: &[TenantStatus::Active, TenantStatus::Suspended],
                    status: TenantStatus::Active,
                    revoke_tokens: false,
                    reason: None,
                    event: EventKind::Activated,
                    detail: None,
                },
            )
            .await?;
        tracing::info!(tenant.slug = %slug, "tenant activated");
        Ok(updated)
    }

    /// The one way a tenant's status changes: row, event and notification in one
    /// registry transaction, then this instance's caches at once.
    async fn change_status(&self, tenant: tenants::Model, change: StatusChange) -> Result<tenants::Model> {
        let updated = self.registry.change_status(tenant, change).await?;
        self.invalidation.apply(&RegistryChange::Tenant {
            slug: updated.slug.clone(),
        });
        Ok(updated)
    }

    /// A new token for a tenant; the secret is returned once.
    pub async fn create_token(
        &self,
        slug: &TenantSlug,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(api_tokens::Model, SecretString)> {
        let tenant = self.existing(slug).await?;
        let created = self.registry.create_token(tenant.id, name, scopes).await?;
        // Every instance reloads its in-memory token hashes, so the new token works there
        // at once (an unknown hash is refused without a registry query).
        self.invalidation
            .publish(RegistryChange::Tokens { tenant_id: tenant.id })
            .await;
        self.registry
            .record_event(
                Some(tenant.id),
                slug.as_str(),
                EventKind::TokenCreated,
                Some(created.0.name.clone()),
            )
            .await;
        Ok(created)
    }

    /// Revokes a token on every instance.
    pub async fn revoke_token(&self, id: uuid::Uuid) -> Result<api_tokens::Model> {
        let row = self
            .registry
            .revoke_token(id)
            .await?
            .ok_or_else(|| Error::NotFound("no such token".into()))?;
        self.invalidation
            .publish(RegistryChange::Tokens {
                tenant_id: row.tenant_id,
            })
            .await;
        if let Some(tenant) = self.registry.tenant_by_id(row.tenant_id).await? {
            self.registry
                .record_event(
                    Some(tenant.id),
                    &tenant.slug,
                    EventKind::TokenRevoked,
                    Some(row.name.clone()),
                )
                .await;
        }
        Ok(row)
    }

    /// Soft delete: DELETED, every token revoked, pools closed; the data is kept.
    pub async fn delete(&self, slug: &TenantSlug) -> Result<tenants::Model> {
        let tenant = self.existing(slug).await?;
        if tenant.status == TenantStatus::Provisioning {
            return Err(Error::conflict("slug", "the tenant is still being provisioned"));
        }
        let updated = self
            .change_status(
                tenant,
                StatusChange {
                    from: &[TenantStatus::Active, TenantStatus::Suspended],
                    status: TenantStatus::Deleted,
                    revoke_tokens: true,
                    reason: Some("deleted".into()),
                    event: EventKind::Deleted,
                    detail: None,
                },
            )
            .await?;
        self.invalidation
            .publish(RegistryChange::Tokens { tenant_id: updated.id })
            .await;
        tracing::info!(tenant.slug = %slug, "tenant deleted (data kept)");
        Ok(updated)
    }

    /// Drops the database and role of a DELETED tenant and removes its registry row
    /// (its events stay). Refused unless a backup was taken after the delete, or `force`.
    /// Books that hold posted entries dated within the last [`RETENTION_YEARS`] years
    /// (the retention period of Indonesian tax law) need `force` *and* a `reason`
    /// whatever the backups; the reason is recorded in the purge event.
    pub async fn purge(&self, slug: &TenantSlug, force: bool, reason: Option<&str>) -> Result<()> {
        let tenant = self
            .registry
            .tenant_by_slug(slug)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no tenant '{slug}'")))?;
        if tenant.status != TenantStatus::Deleted {
            return Err(Error::conflict(
                "slug",
                "only a deleted tenant can be purged (delete it first)",
            ));
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > MAX_PURGE_REASON) {
            return Err(Error::bad_input(
                "reason",
                format!("a reason has at most {MAX_PURGE_REASON} characters"),
            ));
        }
        let newest = self.newest_posted_entry(&tenant).await?;
        let retained = newest.filter(|newest| within_retention(*newest, chrono::Utc::now().date_naive()));
        if let Some(newest) = retained {
            if !force || reason.is_none() {
                return Err(Error::conflict(
                    if force { "reason" } else { "force" },
                    format!(
                        "the books hold posted entries up to {newest}, within the {RETENTION_YEARS}-year retention \
                         period of Indonesian tax law (UU KUP art. 28(11)): purging them needs force and a reason"
                    ),
                ));
            }
        }
        if !force && !self.verified_backup_since_delete(tenant.id).await? {
            return Err(Error::conflict(
                "force",
                "no readable backup taken after the delete: run `tenant backup` first, or purge with force",
            ));
        }
        if !self.provisioner.drop_tenant_objects(&tenant, true, true).await {
            return Err(Error::Internal(anyhow::anyhow!(
                "cannot drop the database or role of '{slug}'"
            )));
        }
        self.registry.delete_tenant_row(tenant.id).await?;
        let detail = purge_detail(force, retained, reason);
        self.registry
            .record_event(Some(tenant.id), slug.as_str(), EventKind::Purged, detail)
            .await;
        self.invalidation
            .publish(RegistryChange::Tenant {
                slug: slug.as_str().to_owned(),
            })
            .await;
        tracing::info!(tenant.slug = %slug, force, retained = retained.is_some(), "tenant purged");
        Ok(())
    }

    /// The date of the newest posted (or reversed) entry in the tenant's books, read over
    /// the admin connection (a deleted tenant's login role takes no requests); `None`
    /// when the database, or its journal, is gone already (a purge that stopped half-way).
    async fn newest_posted_entry(&self, tenant: &tenants::Model) -> Result<Option<chrono::NaiveDate>> {
        use sea_orm::{DbBackend, Statement};
        let exists = self
            .provisioner
            .admin()
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT 1 AS one FROM pg_database WHERE datname = $1",
                [tenant.db_name.clone().into()],
            ))
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        let db = admin_connection_to(self.provisioner.admin_url(), &tenant.db_name, "nusa-journal-purge").await?;
        let newest = async {
            let journal = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT to_regclass('public.journal_entry') IS NOT NULL AS present",
                ))
                .await?
                .map(|row| row.try_get::<bool>("", "present"))
                .transpose()?
                .unwrap_or(false);
            if !journal {
                return Ok::<_, Error>(None);
            }
            let row = db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT max(date) AS newest FROM public.journal_entry WHERE status <> 'DRAFT'",
                ))
                .await?;
            Ok(row
                .map(|row| row.try_get::<Option<chrono::NaiveDate>>("", "newest"))
                .transpose()?
                .flatten())
        }
        .await;
        db.close().await.ok();
        newest
    }

    /// `pg_dump` of the tenant's database to `out`; recorded as an event.
    pub async fn backup(&self, slug: &TenantSlug, out: &Path) -> Result<()> {
        let tenant = self
            .registry
            .tenant_by_slug(slug)
            .await?
            .filter(|t| t.status != TenantStatus::Provisioning)
            .ok_or_else(|| Error::NotFound(format!("no tenant '{slug}'")))?;
        let password = unseal(&self.sealer, &tenant)?;
        backup::dump(&tenant, &password, out).await?;
        // Recorded (and so accepted by `purge`) only once pg_restore can read it.
        backup::verify(out).await?;
        self.registry
            .record_event(
                Some(tenant.id),
                slug.as_str(),
                EventKind::BackedUp,
                Some(out.display().to_string()),
            )
            .await;
        Ok(())
    }

    /// Whether a backup taken since the tenant's delete can still be read.
    async fn verified_backup_since_delete(&self, tenant_id: uuid::Uuid) -> Result<bool> {
        for file in self.registry.backups_since_delete(tenant_id).await? {
            if backup::verify(Path::new(&file)).await.is_ok() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Restores a backup of this tenant (refused for another tenant's, unless
    /// `allow_other_tenant`): writes pause (`TENANT_READ_ONLY`, in the registry and in
    /// the database itself), the backup goes into a fresh database owned by the tenant's
    /// owner role, which is migrated and verified, the tenant switches to it (pools
    /// closed everywhere) and writes resume; only then is the old database dropped. Any
    /// failure, or the death of the process (the operation's lease), puts everything
    /// back as it was.
    pub async fn restore(&self, slug: &TenantSlug, from: &Path, allow_other_tenant: bool) -> Result<tenants::Model> {
        let tenant = self.existing(slug).await?;
        if tenant.status == TenantStatus::Provisioning {
            return Err(Error::conflict("slug", "the tenant is still being provisioned"));
        }
        let listing = backup::verify(from).await?;
        let fresh = backup::restored_database_name(slug);
        let operation = self
            .operations
            .begin(
                OperationKind::Restore,
                tenant.id,
                slug.as_str(),
                "pause-writes",
                OperationDatabases {
                    creates: Some(&fresh),
                    replaces: Some(&tenant.db_name),
                },
            )
            .await?;
        let (this, from) = (self.clone(), from.to_owned());
        self.operations
            .detach(async move {
                let restore = Restore {
                    tenant,
                    listing,
                    fresh,
                    from,
                    allow_other_tenant,
                };
                this.run_restore(restore, operation).await
            })
            .await
    }

    async fn run_restore(&self, restore: Restore, operation: RunningOperation) -> Result<tenants::Model> {
        let Restore { tenant, fresh, .. } = &restore;
        let switched = async {
            self.pause_writes(tenant).await?;
            operation.step("restore").await;
            crate::tenancy::operations::stall_if_asked("NUSA_TEST_STALL_RESTORE").await;
            let version = self.restore_into_fresh(&restore).await?;
            operation.step("switch").await;
            self.registry
                .switch_database(tenant, fresh.clone(), version, operation.id())
                .await
        }
        .await;
        let switched = match switched {
            Ok(switched) => switched,
            Err(err) => {
                tracing::warn!(tenant.slug = %tenant.slug, error = %err, "restore failed; rolling back");
                match self.undo_restore(tenant, fresh).await {
                    Ok(()) => operation.finish(Outcome::RolledBack).await,
                    Err(undo) => {
                        tracing::error!(tenant.slug = %tenant.slug, error = %undo, "cannot roll the restore back yet; it will be retried");
                        operation.abandon().await;
                    }
                }
                return Err(err);
            }
        };
        self.invalidation
            .publish(RegistryChange::Tenant {
                slug: tenant.slug.clone(),
            })
            .await;
        self.registry
            .record_event(
                Some(switched.id),
                &switched.slug,
                EventKind::Restored,
                Some(format!("from {} into {fresh}", restore.from.display())),
            )
            .await;
        let old = &tenant.db_name;
        if let Err(err) = self.drop_database(old).await {
            tracing::warn!(tenant.slug = %tenant.slug, error = %err, database = %old, "restored, but the old database could not be dropped");
        }
        operation.finish(Outcome::Done).await;
        Ok(switched)
    }

    /// Writes pause: first in the database itself, so that no instance can commit there
    /// any more, whether or not it has heard of the pause (the tables are locked first,
    /// so writes in flight end before the right is withdrawn; reads go on), then in the
    /// registry, so that every instance answers mutations `TENANT_READ_ONLY` at once.
    async fn pause_writes(&self, tenant: &tenants::Model) -> Result<()> {
        let db = admin_connection_to(self.provisioner.admin_url(), &tenant.db_name, "nusa-journal-restore").await?;
        let withdrawn = async {
            let txn = db.begin().await?;
            txn.execute_unprepared("SET LOCAL lock_timeout = '30s'").await?;
            // Not while `migrate tenants` rewrites this database's grants.
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({})", ownership::SCHEMA_LOCK_KEY))
                .await?;
            txn.execute_unprepared("LOCK TABLE account, company, journal_entry, journal_line IN EXCLUSIVE MODE")
                .await?;
            ownership::set_writable(&txn, &tenant.db_username, Access::ReadOnly).await?;
            txn.commit().await?;
            Ok::<_, Error>(())
        }
        .await;
        let _ = db.close().await;
        withdrawn?;
        self.mark_writes_paused(tenant, true).await
    }

    /// The registry's pause flag, announced to every instance.
    async fn mark_writes_paused(&self, tenant: &tenants::Model, paused: bool) -> Result<()> {
        self.registry.set_writes_paused(tenant.id, paused).await?;
        self.invalidation
            .publish(RegistryChange::Tenant {
                slug: tenant.slug.clone(),
            })
            .await;
        Ok(())
    }

    /// Drops a database of the tenants' server (a restore's old or abandoned one).
    async fn drop_database(&self, name: &str) -> Result<()> {
        self.provisioner
            .admin()
            .execute_unprepared(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
            .await?;
        Ok(())
    }

    /// The backup in the fresh database, owned by the tenant's owner role, migrated to
    /// this binary's schema, checked to be this tenant's (or allowed), and verified.
    /// Returns the schema version it is at.
    async fn restore_into_fresh(&self, restore: &Restore) -> Result<String> {
        let Restore {
            tenant,
            listing,
            fresh,
            from,
            allow_other_tenant,
        } = restore;
        let admin = self.provisioner.admin();
        let admin_url = self.provisioner.admin_url();
        let login = &tenant.db_username;
        let owner = ownership::owner_role(login);
        // A tenant made before the owner role gets it here (the login role never owns).
        for statement in ownership::owner_role_statements(&owner) {
            admin.execute_unprepared(&statement).await?;
        }
        admin
            .execute_unprepared(&format!(
                r#"CREATE DATABASE "{fresh}" OWNER "{owner}" ENCODING 'UTF8' TEMPLATE template0"#
            ))
            .await?;
        ownership::apply(admin_url, fresh, login, Access::ReadWrite).await?;
        backup::restore_into(tenant, admin_url, &owner, fresh, from).await?;
        let as_owner = ownership::owner_connection(
            admin_url,
            fresh,
            &owner,
            &format!("nusa-journal-restore:{}", tenant.slug),
        )
        .await?;
        let checked = async {
            // A backup taken before a migration is brought to this binary's schema.
            {
                use migration::MigratorTrait;
                migration::Migrator::up(&as_owner, None).await?;
            }
            check_backup_belongs(tenant, listing, identity::read(&as_owner).await?, *allow_other_tenant)?;
            identity::overwrite(&as_owner, tenant.id, &tenant.slug).await?;
            // The kept totals are rebuilt from the restored lines (a dump may come from a
            // database whose totals were wrong, or from before they existed) and checked.
            crate::ledger::balances::rebuild(&as_owner).await?;
            if !crate::ledger::balances::verify(&as_owner).await?.is_empty() {
                return Err(Error::Internal(anyhow::anyhow!(
                    "restored totals differ from the lines after a rebuild"
                )));
            }
            verify_restored(&as_owner).await
        }
        .await;
        let _ = as_owner.close().await;
        let version = checked?;
        // Grants on the restored tables (a dump carries none of them).
        ownership::apply(admin_url, fresh, login, Access::ReadWrite).await?;
        Ok(version)
    }

    /// Puts a failed or abandoned restore back: the fresh database goes, writes resume
    /// on the old one. Never drops the database the registry points to (a switch that
    /// committed although its caller saw an error). An error leaves the operation open,
    /// to be retried.
    async fn undo_restore(&self, tenant: &tenants::Model, fresh: &str) -> Result<()> {
        let current = self.registry.tenant_by_id(tenant.id).await?;
        if current.as_ref().is_some_and(|row| row.db_name == fresh) {
            tracing::warn!(tenant.slug = %tenant.slug, "the restore's switch committed after all; nothing to roll back");
            return Ok(());
        }
        self.drop_database(fresh).await?;
        let Some(current) = current else {
            return Ok(());
        };
        let db = admin_connection_to(self.provisioner.admin_url(), &current.db_name, "nusa-journal-restore").await?;
        let granted = ownership::set_writable(&db, &current.db_username, Access::ReadWrite).await;
        let _ = db.close().await;
        granted?;
        self.mark_writes_paused(&current, false).await
    }

    /// Rolls back a restore whose process died: if the tenant was not switched yet, the
    /// fresh database goes and writes resume on the old one; if it was, the restore is
    /// done, and the database it replaced goes.
    async fn roll_back_restore(&self, operation: &LongOperation) -> Result<Outcome> {
        let Some(tenant) = self.registry.tenant_by_id(operation.tenant_id).await? else {
            return Ok(Outcome::RolledBack);
        };
        let Some(fresh) = operation.new_database.as_deref() else {
            return Ok(Outcome::RolledBack);
        };
        if fresh == tenant.db_name {
            if let Some(old) = operation
                .replaces_database
                .as_deref()
                .filter(|old| *old != tenant.db_name)
            {
                self.drop_database(old).await?;
            }
            return Ok(Outcome::Done);
        }
        tracing::warn!(tenant.slug = %tenant.slug, step = %operation.step, "rolling back a restore whose process died");
        self.undo_restore(&tenant, fresh).await?;
        Ok(Outcome::RolledBack)
    }
}

/// What one restore works with.
struct Restore {
    tenant: tenants::Model,
    listing: backup::BackupListing,
    fresh: String,
    from: std::path::PathBuf,
    allow_other_tenant: bool,
}

/// A backup belongs to the tenant when its database says so, or (backups from before
/// databases said) when it was dumped from this tenant's database (or a restored copy of
/// it, `<name>__r<random>`). Otherwise it is refused unless the operator allows it.
fn check_backup_belongs(
    tenant: &tenants::Model,
    listing: &backup::BackupListing,
    recorded: Option<(uuid::Uuid, String)>,
    allow_other_tenant: bool,
) -> Result<()> {
    let own_database = TenantSlug::parse(&tenant.slug)
        .map(|slug| slug.database_name())
        .map_err(Error::InvalidTenantSlug)?;
    let (belongs, whose) = match recorded {
        Some((id, slug)) => (id == tenant.id, format!("tenant '{slug}'")),
        None => match listing.database.as_deref() {
            Some(dumped) => (
                dumped.split("__r").next() == Some(own_database.as_str()),
                format!("database {dumped}"),
            ),
            None => (false, "an unknown database".to_owned()),
        },
    };
    if belongs || allow_other_tenant {
        return Ok(());
    }
    Err(Error::bad_input(
        "from",
        format!(
            "this backup is of {whose}, not of '{}'; restore it there, or pass --allow-other-tenant",
            tenant.slug
        ),
    ))
}

/// The restored books are whole: one company, balanced posted lines. Returns the schema
/// version the database is at.
async fn verify_restored(db: &impl ConnectionTrait) -> Result<String> {
    use sea_orm::{DbBackend, Statement};
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            r#"SELECT (SELECT count(*) FROM company) AS companies,
                      (SELECT coalesce(sum(l.debit), 0) = coalesce(sum(l.credit), 0)
                         FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id
                        WHERE e.status <> 'DRAFT') AS balanced,
                      (SELECT max(version) FROM seaql_migrations) AS version"#,
        ))
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("verifying a restore returned no row")))?;
    let companies: i64 = row.try_get("", "companies")?;
    let balanced: bool = row.try_get("", "balanced")?;
    let version: Option<String> = row.try_get("", "version")?;
    if companies != 1 || !balanced {
        return Err(Error::bad_input(
            "from",
            format!("the restored books do not verify ({companies} companies, balanced: {balanced})"),
        ));
    }
    version.ok_or_else(|| Error::Internal(anyhow::anyhow!("the restored database has no migrations table")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn books_are_retained_for_ten_years() {
        let today = day(2026, 12, 1);
        assert!(within_retention(day(2016, 12, 1), today), "exactly ten years ago");
        assert!(!within_retention(day(2016, 11, 30), today));
        assert!(within_retention(day(2027, 1, 1), today), "future-dated");
        assert!(within_retention(day(2024, 2, 29), day(2034, 2, 28)));
    }

    #[test]
    fn the_purge_event_says_why() {
        assert_eq!(purge_detail(false, None, None), None);
        assert_eq!(purge_detail(true, None, None).as_deref(), Some("forced"));
        let detail = purge_detail(
            true,
            Some(day(2026, 3, 1)),
            Some("company dissolved, archive kept offline"),
        );
        let detail = detail.unwrap_or_default();
        assert!(
            detail.contains("2026-03-01") && detail.contains("company dissolved"),
            "{detail}"
        );
    }
}
