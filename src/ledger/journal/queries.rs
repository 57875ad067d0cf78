//! Reading journal entries: by id, in batches (for request-scoped loading), their
//! lines, and the filtered listing in journal order.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::cursor::EntryCursor;
use crate::entities::tenant::journal_entry::{self as entry, EntryStatus};
use crate::entities::tenant::journal_line as line;
use crate::error::Result;
use crate::ledger::paging::{self, Page, Total};

pub async fn by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<entry::Model>> {
    Ok(entry::Entity::find_by_id(id).one(db).await?)
}

/// Entries by id, in one statement.
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<HashMap<Uuid, entry::Model>> {
    let rows = entry::Entity::find()
        .filter(entry::Column::Id.is_in(ids.to_vec()))
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|e| (e.id, e)).collect())
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

/// Sum of debits and credits of an entry's lines.
pub fn totals(lines: &[line::Model]) -> (Decimal, Decimal) {
    lines
        .iter()
        .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), l| (d + l.debit, c + l.credit))
}

/// What the listing keeps; every field left `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub status: Option<EntryStatus>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Entries with a line on this account.
    pub account_id: Option<Uuid>,
    /// In the description, reference or number (case-insensitive, literal).
    pub search: Option<String>,
}

impl EntryFilter {
    /// The filter as a condition on `journal_entry` (columns qualified where another
    /// table could share their name).
    pub(crate) fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(status) = self.status {
            condition = condition.add(entry::Column::Status.eq(status));
        }
        if let Some(from) = self.from {
            condition = condition.add(entry::Column::Date.gte(from));
        }
        if let Some(to) = self.to {
            condition = condition.add(entry::Column::Date.lte(to));
        }
        if let Some(account_id) = self.account_id {
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
        if let Some(search) = self.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let pattern = crate::ledger::contains_pattern(search);
            condition = condition.add(
                Condition::any()
                    .add(Expr::col(entry::Column::Description).ilike(pattern.clone()))
                    .add(Expr::col(entry::Column::Reference).ilike(pattern.clone()))
                    .add(Expr::col(entry::Column::Number).ilike(pattern)),
            );
        }
        condition
    }
}

/// A page of entries in journal order (date, then creation), `first` after the cursor
/// `after` (see [`super::entry_cursor`]).
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &EntryFilter,
    first: u64,
    after: Option<&str>,
    total: Total,
) -> Result<Page<entry::Model>> {
    let after = after.map(EntryCursor::parse).transpose()?.map(|cursor| cursor.after());
    let order = [entry::Column::Date, entry::Column::CreatedAt, entry::Column::Id];
    paging::fetch::<entry::Entity>(db, filter.condition(), &order, after, first, total).await
}

/// A line in journal order: the entry's date, creation time and id, then the line's number.
/// Unique, and the order of [`list`] with each entry's lines in line order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalLinePosition {
    pub date: NaiveDate,
    pub created_at: DateTime<FixedOffset>,
    pub entry_id: Uuid,
    pub line_no: i32,
}

/// One line of the journal with what an export shows of its entry.
#[derive(Debug, Clone)]
pub struct JournalLineRow {
    pub entry_id: Uuid,
    /// The entry's number (none for a draft).
    pub number: Option<String>,
    pub date: NaiveDate,
    pub created_at: DateTime<FixedOffset>,
    pub description: String,
    pub reference: Option<String>,
    pub line_no: i32,
    pub account_id: Uuid,
    pub debit: Decimal,
    pub credit: Decimal,
    pub memo: Option<String>,
}

impl JournalLineRow {
    pub fn position(&self) -> JournalLinePosition {
        JournalLinePosition {
            date: self.date,
            created_at: self.created_at,
            entry_id: self.entry_id,
            line_no: self.line_no,
        }
    }
}

/// Which entries' lines [`lines_in_journal_order`] reads: those of `filter`; with
/// `booked_only`, only entries that count in the balances (posted, reversed or not).
#[derive(Debug, Clone, Default)]
pub struct JournalLines {
    pub filter: EntryFilter,
    pub booked_only: bool,
}

/// At most `limit` lines of the matching entries after `after`, in journal order (the
/// order of [`list`], lines by number within an entry): one statement, walking the
/// entries' date index, so a caller reads any number of lines in bounded chunks.
pub async fn lines_in_journal_order(
    db: &impl ConnectionTrait,
    which: &JournalLines,
    after: Option<JournalLinePosition>,
    limit: u64,
) -> Result<Vec<JournalLineRow>> {
    use sea_orm::sea_query::{Alias, PostgresQueryBuilder};
    use sea_orm::{DbBackend, Statement};
    let mut condition = which.filter.condition();
    if which.booked_only {
        condition = condition.add(entry::Column::Status.ne(EntryStatus::Draft));
    }
    if let Some(p) = after {
        // Written as "the entry at or after the position's" (an index condition on
        // `journal_entry_date_idx`, so a chunk starts where the last ended instead of
        // filtering every earlier line) and "not a line already read".
        let entry_key = || {
            Expr::tuple([
                Expr::col((entry::Entity, entry::Column::Date)),
                Expr::col((entry::Entity, entry::Column::CreatedAt)),
                Expr::col((entry::Entity, entry::Column::Id)),
            ])
        };
        let position = || Expr::tuple([Expr::val(p.date), Expr::val(p.created_at), Expr::val(p.entry_id)]);
        condition = condition.add(entry_key().gte(position())).add(
            Condition::any()
                .add(entry_key().gt(position()))
                .add(Expr::col((line::Entity, line::Column::LineNo)).gt(p.line_no)),
        );
    }
    let mut query = Query::select();
    for (table, column) in [
        (Alias::new("journal_entry"), "id"),
        (Alias::new("journal_entry"), "number"),
        (Alias::new("journal_entry"), "date"),
        (Alias::new("journal_entry"), "created_at"),
        (Alias::new("journal_entry"), "description"),
        (Alias::new("journal_entry"), "reference"),
        (Alias::new("journal_line"), "line_no"),
        (Alias::new("journal_line"), "account_id"),
        (Alias::new("journal_line"), "debit"),
        (Alias::new("journal_line"), "credit"),
        (Alias::new("journal_line"), "memo"),
    ] {
        query.column((table, Alias::new(column)));
    }
    query
        .from(line::Entity)
        .inner_join(
            entry::Entity,
            Expr::col((entry::Entity, entry::Column::Id)).equals((line::Entity, line::Column::EntryId)),
        )
        .cond_where(condition)
        .order_by((entry::Entity, entry::Column::Date), sea_orm::Order::Asc)
        .order_by((entry::Entity, entry::Column::CreatedAt), sea_orm::Order::Asc)
        .order_by((entry::Entity, entry::Column::Id), sea_orm::Order::Asc)
        .order_by((line::Entity, line::Column::LineNo), sea_orm::Order::Asc)
        .limit(limit);
    let (sql, values) = query.build(PostgresQueryBuilder);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(JournalLineRow {
                entry_id: row.try_get("", "id")?,
                number: row.try_get("", "number")?,
                date: row.try_get("", "date")?,
                created_at: row.try_get("", "created_at")?,
                description: row.try_get("", "description")?,
                reference: row.try_get("", "reference")?,
                line_no: row.try_get("", "line_no")?,
                account_id: row.try_get("", "account_id")?,
                debit: row.try_get("", "debit")?,
                credit: row.try_get("", "credit")?,
                memo: row.try_get("", "memo")?,
            })
        })
        .collect()
}
