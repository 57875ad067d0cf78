//! GraphQL: the tenant schema (one per request's tenant database) and the admin schema.
//!
//! Types here are API types, built from entities and service results; resolvers are
//! thin and call `ledger/` or `tenancy/`.

/// The platform admin schema: tenant lifecycle and tokens.
pub mod admin;
use async_graphql::{ObjectType, SchemaBuilder, SubscriptionType};

use crate::config::ApiLimits;

/// Applies the configured request limits to a schema (and makes them readable to
/// resolvers, e.g. the page-size cap).
pub fn limited<Q, M, S>(builder: SchemaBuilder<Q, M, S>, limits: &ApiLimits) -> SchemaBuilder<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    builder
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_directives(limits.max_directives)
        .limit_recursive_depth(limits.max_recursive_depth)
        .extension(budget::Budget)
        .data(limits.clone())
}

/// The runtime budget of a request: values, bytes, deadline.
pub mod budget;
/// Parsed documents by text, so a repeated document is parsed once.
pub mod documents;
/// Relay connection helpers.
pub mod pagination;
/// Scalars named as API.md names them.
pub mod scalars;
/// The tenant schema: company, accounts, journal.
pub mod tenant;
/// What a document's variables weigh once used (refused before validation copies them).
pub mod variable_uses;
