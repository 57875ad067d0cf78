//! What changes journal entries: create (optionally posting at once), update or delete
//! a draft, post, reverse. Each runs in one transaction; the rules are checked here and
//! again by the database at commit (a refusal there is classified in `crate::error`).

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
    SqlErr, TransactionTrait,
};
use uuid::Uuid;

use super::idempotency::{self, Idempotent, Recorded, RequestHash};
use super::input::{EntryChanges, NewEntry};
use super::queries;
use super::rows::{insert_draft, insert_lines, NewDraft};
use super::validation::{
    check_accounts, check_lock_date, check_text, company_for_posting, resolve_account_codes, Archived,
};
use crate::entities::tenant::journal_entry::{self as entry, EntryKind, EntryStatus};
use crate::entities::tenant::journal_line as line;
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::audit::{self, action, ChangeList};
use crate::ledger::money::format_amount;
use crate::ledger::posting::{DraftLines, Line, RawLine};

/// Creates a draft (and posts it when asked). A draft may be unbalanced (work in
/// progress); posting checks the balance. With an idempotency key, a retry of the same
/// (normalised) request returns the first result.
pub async fn create(db: &DatabaseConnection, new: NewEntry, actor: &Actor) -> Result<entry::Model> {
    if let Some(key) = &new.idempotency_key {
        idempotency::check_key(key, "input.idempotencyKey")?;
    }
    let (description, reference) = check_text(&new.description, new.reference.as_deref())?;
    let hash = idempotency::request_hash(&new);
    if let Some(key) = &new.idempotency_key {
        if let Some(existing) = idempotency::replayed(db, key, &hash).await? {
            return Ok(existing);
        }
    }
    let mut raw = new.lines.clone();
    resolve_account_codes(db, &mut [("input.lines".to_owned(), &mut raw)]).await?;
    let lines = DraftLines::new(&raw, "input.lines")?;
    if new.post {
        // Posting at once: the balance is checked before anything is written.
        lines.check_balanced("input.lines")?;
    }
    let txn = db.begin().await?;
    check_accounts(&txn, lines.lines(), "input.lines", Archived::Refused).await?;
    let draft = NewDraft {
        date: new.date,
        description,
        reference,
        reversal_of: None,
        kind: EntryKind::Regular,
        idempotency: new.idempotency_key.clone().map(|key| (key, hash.clone())),
        source_number: new.source_number.clone(),
    };
    let inserted = match insert_draft(&txn, draft, actor).await {
        Ok(row) => row,
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            // A concurrent request with the same key won: answer as a replay.
            drop(txn);
            let key = new.idempotency_key.as_deref().unwrap_or_default();
            return idempotency::replayed(db, key, &hash)
                .await?
                .ok_or_else(|| Error::conflict("input.idempotencyKey", "key in use"));
        }
        Err(err) => return Err(err.into()),
    };
    insert_lines(&txn, inserted.id, lines.lines()).await?;
    let (debits, credits) = lines.totals();
    audit::record(
        &txn,
        actor,
        action::ENTRY_CREATE,
        Some(inserted.id),
        format!(
            "dated {}, {} lines, debits {}, credits {}",
            inserted.date,
            lines.lines().len(),
            format_amount(debits),
            format_amount(credits)
        ),
    )
    .await?;
    let result = if new.post {
        post_audited_in(&txn, inserted, actor).await?
    } else {
        inserted
    };
    txn.commit().await?;
    Ok(result)
}

/// Posts a draft: its balance is checked and it gets the next number of its fiscal
/// year. With an idempotency key, a retry returns the entry posted the first time.
pub async fn post(
    db: &DatabaseConnection,
    id: Uuid,
    idempotency_key: Option<&str>,
    actor: &Actor,
) -> Result<entry::Model> {
    let mut hash = RequestHash::new("postJournalEntry");
    hash.part(&id.to_string());
    let key = Idempotent::new(idempotency_key, "idempotencyKey", "postJournalEntry", &hash)?;
    if let Some(first) = replayed_entry(db, key.as_ref()).await? {
        return Ok(first);
    }
    let txn = db.begin().await?;
    // The company row before the entry, as `setOpeningBalances` takes them (posting
    // takes it anyway): one order, no deadlock.
    company_for_posting(&txn).await?;
    let current = lock_entry(&txn, id).await?;
    if current.status != EntryStatus::Draft {
        // A concurrent request with this key may have posted it while this one waited
        // for the entry's lock: then this is its retry.
        drop(txn);
        if let Some(first) = replayed_entry(db, key.as_ref()).await? {
            return Ok(first);
        }
        return Err(Error::conflict("id", "the entry is already posted"));
    }
    let posted = post_audited_in(&txn, current, actor).await?;
    if let Some(key) = &key {
        if idempotency::record(&txn, key, posted.id).await? == Recorded::Taken {
            drop(txn);
            return replayed_entry(db, Some(key)).await?.ok_or_else(|| reused_key(key));
        }
    }
    txn.commit().await?;
    Ok(posted)
}

/// The entry an earlier request with this key made (as it is now); `None` without a
/// key or for a new one.
async fn replayed_entry(db: &DatabaseConnection, key: Option<&Idempotent>) -> Result<Option<entry::Model>> {
    let Some(key) = key else { return Ok(None) };
    match idempotency::replay(db, key).await? {
        Some(id) => Ok(Some(queries::by_id(db, id).await?.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("idempotent result {id} is not an entry"))
        })?)),
        None => Ok(None),
    }
}

fn reused_key(key: &Idempotent) -> Error {
    Error::conflict(key.field, "this idempotency key is in use by a request in flight")
}

/// Changes a draft; a posted entry is refused (`CONFLICT`).
pub async fn update_draft(
    db: &DatabaseConnection,
    id: Uuid,
    changes: EntryChanges,
    actor: &Actor,
) -> Result<entry::Model> {
    let txn = db.begin().await?;
    let current = lock_entry(&txn, id).await?;
    if current.status != EntryStatus::Draft {
        return Err(Error::conflict(
            "id",
            "a posted entry cannot be changed; reverse it instead",
        ));
    }
    let description = changes.description.unwrap_or_else(|| current.description.clone());
    let reference = changes.reference.apply(current.reference.clone());
    let (description, reference) = check_text(&description, reference.as_deref())?;
    let mut changed = ChangeList::default();
    if let Some(lines) = &changes.lines {
        // A draft may be unbalanced: posting checks.
        let mut raw = lines.clone();
        resolve_account_codes(&txn, &mut [("input.lines".to_owned(), &mut raw)]).await?;
        let lines = DraftLines::new(&raw, "input.lines")?;
        check_accounts(&txn, lines.lines(), "input.lines", Archived::Refused).await?;
        line::Entity::delete_many()
            .filter(line::Column::EntryId.eq(id))
            .exec(&txn)
            .await?;
        insert_lines(&txn, id, lines.lines()).await?;
        let (debits, credits) = lines.totals();
        changed.note(format!(
            "lines replaced: {} lines, debits {}, credits {}",
            lines.lines().len(),
            format_amount(debits),
            format_amount(credits)
        ));
    }
    let date = changes.date.unwrap_or(current.date);
    changed.field("date", Some(current.date.to_string()), Some(date.to_string()));
    changed.field(
        "description",
        Some(current.description.clone()),
        Some(description.clone()),
    );
    changed.field("reference", current.reference.clone(), reference.clone());
    let mut row: entry::ActiveModel = current.clone().into();
    row.date = Set(date);
    row.description = Set(description);
    row.reference = Set(reference);
    row.updated_at = Set(Utc::now().into());
    let updated = row.update(&txn).await?;
    audit::record(&txn, actor, action::ENTRY_UPDATE, Some(id), changed.detail()).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a draft (its lines go with it); a posted entry is refused (`CONFLICT`).
pub async fn delete_draft(db: &DatabaseConnection, id: Uuid, actor: &Actor) -> Result<Uuid> {
    let txn = db.begin().await?;
    let current = lock_entry(&txn, id).await?;
    if current.status != EntryStatus::Draft {
        return Err(Error::conflict(
            "id",
            "a posted entry cannot be deleted; reverse it instead",
        ));
    }
    entry::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        action::ENTRY_DELETE,
        Some(id),
        format!("draft dated {}: {}", current.date, current.description),
    )
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// Posts a mirror entry (debits and credits swapped) and marks the original REVERSED.
/// The mirror may use accounts archived since (it only takes back what the original
/// put on them) and is dated on or after the original: `date` defaults to today in the
/// company's time zone, or the original's date when that is later. With an idempotency
/// key, a retry returns the reversing entry made the first time. A closing entry (and
/// the reversal of one) is reversed only by reopening its fiscal year (`CONFLICT`).
pub async fn reverse(
    db: &DatabaseConnection,
    id: Uuid,
    date: Option<NaiveDate>,
    description: Option<String>,
    idempotency_key: Option<&str>,
    actor: &Actor,
) -> Result<entry::Model> {
    let mut hash = RequestHash::new("reverseJournalEntry");
    hash.part(&id.to_string())
        .text(date.map(|d| d.to_string()).as_deref())
        .text(description.as_deref());
    let key = Idempotent::new(idempotency_key, "idempotencyKey", "reverseJournalEntry", &hash)?;
    if let Some(first) = replayed_entry(db, key.as_ref()).await? {
        return Ok(first);
    }
    let txn = db.begin().await?;
    // The company row before the entry (as in `post`).
    company_for_posting(&txn).await?;
    let original = lock_entry(&txn, id).await?;
    if closes_a_year(&txn, &original).await? {
        return Err(Error::conflict(
            "id",
            "a closing entry is reversed only by reopening its fiscal year (reopenFiscalYear)",
        ));
    }
    match original.status {
        EntryStatus::Posted => {}
        EntryStatus::Reversed => {
            // As in `post`: a concurrent request with this key may have reversed it.
            drop(txn);
            if let Some(first) = replayed_entry(db, key.as_ref()).await? {
                return Ok(first);
            }
            return Err(Error::conflict("id", "the entry is already reversed"));
        }
        EntryStatus::Draft => {
            return Err(Error::conflict(
                "id",
                "only a posted entry can be reversed (delete a draft instead)",
            ))
        }
    }
    let date = match date {
        Some(date) if date < original.date => {
            return Err(Error::bad_input(
                "date",
                format!(
                    "a reversal is dated on or after the entry it reverses ({})",
                    original.date
                ),
            ))
        }
        Some(date) => date,
        None => crate::ledger::company::today(&txn).await?.max(original.date),
    };
    let number = original.number.clone().unwrap_or_default();
    let posted = reverse_in(&txn, original, date, description, actor).await?;
    audit::record(
        &txn,
        actor,
        action::ENTRY_REVERSE,
        Some(id),
        format!(
            "{number} reversed by {} dated {}",
            posted.number.as_deref().unwrap_or_default(),
            posted.date
        ),
    )
    .await?;
    if let Some(key) = &key {
        if idempotency::record(&txn, key, posted.id).await? == Recorded::Taken {
            drop(txn);
            return replayed_entry(db, Some(key)).await?.ok_or_else(|| reused_key(key));
        }
    }
    txn.commit().await?;
    Ok(posted)
}

/// Whether the entry is a closing entry or the reversal of one.
async fn closes_a_year(db: &impl ConnectionTrait, e: &entry::Model) -> Result<bool> {
    Ok(match (e.kind, e.reversal_of) {
        (EntryKind::Closing, _) => true,
        (_, Some(original)) => queries::by_id(db, original)
            .await?
            .is_some_and(|o| o.kind == EntryKind::Closing),
        _ => false,
    })
}

/// Reverses `original` (a posted entry, locked by the caller) inside the caller's
/// transaction: posts the mirror entry dated `date` and marks the original REVERSED.
pub(crate) async fn reverse_in(
    txn: &impl ConnectionTrait,
    original: entry::Model,
    date: NaiveDate,
    description: Option<String>,
    actor: &Actor,
) -> Result<entry::Model> {
    let id = original.id;
    let description = description.unwrap_or_else(|| {
        format!(
            "Pembalikan {}: {}",
            original.number.clone().unwrap_or_default(),
            original.description
        )
    });
    let (description, _) = check_text(&description, None)?;
    let swapped: Vec<Line> = stored_lines(txn, id)
        .await?
        .into_iter()
        .map(|l| Line {
            account_id: l.account_id,
            debit: l.credit,
            credit: l.debit,
            memo: l.memo,
        })
        .collect();
    let draft = NewDraft {
        date,
        description,
        reference: original.number.clone(),
        reversal_of: Some(id),
        kind: EntryKind::Reversal,
        idempotency: None,
        source_number: None,
    };
    let mirror = insert_draft(txn, draft, actor).await?;
    insert_lines(txn, mirror.id, &swapped).await?;
    let posted = post_in(txn, mirror, actor).await?;
    let mut marked: entry::ActiveModel = original.into();
    marked.status = Set(EntryStatus::Reversed);
    marked.updated_at = Set(Utc::now().into());
    marked.update(txn).await?;
    Ok(posted)
}

/// Writes and posts an entry the books make themselves (a closing entry), inside the
/// caller's transaction; `lines` are checked like any entry's when posted.
pub(crate) async fn post_made_in(
    txn: &impl ConnectionTrait,
    kind: EntryKind,
    date: NaiveDate,
    description: &str,
    lines: &[Line],
    actor: &Actor,
) -> Result<entry::Model> {
    let (description, _) = check_text(description, None)?;
    let draft = NewDraft {
        date,
        description,
        reference: None,
        reversal_of: None,
        kind,
        idempotency: None,
        source_number: None,
    };
    let inserted = insert_draft(txn, draft, actor).await?;
    insert_lines(txn, inserted.id, lines).await?;
    post_in(txn, inserted, actor).await
}

/// The entry, locked until the transaction ends (so concurrent commands take turns).
async fn lock_entry(db: &impl ConnectionTrait, id: Uuid) -> Result<entry::Model> {
    entry::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no such journal entry".into()))
}

/// An entry's lines in line order.
async fn stored_lines(db: &impl ConnectionTrait, entry_id: Uuid) -> Result<Vec<line::Model>> {
    Ok(queries::lines_of(db, &[entry_id])
        .await?
        .remove(&entry_id)
        .unwrap_or_default())
}

/// [`post_in`], and its audit event. The event is written first: posting takes the
/// fiscal year's counter, which concurrent postings wait for until commit, so nothing
/// more is done after it (the event names the entry; its number is on the entry).
pub(super) async fn post_audited_in(
    txn: &impl ConnectionTrait,
    draft: entry::Model,
    actor: &Actor,
) -> Result<entry::Model> {
    audit::record(
        txn,
        actor,
        action::ENTRY_POST,
        Some(draft.id),
        format!("dated {}: {}", draft.date, draft.description),
    )
    .await?;
    post_in(txn, draft, actor).await
}

/// Posts a draft inside the caller's transaction: rules (the balance above all: a
/// draft may be unbalanced) re-checked against the stored lines (accounts and company
/// share-locked until commit, so an archive or a lock-date change waits for this post,
/// or this post for it), then the status set to POSTED by `actor`. The database numbers
/// it (trigger `journal_entry_number`: the next number of its fiscal year from the
/// counter, after checking the closed fiscal years and the lock date again under its
/// own locks); the number comes back with the updated row.
async fn post_in(txn: &impl ConnectionTrait, draft: entry::Model, actor: &Actor) -> Result<entry::Model> {
    let raw: Vec<RawLine> = stored_lines(txn, draft.id)
        .await?
        .iter()
        .map(|l| RawLine {
            account_id: Some(l.account_id.to_string()),
            account_code: None,
            debit: format_amount(l.debit),
            credit: format_amount(l.credit),
            memo: l.memo.clone(),
        })
        .collect();
    let balanced = DraftLines::new(&raw, "lines")?.balanced("lines")?;
    let archived = if draft.reversal_of.is_some() {
        Archived::Allowed
    } else {
        Archived::Refused
    };
    check_accounts(txn, balanced.lines(), "lines", archived).await?;
    let company = company_for_posting(txn).await?;
    // A closed fiscal year wins over the lock date. The database refuses it on its own
    // (before the lock date); it is looked up here only where the lock date would
    // answer first.
    if check_lock_date(&company, draft.date).is_err() {
        crate::ledger::fiscal_years::check_open(txn, draft.date).await?;
    }
    check_lock_date(&company, draft.date)?;
    let mut row: entry::ActiveModel = draft.into();
    row.status = Set(EntryStatus::Posted);
    row.updated_at = Set(Utc::now().into());
    row.posted_by_token_id = Set(actor.token_id);
    row.posted_by_name = Set(Some(actor.name.clone()));
    Ok(row.update(txn).await?)
}
