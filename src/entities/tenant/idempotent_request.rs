use sea_orm::entity::prelude::*;

/// A mutation made with an idempotency key (other than `createJournalEntry`, whose key
/// is kept on the entry): what was asked and what it gave.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotent_request")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The mutation, e.g. `closeFiscalYear`.
    pub operation: String,
    /// Hash of the normalised request.
    pub request_hash: String,
    /// The object the first request gave, where the request does not name it itself.
    pub result_id: Option<Uuid>,
    pub created_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
