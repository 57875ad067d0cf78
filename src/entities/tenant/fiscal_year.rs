use sea_orm::entity::prelude::*;

/// Whether a fiscal year takes postings. A year without a row is OPEN.
// Stored as its API name in `fiscal_year.status` (text with a CHECK constraint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[graphql(name = "FiscalYearStatus")]
pub enum FiscalYearStatus {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "CLOSED")]
    Closed,
}

/// A fiscal year that was closed at least once (written only by the database functions
/// `nusa_close_fiscal_year` and `nusa_reopen_fiscal_year`; the login role reads it).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fiscal_year")]
pub struct Model {
    /// The calendar year in which the fiscal year starts.
    #[sea_orm(primary_key, auto_increment = false)]
    pub label: i32,
    pub start_date: Date,
    pub end_date: Date,
    pub status: FiscalYearStatus,
    /// The latest closing entry (reversed when the year was reopened).
    pub closing_entry_id: Option<Uuid>,
    pub closed_at: Option<DateTimeWithTimeZone>,
    pub closed_by_token_id: Option<Uuid>,
    pub closed_by_name: Option<String>,
    pub reopened_at: Option<DateTimeWithTimeZone>,
    pub reopen_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
