//! Provisioning a tenant: role, database, migrations, seed, registration.
//!
//! Steps (DESIGN.md): insert the registry row as PROVISIONING (the unique slug makes
//! concurrent creates race safely), create the role with a fresh random password,
//! create the database owned by it with CONNECT revoked from PUBLIC, migrate and seed
//! as the tenant role, then seal the password into the row and mark it ACTIVE. On any
//! failure, whatever this run created is dropped and the row removed, so the slug can
//! be used again; the failure is recorded in `tenant_events`.

use chrono::Utc;
use rand::distributions::{Alphanumeric, DistString};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::ConnectOptions as _;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Set, SqlErr, SqlxPostgresConnector};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::entities::registry::tenants::{self, TenantStatus};
use crate::entities::tenant::company;
use crate::error::{Error, Result};
use crate::tenancy::registry::Registry;
use crate::tenancy::scram::scram_sha256_verifier;
use crate::tenancy::sealing::Sealer;
use crate::tenancy::slug::TenantSlug;
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
}

impl NewTenant {
    pub fn new(slug: TenantSlug, name: impl Into<String>) -> Self {
        NewTenant {
            slug,
            name: name.into(),
            base_currency: "IDR".into(),
            fiscal_year_start_month: 1,
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
        Ok(())
    }
}

/// A provisioned tenant and its first API token (shown once).
pub struct ProvisionedTenant {
    pub tenant: tenants::Model,
    pub token: SecretString,
}

/// Creates tenants. Holds the admin connection (a role that may create roles and databases).
#[derive(Clone)]
pub struct Provisioner {
    registry: Registry,
    admin: DatabaseConnection,
    sealer: Sealer,
    db_host: String,
    db_port: u16,
    role_prefix: String,
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
        db_host: String,
        db_port: u16,
        role_prefix: String,
    ) -> Self {
        Provisioner {
            registry,
            admin,
            sealer,
            db_host,
            db_port,
            role_prefix,
        }
    }

    pub async fn create(&self, new: NewTenant) -> Result<ProvisionedTenant> {
        new.validate()?;
        let slug = new.slug.clone();
        let row = self.insert_provisioning_row(&new).await?;
        let mut created = Created::default();
        match self.build(&row, &new, &mut created).await {
            Ok(sealed_password) => {
                let tenant = self.activate(&row, sealed_password).await;
                match tenant {
                    Ok(tenant) => {
                        let (_, token) = self
                            .registry
                            .create_token(self.registry.db(), tenant.id, "default", &[Scope::Read, Scope::Write])
                            .await?;
                        self.registry
                            .record_event(Some(tenant.id), slug.as_str(), "created", None)
                            .await;
                        tracing::info!(tenant.slug = %slug, "tenant provisioned");
                        Ok(ProvisionedTenant { tenant, token })
                    }
                    Err(err) => Err(self.compensate(&row, &created, err).await),
                }
            }
            Err(err) => Err(self.compensate(&row, &created, err).await),
        }
    }

    async fn insert_provisioning_row(&self, new: &NewTenant) -> Result<tenants::Model> {
        let now = Utc::now();
        let row = tenants::ActiveModel {
            id: Set(Uuid::new_v4()),
            slug: Set(new.slug.as_str().to_owned()),
            name: Set(new.name.trim().to_owned()),
            status: Set(TenantStatus::Provisioning),
            status_reason: Set(None),
            db_host: Set(self.db_host.clone()),
            db_port: Set(i32::from(self.db_port)),
            db_name: Set(new.slug.database_name()),
            db_username: Set(new.slug.role_name(&self.role_prefix)),
            db_password: Set(None),
            schema_version: Set(None),
            created_at: Set(now.into()),
            updated_at: Set(now.into()),
        };
        row.insert(self.registry.db()).await.map_err(|err| match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                Error::conflict("slug", format!("tenant '{}' already exists", new.slug))
            }
            _ => err.into(),
        })
    }

    /// Role, database, migrations, seed. Returns the sealed password.
    async fn build(&self, row: &tenants::Model, new: &NewTenant, created: &mut Created) -> Result<String> {
        let role = &row.db_username;
        let database = &row.db_name;
        let password = SecretString::from(Alphanumeric.sample_string(&mut rand::rngs::OsRng, 40));
        // Identifiers come from a validated slug and prefix ([a-z0-9_]); quoted all the same.
        self.admin_exec(&format!(
            r#"CREATE ROLE "{role}" LOGIN PASSWORD '{}' NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION CONNECTION LIMIT {TENANT_ROLE_CONNECTION_LIMIT}"#,
            scram_sha256_verifier(password.expose_secret())
        ))
        .await?;
        created.role = true;
        self.admin_exec(&format!(
            r#"CREATE DATABASE "{database}" OWNER "{role}" ENCODING 'UTF8' TEMPLATE template0"#
        ))
        .await?;
        created.database = true;
        self.admin_exec(&format!(
            r#"REVOKE CONNECT, TEMPORARY ON DATABASE "{database}" FROM PUBLIC"#
        ))
        .await?;

        let tenant_db = self.connect_as_tenant(row, &password).await?;
        let seeded = seed_tenant_database(&tenant_db, new).await;
        let _ = tenant_db.close().await;
        seeded?;
        Ok(self.sealer.seal(row.id, &password))
    }

    async fn activate(&self, row: &tenants::Model, sealed_password: String) -> Result<tenants::Model> {
        let mut active: tenants::ActiveModel = row.clone().into();
        active.db_password = Set(Some(sealed_password));
        active.status = Set(TenantStatus::Active);
        active.schema_version = Set(Some(migration::latest_version()));
        active.updated_at = Set(Utc::now().into());
        Ok(active.update(self.registry.db()).await?)
    }

    /// Drops what this run created, removes the row, records the failure; returns the error.
    async fn compensate(&self, row: &tenants::Model, created: &Created, err: Error) -> Error {
        tracing::warn!(tenant.slug = %row.slug, error = %err, "provisioning failed; rolling back");
        if created.database {
            if let Err(e) = self
                .admin_exec(&format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, row.db_name))
                .await
            {
                tracing::error!(tenant.slug = %row.slug, error = %e, "cannot drop database during rollback");
            }
        }
        if created.role {
            if let Err(e) = self
                .admin_exec(&format!(r#"DROP ROLE IF EXISTS "{}""#, row.db_username))
                .await
            {
                tracing::error!(tenant.slug = %row.slug, error = %e, "cannot drop role during rollback");
            }
        }
        if let Err(e) = tenants::Entity::delete_by_id(row.id).exec(self.registry.db()).await {
            tracing::error!(tenant.slug = %row.slug, error = %e, "cannot remove registry row during rollback");
        }
        let detail = match &err {
            Error::Internal(_) => "internal error (see the service log)".to_owned(),
            other => other.to_string(),
        };
        self.registry
            .record_event(Some(row.id), &row.slug, "provisioning_failed", Some(detail))
            .await;
        err
    }

    async fn admin_exec(&self, sql: &str) -> Result<()> {
        self.admin.execute_unprepared(sql).await?;
        Ok(())
    }

    async fn connect_as_tenant(&self, row: &tenants::Model, password: &SecretString) -> Result<DatabaseConnection> {
        let options = PgConnectOptions::new()
            .host(&row.db_host)
            .port(u16::try_from(row.db_port).unwrap_or(5432))
            .database(&row.db_name)
            .username(&row.db_username)
            .password(password.expose_secret())
            .application_name(&format!("nusa-journal-provision:{}", row.slug))
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("connecting to the new tenant database: {e}")))?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    }
}

/// Migrates a fresh tenant database and inserts its company row.
async fn seed_tenant_database(db: &DatabaseConnection, new: &NewTenant) -> Result<()> {
    use migration::MigratorTrait;
    migration::Migrator::up(db, None)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("tenant migrations: {e}")))?;
    let now = Utc::now();
    company::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(new.name.trim().to_owned()),
        legal_name: Set(None),
        tax_id: Set(None),
        base_currency: Set(new.base_currency.clone()),
        fiscal_year_start_month: Set(i16::try_from(new.fiscal_year_start_month).unwrap_or(1)),
        lock_date: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(db)
    .await?;
    Ok(())
}
