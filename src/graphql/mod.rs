//! GraphQL: the tenant schema (one per request's tenant database) and the admin schema.
//!
//! Types here are API types, built from entities and service results; resolvers are
//! thin and call `ledger/` or `tenancy/`.

/// The platform admin schema: tenant lifecycle and tokens.
pub mod admin;
/// Relay connection helpers.
pub mod pagination;
/// Scalars named as API.md names them.
pub mod scalars;
/// The tenant schema: company, accounts, journal.
pub mod tenant;
