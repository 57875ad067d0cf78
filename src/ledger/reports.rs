//! Reports over posted entries: trial balance and general ledger.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::entities::tenant::account;
use crate::error::Result;
use crate::ledger::accounts::{all, posted_totals};

/// One account's line in the trial balance: its net balance on the debit or credit side.
#[derive(Debug, Clone)]
pub struct TrialBalanceRow {
    pub account: account::Model,
    pub debit: Decimal,
    pub credit: Decimal,
}

/// Postable accounts with a non-zero balance as of a date, by code. The debit and credit
/// columns add up to the same total when the books balance.
pub async fn trial_balance(db: &impl ConnectionTrait, as_of: Option<NaiveDate>) -> Result<Vec<TrialBalanceRow>> {
    let totals = posted_totals(db, as_of).await?;
    let mut rows = Vec::new();
    for account in all(db).await? {
        let Some((debit, credit)) = totals.get(&account.id).copied() else {
            continue;
        };
        let net = debit - credit;
        if net.is_zero() {
            continue;
        }
        let (debit, credit) = if net > Decimal::ZERO {
            (net, Decimal::ZERO)
        } else {
            (Decimal::ZERO, -net)
        };
        rows.push(TrialBalanceRow { account, debit, credit });
    }
    Ok(rows)
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
