//! SeaORM entities. These are table shapes, not API types: GraphQL types live in
//! `graphql/` and are built from these, since the API and the tables change for
//! different reasons.

/// Tables of the registry database.
pub mod registry;
/// Tables of each tenant's own database.
pub mod tenant;
