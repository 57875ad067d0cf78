//! Registry database migrations: the only global database, listing tenants, their
//! sealed credentials, API tokens and lifecycle events.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_registry;
mod m20261126_000002_tenant_operations;
mod m20261129_000001_event_kinds;
mod m20261129_000002_long_operations;
mod m20261129_000003_writes_paused;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_registry::Migration),
            Box::new(m20261126_000002_tenant_operations::Migration),
            Box::new(m20261129_000001_event_kinds::Migration),
            Box::new(m20261129_000002_long_operations::Migration),
            Box::new(m20261129_000003_writes_paused::Migration),
        ]
    }

    /// Kept apart from the tenant migrations' table in case both ever share a database.
    fn migration_table_name() -> DynIden {
        "registry_migrations".into_iden()
    }
}
