//! The one place entry rows and their lines are written: a new draft (creation and
//! reversal both start from one) and lines in chunks.

use chrono::{NaiveDate, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, NotSet, Set};
use uuid::Uuid;

use crate::entities::tenant::journal_entry::{self as entry, EntryKind, EntryStatus};
use crate::entities::tenant::journal_line as line;
use crate::error::Result;
use crate::ledger::actor::Actor;
use crate::ledger::posting::Line;

/// Lines per `INSERT`: well under PostgreSQL's 65535 bind parameters (7 per line).
const LINES_PER_INSERT: usize = 1000;

/// A draft about to be written; its text already checked.
pub(super) struct NewDraft {
    pub date: NaiveDate,
    pub description: String,
    pub reference: Option<String>,
    /// The posted entry this draft will reverse (with kind REVERSAL).
    pub reversal_of: Option<Uuid>,
    /// REGULAR, OPENING or CLOSING; REVERSAL exactly when `reversal_of` is set.
    pub kind: EntryKind,
    /// The idempotency key and the hash of the request that used it.
    pub idempotency: Option<(String, String)>,
    /// Its number in the books it was imported from.
    pub source_number: Option<String>,
}

/// Inserts a draft entry made by `actor`: no number, no posting time. The raw database
/// error is returned so that a caller can tell a taken idempotency key from other failures.
pub(super) async fn insert_draft(
    db: &impl ConnectionTrait,
    draft: NewDraft,
    actor: &Actor,
) -> Result<entry::Model, DbErr> {
    let now = Utc::now();
    let (idempotency_key, request_hash) = draft.idempotency.unzip();
    entry::ActiveModel {
        id: Set(Uuid::new_v4()),
        number: Set(None),
        fiscal_year: Set(None),
        sequence: Set(None),
        date: Set(draft.date),
        description: Set(draft.description),
        reference: Set(draft.reference),
        status: Set(EntryStatus::Draft),
        reversal_of: Set(draft.reversal_of),
        idempotency_key: Set(idempotency_key),
        request_hash: Set(request_hash),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        posted_at: Set(None),
        kind: Set(draft.kind),
        created_by_token_id: Set(actor.token_id),
        created_by_name: Set(Some(actor.name.clone())),
        posted_by_token_id: Set(None),
        posted_by_name: Set(None),
        source_number: Set(draft.source_number),
    }
    .insert(db)
    .await
}

/// Writes an entry's lines, numbered from 1 in the order given.
pub(super) async fn insert_lines(db: &impl ConnectionTrait, entry_id: Uuid, lines: &[Line]) -> Result<()> {
    let rows: Vec<line::ActiveModel> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| line::ActiveModel {
            id: Set(Uuid::new_v4()),
            entry_id: Set(entry_id),
            line_no: Set(i as i32 + 1),
            account_id: Set(l.account_id),
            debit: Set(l.debit),
            credit: Set(l.credit),
            memo: Set(l.memo.clone()),
            // Set by the database from the entry (trigger `journal_line_guard`).
            entry_date: NotSet,
        })
        .collect();
    for chunk in rows.chunks(LINES_PER_INSERT) {
        line::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}
