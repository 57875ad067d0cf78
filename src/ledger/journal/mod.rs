//! Journal entries: drafts, posting (numbering, lock date), reversal, idempotency.
//!
//! By purpose:
//! - [`commands`]: what changes entries (create, update a draft, post, reverse, delete a draft);
//! - `opening`: opening balances, one OPENING entry that may be replaced until the year moves on;
//! - [`batch`]: many entries in one transaction (`createJournalEntries`, CSV import);
//! - [`queries`]: reading them (by id, their lines, the filtered listing);
//! - `rows`: the one place an entry row and its lines are written;
//! - `validation`: the checks the commands share (text, accounts, lock date);
//! - `numbering`: fiscal years and gapless numbers;
//! - `input`: what a client asks (a new entry, changes to a draft);
//! - `idempotency`: keys and request hashes;
//! - `cursor`: the listing's opaque cursor.

pub mod batch;
pub mod commands;
mod cursor;
pub mod idempotency;
mod input;
mod numbering;
mod opening;
pub mod queries;
mod rows;
mod validation;

pub(crate) use batch::create_many_in;
pub use batch::{create_many, MAX_BATCH_ENTRIES, MAX_BATCH_LINES};
pub use commands::{create, delete_draft, post, reverse, update_draft};
pub(crate) use commands::{post_made_in, reverse_in};
pub use cursor::entry_cursor;
pub use input::{EntryChanges, NewEntry};
pub use numbering::{entry_number, fiscal_year};
pub use opening::{set_opening_balances, OpeningBalances};
pub use queries::{by_id, by_ids, lines_of, list, reversals_of, totals, EntryFilter};
pub(crate) use validation::{check_lock_date, check_text};
