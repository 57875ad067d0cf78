//! Everything that makes one application serve many companies: slugs, the registry,
//! credential sealing, tokens, the connection manager and provisioning.

/// Per-tenant backup and restore with pg_dump / pg_restore.
pub mod backup;
/// `verify books`: the kept totals recomputed from the lines, and rebuilt on request.
pub mod books_check;
/// LRU-bounded map of tenant pools: the only way to reach a tenant database.
pub mod connections;
/// Connecting to a tenant database as its own role.
pub mod credentials;
/// Cached registry reads on the request path (tenants, tokens).
pub mod directory;
/// `migrate tenants`: pending tenant migrations across the fleet.
pub mod fleet;
/// Which tenant a tenant database belongs to.
pub mod identity;
/// Change notifications between instances (LISTEN/NOTIFY) and local invalidation.
pub mod invalidation;
/// Suspend, activate, tokens: lifecycle changes shared by the admin API and the CLI.
pub mod lifecycle;
/// Long admin operations: detached from their caller, recorded with a lease.
pub mod operations;
/// Who owns a tenant database (its NOLOGIN owner role) and what its login role may do.
pub mod ownership;
/// Creating a tenant's role, database and schema, with rollback on failure.
pub mod provision;
/// Registry database access: tenants, tokens, events.
pub mod registry;
/// Sealing tenant database passwords at rest.
pub mod sealing;
/// The tenant slug newtype and its grammar.
pub mod slug;
/// The template database that makes provisioning fast.
pub mod template;
/// API token generation, shape and hashing.
pub mod tokens;
