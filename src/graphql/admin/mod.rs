//! The admin schema (`/admin/graphql`): tenant lifecycle and API tokens. Reached only
//! with the admin token; its data is the platform's, not a tenant's.

mod tenants;
mod tokens;

use async_graphql::{Context, EmptySubscription, ErrorExtensions, MergedObject, Schema};

use crate::error::Error;
use crate::services::Services;

pub use tenants::Tenant;

pub type AdminSchema = Schema<AdminQuery, AdminMutation, EmptySubscription>;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct AdminQuery(tenants::TenantsQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct AdminMutation(tenants::TenantsMutation, tokens::TokensMutation);

/// What admin resolvers work with: the service's long-lived parts.
pub(crate) fn services<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Services> {
    ctx.data::<Services>()
        .map_err(|_| Error::Internal(anyhow::anyhow!("admin schema executed without Services")).extend())
}

pub fn builder() -> async_graphql::SchemaBuilder<AdminQuery, AdminMutation, EmptySubscription> {
    Schema::build(AdminQuery::default(), AdminMutation::default(), EmptySubscription)
}

/// The schema without data, for printing the SDL.
pub fn schema_for_sdl() -> AdminSchema {
    builder().finish()
}
