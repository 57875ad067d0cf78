//! Fiscal years (API.md "Financial statements, fiscal years, audit"): listing, closing
//! a year into retained earnings, reopening the latest closed year, and the hard lock
//! they set.
//!
//! A year is labelled by the calendar year in which it starts and runs twelve months
//! from the company's `fiscalYearStartMonth` (frozen once anything is posted, so the
//! bounds of a year never move under its postings). A year without a `fiscal_year` row
//! is OPEN.
//!
//! Closing year L, in one transaction that first takes the company row `FOR UPDATE`
//! (postings in flight hold it shared: they commit first and are counted; later ones
//! wait, then find the year closed):
//! - every year from the first posted entry's up to L - 1 is CLOSED (years close in
//!   order, empty ones too: they close with nothing to close), L is not, and L has ended
//!   (its last day is before today in the company's time zone);
//! - ONE posted entry of kind CLOSING, dated L's last day, brings every revenue and
//!   expense account's balance at that day (earlier closings included) to zero against
//!   the one postable account whose role is RETAINED_EARNINGS (none or several:
//!   `CONFLICT`). A year whose revenue and expense accounts are all zero already closes
//!   without an entry;
//! - the database function `nusa_close_fiscal_year` checks the result (order, the entry,
//!   zero balances), writes the year CLOSED and appends the audit event.
//!
//! From then on nothing is posted on or before L's last day (`FISCAL_YEAR_CLOSED`, which
//! wins over `PERIOD_LOCKED`; reversals dated there too): `Company.hardLockDate`.
//! Reopening (the latest closed year only, with a reason) marks it OPEN through
//! `nusa_reopen_fiscal_year` and reverses its closing entry on the entry's own date.
//!
//! The closing entry and its reversal are dated the year's last day, which a company's
//! lock date may cover (books are often locked before they are closed): for those two
//! postings only, the lock date is lifted inside the transaction and put back before
//! it commits (nobody else sees it: the company row is held `FOR UPDATE`).

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, TransactionTrait,
};
use uuid::Uuid;

use crate::entities::tenant::account::{self, AccountRole, AccountType};
use crate::entities::tenant::fiscal_year::{self as row, FiscalYearStatus};
use crate::entities::tenant::journal_entry::{self as entry, EntryKind};
use crate::entities::tenant::{company, journal_line};
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::balances::{self, AccountTotals};
use crate::ledger::company::today_in;
use crate::ledger::idempotent_request::{self, Remembered};
use crate::ledger::journal;
use crate::ledger::posting::Line;

/// Most years `fiscalYears` lists (the latest ones): a tenant with an entry dated in
/// 1900 does not get a list of a hundred and twenty years.
pub const MAX_LISTED: i32 = 100;

/// The idempotent operation name of `closeFiscalYear`.
const CLOSE: &str = "closeFiscalYear";

/// A fiscal year as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiscalYear {
    pub label: i32,
    pub start: NaiveDate,
    /// The year's last day.
    pub end: NaiveDate,
    pub status: FiscalYearStatus,
    /// The closing entry of a CLOSED year (none when there was nothing to close).
    pub closing_entry: Option<entry::Model>,
}

/// A year label as given (`"2025"`): a calendar year from 1 to 9998.
pub fn parse_label(text: &str) -> Result<i32> {
    let text = text.trim();
    let label = (!text.is_empty() && text.len() <= 4 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse::<i32>().ok())
        .flatten()
        .filter(|label| (1..=9998).contains(label));
    label.ok_or_else(|| {
        Error::bad_input(
            "label",
            "a fiscal year is named by the calendar year it starts in, e.g. \"2025\"",
        )
    })
}

/// The first and last day of year `label` starting in month `start_month` (1..12).
pub fn bounds(label: i32, start_month: u32) -> Result<(NaiveDate, NaiveDate)> {
    let start = NaiveDate::from_ymd_opt(label, start_month, 1);
    let end = start
        .and_then(|s| s.checked_add_months(chrono::Months::new(12)))
        .and_then(|next| next.pred_opt());
    match (start, end) {
        (Some(start), Some(end)) => Ok((start, end)),
        _ => Err(Error::bad_input("label", "no such fiscal year")),
    }
}

/// The net income of a period from its totals: revenue and expense movement, credit
/// positive, closing entries (and their reversals) left out.
pub fn net_income<'a>(totals: &AccountTotals, accounts: impl IntoIterator<Item = &'a account::Model>) -> Decimal {
    accounts
        .into_iter()
        .filter(|a| matches!(a.account_type, AccountType::Revenue | AccountType::Expense))
        .filter_map(|a| totals.get(&a.id))
        .map(|t| -t.net_debit_before_closing())
        .sum()
}

/// The end of the latest CLOSED year: nothing is posted on or before it.
pub async fn hard_lock_date(db: &impl ConnectionTrait) -> Result<Option<NaiveDate>> {
    Ok(latest_closed(db).await?.map(|y| y.end_date))
}

async fn latest_closed(db: &impl ConnectionTrait) -> Result<Option<row::Model>> {
    Ok(row::Entity::find()
        .filter(row::Column::Status.eq(FiscalYearStatus::Closed))
        .order_by_desc(row::Column::Label)
        .one(db)
        .await?)
}

/// `FISCAL_YEAR_CLOSED` when `date` is on or before the end of the latest closed year.
pub async fn check_open(db: &impl ConnectionTrait, date: NaiveDate) -> Result<()> {
    match latest_closed(db).await? {
        Some(closed) if date <= closed.end_date => Err(Error::FiscalYearClosed(format!(
            "fiscal year {} and the years before it are closed: nothing can be posted on or before {}",
            closed.label, closed.end_date
        ))),
        _ => Ok(()),
    }
}

/// The fiscal years of the posted entries, and the current one (in the company's time
/// zone): from the first posted entry's year to the later of the current year and the
/// last posted entry's, in order, at most the latest [`MAX_LISTED`].
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<FiscalYear>> {
    let company = crate::ledger::company::company(db).await?;
    let start_month = u32::try_from(company.fiscal_year_start_month).unwrap_or(1);
    let current = journal::fiscal_year(today_in(&company.timezone), start_month);
    let (first, last) = posted_years(db).await?;
    let to = last.map_or(current, |last| last.max(current));
    let from = first
        .map_or(current, |first| first.min(current))
        .max(to - (MAX_LISTED - 1));
    let rows: HashMap<i32, row::Model> = row::Entity::find()
        .filter(row::Column::Label.between(from, to))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.label, r))
        .collect();
    let closing_ids: Vec<Uuid> = rows
        .values()
        .filter(|r| r.status == FiscalYearStatus::Closed)
        .filter_map(|r| r.closing_entry_id)
        .collect();
    let mut closing = journal::by_ids(db, &closing_ids).await?;
    (from..=to)
        .map(|label| {
            let (start, end) = bounds(label, start_month)?;
            Ok(match rows.get(&label) {
                Some(r) => FiscalYear {
                    label,
                    start: r.start_date,
                    end: r.end_date,
                    status: r.status,
                    closing_entry: closing_of(r).and_then(|id| closing.remove(&id)),
                },
                None => FiscalYear {
                    label,
                    start,
                    end,
                    status: FiscalYearStatus::Open,
                    closing_entry: None,
                },
            })
        })
        .collect()
}

/// One fiscal year as it is now.
pub async fn year(db: &impl ConnectionTrait, label: i32) -> Result<FiscalYear> {
    let company = crate::ledger::company::company(db).await?;
    view(db, label, &company).await
}

async fn view(db: &impl ConnectionTrait, label: i32, company: &company::Model) -> Result<FiscalYear> {
    let (start, end) = bounds(label, u32::try_from(company.fiscal_year_start_month).unwrap_or(1))?;
    let Some(r) = row::Entity::find_by_id(label).one(db).await? else {
        return Ok(FiscalYear {
            label,
            start,
            end,
            status: FiscalYearStatus::Open,
            closing_entry: None,
        });
    };
    let closing_entry = match closing_of(&r) {
        Some(id) => journal::by_id(db, id).await?,
        None => None,
    };
    Ok(FiscalYear {
        label,
        start: r.start_date,
        end: r.end_date,
        status: r.status,
        closing_entry,
    })
}

/// The closing entry a year shows: its latest one while it is CLOSED.
fn closing_of(r: &row::Model) -> Option<Uuid> {
    r.closing_entry_id.filter(|_| r.status == FiscalYearStatus::Closed)
}

/// The fiscal years of the first and the last posted (or reversed) entry.
async fn posted_years(db: &impl ConnectionTrait) -> Result<(Option<i32>, Option<i32>)> {
    let found = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT min(fiscal_year) AS first, max(fiscal_year) AS last FROM journal_entry WHERE fiscal_year IS NOT NULL",
        ))
        .await?;
    Ok(match found {
        Some(r) => (r.try_get("", "first")?, r.try_get("", "last")?),
        None => (None, None),
    })
}

/// What `closeFiscalYear` gives: the year, and for a dry run the lines of the closing
/// entry it would post (that entry is not in the database).
#[derive(Debug)]
pub struct Closed {
    pub year: FiscalYear,
    pub preview_lines: Option<Vec<journal_line::Model>>,
}

/// Closes the fiscal year `label` (see the module's documentation). A dry run does all
/// of it in a transaction that is rolled back, so it answers exactly what closing would
/// (the entry, its number, or the refusal), and writes nothing; it ignores the key.
/// With `idempotency_key`, a retry of the same request returns the year as it is now.
pub async fn close(
    db: &DatabaseConnection,
    label: &str,
    dry_run: bool,
    idempotency_key: Option<&str>,
    actor: &Actor,
) -> Result<Closed> {
    let label = parse_label(label)?;
    let key = match idempotency_key {
        Some(key) => {
            idempotent_request::check_key(key, "idempotencyKey")?;
            Some(key).filter(|_| !dry_run)
        }
        None => None,
    };
    let hash = idempotent_request::request_hash(CLOSE, &[&label.to_string()]);
    if let Some(key) = key {
        if idempotent_request::replayed(db, key, CLOSE, &hash, "idempotencyKey")
            .await?
            .is_some()
        {
            return replayed(db, label).await;
        }
    }
    let txn = db.begin().await?;
    if let Some(key) = key {
        if idempotent_request::remember(&txn, key, CLOSE, &hash, None).await? == Remembered::Taken {
            // A concurrent request with this key committed first: answer as its retry.
            drop(txn);
            return match idempotent_request::replayed(db, key, CLOSE, &hash, "idempotencyKey").await? {
                Some(_) => replayed(db, label).await,
                None => Err(Error::conflict("idempotencyKey", "this idempotency key is in use")),
            };
        }
    }
    let company = close_in(&txn, label, actor).await?;
    let year = view(&txn, label, &company).await?;
    if dry_run {
        let preview_lines = match &year.closing_entry {
            Some(e) => journal::lines_of(&txn, &[e.id])
                .await?
                .remove(&e.id)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        txn.rollback().await?;
        return Ok(Closed {
            year,
            preview_lines: Some(preview_lines),
        });
    }
    txn.commit().await?;
    Ok(Closed {
        year,
        preview_lines: None,
    })
}

/// The answer to a retried close: the year as it is now.
async fn replayed(db: &DatabaseConnection, label: i32) -> Result<Closed> {
    Ok(Closed {
        year: year(db, label).await?,
        preview_lines: None,
    })
}

/// The work of [`close`] inside its transaction; the company row it locked.
async fn close_in(txn: &impl ConnectionTrait, label: i32, actor: &Actor) -> Result<company::Model> {
    let company = lock_company(txn).await?;
    let (_, end) = bounds(label, u32::try_from(company.fiscal_year_start_month).unwrap_or(1))?;
    let rows = row::Entity::find()
        .filter(row::Column::Label.lte(label))
        .all(txn)
        .await?;
    let closed = |l: i32| {
        rows.iter()
            .any(|r| r.label == l && r.status == FiscalYearStatus::Closed)
    };
    if closed(label) {
        return Err(Error::conflict(
            "label",
            format!("fiscal year {label} is already closed"),
        ));
    }
    let first = match posted_years(txn).await? {
        (Some(first), _) if first <= label => first,
        _ => {
            return Err(Error::conflict(
                "label",
                format!("nothing is posted in or before fiscal year {label}: there is nothing to close"),
            ))
        }
    };
    if let Some(open) = (first..label).find(|l| !closed(*l)) {
        return Err(Error::conflict(
            "label",
            format!("fiscal years close in order: close {open} first"),
        ));
    }
    if end >= today_in(&company.timezone) {
        return Err(Error::conflict(
            "label",
            format!("fiscal year {label} ends on {end}: it can be closed once it has ended"),
        ));
    }
    let lines = closing_lines(txn, end).await?;
    let closing_entry = if lines.is_empty() {
        None
    } else {
        let description = match company.language.as_str() {
            "en" => format!("Closing of fiscal year {label}"),
            _ => format!("Penutupan tahun buku {label}"),
        };
        let lifted = lift_lock_date(txn, &company, end).await?;
        let posted = journal::post_made_in(txn, EntryKind::Closing, end, &description, &lines, actor).await?;
        restore_lock_date(txn, lifted).await?;
        Some(posted.id)
    };
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT nusa_close_fiscal_year($1, $2, $3, $4)",
        [
            label.into(),
            closing_entry.into(),
            actor.token_id.into(),
            actor.name.clone().into(),
        ],
    ))
    .await?;
    Ok(company)
}

/// The lines that bring every revenue and expense account's balance at `end` to zero,
/// by account code, and the retained earnings line that balances them; none when they
/// are all zero already.
async fn closing_lines(txn: &impl ConnectionTrait, end: NaiveDate) -> Result<Vec<Line>> {
    let accounts = account::Entity::find()
        .filter(account::Column::AccountType.is_in([AccountType::Revenue, AccountType::Expense]))
        .order_by_asc(account::Column::Code)
        .all(txn)
        .await?;
    let totals = balances::as_of(txn, Some(end)).await?;
    let mut lines = Vec::new();
    let mut net_debit = Decimal::ZERO;
    for a in accounts {
        let balance = totals.get(&a.id).map(|t| t.net_debit()).unwrap_or_default();
        if balance.is_zero() {
            continue;
        }
        if a.is_archived {
            return Err(Error::conflict(
                "label",
                format!(
                    "account {} {} is archived and has a balance at {end}: unarchive it to close the year",
                    a.code, a.name
                ),
            ));
        }
        net_debit += balance;
        lines.push(side(a.id, -balance));
    }
    if lines.is_empty() {
        return Ok(lines);
    }
    let retained = retained_earnings(txn).await?;
    if !net_debit.is_zero() {
        // Profit (revenue's credits outweigh expenses' debits) is credited to it.
        lines.push(side(retained.id, net_debit));
    }
    Ok(lines)
}

/// A line of `amount` signed as a net debit: positive debits, negative credits.
fn side(account_id: Uuid, net_debit: Decimal) -> Line {
    let (debit, credit) = if net_debit.is_sign_positive() {
        (net_debit, Decimal::ZERO)
    } else {
        (Decimal::ZERO, -net_debit)
    };
    Line {
        account_id,
        debit,
        credit,
        memo: None,
    }
}

/// The one postable, active account with the role RETAINED_EARNINGS.
async fn retained_earnings(txn: &impl ConnectionTrait) -> Result<account::Model> {
    let mut found = account::Entity::find()
        .filter(account::Column::Role.eq(AccountRole::RetainedEarnings))
        .filter(account::Column::IsPostable.eq(true))
        .filter(account::Column::IsArchived.eq(false))
        .order_by_asc(account::Column::Code)
        .all(txn)
        .await?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::conflict(
            "label",
            "no active postable account has the role RETAINED_EARNINGS: give one equity account that role \
             to close a year into it",
        )),
        _ => Err(Error::conflict(
            "label",
            format!(
                "accounts {} all have the role RETAINED_EARNINGS: keep it on one account to close a year into it",
                found.iter().map(|a| a.code.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// Reopens the latest closed fiscal year: marked OPEN with the reason (database function
/// `nusa_reopen_fiscal_year`, which appends the audit event), its closing entry reversed
/// on its own date. `reason` has 1 to 500 characters.
pub async fn reopen(db: &DatabaseConnection, label: &str, reason: &str, actor: &Actor) -> Result<FiscalYear> {
    let label = parse_label(label)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::bad_input("reason", "a reason has 1 to 500 characters"));
    }
    let txn = db.begin().await?;
    let company = lock_company(&txn).await?;
    let closed_row = latest_closed(&txn).await?;
    match closed_row {
        Some(latest) if latest.label == label => {}
        Some(latest) if latest.label > label => {
            return Err(Error::conflict(
                "label",
                format!("only the latest closed fiscal year ({}) can be reopened", latest.label),
            ))
        }
        _ => return Err(Error::conflict("label", format!("fiscal year {label} is not closed"))),
    }
    let found = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT nusa_reopen_fiscal_year($1, $2, $3, $4) AS closing",
            [
                label.into(),
                reason.to_owned().into(),
                actor.token_id.into(),
                actor.name.clone().into(),
            ],
        ))
        .await?;
    let closing: Option<Uuid> = match found {
        Some(r) => r.try_get("", "closing")?,
        None => None,
    };
    if let Some(id) = closing {
        let original = entry::Entity::find_by_id(id)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("the closing entry of {label} is missing")))?;
        let description = match company.language.as_str() {
            "en" => format!("Reopening of fiscal year {label}"),
            _ => format!("Pembukaan kembali tahun buku {label}"),
        };
        let lifted = lift_lock_date(&txn, &company, original.date).await?;
        let date = original.date;
        journal::reverse_in(&txn, original, date, Some(description), actor).await?;
        restore_lock_date(&txn, lifted).await?;
    }
    let year = view(&txn, label, &company).await?;
    txn.commit().await?;
    Ok(year)
}

/// The company row, locked until the transaction ends: postings in flight (which hold
/// it shared) are waited for, later ones wait for this transaction.
async fn lock_company(txn: &impl ConnectionTrait) -> Result<company::Model> {
    company::Entity::find()
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("tenant database has no company row")))
}

/// The lock date to put back, when it covers `date` and was cleared for one posting.
#[derive(Debug, Clone, Copy)]
struct Lifted(Option<NaiveDate>);

async fn lift_lock_date(txn: &impl ConnectionTrait, company: &company::Model, date: NaiveDate) -> Result<Lifted> {
    match company.lock_date {
        Some(lock) if date <= lock => {
            set_lock_date(txn, None).await?;
            Ok(Lifted(Some(lock)))
        }
        _ => Ok(Lifted(None)),
    }
}

async fn restore_lock_date(txn: &impl ConnectionTrait, lifted: Lifted) -> Result<()> {
    match lifted.0 {
        Some(lock) => set_lock_date(txn, Some(lock)).await,
        None => Ok(()),
    }
}

async fn set_lock_date(txn: &impl ConnectionTrait, lock: Option<NaiveDate>) -> Result<()> {
    company::Entity::update_many()
        .col_expr(company::Column::LockDate, Expr::value(lock))
        .exec(txn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::balances::Totals;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    #[test]
    fn labels_are_calendar_years() {
        assert_eq!(parse_label(" 2025 ").ok(), Some(2025));
        for bad in ["", "25x", "2025.0", "-2025", "0", "9999", "12345", "+202"] {
            assert!(
                matches!(parse_label(bad), Err(Error::BadUserInput { field: Some(ref f), .. }) if f == "label"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_year_is_twelve_months_from_the_start_month() {
        assert_eq!(bounds(2025, 1).ok(), Some((d(2025, 1, 1), d(2025, 12, 31))));
        assert_eq!(bounds(2025, 7).ok(), Some((d(2025, 7, 1), d(2026, 6, 30))));
        assert_eq!(
            bounds(2023, 3).ok(),
            Some((d(2023, 3, 1), d(2024, 2, 29))),
            "a leap February"
        );
        assert_eq!(bounds(9998, 12).ok(), Some((d(9998, 12, 1), d(9999, 11, 30))));
        assert!(bounds(2025, 13).is_err());
        // The bounds agree with the numbering's fiscal year of a date.
        for month in 1..=12 {
            let (start, end) = bounds(2025, month).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(journal::fiscal_year(start, month), 2025);
            assert_eq!(journal::fiscal_year(end, month), 2025);
            assert_eq!(journal::fiscal_year(end.succ_opt().unwrap_or(end), month), 2026);
        }
    }

    #[test]
    fn net_income_is_revenue_less_expense_without_closing_entries() {
        let account = |account_type| account::Model {
            id: Uuid::new_v4(),
            code: "x".into(),
            name: "x".into(),
            account_type,
            normal_balance: account_type.usual_normal_balance(),
            parent_id: None,
            is_postable: true,
            is_archived: false,
            description: None,
            role: None,
            created_at: chrono::Utc::now().into(),
            updated_at: chrono::Utc::now().into(),
        };
        let (sales, wages, cash) = (
            account(AccountType::Revenue),
            account(AccountType::Expense),
            account(AccountType::Asset),
        );
        let money = |n: i64| Decimal::new(n, 2);
        let totals: AccountTotals = [
            // 1,000.00 of sales, then closed (a closing debit of 1,000.00).
            (
                sales.id,
                Totals {
                    debit: money(100_000),
                    credit: money(100_000),
                    closing_debit: money(100_000),
                    closing_credit: Decimal::ZERO,
                },
            ),
            (
                wages.id,
                Totals {
                    debit: money(40_000),
                    credit: Decimal::ZERO,
                    closing_debit: Decimal::ZERO,
                    closing_credit: Decimal::ZERO,
                },
            ),
            (
                cash.id,
                Totals {
                    debit: money(100_000),
                    credit: money(40_000),
                    closing_debit: Decimal::ZERO,
                    closing_credit: Decimal::ZERO,
                },
            ),
        ]
        .into_iter()
        .collect();
        assert_eq!(net_income(&totals, [&sales, &wages, &cash]), money(60_000));
    }

    #[test]
    fn closing_lines_take_the_other_side() {
        let id = Uuid::new_v4();
        let credit = side(id, Decimal::new(-5, 0));
        assert_eq!((credit.debit, credit.credit), (Decimal::ZERO, Decimal::new(5, 0)));
        let debit = side(id, Decimal::new(7, 0));
        assert_eq!((debit.debit, debit.credit), (Decimal::new(7, 0), Decimal::ZERO));
    }
}
