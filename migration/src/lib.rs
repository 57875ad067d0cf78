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

#[cfg(test)]
mod tests {
    use super::*;

    /// Migrations run in list order and are recorded by name: names must be
    /// `mYYYYMMDD_HHMMSS_what`, unique, and listed in increasing order.
    #[test]
    fn migrations_are_named_and_ordered() {
        let names: Vec<String> = Migrator::migrations().iter().map(|m| m.name().to_owned()).collect();
        assert!(!names.is_empty());
        for name in &names {
            let bytes = name.as_bytes();
            let shaped = name.len() > 17
                && bytes[0] == b'm'
                && bytes[1..9].iter().all(u8::is_ascii_digit)
                && bytes[9] == b'_'
                && bytes[10..16].iter().all(u8::is_ascii_digit)
                && bytes[16] == b'_';
            assert!(shaped, "{name} is not mYYYYMMDD_HHMMSS_name");
        }
        assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "migrations out of order: {names:?}"
        );
    }
}
