//! Journal entries: drafts, posting (numbering, lock date), reversal, idempotency.

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{Datelike, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr, Statement, TransactionTrait,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entities::tenant::journal_entry::{self as entry, EntryStatus};
use crate::entities::tenant::{account, company, journal_line as line};
use crate::error::{Error, Result};
use crate::ledger::company::company as load_company;
use crate::ledger::money::format_amount;
use crate::ledger::paging::{self, Page, Total};
use crate::ledger::posting::{BalancedLines, RawLine};

/// The fiscal year a date falls in, named by the calendar year in which it starts.
pub fn fiscal_year(date: NaiveDate, start_month: u32) -> i32 {
    if date.month() >= start_month {
        date.year()
    } else {
        date.year() - 1
    }
}

/// `JE/2026/000001`.
pub fn entry_number(fiscal_year: i32, sequence: i32) -> String {
    format!("JE/{fiscal_year}/{sequence:06}")
}

#[derive(Debug, Clone)]
pub struct NewEntry {
    pub date: NaiveDate,
    pub description: String,
    pub reference: Option<String>,
    pub lines: Vec<RawLine>,
    pub post: bool,
    pub idempotency_key: Option<String>,
}

impl NewEntry {
    /// A stable hash of what was asked, to tell an idempotent replay from a different body.
    fn request_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let mut feed = |part: &str| {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        };
        feed(&self.date.to_string());
        feed(&self.description);
        feed(self.reference.as_deref().unwrap_or("\u{0}"));
        feed(if self.post { "post" } else { "draft" });
        for l in &self.lines {
            feed(&l.account_id);
            feed(&l.debit);
            feed(&l.credit);
            feed(l.memo.as_deref().unwrap_or("\u{0}"));
        }
        hex::encode(hasher.finalize())
    }
}

fn check_text(description: &str, reference: Option<&str>) -> Result<(String, Option<String>)> {
    let description = description.trim();
    if description.is_empty() || description.chars().count() > 500 {
        return Err(Error::bad_input(
            "input.description",
            "a description has 1 to 500 characters",
        ));
    }
    let reference = reference.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    if reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        return Err(Error::bad_input(
            "input.reference",
            "a reference has at most 100 characters",
        ));
    }
    Ok((description.to_owned(), reference))
}

/// Every account of the lines exists, is postable and not archived.
async fn check_accounts(db: &impl ConnectionTrait, balanced: &BalancedLines, path: &str) -> Result<()> {
    let ids: Vec<Uuid> = balanced.lines().iter().map(|l| l.account_id).collect();
    let found: HashMap<Uuid, account::Model> = account::Entity::find()
        .filter(account::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("{path}.{i}.accountId");
        match found.get(id) {
            None => return Err(Error::bad_input(field, "no such account")),
            Some(a) if !a.is_postable => {
                return Err(Error::bad_input(
                    field,
                    format!("{} {} is a header account", a.code, a.name),
                ))
            }
            Some(a) if a.is_archived => {
                return Err(Error::bad_input(field, format!("{} {} is archived", a.code, a.name)))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

async fn insert_lines(db: &impl ConnectionTrait, entry_id: Uuid, balanced: &BalancedLines) -> Result<()> {
    let rows: Vec<line::ActiveModel> = balanced
        .lines()
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
        })
        .collect();
    // Chunks keep each INSERT well under PostgreSQL's 65535 bind parameters.
    for chunk in rows.chunks(1000) {
        line::Entity::insert_many(chunk.to_vec()).exec(db).await?;
    }
    Ok(())
}

pub async fn create(db: &DatabaseConnection, new: NewEntry) -> Result<entry::Model> {
    let hash = new.request_hash();
    if let Some(key) = &new.idempotency_key {
        if key.trim().is_empty() || key.len() > 200 {
            return Err(Error::bad_input(
                "input.idempotencyKey",
                "an idempotency key has 1 to 200 characters",
            ));
        }
        if let Some(existing) = replayed(db, key, &hash).await? {
            return Ok(existing);
        }
    }
    let (description, reference) = check_text(&new.description, new.reference.as_deref())?;
    let balanced = BalancedLines::new(&new.lines, "input.lines")?;
    let txn = db.begin().await?;
    check_accounts(&txn, &balanced, "input.lines").await?;
    let now = Utc::now();
    let inserted = entry::ActiveModel {
        id: Set(Uuid::new_v4()),
        number: Set(None),
        fiscal_year: Set(None),
        sequence: Set(None),
        date: Set(new.date),
        description: Set(description),
        reference: Set(reference),
        status: Set(EntryStatus::Draft),
        reversal_of: Set(None),
        idempotency_key: Set(new.idempotency_key.clone()),
        request_hash: Set(new.idempotency_key.as_ref().map(|_| hash.clone())),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        posted_at: Set(None),
    }
    .insert(&txn)
    .await;
    let inserted = match inserted {
        Ok(row) => row,
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            // A concurrent request with the same key won: answer as a replay.
            drop(txn);
            let key = new.idempotency_key.as_deref().unwrap_or_default();
            return replayed(db, key, &hash)
                .await?
                .ok_or_else(|| Error::conflict("input.idempotencyKey", "key in use"));
        }
        Err(err) => return Err(err.into()),
    };
    insert_lines(&txn, inserted.id, &balanced).await?;
    let result = if new.post {
        post_in(&txn, inserted).await?
    } else {
        inserted
    };
    txn.commit().await.map_err(commit_error)?;
    Ok(result)
}

/// The entry made earlier with this key and the same body; `CONFLICT` for another body.
async fn replayed(db: &impl ConnectionTrait, key: &str, hash: &str) -> Result<Option<entry::Model>> {
    let Some(existing) = entry::Entity::find()
        .filter(entry::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if existing.request_hash.as_deref() == Some(hash) {
        Ok(Some(existing))
    } else {
        Err(Error::conflict(
            "input.idempotencyKey",
            "this idempotency key was used with a different request",
        ))
    }
}

/// A failure at commit is the database's balance check (or another constraint).
fn commit_error(err: sea_orm::DbErr) -> Error {
    let text = err.to_string();
    if str::contains(&text, "is not balanced") {
        Error::UnbalancedEntry("the database refused an unbalanced entry".into())
    } else {
        err.into()
    }
}

async fn lock_entry(db: &impl ConnectionTrait, id: Uuid) -> Result<entry::Model> {
    entry::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| Error::NotFound("no such journal entry".into()))
}

pub async fn post(db: &DatabaseConnection, id: Uuid) -> Result<entry::Model> {
    let txn = db.begin().await?;
    let current = lock_entry(&txn, id).await?;
    if current.status != EntryStatus::Draft {
        return Err(Error::conflict("id", "the entry is already posted"));
    }
    let posted = post_in(&txn, current).await?;
    txn.commit().await.map_err(commit_error)?;
    Ok(posted)
}

/// Posts a draft inside the caller's transaction: rules re-checked against the stored
/// lines, lock date, then the next number of its fiscal year.
async fn post_in(txn: &impl ConnectionTrait, draft: entry::Model) -> Result<entry::Model> {
    let stored = line::Entity::find()
        .filter(line::Column::EntryId.eq(draft.id))
        .order_by_asc(line::Column::LineNo)
        .all(txn)
        .await?;
    let raw: Vec<RawLine> = stored
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
    let company = load_company(txn).await?;
    check_lock_date(&company, draft.date)?;
    let fy = fiscal_year(draft.date, u32::try_from(company.fiscal_year_start_month).unwrap_or(1));
    let sequence = next_sequence(txn, fy).await?;
    let mut row: entry::ActiveModel = draft.into();
    let now = Utc::now();
    row.status = Set(EntryStatus::Posted);
    row.number = Set(Some(entry_number(fy, sequence)));
    row.fiscal_year = Set(Some(fy));
    row.sequence = Set(Some(sequence));
    row.posted_at = Set(Some(now.into()));
    row.updated_at = Set(now.into());
    Ok(row.update(txn).await?)
}

fn check_lock_date(company: &company::Model, date: NaiveDate) -> Result<()> {
    match company.lock_date {
        Some(lock) if date <= lock => Err(Error::PeriodLocked(format!(
            "the books are locked up to {lock}: an entry must be dated after it"
        ))),
        _ => Ok(()),
    }
}

/// The next number of a fiscal year. The row lock it takes is held to commit, so
/// concurrent posts take turns and a rolled-back post gives its number back: no gaps.
async fn next_sequence(txn: &impl ConnectionTrait, fiscal_year: i32) -> Result<i32> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"INSERT INTO journal_sequence (fiscal_year, last_number) VALUES ($1, 1)
               ON CONFLICT (fiscal_year) DO UPDATE SET last_number = journal_sequence.last_number + 1
               RETURNING last_number"#,
            [fiscal_year.into()],
        ))
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("numbering returned no row")))?;
    Ok(row.try_get("", "last_number")?)
}

#[derive(Debug, Clone, Default)]
pub struct EntryChanges {
    pub date: Option<NaiveDate>,
    pub description: Option<String>,
    pub reference: crate::ledger::company::Change<String>,
    pub lines: Option<Vec<RawLine>>,
}

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
    let reference = match changes.reference {
        crate::ledger::company::Change::Keep => current.reference.clone(),
        crate::ledger::company::Change::Clear => None,
        crate::ledger::company::Change::Set(r) => Some(r),
    };
    let (description, reference) = check_text(&description, reference.as_deref())?;
    if let Some(lines) = &changes.lines {
        let balanced = BalancedLines::new(lines, "input.lines")?;
        check_accounts(&txn, &balanced, "input.lines").await?;
        line::Entity::delete_many()
            .filter(line::Column::EntryId.eq(id))
            .exec(&txn)
            .await?;
        insert_lines(&txn, id, &balanced).await?;
    }
    let mut row: entry::ActiveModel = current.clone().into();
    row.date = Set(changes.date.unwrap_or(current.date));
    row.description = Set(description);
    row.reference = Set(reference);
    row.updated_at = Set(Utc::now().into());
    let updated = row.update(&txn).await?;
    txn.commit().await.map_err(commit_error)?;
    Ok(updated)
}

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
    let date = date.unwrap_or_else(|| Utc::now().date_naive());
    let description = description.unwrap_or_else(|| {
        format!(
            "Pembalikan {}: {}",
            original.number.clone().unwrap_or_default(),
            original.description
        )
    });
    let (description, _) = check_text(&description, None)?;
    let lines = line::Entity::find()
        .filter(line::Column::EntryId.eq(id))
        .order_by_asc(line::Column::LineNo)
        .all(&txn)
        .await?;
    let now = Utc::now();
    let mirror = entry::ActiveModel {
        id: Set(Uuid::new_v4()),
        number: Set(None),
        fiscal_year: Set(None),
        sequence: Set(None),
        date: Set(date),
        description: Set(description),
        reference: Set(original.number.clone()),
        status: Set(EntryStatus::Draft),
        reversal_of: Set(Some(id)),
        idempotency_key: Set(None),
        request_hash: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
        posted_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let swapped: Vec<line::ActiveModel> = lines
        .iter()
        .map(|l| line::ActiveModel {
            id: Set(Uuid::new_v4()),
            entry_id: Set(mirror.id),
            line_no: Set(l.line_no),
            account_id: Set(l.account_id),
            debit: Set(l.credit),
            credit: Set(l.debit),
            memo: Set(l.memo.clone()),
        })
        .collect();
    for chunk in swapped.chunks(1000) {
        line::Entity::insert_many(chunk.to_vec()).exec(&txn).await?;
    }
    let posted = post_in(&txn, mirror).await?;
    let mut marked: entry::ActiveModel = original.into();
    marked.status = Set(EntryStatus::Reversed);
    marked.updated_at = Set(now.into());
    marked.update(&txn).await?;
    txn.commit().await.map_err(commit_error)?;
    Ok(posted)
}

pub async fn by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<entry::Model>> {
    Ok(entry::Entity::find_by_id(id).one(db).await?)
}

/// Entries whose `reversal_of` is one of `ids`, by the entry they reverse.
pub async fn reversals_of(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, entry::Model>> {
    let rows = entry::Entity::find()
        .filter(entry::Column::ReversalOf.is_in(ids.to_vec()))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|e| e.reversal_of.map(|of| (of, e)))
        .collect())
}

pub async fn by_ids(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, entry::Model>> {
    let rows = entry::Entity::find()
        .filter(entry::Column::Id.is_in(ids.to_vec()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|e| (e.id, e)).collect())
}

/// Lines of many entries in one query, by entry, in line order.
pub async fn lines_of(db: &impl ConnectionTrait, entry_ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<line::Model>>> {
    let rows = line::Entity::find()
        .filter(line::Column::EntryId.is_in(entry_ids.to_vec()))
        .order_by_asc(line::Column::EntryId)
        .order_by_asc(line::Column::LineNo)
        .all(db)
        .await?;
    let mut by_entry: HashMap<Uuid, Vec<line::Model>> = HashMap::new();
    for l in rows {
        by_entry.entry(l.entry_id).or_default().push(l);
    }
    Ok(by_entry)
}

#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub status: Option<EntryStatus>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub account_id: Option<Uuid>,
    pub search: Option<String>,
}

/// Cursor of the journal order (date, created_at, id): opaque base64 text.
pub fn entry_cursor(e: &entry::Model) -> String {
    B64.encode(format!("{}|{}|{}", e.date, e.created_at.timestamp_micros(), e.id))
}

fn parse_entry_cursor(cursor: &str) -> Result<(NaiveDate, i64, Uuid)> {
    let bad = || Error::bad_input("after", "not a cursor of this list");
    let text = String::from_utf8(B64.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let date = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    let micros = parts.next().and_then(|m| m.parse().ok()).ok_or_else(bad)?;
    let id = parts.next().and_then(|i| Uuid::parse_str(i).ok()).ok_or_else(bad)?;
    Ok((date, micros, id))
}

/// A page of entries in journal order (date, then creation), `first` after `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &EntryFilter,
    first: u64,
    after: Option<&str>,
    total: Total,
) -> Result<Page<entry::Model>> {
    let mut condition = Condition::all();
    if let Some(status) = filter.status {
        condition = condition.add(entry::Column::Status.eq(status));
    }
    if let Some(from) = filter.from {
        condition = condition.add(entry::Column::Date.gte(from));
    }
    if let Some(to) = filter.to {
        condition = condition.add(entry::Column::Date.lte(to));
    }
    if let Some(account_id) = filter.account_id {
        condition = condition.add(
            entry::Column::Id.in_subquery(
                Query::select()
                    .column(line::Column::EntryId)
                    .from(line::Entity)
                    .and_where(Expr::col(line::Column::AccountId).eq(account_id))
                    .to_owned(),
            ),
        );
    }
    if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = crate::ledger::contains_pattern(search);
        condition = condition.add(
            Condition::any()
                .add(Expr::col(entry::Column::Description).ilike(pattern.clone()))
                .add(Expr::col(entry::Column::Reference).ilike(pattern.clone()))
                .add(Expr::col(entry::Column::Number).ilike(pattern)),
        );
    }
    let after = match after {
        Some(after) => {
            let (date, micros, id) = parse_entry_cursor(after)?;
            let created = chrono::DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| Error::bad_input("after", "bad cursor"))?;
            Some(
                Condition::all().add(
                    Expr::tuple([
                        Expr::col(entry::Column::Date),
                        Expr::col(entry::Column::CreatedAt),
                        Expr::col(entry::Column::Id),
                    ])
                    .gt(Expr::tuple([Expr::val(date), Expr::val(created), Expr::val(id)])),
                ),
            )
        }
        None => None,
    };
    let order = [entry::Column::Date, entry::Column::CreatedAt, entry::Column::Id];
    paging::fetch::<entry::Entity>(db, condition, &order, after, first, total).await
}

/// Sum of debits and credits of an entry's lines.
pub fn totals(lines: &[line::Model]) -> (Decimal, Decimal) {
    lines
        .iter()
        .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), l| (d + l.debit, c + l.credit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn fiscal_years_follow_the_start_month() {
        assert_eq!(fiscal_year(date(2026, 1, 1), 1), 2026);
        assert_eq!(fiscal_year(date(2026, 12, 31), 1), 2026);
        assert_eq!(fiscal_year(date(2026, 6, 30), 7), 2025);
        assert_eq!(fiscal_year(date(2026, 7, 1), 7), 2026);
        assert_eq!(entry_number(2026, 1), "JE/2026/000001");
        assert_eq!(entry_number(2026, 1234567), "JE/2026/1234567");
    }

    #[test]
    fn cursors_round_trip() {
        let now = Utc::now();
        let e = entry::Model {
            id: Uuid::new_v4(),
            number: None,
            fiscal_year: None,
            sequence: None,
            date: date(2026, 3, 1),
            description: "x".into(),
            reference: None,
            status: EntryStatus::Draft,
            reversal_of: None,
            idempotency_key: None,
            request_hash: None,
            created_at: now.into(),
            updated_at: now.into(),
            posted_at: None,
        };
        let (d, micros, id) = parse_entry_cursor(&entry_cursor(&e)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((d, micros, id), (e.date, now.timestamp_micros(), e.id));
        assert!(parse_entry_cursor("garbage").is_err());
    }
}
