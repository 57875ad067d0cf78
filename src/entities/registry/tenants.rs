use sea_orm::entity::prelude::*;

// One type for the registry column (text with a CHECK) and the admin GraphQL enum.
/// Lifecycle state of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, async_graphql::Enum, serde::Serialize)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum TenantStatus {
    #[sea_orm(string_value = "PROVISIONING")]
    Provisioning,
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "SUSPENDED")]
    Suspended,
    #[sea_orm(string_value = "DELETED")]
    Deleted,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    pub status_reason: Option<String>,
    pub db_host: String,
    pub db_port: i32,
    pub db_name: String,
    pub db_username: String,
    /// Sealed with `Sealer`; `None` until provisioning has created the role.
    pub db_password: Option<String>,
    /// Name of the newest tenant migration applied (as far as the registry knows).
    pub schema_version: Option<String>,
    /// `ok` or `failed: <reason>` of the last migration run on this tenant.
    pub last_migration_result: Option<String>,
    pub last_migrated_at: Option<DateTimeWithTimeZone>,
    /// Writes paused (a restore runs): mutations get `TENANT_READ_ONLY`, reads go on.
    pub writes_paused: bool,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

/// No relations declared: tokens point at their tenant (`api_tokens`), and nothing
/// queries through the relation, so the entity does not point back.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::TenantStatus;

    #[test]
    fn every_status_round_trips_and_unknown_ones_are_errors() {
        for status in TenantStatus::iter() {
            assert_eq!(TenantStatus::try_from_value(&status.to_value()).ok(), Some(status));
        }
        assert!(TenantStatus::try_from_value(&"ARCHIVED".to_owned()).is_err());
    }
}
