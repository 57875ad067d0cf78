//! Tenant database migrations, applied to every tenant's own database.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_company;
mod m20261126_000002_create_ledger;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_company::Migration),
            Box::new(m20261126_000002_create_ledger::Migration),
        ]
    }
}

/// The name of the newest tenant migration: the schema version this binary expects.
pub fn latest_version() -> String {
    Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap_or_default()
}
