//! Reports over posted entries: trial balance, general ledger, and the reads behind the
//! financial statements (arranged by `ledger::statements`).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, IsolationLevel, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use crate::entities::tenant::account;
use crate::error::{Error, Result};
use crate::ledger::accounts::all;
use crate::ledger::balances::{self, AccountTotals, Totals};
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
    if from.is_some_and(|from| from > as_of) {
        return Err(Error::bad_input("from", "from must not be after asOf"));
    }
    let txn = snapshot(db).await?;
    let (opening, moved) = match from {
        Some(from) => {
            let opening = match from.pred_opt() {
                Some(day_before) => balances::between(&txn, None, day_before).await?,
                None => AccountTotals::new(),
            };
            (opening, Some(balances::between(&txn, Some(from), as_of).await?))
        }
        None => (balances::between(&txn, None, as_of).await?, None),
    };
    let chart = all(&txn).await?;
    txn.commit().await?;
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
    let company = crate::ledger::company::company(&txn).await?;
    let as_of = as_of.unwrap_or_else(|| crate::ledger::company::today_in(&company.timezone));
    let start_month = u32::try_from(company.fiscal_year_start_month).unwrap_or(1);
    let mut columns = Vec::new();
    for date in statements::balance_sheet_dates(as_of, compare_to)? {
        let year_start = statements::fiscal_year_start(date, start_month);
        let before_year = match year_start.pred_opt() {
            Some(day_before) => balances::between(&txn, None, day_before).await?,
            None => AccountTotals::new(),
        };
        let in_year = balances::between(&txn, Some(year_start), date).await?;
        columns.push(BalanceSheetColumn {
            as_of: date,
            before_year,
            in_year,
        });
    }
    let chart = all(&txn).await?;
    txn.commit().await?;
    Ok(statements::balance_sheet(
        &chart,
        Language::from_code(&company.language),
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
    let periods = statements::income_statement_periods(from, to, compare_to, periodicity)?;
    let txn = snapshot(db).await?;
    let company = crate::ledger::company::company(&txn).await?;
    let mut columns = Vec::with_capacity(periods.len());
    for (from, to) in periods {
        columns.push(PeriodColumn {
            from,
            to,
            totals: balances::between(&txn, Some(from), to).await?,
        });
    }
    let chart = all(&txn).await?;
    txn.commit().await?;
    Ok(statements::income_statement(
        &chart,
        Language::from_code(&company.language),
        &columns,
    ))
}

/// One line of the general ledger with the balance after it (in the account's normal direction).
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub entry_id: Uuid,
    pub date: NaiveDate,
    pub debit: Decimal,
    pub credit: Decimal,
    pub running_balance: Decimal,
    pub memo: Option<String>,
}

/// Posted lines of an account between `from` and `to` in journal order, skipping
/// `offset` and returning at most `limit`, with the running balance (which starts
/// from the balance before `from`). Also returns the count of all lines in range.
pub async fn general_ledger(
    db: &impl ConnectionTrait,
    account: &account::Model,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<LedgerRow>, u64)> {
    let opening: Decimal = match from {
        Some(from) => {
            let row = db
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    r#"SELECT coalesce(sum(l.debit - l.credit), 0) AS net
                         FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id
                        WHERE l.account_id = $1 AND e.status <> 'DRAFT' AND e.date < $2"#,
                    [account.id.into(), from.into()],
                ))
                .await?;
            row.map(|r| r.try_get::<Decimal>("", "net"))
                .transpose()?
                .unwrap_or_default()
        }
        None => Decimal::ZERO,
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"SELECT * FROM (
                 SELECT l.entry_id, e.date, l.debit, l.credit, l.memo,
                        sum(l.debit - l.credit) OVER (ORDER BY e.date, e.created_at, e.id, l.line_no) AS net,
                        count(*) OVER () AS total,
                        row_number() OVER (ORDER BY e.date, e.created_at, e.id, l.line_no) AS position
                   FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id
                  WHERE l.account_id = $1 AND e.status <> 'DRAFT'
                    AND ($2::date IS NULL OR e.date >= $2::date)
                    AND ($3::date IS NULL OR e.date <= $3::date)
               ) lines
               WHERE position > $4 ORDER BY position LIMIT $5"#,
            [
                account.id.into(),
                from.into(),
                to.into(),
                (offset as i64).into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    let mut total = 0u64;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        total = row.try_get::<i64>("", "total")? as u64;
        let net: Decimal = row.try_get("", "net")?;
        out.push(LedgerRow {
            entry_id: row.try_get("", "entry_id")?,
            date: row.try_get("", "date")?,
            debit: row.try_get("", "debit")?,
            credit: row.try_get("", "credit")?,
            running_balance: account.normal_balance.signed(opening + net),
            memo: row.try_get("", "memo")?,
        });
    }
    if out.is_empty() && offset > 0 {
        // Past the end: still report the size of the range.
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                r#"SELECT count(*) AS total FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id
                    WHERE l.account_id = $1 AND e.status <> 'DRAFT'
                      AND ($2::date IS NULL OR e.date >= $2::date) AND ($3::date IS NULL OR e.date <= $3::date)"#,
                [account.id.into(), from.into(), to.into()],
            ))
            .await?;
        total = row
            .map(|r| r.try_get::<i64>("", "total"))
            .transpose()?
            .unwrap_or_default() as u64;
    }
    Ok((out, total))
}
