//! Nusa Journal: double-entry bookkeeping for Indonesian companies, as a multi-tenant
//! GraphQL API. One application serves every company; each company's books live in
//! a PostgreSQL database of its own.
//!
//! # Request flow
//!
//! ```text
//! POST|GET /{tenant}/graphql                   http::tenant::{post, get}
//! (a) AuthorisedTenant (extractor)             http::tenant
//!   -> TenantSlug::parse                       tenancy::slug        400 INVALID_TENANT_SLUG
//!   -> registry: tenant by slug                tenancy::registry    404 / 503
//!   -> token hash -> tenant, scopes            http::auth           401 UNAUTHENTICATED, 403 TENANT_SUSPENDED
//! (b) parse (document cache), operation type   http::tenant::prepare  FORBIDDEN, 405 mutation over GET
//! (c) TenantConnections::get(tenant)           tenancy::connections 503 TENANT_UNAVAILABLE
//!   -> request.data(TenantDb)                  graphql::tenant
//!   -> resolvers -> ledger services            ledger
//!   -> that tenant's own database
//! ```

/// Books in and out as CSV: imports, exports, their formats.
pub mod books_csv;
/// The `nusa-journal` command line.
pub mod cli;
/// Settings from the environment, validated once.
pub mod config;
/// The embedded default: a local cluster, generated secrets, the demo tenant.
pub mod embedded;
/// SeaORM entities of the registry and tenant databases.
pub mod entities;
/// The one error type and its HTTP and GraphQL mappings.
pub mod error;
/// GraphQL schemas (tenant and admin), scalars, API types.
pub mod graphql;
/// Routes, authentication, handlers, health.
pub mod http;
/// Accounting rules and services over a tenant database.
pub mod ledger;
/// Prometheus metrics of one application instance.
pub mod metrics;
/// The long-lived handles shared by the server, the admin API and the CLI.
pub mod services;
/// Building, binding, serving and stopping the application.
pub mod startup;
/// The tracing subscriber.
pub mod telemetry;
/// Slugs, registry, sealing, tokens, the connection manager, provisioning, ownership.
pub mod tenancy;
