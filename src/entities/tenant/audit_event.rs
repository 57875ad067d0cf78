use sea_orm::entity::prelude::*;

/// One change to the books or the company's settings, appended in the transaction that
/// made it (the login role may INSERT and SELECT, never change or remove one).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    /// In order of appending (an identity; the keyset of `auditLog`).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The database's clock at the insert (set by trigger `audit_event_guard`).
    pub at: DateTimeWithTimeZone,
    /// The API token that acted (`None` with the name "system").
    pub actor_token_id: Option<Uuid>,
    pub actor_name: String,
    /// What was done, e.g. `journal_entry.post`.
    pub action: String,
    /// The entry, account or company it was done to.
    pub subject_id: Option<Uuid>,
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
