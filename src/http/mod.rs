//! The HTTP surface of API.md: routes, authentication, GraphQL handlers, health.

mod admin;
mod auth;
mod body;
mod health;
mod tenant;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use secrecy::SecretString;
use tower_http::trace::TraceLayer;

use crate::graphql::admin::AdminSchema;
use crate::graphql::tenant::TenantSchema;
use crate::metrics::Metrics;
use crate::tenancy::connections::TenantConnections;
use crate::tenancy::directory::TenantDirectory;
use crate::tenancy::registry::Registry;

/// Largest request body accepted (GraphQL documents and variables are small).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

pub struct AppInner {
    pub registry: Registry,
    pub directory: Arc<TenantDirectory>,
    pub connections: Arc<TenantConnections>,
    pub metrics: Metrics,
    pub tenant_schema: TenantSchema,
    pub admin_schema: AdminSchema,
    pub admin_token: SecretString,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/admin/graphql", get(admin::graphiql).post(admin::graphql))
        .route("/{tenant}/graphql", get(tenant::graphiql).post(tenant::graphql))
        .fallback(health::not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
