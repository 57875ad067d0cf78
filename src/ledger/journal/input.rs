//! What a client asks of the journal: a new entry, changes to a draft. Apart from the
//! commands so that the idempotency hash and the commands both read them without
//! depending on each other.

use chrono::NaiveDate;

use crate::ledger::change::Change;
use crate::ledger::posting::RawLine;

/// An entry as a client asks for it.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub date: NaiveDate,
    pub description: String,
    pub reference: Option<String>,
    pub lines: Vec<RawLine>,
    /// Post at once rather than leave a draft.
    pub post: bool,
    pub idempotency_key: Option<String>,
    /// The entry's number in the books it came from (an import's `entry` value), kept as
    /// `sourceNumber`; 1 to 100 characters.
    pub source_number: Option<String>,
}

/// Changes to a draft; `None` / `Keep` leaves a field alone, `lines` replace all lines.
#[derive(Debug, Clone, Default)]
pub struct EntryChanges {
    pub date: Option<NaiveDate>,
    pub description: Option<String>,
    pub reference: Change<String>,
    pub lines: Option<Vec<RawLine>>,
}
