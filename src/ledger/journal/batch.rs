//! Many entries in one transaction (`createJournalEntries`, and the CSV import of
//! entries): all or nothing, each input checked and named by its index, numbers
//! consecutive.
//!
//! Lock order: the drafts are written in input order, then posted grouped by fiscal
//! year in ascending order (input order within a year). Posting takes the fiscal year's
//! counter until commit, so a batch holds counters in one global order and two batches
//! over the same years wait for each other instead of deadlocking; within a year, a
//! batch's numbers are consecutive because no other posting into that year can commit
//! in between.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, SqlErr,
    TransactionTrait,
};

use super::commands::post_audited_in;
use super::idempotency::{self, check_key};
use super::input::NewEntry;
use super::numbering::fiscal_year;
use super::rows::{insert_draft, insert_lines, NewDraft};
use super::validation::{
    check_accounts, check_lock_date, check_text_of, company_for_posting, resolve_account_codes, Archived,
};
use crate::entities::tenant::journal_entry::{self as entry, EntryKind};
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::audit::{self, action};
use crate::ledger::money::format_amount;
use crate::ledger::posting::DraftLines;

/// Most entries one `createJournalEntries` call may hold.
pub const MAX_BATCH_ENTRIES: usize = 1000;

/// Most lines in all the entries of one `createJournalEntries` call.
pub const MAX_BATCH_LINES: usize = 20_000;

/// Creates (and, per input, posts) up to [`MAX_BATCH_ENTRIES`] entries in one
/// transaction; the result is in input order. Errors name the input (`inputs.3.lines.1.
/// accountCode`). An input whose idempotency key was used before with the same request
/// answers the entry made then, and writes nothing; with another request, the whole
/// batch is a `CONFLICT`.
pub async fn create_many(db: &DatabaseConnection, inputs: Vec<NewEntry>, actor: &Actor) -> Result<Vec<entry::Model>> {
    if inputs.len() > MAX_BATCH_ENTRIES {
        return Err(Error::bad_input(
            "inputs",
            format!("at most {MAX_BATCH_ENTRIES} entries in one call"),
        ));
    }
    let lines: usize = inputs.iter().map(|new| new.lines.len()).sum();
    if lines > MAX_BATCH_LINES {
        return Err(Error::bad_input(
            "inputs",
            format!("at most {MAX_BATCH_LINES} lines in all the entries of one call"),
        ));
    }
    // A key taken by a concurrent batch that committed first: once more, and its
    // entries are then replays.
    for _ in 0..2 {
        let txn = db.begin().await?;
        match write(&txn, &inputs, actor).await? {
            Written::Entries(entries) => {
                txn.commit().await?;
                return Ok(entries);
            }
            Written::KeyTaken => drop(txn),
        }
    }
    Err(Error::conflict(
        "inputs",
        "an idempotency key of this batch is in use by a request in flight",
    ))
}

/// [`create_many`] inside the caller's transaction, without its caps (the caller bounds
/// what it passes, as the CSV import does).
pub(crate) async fn create_many_in(
    txn: &DatabaseTransaction,
    inputs: &[NewEntry],
    actor: &Actor,
) -> Result<Vec<entry::Model>> {
    match write(txn, inputs, actor).await? {
        Written::Entries(entries) => Ok(entries),
        Written::KeyTaken => Err(Error::conflict(
            "inputs",
            "an idempotency key of this batch is in use by a request in flight",
        )),
    }
}

enum Written {
    Entries(Vec<entry::Model>),
    /// A concurrent request committed one of the keys first; the transaction is aborted.
    KeyTaken,
}

/// One input, checked, before anything is written.
struct Pending {
    path: String,
    description: String,
    reference: Option<String>,
    lines: DraftLines,
    post: bool,
    idempotency: Option<(String, String)>,
}

/// What becomes of each input: an entry made by an earlier request with its key, or a
/// new one.
enum Planned {
    Replay(Box<entry::Model>),
    New(Pending),
}

async fn write(txn: &DatabaseTransaction, inputs: &[NewEntry], actor: &Actor) -> Result<Written> {
    // Shared until commit, as every posting holds it: the start month and the lock date
    // read here stay true (see `company_for_posting`).
    let company = company_for_posting(txn).await?;
    let start_month = company.fiscal_year_start_month as u32;
    let closed_up_to = crate::ledger::fiscal_years::hard_lock_date(txn).await?;
    let plan = plan(txn, inputs).await?;
    // A doomed batch is refused before anything is written: the dates to post.
    for (i, planned) in plan.iter().enumerate() {
        let Planned::New(pending) = planned else { continue };
        let date = inputs[i].date;
        if !pending.post {
            continue;
        }
        if closed_up_to.is_some_and(|end| date <= end) {
            return Err(Error::FiscalYearClosed(format!(
                "{}: the fiscal year of {date} is closed",
                pending.path
            )));
        }
        check_lock_date(&company, date).map_err(|e| of_input(&pending.path, e))?;
    }
    // Drafts with a key first, in key order: two batches that share keys wait for each
    // other on the first shared key instead of deadlocking over two.
    let mut order: Vec<usize> = (0..plan.len()).collect();
    order.sort_by_key(|&i| (inputs[i].idempotency_key.is_none(), inputs[i].idempotency_key.clone()));
    let mut plan: Vec<Option<Planned>> = plan.into_iter().map(Some).collect();
    let mut made: Vec<Option<entry::Model>> = vec![None; inputs.len()];
    let mut to_post: Vec<(i32, usize)> = Vec::new();
    for i in order {
        let pending = match plan[i].take() {
            Some(Planned::Replay(first)) => {
                made[i] = Some(*first);
                continue;
            }
            Some(Planned::New(pending)) => pending,
            None => continue,
        };
        let date = inputs[i].date;
        check_accounts(
            txn,
            pending.lines.lines(),
            &format!("{}.lines", pending.path),
            Archived::Refused,
        )
        .await?;
        let draft = NewDraft {
            date,
            description: pending.description,
            reference: pending.reference,
            reversal_of: None,
            kind: EntryKind::Regular,
            idempotency: pending.idempotency,
            source_number: inputs[i].source_number.clone(),
        };
        let inserted = match insert_draft(txn, draft, actor).await {
            Ok(row) => row,
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Ok(Written::KeyTaken)
            }
            Err(err) => return Err(err.into()),
        };
        insert_lines(txn, inserted.id, pending.lines.lines()).await?;
        let (debits, credits) = pending.lines.totals();
        audit::record(
            txn,
            actor,
            action::ENTRY_CREATE,
            Some(inserted.id),
            format!(
                "dated {}, {} lines, debits {}, credits {} (batch)",
                inserted.date,
                pending.lines.lines().len(),
                format_amount(debits),
                format_amount(credits)
            ),
        )
        .await?;
        if pending.post {
            to_post.push((fiscal_year(date, start_month), i));
        }
        made[i] = Some(inserted);
    }
    // Counters in fiscal-year order (see the module's doc); input order within a year.
    to_post.sort_unstable();
    for (_, i) in to_post {
        if let Some(draft) = made[i].take() {
            let posted = post_audited_in(txn, draft, actor)
                .await
                .map_err(|e| of_input(&format!("inputs.{i}"), e))?;
            made[i] = Some(posted);
        }
    }
    Ok(Written::Entries(made.into_iter().flatten().collect()))
}

/// Checks every input on its own and against the batch, and finds the inputs an earlier
/// request already made (by idempotency key); the first failure is the answer.
async fn plan(db: &impl ConnectionTrait, inputs: &[NewEntry]) -> Result<Vec<Planned>> {
    let mut keys = HashSet::new();
    let mut hashes = Vec::with_capacity(inputs.len());
    for (i, new) in inputs.iter().enumerate() {
        if let Some(key) = &new.idempotency_key {
            let field = format!("inputs.{i}.idempotencyKey");
            check_key(key, &field)?;
            if !keys.insert(key.as_str()) {
                return Err(Error::bad_input(
                    field,
                    "this idempotency key is used twice in the batch",
                ));
            }
        }
        hashes.push(idempotency::request_hash(new));
    }
    let earlier = made_earlier(db, keys.into_iter().collect()).await?;
    let mut lines: Vec<Vec<_>> = inputs.iter().map(|new| new.lines.clone()).collect();
    let mut to_resolve: Vec<(String, &mut Vec<_>)> = lines
        .iter_mut()
        .enumerate()
        .map(|(i, lines)| (format!("inputs.{i}.lines"), lines))
        .collect();
    resolve_account_codes(db, &mut to_resolve).await?;
    let mut plan = Vec::with_capacity(inputs.len());
    for (i, ((new, hash), lines)) in inputs.iter().zip(hashes).zip(lines).enumerate() {
        let path = format!("inputs.{i}");
        if let Some(first) = new.idempotency_key.as_ref().and_then(|key| earlier.get(key)) {
            if first.request_hash.as_deref() != Some(hash.as_str()) {
                return Err(Error::conflict(
                    format!("{path}.idempotencyKey"),
                    "this idempotency key was used with a different request",
                ));
            }
            plan.push(Planned::Replay(Box::new(first.clone())));
            continue;
        }
        let (description, reference) = check_text_of(&path, &new.description, new.reference.as_deref())?;
        let lines = DraftLines::new(&lines, &format!("{path}.lines"))?;
        if new.post {
            lines
                .check_balanced(&format!("{path}.lines"))
                .map_err(|e| of_input(&path, e))?;
        }
        plan.push(Planned::New(Pending {
            description,
            reference,
            lines,
            post: new.post,
            idempotency: new.idempotency_key.clone().map(|key| (key, hash)),
            path,
        }));
    }
    Ok(plan)
}

/// An error of the input at `path`, so that it names the input: codes without a field
/// say it in their message.
fn of_input(path: &str, error: Error) -> Error {
    match error {
        Error::UnbalancedEntry(message) => Error::UnbalancedEntry(format!("{path}: {message}")),
        Error::PeriodLocked(message) => Error::PeriodLocked(format!("{path}: {message}")),
        Error::FiscalYearClosed(message) => Error::FiscalYearClosed(format!("{path}: {message}")),
        Error::BadUserInput { field: None, message } => Error::BadUserInput {
            field: Some(path.to_owned()),
            message,
        },
        other => other,
    }
}

/// The entries made by earlier requests with these keys, by key.
async fn made_earlier(db: &impl ConnectionTrait, keys: Vec<&str>) -> Result<HashMap<String, entry::Model>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(entry::Entity::find()
        .filter(entry::Column::IdempotencyKey.is_in(keys))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|e| e.idempotency_key.clone().map(|key| (key, e)))
        .collect())
}
