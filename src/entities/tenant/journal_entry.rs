use sea_orm::entity::prelude::*;

/// Where an entry is in its life: a draft may change; a posted entry never does, but
/// for being marked reversed.
// One type from the column to the API: stored as its API name in `journal_entry.status`
// (text with a CHECK constraint); an unknown stored value is an error, never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[graphql(name = "JournalEntryStatus")]
pub enum EntryStatus {
    #[sea_orm(string_value = "DRAFT")]
    Draft,
    #[sea_orm(string_value = "POSTED")]
    Posted,
    #[sea_orm(string_value = "REVERSED")]
    Reversed,
}

/// What an entry is for: ordinary bookkeeping, opening balances, the closing of a
/// fiscal year, or the reversal of another entry (exactly when `reversal_of` is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[graphql(name = "JournalEntryKind")]
pub enum EntryKind {
    #[sea_orm(string_value = "REGULAR")]
    Regular,
    #[sea_orm(string_value = "OPENING")]
    Opening,
    #[sea_orm(string_value = "CLOSING")]
    Closing,
    #[sea_orm(string_value = "REVERSAL")]
    Reversal,
}

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
    pub status: EntryStatus,
    pub reversal_of: Option<Uuid>,
    pub idempotency_key: Option<String>,
    /// Hash of the request that used `idempotency_key`, to spot a replay with another body.
    pub request_hash: Option<String>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
    pub posted_at: Option<DateTimeWithTimeZone>,
    pub kind: EntryKind,
    /// The API token that created the entry (`None` with the name "system").
    pub created_by_token_id: Option<Uuid>,
    pub created_by_name: Option<String>,
    pub posted_by_token_id: Option<Uuid>,
    pub posted_by_name: Option<String>,
    /// An imported entry's number in its old books.
    pub source_number: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        let stored: Vec<String> = EntryStatus::iter().map(|s| s.to_value()).collect();
        assert_eq!(stored, ["DRAFT", "POSTED", "REVERSED"]);
        for status in EntryStatus::iter() {
            assert_eq!(EntryStatus::try_from_value(&status.to_value()).ok(), Some(status));
        }
        for unknown in ["draft", "VOID", ""] {
            assert!(EntryStatus::try_from_value(&unknown.to_owned()).is_err(), "{unknown:?}");
        }
    }
}
