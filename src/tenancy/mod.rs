//! Everything that makes one application serve many companies: slugs, the registry,
//! credential sealing, tokens, the connection manager and provisioning.

/// LRU-bounded map of tenant pools: the only way to reach a tenant database.
pub mod connections;
/// Cached registry reads on the request path (tenants, tokens).
pub mod directory;
/// Change notifications between instances (LISTEN/NOTIFY) and local invalidation.
pub mod invalidation;
/// Suspend, activate, tokens: lifecycle changes shared by the admin API and the CLI.
pub mod lifecycle;
/// Creating a tenant's role, database and schema, with rollback on failure.
pub mod provision;
/// Registry database access: tenants, tokens, events.
pub mod registry;
/// SCRAM verifiers, so role passwords never travel in SQL text.
pub mod scram;
/// Sealing tenant database passwords at rest.
pub mod sealing;
/// The tenant slug newtype and its grammar.
pub mod slug;
/// API token generation, shape and hashing.
pub mod tokens;
