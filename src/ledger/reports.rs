//! Reports over posted entries: trial balance, general ledger, and the reads behind the
//! financial statements (arranged by `ledger::statements`).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, IsolationLevel, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

use crate::entities::tenant::account;
use crate::error::{Error, Result};
use crate::ledger::accounts::all;
use crate::ledger::balances::{self, AccountTotals, Totals, FAR_FUTURE};
use crate::ledger::paging::Total;
use crate::ledger::statements::{self, BalanceSheetColumn, FinancialStatement, Language, PeriodColumn, Periodicity};

/// One account's line in the trial balance: its net balance on the debit or credit side.
#[derive(Debug, Clone)]
pub struct TrialBalanceRow {
    pub account: account::Model,
    pub debit: Decimal,
    pub credit: Decimal,
    /// With a `from` date: where the balance came from.
    pub movement: Option<Movement>,
}

/// An account's balance the day before `from`, its posted debits and credits from `from`
/// to the trial balance's date, and the balance they lead to. Balances are signed in the
/// account's normal direction (like `Account.balance`): closing = opening + the
/// movement (debit - credit) signed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement {
    pub opening: Decimal,
    pub debit: Decimal,
    pub credit: Decimal,
    pub closing: Decimal,
}

/// A read-only snapshot: a report's several reads of the totals see the same postings
/// (a comparative statement or a trial balance with movements never mixes two moments).
pub async fn snapshot(db: &DatabaseConnection) -> Result<DatabaseTransaction> {
    Ok(db
        .begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
        .await?)
}

/// Accounts with a non-zero balance as of a date, by code. The debit and credit columns
/// add up to the same total when the books balance. With `from` (on or before `as_of`,
/// else `BAD_USER_INPUT`), each row also has its [`Movement`], and accounts whose balance
/// is zero but that moved in the range are rows too. Two reads of the totals at most,
/// in one snapshot.
pub async fn trial_balance(
    db: &DatabaseConnection,
    as_of: NaiveDate,
    from: Option<NaiveDate>,
) -> Result<Vec<TrialBalanceRow>> {
    check_trial_balance_range(as_of, from)?;
    let txn = snapshot(db).await?;
    let rows = trial_balance_in(&txn, as_of, from).await?;
    txn.commit().await?;
    Ok(rows)
}

/// `from` must not be after `as_of` (`BAD_USER_INPUT` on `from`).
pub fn check_trial_balance_range(as_of: NaiveDate, from: Option<NaiveDate>) -> Result<()> {
    if from.is_some_and(|from| from > as_of) {
        return Err(Error::bad_input("from", "from must not be after asOf"));
    }
    Ok(())
}

/// [`trial_balance`] inside a snapshot the caller holds (an export reads everything in one).
pub async fn trial_balance_in(
    txn: &impl ConnectionTrait,
    as_of: NaiveDate,
    from: Option<NaiveDate>,
) -> Result<Vec<TrialBalanceRow>> {
    check_trial_balance_range(as_of, from)?;
    let (opening, moved) = match from {
        Some(from) => {
            let opening = match from.pred_opt() {
                Some(day_before) => balances::between(txn, None, day_before).await?,
                None => AccountTotals::new(),
            };
            (opening, Some(balances::between(txn, Some(from), as_of).await?))
        }
        None => (balances::between(txn, None, as_of).await?, None),
    };
    let chart = all(txn).await?;
    let mut rows = Vec::new();
    for account in chart {
        let opening_net = opening.get(&account.id).map(Totals::net_debit).unwrap_or_default();
        let range = moved.as_ref().map(|m| m.get(&account.id).copied().unwrap_or_default());
        let net = opening_net + range.map(|t| t.net_debit()).unwrap_or_default();
        let has_moved = range.is_some_and(|t| !t.debit.is_zero() || !t.credit.is_zero());
        if net.is_zero() && !has_moved {
            continue;
        }
        let (debit, credit) = if net > Decimal::ZERO {
            (net, Decimal::ZERO)
        } else {
            (Decimal::ZERO, -net)
        };
        let side = account.normal_balance;
        let movement = range.map(|t| Movement {
            opening: side.signed(opening_net),
            debit: t.debit,
            credit: t.credit,
            closing: side.signed(net),
        });
        rows.push(TrialBalanceRow {
            account,
            debit,
            credit,
            movement,
        });
    }
    Ok(rows)
}

/// The statement of financial position as of `as_of` (default: today in the company's
/// time zone), then each comparison date (at most `statements::MAX_COMPARE`). Per
/// column, two reads of the totals split at the start of its fiscal year (together the
/// same rows as one read up to the date), all in one snapshot with the chart.
pub async fn balance_sheet(
    db: &DatabaseConnection,
    as_of: Option<NaiveDate>,
    compare_to: &[NaiveDate],
) -> Result<FinancialStatement> {
    let txn = snapshot(db).await?;
    let statement = balance_sheet_in(&txn, as_of, compare_to, None).await?;
    txn.commit().await?;
    Ok(statement)
}

/// [`balance_sheet`] inside a snapshot the caller holds, in `language` (default: the
/// company's).
pub async fn balance_sheet_in(
    txn: &impl ConnectionTrait,
    as_of: Option<NaiveDate>,
    compare_to: &[NaiveDate],
    language: Option<Language>,
) -> Result<FinancialStatement> {
    let company = crate::ledger::company::company(txn).await?;
    let as_of = as_of.unwrap_or_else(|| crate::ledger::company::today_in(&company.timezone));
    let start_month = u32::try_from(company.fiscal_year_start_month).unwrap_or(1);
    let mut columns = Vec::new();
    for date in statements::balance_sheet_dates(as_of, compare_to)? {
        let year_start = statements::fiscal_year_start(date, start_month);
        let before_year = match year_start.pred_opt() {
            Some(day_before) => balances::between(txn, None, day_before).await?,
            None => AccountTotals::new(),
        };
        let in_year = balances::between(txn, Some(year_start), date).await?;
        columns.push(BalanceSheetColumn {
            as_of: date,
            before_year,
            in_year,
        });
    }
    let chart = all(txn).await?;
    Ok(statements::balance_sheet(
        &chart,
        language.unwrap_or_else(|| Language::from_code(&company.language)),
        &columns,
    ))
}

/// The income statement of `from..=to` (cut by `periodicity`), then each comparison
/// period: one read of the totals per column, in one snapshot with the chart. The
/// columns are checked (count, order) before anything is read.
pub async fn income_statement(
    db: &DatabaseConnection,
    from: NaiveDate,
    to: NaiveDate,
    compare_to: &[(NaiveDate, NaiveDate)],
    periodicity: Option<Periodicity>,
) -> Result<FinancialStatement> {
    // The columns are checked before a connection is taken.
    statements::income_statement_periods(from, to, compare_to, periodicity)?;
    let txn = snapshot(db).await?;
    let statement = income_statement_in(&txn, from, to, compare_to, periodicity, None).await?;
    txn.commit().await?;
    Ok(statement)
}

/// [`income_statement`] inside a snapshot the caller holds, in `language` (default: the
/// company's).
pub async fn income_statement_in(
    txn: &impl ConnectionTrait,
    from: NaiveDate,
    to: NaiveDate,
    compare_to: &[(NaiveDate, NaiveDate)],
    periodicity: Option<Periodicity>,
    language: Option<Language>,
) -> Result<FinancialStatement> {
    let periods = statements::income_statement_periods(from, to, compare_to, periodicity)?;
    let company = crate::ledger::company::company(txn).await?;
    let mut columns = Vec::with_capacity(periods.len());
    for (from, to) in periods {
        columns.push(PeriodColumn {
            from,
            to,
            totals: balances::between(txn, Some(from), to).await?,
        });
    }
    let chart = all(txn).await?;
    Ok(statements::income_statement(
        &chart,
        language.unwrap_or_else(|| Language::from_code(&company.language)),
        &columns,
    ))
}

/// The earliest date a ledger range starts at when it has no `from` (PostgreSQL's `date`
/// does not reach chrono's `NaiveDate::MIN`).
const EARLIEST: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// One line of the general ledger with the balance after it (in the account's normal direction).
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub entry_id: Uuid,
    /// The entry's number, description and reference (an export shows them beside the line).
    pub entry_number: Option<String>,
    pub description: String,
    pub reference: Option<String>,
    pub date: NaiveDate,
    pub debit: Decimal,
    pub credit: Decimal,
    pub running_balance: Decimal,
    pub memo: Option<String>,
    /// The line's place in ledger order: its cursor.
    pub position: LedgerPosition,
}

/// A line's place in ledger order: the entry's date, then its posting order within the
/// fiscal year (`sequence`, so a day's entries read in the order they were posted), the
/// entry id and the line number. Unique among posted lines, and a post made later
/// never lands before a position already read unless it is dated earlier than it, so
/// pages continued from a position neither repeat nor skip a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LedgerPosition {
    pub date: NaiveDate,
    pub sequence: i32,
    pub entry_id: Uuid,
    pub line_no: i32,
}

impl LedgerPosition {
    /// The opaque cursor of this position.
    pub fn cursor(&self) -> String {
        B64.encode(format!(
            "gl1|{}|{}|{}|{}",
            self.date, self.sequence, self.entry_id, self.line_no
        ))
    }

    /// Reads a cursor given as `after`; `BAD_USER_INPUT` when it is not one of a ledger.
    pub fn parse(cursor: &str) -> Result<Self> {
        let bad = || Error::bad_input("after", "not a cursor of this ledger");
        let text = B64
            .decode(cursor)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(bad)?;
        let mut parts = text.split('|');
        if parts.next() != Some("gl1") {
            return Err(bad());
        }
        let position = LedgerPosition {
            date: parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?,
            sequence: parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?,
            entry_id: parts.next().and_then(|p| Uuid::parse_str(p).ok()).ok_or_else(bad)?,
            line_no: parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(position)
    }
}

/// A page of an account's ledger.
#[derive(Debug, Clone)]
pub struct LedgerPage {
    pub rows: Vec<LedgerRow>,
    pub has_next: bool,
    /// Posted lines in `from..=to`, when asked for.
    pub total: Option<u64>,
    /// The account's balance the day before `from` (zero without `from`), in its normal
    /// direction.
    pub opening_balance: Decimal,
}

/// Posted lines of an account dated `from..=to` (either end open) in ledger order
/// ([`LedgerPosition`]), at most `limit` after the position `after`, each with the
/// account's balance after it. Costs one index range of the account's lines (index
/// `journal_line_account_date_idx`) and, for the balances, the kept totals of the days
/// before the page (`ledger::balances`) plus the lines of the page's first day before
/// the cursor: never a pass over the account's whole history.
pub async fn general_ledger(
    db: &impl ConnectionTrait,
    account: &account::Model,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    after: Option<LedgerPosition>,
    limit: u64,
    total: Total,
) -> Result<LedgerPage> {
    let opening = net_debit_before(db, account.id, from).await?;
    // A page continued after a position inside the range starts from the balance
    // after that position; a position before `from` is the range's start.
    let after = after.filter(|p| from.is_none_or(|from| p.date >= from));
    let running = match after {
        Some(p) => {
            net_debit_before(db, account.id, Some(p.date)).await? + net_of_day_through(db, account.id, p).await?
        }
        None => opening,
    };
    let range = LedgerRange { from, to };
    let (rows, has_next) = ledger_lines(db, account, range, after, running, limit).await?;
    let total = match total {
        Total::NotWanted => None,
        Total::Wanted => {
            let (lower, upper) = range.bounds();
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    r#"SELECT count(*) AS total FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id
                        WHERE l.account_id = $1 AND e.status <> 'DRAFT'
                          AND l.entry_date >= $2 AND l.entry_date <= $3"#,
                    [account.id.into(), lower.into(), upper.into()],
                ))
                .await?;
            Some(
                row.map(|r| r.try_get::<i64>("", "total"))
                    .transpose()?
                    .unwrap_or_default()
                    .max(0) as u64,
            )
        }
    };
    Ok(LedgerPage {
        rows,
        has_next,
        total,
        opening_balance: account.normal_balance.signed(opening),
    })
}

/// The dates of a ledger: `from..=to`, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerRange {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl LedgerRange {
    /// Concrete bounds, so that every plan is one index range of the account's lines.
    fn bounds(&self) -> (NaiveDate, NaiveDate) {
        (self.from.unwrap_or(EARLIEST), self.to.unwrap_or(FAR_FUTURE))
    }
}

/// The account's debits minus credits of posted lines dated before `day` (zero without
/// a day: the beginning), from the kept totals.
pub async fn net_debit_before(db: &impl ConnectionTrait, account_id: Uuid, day: Option<NaiveDate>) -> Result<Decimal> {
    match day.and_then(|day| day.pred_opt()) {
        Some(previous) => Ok(balances::between(db, None, previous)
            .await?
            .get(&account_id)
            .map(Totals::net_debit)
            .unwrap_or_default()),
        None => Ok(Decimal::ZERO),
    }
}

/// One statement of the general ledger: at most `limit` posted lines of `account` in
/// `range` after the position `after` (from the range's start without one), in ledger
/// order, each with its running balance continuing from `running` (the net debit before
/// the first line). Also whether more lines follow. [`general_ledger`] pages with it; an
/// export walks the whole range with it, carrying the running balance from chunk to chunk.
pub async fn ledger_lines(
    db: &impl ConnectionTrait,
    account: &account::Model,
    range: LedgerRange,
    after: Option<LedgerPosition>,
    mut running: Decimal,
    limit: u64,
) -> Result<(Vec<LedgerRow>, bool)> {
    let (lower, upper) = range.bounds();
    let start = after.unwrap_or(LedgerPosition {
        date: lower,
        sequence: i32::MIN,
        entry_id: Uuid::nil(),
        line_no: i32::MIN,
    });
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"SELECT l.entry_id, l.entry_date, e.sequence, l.line_no, l.debit, l.credit, l.memo,
                      e.number, e.description, e.reference
                 FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id
                WHERE l.account_id = $1 AND e.status <> 'DRAFT'
                  AND l.entry_date >= $2 AND l.entry_date <= $3
                  AND (l.entry_date, e.sequence, l.entry_id, l.line_no) > ($2, $4, $5, $6)
                ORDER BY l.entry_date, e.sequence, l.entry_id, l.line_no
                LIMIT $7"#,
            [
                account.id.into(),
                start.date.max(lower).into(),
                upper.into(),
                start.sequence.into(),
                start.entry_id.into(),
                start.line_no.into(),
                (i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1).into(),
            ],
        ))
        .await?;
    let has_next = rows.len() as u64 > limit;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.into_iter().take(usize::try_from(limit).unwrap_or(usize::MAX)) {
        let (debit, credit): (Decimal, Decimal) = (row.try_get("", "debit")?, row.try_get("", "credit")?);
        running += debit - credit;
        let position = LedgerPosition {
            date: row.try_get("", "entry_date")?,
            sequence: row.try_get::<Option<i32>>("", "sequence")?.unwrap_or_default(),
            entry_id: row.try_get("", "entry_id")?,
            line_no: row.try_get("", "line_no")?,
        };
        out.push(LedgerRow {
            entry_id: position.entry_id,
            entry_number: row.try_get("", "number")?,
            description: row.try_get("", "description")?,
            reference: row.try_get("", "reference")?,
            date: position.date,
            debit,
            credit,
            running_balance: account.normal_balance.signed(running),
            memo: row.try_get("", "memo")?,
            position,
        });
    }
    Ok((out, has_next))
}

/// Debits minus credits of the account's posted lines dated on `through.date`, up to
/// and including the line at `through`.
async fn net_of_day_through(db: &impl ConnectionTrait, account_id: Uuid, through: LedgerPosition) -> Result<Decimal> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"SELECT coalesce(sum(l.debit - l.credit), 0) AS net
                 FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id
                WHERE l.account_id = $1 AND e.status <> 'DRAFT' AND l.entry_date = $2
                  AND (e.sequence, l.entry_id, l.line_no) <= ($3, $4, $5)"#,
            [
                account_id.into(),
                through.date.into(),
                through.sequence.into(),
                through.entry_id.into(),
                through.line_no.into(),
            ],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<Decimal>("", "net"))
        .transpose()?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_cursors_round_trip_and_order_like_the_ledger() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_default();
        let p = LedgerPosition {
            date: day(2),
            sequence: 17,
            entry_id: Uuid::new_v4(),
            line_no: 3,
        };
        assert_eq!(LedgerPosition::parse(&p.cursor()).ok(), Some(p));
        let later_same_day = LedgerPosition {
            sequence: 18,
            line_no: 1,
            ..p
        };
        let next_day = LedgerPosition {
            date: day(3),
            sequence: 1,
            ..p
        };
        assert!(p < later_same_day && later_same_day < next_day);
        for bad in [
            "garbage".to_owned(),
            B64.encode("ledger:5"),
            B64.encode("gl1|2026-03-02|x|y|z"),
            B64.encode(format!("gl1|2026-03-02|1|{}|1|extra", p.entry_id)),
        ] {
            let err = LedgerPosition::parse(&bad).err();
            assert!(
                matches!(&err, Some(Error::BadUserInput { field: Some(f), .. }) if f == "after"),
                "{bad}: {err:?}"
            );
        }
    }
}
