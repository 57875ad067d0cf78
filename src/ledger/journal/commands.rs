//! What changes journal entries: create (optionally posting at once), update or delete
//! a draft, post, reverse. Each runs in one transaction; the rules are checked here and
//! again by the database at commit (a refusal there is classified in `crate::error`).

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
    SqlErr, TransactionTrait,
};
use uuid::Uuid;

use super::input::{EntryChanges, NewEntry};
use super::rows::{insert_draft, insert_lines, NewDraft};
use super::validation::{check_accounts, check_lock_date, check_text, company_for_posting};
use super::{idempotency, queries};
use crate::entities::tenant::journal_entry::{self as entry, EntryStatus};
use crate::entities::tenant::journal_line as line;
use crate::error::{Error, Result};
use crate::ledger::money::format_amount;
use crate::ledger::posting::{BalancedLines, Line, RawLine};

/// Creates a draft (and posts it when asked). With an idempotency key, a retry of the
/// same request returns the first result.
pub async fn create(db: &DatabaseConnection, new: NewEntry) -> Result<entry::Model> {
    let hash = idempotency::request_hash(&new);
    if let Some(key) = &new.idempotency_key {
        idempotency::check_key(key)?;
        if let Some(existing) = idempotency::replayed(db, key, &hash).await? {
            return Ok(existing);
        }
    }
    let (description, reference) = check_text(&new.description, new.reference.as_deref())?;
    let balanced = BalancedLines::new(&new.lines, "input.lines")?;
    let txn = db.begin().await?;
    check_accounts(&txn, &balanced, "input.lines").await?;
    let draft = NewDraft {
        date: new.date,
        description,
        reference,
        reversal_of: None,
        idempotency: new.idempotency_key.clone().map(|key| (key, hash.clone())),
    };
    let inserted = match insert_draft(&txn, draft).await {
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
    insert_lines(&txn, inserted.id, balanced.lines()).await?;
    let result = if new.post {
        post_in(&txn, inserted).await?
    } else {
        inserted
    };
    txn.commit().await?;
    Ok(result)
}

/// Posts a draft: it gets the next number of its fiscal year.
pub async fn post(db: &DatabaseConnection, id: Uuid) -> Result<entry::Model> {
    let txn = db.begin().await?;
    let current = lock_entry(&txn, id).await?;
    if current.status != EntryStatus::Draft {
        return Err(Error::conflict("id", "the entry is already posted"));
    }
    let posted = post_in(&txn, current).await?;
    txn.commit().await?;
    Ok(posted)
}

/// Changes a draft; a posted entry is refused (`CONFLICT`).
pub async fn update_draft(db: &DatabaseConnection, id: Uuid, changes: EntryChanges) -> Result<entry::Model> {
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
    if let Some(lines) = &changes.lines {
        let balanced = BalancedLines::new(lines, "input.lines")?;
        check_accounts(&txn, &balanced, "input.lines").await?;
        line::Entity::delete_many()
            .filter(line::Column::EntryId.eq(id))
            .exec(&txn)
            .await?;
        insert_lines(&txn, id, balanced.lines()).await?;
    }
    let mut row: entry::ActiveModel = current.clone().into();
    row.date = Set(changes.date.unwrap_or(current.date));
    row.description = Set(description);
    row.reference = Set(reference);
    row.updated_at = Set(Utc::now().into());
    let updated = row.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes a draft (its lines go with it); a posted entry is refused (`CONFLICT`).
pub async fn delete_draft(db: &DatabaseConnection, id: Uuid) -> Result<Uuid> {
    let txn = db.begin().await?;
    let current = lock_entry(&txn, id).await?;
    if current.status != EntryStatus::Draft {
        return Err(Error::conflict(
            "id",
            "a posted entry cannot be deleted; reverse it instead",
        ));
    }
    entry::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(id)
}

/// Posts a mirror entry (debits and credits swapped) and marks the original REVERSED.
pub async fn reverse(
    db: &DatabaseConnection,
    id: Uuid,
    date: Option<NaiveDate>,
    description: Option<String>,
) -> Result<entry::Model> {
    let txn = db.begin().await?;
    let original = lock_entry(&txn, id).await?;
    match original.status {
        EntryStatus::Posted => {}
        EntryStatus::Reversed => return Err(Error::conflict("id", "the entry is already reversed")),
        EntryStatus::Draft => {
            return Err(Error::conflict(
                "id",
                "only a posted entry can be reversed (delete a draft instead)",
            ))
        }
    }
    let date = match date {
        Some(date) => date,
        None => crate::ledger::company::today(&txn).await?,
    };
    let description = description.unwrap_or_else(|| {
        format!(
            "Pembalikan {}: {}",
            original.number.clone().unwrap_or_default(),
            original.description
        )
    });
    let (description, _) = check_text(&description, None)?;
    let swapped: Vec<Line> = stored_lines(&txn, id)
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
        idempotency: None,
    };
    let mirror = insert_draft(&txn, draft).await?;
    insert_lines(&txn, mirror.id, &swapped).await?;
    let posted = post_in(&txn, mirror).await?;
    let mut marked: entry::ActiveModel = original.into();
    marked.status = Set(EntryStatus::Reversed);
    marked.updated_at = Set(Utc::now().into());
    marked.update(&txn).await?;
    txn.commit().await?;
    Ok(posted)
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

/// Posts a draft inside the caller's transaction: rules re-checked against the stored
/// lines (accounts and company share-locked until commit, so an archive or a lock-date
/// change waits for this post, or this post for it), then the status set to POSTED.
/// The database numbers it (trigger `journal_entry_number`: the next number of its
/// fiscal year from the counter, after checking the lock date again under its own
/// locks); the number comes back with the updated row.
async fn post_in(txn: &impl ConnectionTrait, draft: entry::Model) -> Result<entry::Model> {
    let raw: Vec<RawLine> = stored_lines(txn, draft.id)
        .await?
        .iter()
        .map(|l| RawLine {
            account_id: l.account_id.to_string(),
            debit: format_amount(l.debit),
            credit: format_amount(l.credit),
            memo: l.memo.clone(),
        })
        .collect();
    let balanced = BalancedLines::new(&raw, "lines")?;
    check_accounts(txn, &balanced, "lines").await?;
    let company = company_for_posting(txn).await?;
    check_lock_date(&company, draft.date)?;
    let mut row: entry::ActiveModel = draft.into();
    row.status = Set(EntryStatus::Posted);
    row.updated_at = Set(Utc::now().into());
    Ok(row.update(txn).await?)
}
