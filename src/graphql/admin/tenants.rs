//! Tenants: list, read, create.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::services;
use crate::entities::registry::tenants::{self as entity, TenantStatus};
use crate::error::Error;
use crate::graphql::pagination::{connection, page_size, total_wanted, CountedConnection};
use crate::ledger::paging::{Page, Total};
use crate::tenancy::provision::NewTenant;
use crate::tenancy::slug::TenantSlug;

/// A company served by the platform. Never exposes database credentials.
#[derive(SimpleObject)]
pub struct Tenant {
    pub id: ID,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub status_reason: Option<String>,
    pub db_host: String,
    pub db_name: String,
    pub schema_version: Option<String>,
    /// `ok` or `failed: <reason>` of the last `migrate tenants` run on this tenant.
    pub last_migration_result: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<entity::Model> for Tenant {
    fn from(m: entity::Model) -> Self {
        Tenant {
            id: ID(m.id.to_string()),
            slug: m.slug,
            name: m.name,
            status: m.status,
            status_reason: m.status_reason,
            db_host: m.db_host,
            db_name: m.db_name,
            schema_version: m.schema_version,
            last_migration_result: m.last_migration_result,
            created_at: m.created_at.with_timezone(&Utc),
            updated_at: m.updated_at.with_timezone(&Utc),
        }
    }
}

#[derive(InputObject)]
pub struct CreateTenantInput {
    pub slug: String,
    pub name: String,
    #[graphql(default_with = "Some(\"id-sak-emkm\".to_owned())")]
    pub coa_template: Option<String>,
    #[graphql(default_with = "Some(\"IDR\".to_owned())")]
    pub base_currency: Option<String>,
    #[graphql(default_with = "Some(1)")]
    pub fiscal_year_start_month: Option<i32>,
}

#[derive(SimpleObject)]
pub struct CreateTenantPayload {
    pub tenant: Tenant,
    /// Shown once; only its hash is stored.
    pub token: String,
}

pub type TenantConnection = CountedConnection<Tenant>;

pub(crate) fn parse_slug(raw: &str) -> Result<TenantSlug, Error> {
    TenantSlug::parse(raw).map_err(|why| Error::bad_input("slug", why))
}

/// A chart-of-accounts template to create tenants with.
#[derive(SimpleObject)]
pub struct CoaTemplate {
    pub key: String,
    pub name: String,
    pub account_count: i32,
}

#[derive(Default)]
pub struct TenantsQuery;

#[Object]
impl TenantsQuery {
    /// Tenants ordered by slug.
    #[graphql(complexity = "crate::graphql::pagination::page_cost(first, 50, child_complexity)")]
    async fn tenants(
        &self,
        ctx: &Context<'_>,
        status: Option<TenantStatus>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<TenantConnection> {
        let admin = services(ctx)?;
        let limit = page_size(ctx, first, 50)?;
        let rows = admin
            .registry
            .tenants(status, Some(limit + 1), after.as_deref())
            .await?;
        let total = match total_wanted(ctx) {
            Total::Wanted => Some(admin.registry.count_tenants(status).await?),
            Total::NotWanted => None,
        };
        Ok(connection(
            Page::from_overfetched(rows, limit, total),
            after.is_some(),
            |row| row.slug.clone(),
            Tenant::from,
        ))
    }

    /// The charts of accounts `createTenant` accepts as `coaTemplate`.
    async fn coa_templates(&self) -> async_graphql::Result<Vec<CoaTemplate>> {
        Ok(crate::ledger::coa::shipped()?
            .iter()
            .map(|t| CoaTemplate {
                key: t.key.to_owned(),
                name: t.name.to_owned(),
                account_count: i32::try_from(t.accounts.len()).unwrap_or(i32::MAX),
            })
            .collect())
    }

    async fn tenant(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Option<Tenant>> {
        let admin = services(ctx)?;
        let Ok(slug) = TenantSlug::parse(&slug) else {
            return Ok(None);
        };
        Ok(admin.registry.tenant_by_slug(&slug).await?.map(Tenant::from))
    }

    /// Recomputes the tenant's per-account totals from its posted lines and reports any
    /// difference (there should never be one). Reads every posted line of the tenant:
    /// an operator's check, one tenant per call. `nusa-journal verify books --repair`
    /// rebuilds them.
    async fn verify_books(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<BooksCheck> {
        use crate::tenancy::books_check::{check_tenant, BooksOutcome};
        let admin = services(ctx)?;
        let tenant = admin.lifecycle.existing(&parse_slug(&slug)?).await?;
        let report = check_tenant(admin.lifecycle.provisioner().admin_url(), &tenant, false).await;
        let differences = match &report.outcome {
            BooksOutcome::Consistent | BooksOutcome::Repaired { .. } => 0,
            BooksOutcome::Differs { count, .. } => *count,
            BooksOutcome::Failed(why) => {
                tracing::error!(slug = %tenant.slug, error = %why, "verify books failed");
                return Err(Error::Internal(anyhow::anyhow!("verify books failed for {}", tenant.slug)).into());
            }
        };
        Ok(BooksCheck {
            slug: tenant.slug,
            consistent: differences == 0,
            differences: i32::try_from(differences).unwrap_or(i32::MAX),
            report: report.to_string(),
        })
    }
}

/// What `verifyBooks` found.
#[derive(SimpleObject)]
pub struct BooksCheck {
    pub slug: String,
    /// The kept totals equal the totals recomputed from the lines.
    pub consistent: bool,
    /// How many (account, day or month) totals differ.
    pub differences: i32,
    /// A readable report: the first differences, by account and period.
    pub report: String,
}

#[derive(Default)]
pub struct TenantsMutation;

#[Object]
impl TenantsMutation {
    /// Provisions a tenant: role, database, schema, chart of accounts. Returns its first token.
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        input: CreateTenantInput,
    ) -> async_graphql::Result<CreateTenantPayload> {
        let admin = services(ctx)?;
        let new = NewTenant {
            slug: parse_slug(&input.slug)?,
            name: input.name,
            base_currency: input.base_currency.unwrap_or_else(|| "IDR".into()),
            fiscal_year_start_month: input.fiscal_year_start_month.unwrap_or(1),
            coa_template: input
                .coa_template
                .unwrap_or_else(|| crate::ledger::coa::DEFAULT_TEMPLATE.into()),
        };
        let provisioned = admin.lifecycle.create_tenant(new).await?;
        Ok(CreateTenantPayload {
            tenant: provisioned.tenant.into(),
            token: secrecy::ExposeSecret::expose_secret(&provisioned.token).to_owned(),
        })
    }

    /// Requests get 403 TENANT_SUSPENDED and the tenant's pools close on every instance.
    async fn suspend_tenant(
        &self,
        ctx: &Context<'_>,
        slug: String,
        reason: Option<String>,
    ) -> async_graphql::Result<Tenant> {
        let admin = services(ctx)?;
        Ok(admin.lifecycle.suspend(&parse_slug(&slug)?, reason).await?.into())
    }

    async fn activate_tenant(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Tenant> {
        let admin = services(ctx)?;
        Ok(admin.lifecycle.activate(&parse_slug(&slug)?).await?.into())
    }

    /// Soft delete: status DELETED, tokens revoked, connections closed; data kept.
    async fn delete_tenant(&self, ctx: &Context<'_>, slug: String) -> async_graphql::Result<Tenant> {
        let admin = services(ctx)?;
        Ok(admin.lifecycle.delete(&parse_slug(&slug)?).await?.into())
    }

    /// Drops the database and role of a DELETED tenant; irreversible. Refused without a
    /// backup taken after the delete, unless `force`. Books with posted entries dated
    /// within the last 10 years (the retention period of Indonesian tax law) need
    /// `force` and a `reason` (recorded in the tenant's events), else CONFLICT.
    async fn purge_tenant(
        &self,
        ctx: &Context<'_>,
        slug: String,
        #[graphql(default_with = "Some(false)")] force: Option<bool>,
        reason: Option<String>,
    ) -> async_graphql::Result<bool> {
        let admin = services(ctx)?;
        admin
            .lifecycle
            .purge(&parse_slug(&slug)?, force.unwrap_or(false), reason.as_deref())
            .await?;
        Ok(true)
    }
}
