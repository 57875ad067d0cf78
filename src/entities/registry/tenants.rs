use sea_orm::entity::prelude::*;

/// Lifecycle state of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, serde::Serialize)]
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
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::api_tokens::Entity")]
    ApiTokens,
}

impl Related<super::api_tokens::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiTokens.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
