use sea_orm::entity::prelude::*;

/// Append-only log of lifecycle changes; kept after a tenant is purged.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenant_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Option<Uuid>,
    pub slug: String,
    /// `created`, `provisioning_failed`, `suspended`, `activated`, ...
    pub kind: String,
    pub detail: Option<String>,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
