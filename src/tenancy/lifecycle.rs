//! Tenant lifecycle operations shared by the admin API and the CLI. Each change is
//! written to the registry, logged in `tenant_events`, and published so that every
//! instance drops its cached rows and the tenant's pool at once.

use std::path::Path;

use sea_orm::ConnectionTrait;
use secrecy::SecretString;

use crate::entities::registry::api_tokens;
use crate::entities::registry::tenant_events::EventKind;
use crate::entities::registry::tenants::{self, TenantStatus};
use crate::error::{Error, Result};
use crate::tenancy::backup;
use crate::tenancy::credentials::unseal;
use crate::tenancy::invalidation::Invalidation;
use crate::tenancy::provision::{NewTenant, ProvisionedTenant, Provisioner};
use crate::tenancy::registry::{Registry, RegistryChange, StatusChange};
use crate::tenancy::sealing::Sealer;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::Scope;

#[derive(Clone)]
pub struct Lifecycle {
    registry: Registry,
    provisioner: Provisioner,
    invalidation: Invalidation,
    sealer: Sealer,
}

impl Lifecycle {
    pub fn new(registry: Registry, provisioner: Provisioner, invalidation: Invalidation, sealer: Sealer) -> Self {
        Lifecycle {
            registry,
            provisioner,
            invalidation,
            sealer,
        }
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

    pub async fn create_tenant(&self, new: NewTenant) -> Result<ProvisionedTenant> {
        let slug = new.slug.as_str().to_owned();
        let created = self.provisioner.create(new).await;
        // Unknown slugs are cached too: announce the new one either way.
        self.invalidation.publish(RegistryChange::Tenant { slug }).await;
        created
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
    pub async fn purge(&self, slug: &TenantSlug, force: bool) -> Result<()> {
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
        if !force && !self.registry.backed_up_since_delete(tenant.id).await? {
            return Err(Error::conflict(
                "force",
                "no backup taken after the delete: run `tenant backup` first, or purge with force",
            ));
        }
        if !self.provisioner.drop_tenant_objects(&tenant, true, true).await {
            return Err(Error::Internal(anyhow::anyhow!(
                "cannot drop the database or role of '{slug}'"
            )));
        }
        self.registry.delete_tenant_row(tenant.id).await?;
        let detail = if force { Some("forced".to_owned()) } else { None };
        self.registry
            .record_event(Some(tenant.id), slug.as_str(), EventKind::Purged, detail)
            .await;
        self.invalidation
            .publish(RegistryChange::Tenant {
                slug: slug.as_str().to_owned(),
            })
            .await;
        tracing::info!(tenant.slug = %slug, force, "tenant purged");
        Ok(())
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

    /// Restores a backup into a fresh database, switches the tenant to it (closing its
    /// pools everywhere), then drops the old database.
    pub async fn restore(&self, slug: &TenantSlug, from: &Path) -> Result<tenants::Model> {
        let tenant = self.existing(slug).await?;
        if tenant.status == TenantStatus::Provisioning {
            return Err(Error::conflict("slug", "the tenant is still being provisioned"));
        }
        let password = unseal(&self.sealer, &tenant)?;
        let fresh = backup::restored_database_name(slug);
        let admin = self.provisioner.admin();
        let role = &tenant.db_username;
        admin
            .execute_unprepared(&format!(
                r#"CREATE DATABASE "{fresh}" OWNER "{role}" ENCODING 'UTF8' TEMPLATE template0"#
            ))
            .await?;
        let prepared = async {
            admin
                .execute_unprepared(&format!(
                    r#"REVOKE CONNECT, TEMPORARY ON DATABASE "{fresh}" FROM PUBLIC"#
                ))
                .await?;
            backup::restore_into(&tenant, &password, &fresh, from).await
        }
        .await;
        if let Err(err) = prepared {
            let _ = admin
                .execute_unprepared(&format!(r#"DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)"#))
                .await;
            return Err(err);
        }
        let old = tenant.db_name.clone();
        let switched = self.registry.switch_database(tenant, fresh.clone()).await?;
        self.invalidation
            .publish(RegistryChange::Tenant {
                slug: slug.as_str().to_owned(),
            })
            .await;
        self.registry
            .record_event(
                Some(switched.id),
                slug.as_str(),
                EventKind::Restored,
                Some(format!("from {} into {fresh}", from.display())),
            )
            .await;
        if let Err(err) = admin
            .execute_unprepared(&format!(r#"DROP DATABASE IF EXISTS "{old}" WITH (FORCE)"#))
            .await
        {
            tracing::warn!(tenant.slug = %slug, error = %err, database = %old, "restored, but the old database could not be dropped");
        }
        Ok(switched)
    }
}
