//! Provisioning a tenant: role, database, migrations, seed, registration.
//!
//! A state machine over [`ProvisionStep`] (DESIGN.md): insert the registry row as
//! PROVISIONING (the unique slug makes concurrent creates race safely), create the role
//! with a fresh random password and its NOLOGIN owner role, create the database owned
//! by the owner (copied from the template database when it is current, else empty and
//! migrated), apply the ownership and grants at once (`tenancy::ownership`: only the
//! login role may connect), migrate and seed as the owner, apply the grants again for
//! the new tables, then seal the password into the row and mark it ACTIVE. On any failure, whatever this run created is dropped and the row removed,
//! so the slug can be used again; the failure is recorded in `tenant_events`. Rows left
//! PROVISIONING by a crash are rolled back by [`Provisioner::reconcile`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, NotSet, Set};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::entities::registry::tenant_events::EventKind;
use crate::entities::registry::tenants::{self, TenantStatus};
use crate::entities::tenant::company;
use crate::error::{Error, Result};
use crate::tenancy::operations::Operations;
use crate::tenancy::ownership::{self, Access};
use crate::tenancy::registry::{LongOperation, OperationDatabases, OperationKind, Outcome, Registry};
use crate::tenancy::sealing::Sealer;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::template;
use crate::tenancy::tokens::Scope;

/// Most connections one tenant role may hold on its server, across all instances.
pub const TENANT_ROLE_CONNECTION_LIMIT: u32 = 50;

/// What an operator asks for.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub slug: TenantSlug,
    pub name: String,
    pub base_currency: String,
    pub fiscal_year_start_month: i32,
    /// Key of the chart-of-accounts template to seed (`ledger::coa`).
    pub coa_template: String,
}

impl NewTenant {
    pub fn new(slug: TenantSlug, name: impl Into<String>) -> Self {
        NewTenant {
            slug,
            name: name.into(),
            base_currency: "IDR".into(),
            fiscal_year_start_month: 1,
            coa_template: crate::ledger::coa::DEFAULT_TEMPLATE.into(),
        }
    }

    fn validate(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::bad_input("name", "a company name has 1 to 200 characters"));
        }
        if !(self.base_currency.len() == 3 && self.base_currency.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(Error::bad_input(
                "baseCurrency",
                "an ISO 4217 code of three capital letters, e.g. IDR",
            ));
        }
        if !(1..=12).contains(&self.fiscal_year_start_month) {
            return Err(Error::bad_input("fiscalYearStartMonth", "a month from 1 to 12"));
        }
        if crate::ledger::coa::find(&self.coa_template)?.is_none() {
            return Err(Error::bad_input(
                "coaTemplate",
                format!("unknown template '{}'", self.coa_template),
            ));
        }
        Ok(())
    }
}

/// A provisioned tenant and its first API token (shown once).
pub struct ProvisionedTenant {
    pub tenant: tenants::Model,
    pub token: SecretString,
}

/// The steps of provisioning, in order. Named so a test can make one fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionStep {
    CreateRole,
    CreateDatabase,
    RestrictDatabase,
    Migrate,
    Seed,
    Activate,
}

/// Where tenant databases go and how they are made.
#[derive(Clone, Debug)]
pub struct Placement {
    pub db_host: String,
    pub db_port: u16,
    pub role_prefix: String,
    /// The admin URL, for connecting to the template and to new databases as admin.
    pub admin_url: SecretString,
    /// Copy new databases from the template database (falls back to migrations).
    pub use_template: bool,
}

/// Creates tenants. Holds the admin connection (a role that may create roles and databases).
#[derive(Clone)]
pub struct Provisioner {
    registry: Registry,
    admin: DatabaseConnection,
    sealer: Sealer,
    placement: Placement,
    /// Records each provisioning with a lease, so a crash mid-way is rolled back.
    operations: Operations,
    /// Serialises template rebuilds within this instance.
    template_lock: Arc<tokio::sync::Mutex<()>>,
    /// Test-only: make this step fail, to prove rollback leaves nothing behind.
    fail_at: Arc<Mutex<Option<ProvisionStep>>>,
}

/// What one run has created so far, so compensation drops exactly that.
#[derive(Default)]
struct Created {
    role: bool,
    database: bool,
}

impl Provisioner {
    pub fn new(
        registry: Registry,
        admin: DatabaseConnection,
        sealer: Sealer,
        placement: Placement,
        operations: Operations,
    ) -> Self {
        Provisioner {
            registry,
            admin,
            sealer,
            placement,
            operations,
            template_lock: Arc::new(tokio::sync::Mutex::new(())),
            fail_at: Arc::new(Mutex::new(None)),
        }
    }

    /// Test-only hook: the next provisioning runs fail at `step` (None clears it).
    pub fn inject_failure(&self, step: Option<ProvisionStep>) {
        *self.fail_at.lock().unwrap_or_else(|p| p.into_inner()) = step;
    }

    fn step(&self, step: ProvisionStep) -> Result<()> {
        if *self.fail_at.lock().unwrap_or_else(|p| p.into_inner()) == Some(step) {
            return Err(Error::Internal(anyhow::anyhow!("injected failure at {step:?}")));
        }
        Ok(())
    }

    pub fn admin(&self) -> &DatabaseConnection {
        &self.admin
    }

    /// The admin URL, for admin connections to a tenant's own database.
    pub fn admin_url(&self) -> &SecretString {
        &self.placement.admin_url
    }

    /// Provisions a tenant. Callers should run it detached from their request
    /// (`Lifecycle::create_tenant` does): it records a lease while it runs, and if the
    /// process dies, another instance rolls it back ([`Provisioner::roll_back_abandoned`]).
    pub async fn create(&self, new: NewTenant) -> Result<ProvisionedTenant> {
        new.validate()?;
        let row = self.insert_provisioning_row(&new).await?;
        let operation = match self
            .operations
            .begin(
                OperationKind::Provision,
                row.id,
                &row.slug,
                "build",
                OperationDatabases {
                    creates: Some(&row.db_name),
                    replaces: None,
                },
            )
            .await
        {
            Ok(operation) => operation,
            Err(err) => {
                let _ = self.registry.delete_tenant_row(row.id).await;
                return Err(err);
            }
        };
        let mut created = Created::default();
        let built = async {
            let sealed = self.build(&row, &new, &mut created).await?;
            operation.step("activate").await;
            crate::tenancy::operations::stall_if_asked("NUSA_TEST_STALL_PROVISIONING").await;
            self.step(ProvisionStep::Activate)?;
            self.activate(&row, sealed, operation.id()).await
        }
        .await;
        let tenant = match built {
            Ok(tenant) => tenant,
            Err(err) => {
                let err = self.compensate(&row, &created, err).await;
                operation.finish(Outcome::RolledBack).await;
                return Err(err);
            }
        };
        operation.finish(Outcome::Done).await;
        let (_, token) = self
            .registry
            .create_token(tenant.id, "default", &[Scope::Read, Scope::Write])
            .await?;
        self.registry
            .record_event(Some(tenant.id), &tenant.slug, EventKind::Created, None)
            .await;
        tracing::info!(tenant.slug = %tenant.slug, "tenant provisioned");
        Ok(ProvisionedTenant { tenant, token })
    }

    /// Rolls back a provisioning whose process died (its lease lapsed): the database and
    /// role go, then the row. A tenant that reached ACTIVE is left alone. Returns how the
    /// operation ended.
    pub async fn roll_back_abandoned(&self, operation: &LongOperation) -> Result<Outcome> {
        let Some(row) = self.registry.tenant_by_id(operation.tenant_id).await? else {
            return Ok(Outcome::RolledBack);
        };
        if row.status != TenantStatus::Provisioning {
            return Ok(Outcome::Done);
        }
        tracing::warn!(tenant.slug = %row.slug, step = %operation.step, "rolling back a provisioning whose process died");
        self.roll_back_row(&row, "its process died while provisioning").await?;
        Ok(Outcome::RolledBack)
    }

    async fn insert_provisioning_row(&self, new: &NewTenant) -> Result<tenants::Model> {
        let now = Utc::now();
        let row = tenants::ActiveModel {
            id: Set(Uuid::new_v4()),
            slug: Set(new.slug.as_str().to_owned()),
            name: Set(new.name.trim().to_owned()),
            status: Set(TenantStatus::Provisioning),
            status_reason: Set(None),
            db_host: Set(self.placement.db_host.clone()),
            db_port: Set(i32::from(self.placement.db_port)),
            db_name: Set(new.slug.database_name()),
            db_username: Set(new.slug.role_name(&self.placement.role_prefix)),
            db_password: Set(None),
            schema_version: Set(None),
            last_migration_result: Set(None),
            last_migrated_at: Set(None),
            writes_paused: Set(false),
            created_at: Set(now.into()),
            updated_at: Set(now.into()),
        };
        self.registry.insert_tenant(row, new.slug.as_str()).await
    }

    /// Roles, database (copied or migrated), seed. Returns the sealed password.
    async fn build(&self, row: &tenants::Model, new: &NewTenant, created: &mut Created) -> Result<String> {
        let role = &row.db_username;
        let owner = ownership::owner_role(role);
        let database = &row.db_name;
        let password = SecretString::from(Alphanumeric.sample_string(&mut rand::rngs::OsRng, 40));

        self.step(ProvisionStep::CreateRole)?;
        // Identifiers come from a validated slug and prefix ([a-z0-9_]); quoted all the same.
        self.admin_exec(&format!(
            r#"CREATE ROLE "{role}" LOGIN PASSWORD '{}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION CONNECTION LIMIT {TENANT_ROLE_CONNECTION_LIMIT}"#,
            postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes())
        ))
        .await?;
        created.role = true;
        for statement in ownership::owner_role_statements(&owner) {
            self.admin_exec(&statement).await?;
        }

        self.step(ProvisionStep::CreateDatabase)?;
        let copied = self.create_database(database, &owner).await?;
        created.database = true;

        // At once: nobody but the login role may connect; a copy's objects become the owner's.
        self.step(ProvisionStep::RestrictDatabase)?;
        let admin_url = &self.placement.admin_url;
        ownership::apply(admin_url, database, role, Access::ReadWrite).await?;

        // Migrations and seed run as the owner, never as the login role.
        let owner_db = ownership::owner_connection(
            admin_url,
            database,
            &owner,
            &format!("nusa-journal-provision:{}", row.slug),
        )
        .await?;
        let seeded = async {
            self.step(ProvisionStep::Migrate)?;
            if !copied {
                use migration::MigratorTrait;
                migration::Migrator::up(&owner_db, None)
                    .await
                    .map_err(|e| Error::Internal(anyhow::anyhow!("tenant migrations: {e}")))?;
            }
            self.step(ProvisionStep::Seed)?;
            seed_company(&owner_db, new).await?;
            crate::tenancy::identity::record(&owner_db, row.id, &row.slug).await
        }
        .await;
        let _ = owner_db.close().await;
        seeded?;
        // Again, now that the tables exist: the login role's grants on them.
        ownership::apply(admin_url, database, role, Access::ReadWrite).await?;
        self.sealer
            .seal(row.id, &password)
            .map_err(|e| Error::Internal(anyhow::anyhow!("sealing the tenant's password: {e}")))
    }

    /// Creates the database owned by `owner`, from the template when possible. Returns
    /// whether it was copied.
    async fn create_database(&self, database: &str, owner: &str) -> Result<bool> {
        if self.placement.use_template {
            let version = migration::latest_version();
            let ready = {
                let _only_one_rebuild = self.template_lock.lock().await;
                template::ensure(&self.admin, &self.placement.admin_url, &version).await
            };
            match ready {
                Ok(()) => {
                    let copy = self
                        .admin_exec(&format!(
                            r#"CREATE DATABASE "{database}" OWNER "{owner}" TEMPLATE "{}""#,
                            template::TEMPLATE_DB
                        ))
                        .await;
                    match copy {
                        Ok(()) => return Ok(true),
                        Err(err) => tracing::warn!(error = %err, "cannot copy the template; migrating instead"),
                    }
                }
                Err(err) => tracing::warn!(error = %err, "template unavailable; migrating instead"),
            }
        }
        self.admin_exec(&format!(
            r#"CREATE DATABASE "{database}" OWNER "{owner}" ENCODING 'UTF8' TEMPLATE template0"#
        ))
        .await?;
        Ok(false)
    }

    /// PROVISIONING -> ACTIVE, only while this run holds its operation's lease.
    async fn activate(&self, row: &tenants::Model, sealed_password: String, operation: Uuid) -> Result<tenants::Model> {
        self.registry
            .activate_provisioned(row, sealed_password, migration::latest_version(), operation)
            .await
    }

    /// Drops what this run created, removes the row, records the failure; returns the error.
    async fn compensate(&self, row: &tenants::Model, created: &Created, err: Error) -> Error {
        tracing::warn!(tenant.slug = %row.slug, error = %err, "provisioning failed; rolling back");
        self.drop_tenant_objects(row, created.database, created.role).await;
        if let Err(e) = self.registry.delete_tenant_row(row.id).await {
            tracing::error!(tenant.slug = %row.slug, error = %e, "cannot remove registry row during rollback");
        }
        let detail = match &err {
            Error::Internal(inner) => format!("internal error: {inner}"),
            other => other.to_string(),
        };
        self.registry
            .record_event(Some(row.id), &row.slug, EventKind::ProvisioningFailed, Some(detail))
            .await;
        err
    }

    /// Drops the tenant's database and/or roles (login and owner; purge, rollback).
    /// Logged, never raised.
    pub async fn drop_tenant_objects(&self, row: &tenants::Model, database: bool, role: bool) -> bool {
        let mut ok = true;
        if database {
            if let Err(e) = self
                .admin_exec(&format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, row.db_name))
                .await
            {
                tracing::error!(tenant.slug = %row.slug, error = %e, "cannot drop tenant database");
                ok = false;
            }
        }
        if role {
            if let Err(e) = self
                .admin_exec(&format!(r#"DROP ROLE IF EXISTS "{}""#, row.db_username))
                .await
            {
                tracing::error!(tenant.slug = %row.slug, error = %e, "cannot drop tenant role");
                ok = false;
            }
            if let Err(e) = ownership::drop_owner_role(&self.admin, &row.db_username).await {
                tracing::error!(tenant.slug = %row.slug, error = %e, "cannot drop tenant owner role");
                ok = false;
            }
        }
        ok
    }

    /// Rolls back rows left PROVISIONING for longer than `older_than` with no operation
    /// record (left by a version before records existed): their database and role go
    /// (both are named after the slug the row holds), then the row.
    pub async fn reconcile(&self, older_than: Duration) -> Result<usize> {
        let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
        let stale = self.registry.stale_provisioning(cutoff).await?;
        for row in &stale {
            tracing::warn!(tenant.slug = %row.slug, "rolling back a tenant left half-provisioned");
            self.roll_back_row(row, "left PROVISIONING by a crash").await?;
        }
        Ok(stale.len())
    }

    async fn roll_back_row(&self, row: &tenants::Model, why: &str) -> Result<()> {
        self.drop_tenant_objects(row, true, true).await;
        self.registry.delete_tenant_row(row.id).await?;
        self.registry
            .record_event(
                Some(row.id),
                &row.slug,
                EventKind::ProvisioningRolledBack,
                Some(why.to_owned()),
            )
            .await;
        Ok(())
    }

    async fn admin_exec(&self, sql: &str) -> Result<()> {
        self.admin.execute_unprepared(sql).await?;
        Ok(())
    }
}

/// Inserts the company row and the chosen chart of accounts, in one transaction.
async fn seed_company(db: &DatabaseConnection, new: &NewTenant) -> Result<()> {
    use sea_orm::TransactionTrait;
    let template = crate::ledger::coa::find(&new.coa_template)?
        .ok_or_else(|| Error::bad_input("coaTemplate", format!("unknown template '{}'", new.coa_template)))?;
    let txn = db.begin().await?;
    insert_company(&txn, new).await?;
    crate::ledger::accounts::seed_from_template(&txn, template).await?;
    txn.commit().await?;
    Ok(())
}

async fn insert_company(db: &impl ConnectionTrait, new: &NewTenant) -> Result<()> {
    let now = Utc::now();
    company::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(new.name.trim().to_owned()),
        legal_name: Set(None),
        tax_id: Set(None),
        base_currency: Set(new.base_currency.clone()),
        fiscal_year_start_month: Set(i16::try_from(new.fiscal_year_start_month).unwrap_or(1)),
        lock_date: Set(None),
        timezone: NotSet,
        language: Set(crate::ledger::coa::language_of(&new.coa_template).to_owned()),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(db)
    .await?;
    Ok(())
}
