//! The admin schema (`/admin/graphql`): tenant lifecycle and API tokens. Reached only
//! with the admin token; its data is the platform's, not a tenant's.

mod tenants;
mod tokens;

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, ErrorExtensions, MergedObject, Schema};

use crate::error::Error;
use crate::tenancy::connections::TenantConnections;
use crate::tenancy::provision::Provisioner;
use crate::tenancy::registry::Registry;

pub use tenants::{Tenant, TenantStatusGql};

pub type AdminSchema = Schema<AdminQuery, AdminMutation, EmptySubscription>;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct AdminQuery(tenants::TenantsQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct AdminMutation(tenants::TenantsMutation, tokens::TokensMutation);

/// What admin resolvers work with.
#[derive(Clone)]
pub struct AdminContext {
    pub registry: Registry,
    pub provisioner: Provisioner,
    pub connections: Arc<TenantConnections>,
}

pub(crate) fn admin_context<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a AdminContext> {
    ctx.data::<AdminContext>().map_err(|_| {
        Error::Internal(anyhow::anyhow!(
            "admin schema executed without an AdminContext"
        ))
        .extend()
    })
}

pub fn builder() -> async_graphql::SchemaBuilder<AdminQuery, AdminMutation, EmptySubscription> {
    Schema::build(
        AdminQuery::default(),
        AdminMutation::default(),
        EmptySubscription,
    )
}

/// The schema without data, for printing the SDL.
pub fn schema_for_sdl() -> AdminSchema {
    builder().finish()
}
