use sea_orm::entity::prelude::*;

/// An account of the chart. `type` and `normal_balance` are stored as API names.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// ASSET, LIABILITY, EQUITY, REVENUE or EXPENSE.
    #[sea_orm(column_name = "type")]
    pub account_type: String,
    /// DEBIT or CREDIT.
    pub normal_balance: String,
    pub parent_id: Option<Uuid>,
    pub is_postable: bool,
    pub is_archived: bool,
    pub description: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
