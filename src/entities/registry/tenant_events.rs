use sea_orm::entity::prelude::*;

/// What happened to a tenant. Stored as text (with a CHECK constraint listing the
/// values), so adding a kind is an ordinary migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum EventKind {
    #[sea_orm(string_value = "created")]
    Created,
    #[sea_orm(string_value = "provisioning_failed")]
    ProvisioningFailed,
    #[sea_orm(string_value = "provisioning_rolled_back")]
    ProvisioningRolledBack,
    #[sea_orm(string_value = "suspended")]
    Suspended,
    #[sea_orm(string_value = "activated")]
    Activated,
    #[sea_orm(string_value = "token_created")]
    TokenCreated,
    #[sea_orm(string_value = "token_revoked")]
    TokenRevoked,
    #[sea_orm(string_value = "deleted")]
    Deleted,
    #[sea_orm(string_value = "purged")]
    Purged,
    #[sea_orm(string_value = "backed_up")]
    BackedUp,
    #[sea_orm(string_value = "restored")]
    Restored,
    #[sea_orm(string_value = "migrated")]
    Migrated,
    #[sea_orm(string_value = "migration_failed")]
    MigrationFailed,
}

/// The stored value, as the log and `/metrics` show it.
impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use sea_orm::ActiveEnum;
        f.write_str(&self.to_value())
    }
}

/// Append-only log of lifecycle changes; kept after a tenant is purged.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Option<Uuid>,
    pub slug: String,
    pub kind: EventKind,
    pub detail: Option<String>,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::EventKind;

    #[test]
    fn every_kind_round_trips_and_unknown_ones_are_errors() {
        for kind in EventKind::iter() {
            assert_eq!(EventKind::try_from_value(&kind.to_value()).ok(), Some(kind));
        }
        assert!(EventKind::try_from_value(&"exploded".to_owned()).is_err());
    }
}
