//! Tenant lifecycle operations shared by the admin API and the CLI. Each change is
//! written to the registry, logged in `tenant_events`, and published so that every
//! instance drops its cached rows and the tenant's pool at once.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, Set};
use secrecy::SecretString;

use crate::entities::registry::api_tokens;
use crate::entities::registry::tenants::{self, TenantStatus};
use crate::error::{Error, Result};
use crate::tenancy::invalidation::{Invalidation, RegistryChange};
use crate::tenancy::provision::{NewTenant, ProvisionedTenant, Provisioner};
use crate::tenancy::registry::Registry;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::Scope;

#[derive(Clone)]
pub struct Lifecycle {
    registry: Registry,
    provisioner: Provisioner,
    invalidation: Invalidation,
}

impl Lifecycle {
    pub fn new(registry: Registry, provisioner: Provisioner, invalidation: Invalidation) -> Self {
        Lifecycle {
            registry,
            provisioner,
            invalidation,
        }
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
        let updated = self.set_status(tenant, TenantStatus::Suspended, reason.clone()).await?;
        self.registry
            .record_event(Some(updated.id), slug.as_str(), "suspended", reason)
            .await;
        self.invalidation
            .publish(RegistryChange::Tenant {
                slug: slug.as_str().to_owned(),
            })
            .await;
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
        let updated = self.set_status(tenant, TenantStatus::Active, None).await?;
        self.registry
            .record_event(Some(updated.id), slug.as_str(), "activated", None)
            .await;
        self.invalidation
            .publish(RegistryChange::Tenant {
                slug: slug.as_str().to_owned(),
            })
            .await;
        tracing::info!(tenant.slug = %slug, "tenant activated");
        Ok(updated)
    }

    async fn set_status(
        &self,
        tenant: tenants::Model,
        status: TenantStatus,
        reason: Option<String>,
    ) -> Result<tenants::Model> {
        let mut row: tenants::ActiveModel = tenant.into();
        row.status = Set(status);
        row.status_reason = Set(reason);
        row.updated_at = Set(Utc::now().into());
        Ok(row.update(self.registry.db()).await?)
    }

    /// A new token for a tenant; the secret is returned once.
    pub async fn create_token(
        &self,
        slug: &TenantSlug,
        name: &str,
        scopes: &[Scope],
    ) -> Result<(api_tokens::Model, SecretString)> {
        let tenant = self.existing(slug).await?;
        let created = self
            .registry
            .create_token(self.registry.db(), tenant.id, name, scopes)
            .await?;
        self.registry
            .record_event(
                Some(tenant.id),
                slug.as_str(),
                "token_created",
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
        Ok(row)
    }
}
