use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal_entry")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `JE/<fiscal year>/<sequence>`, set at posting.
    pub number: Option<String>,
    pub fiscal_year: Option<i32>,
    pub sequence: Option<i32>,
    pub date: Date,
    pub description: String,
    pub reference: Option<String>,
    /// DRAFT, POSTED or REVERSED.
    pub status: String,
    pub reversal_of: Option<Uuid>,
    pub idempotency_key: Option<String>,
    /// Hash of the request that used `idempotency_key`, to spot a replay with another body.
    pub request_hash: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    pub posted_at: Option<DateTimeWithTimeZone>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
