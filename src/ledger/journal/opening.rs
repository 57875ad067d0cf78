//! Opening balances (`setOpeningBalances`): a company that comes from other books brings
//! its balances as one posted OPENING entry. What does not balance goes to a balancing
//! account: the one named, else the chart's OPENING_BALANCE_EQUITY account.
//!
//! Setting them again replaces the opening entry (it is reversed on its own date, and
//! the reversal is audited) as long as nothing else has been posted in its fiscal year;
//! after that the books have moved on from the opening, and a correction is an ordinary
//! entry (`CONFLICT`).
//!
//! The company row is locked (`FOR UPDATE`) for the whole operation: postings hold it
//! shared until they commit, so none can slip in between the check that nothing else was
//! posted and the replacement, and two calls take turns.

use std::collections::HashSet;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, TransactionTrait,
};
use uuid::Uuid;

use super::commands::{post_made_in, reverse_in};
use super::validation::resolve_account_codes;
use crate::entities::tenant::account::{self, AccountRole};
use crate::entities::tenant::company;
use crate::entities::tenant::journal_entry::{self as entry, EntryKind, EntryStatus};
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::audit::{self, action};
use crate::ledger::money::{format_amount, parse_amount};
use crate::ledger::posting::{check_line, Line, RawLine, MAX_LINES};

/// Opening balances as a client gives them.
#[derive(Debug, Clone)]
pub struct OpeningBalances {
    pub date: NaiveDate,
    /// One balance per account (by id or code), on its debit or its credit side; a line
    /// with neither is skipped (a zero balance in a spreadsheet).
    pub lines: Vec<RawLine>,
    /// Where the difference goes; the OPENING_BALANCE_EQUITY account when absent.
    pub balancing_account_id: Option<String>,
}

/// Posts the opening entry, replacing an earlier one while that is allowed (module doc).
pub async fn set_opening_balances(
    db: &DatabaseConnection,
    input: OpeningBalances,
    actor: &Actor,
) -> Result<entry::Model> {
    if input.lines.len() >= MAX_LINES {
        return Err(Error::bad_input(
            "input.lines",
            format!("at most {} balances", MAX_LINES - 1),
        ));
    }
    let mut raw = input.lines;
    resolve_account_codes(db, &mut [("input.lines".to_owned(), &mut raw)]).await?;
    let mut lines = balances(&raw)?;
    let txn = db.begin().await?;
    let company = company::Entity::find()
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("tenant database has no company row")))?;
    let (debits, credits) = lines
        .iter()
        .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), l| (d + l.debit, c + l.credit));
    let english = company.language == "en";
    if debits != credits {
        let balancing = balancing_account(&txn, input.balancing_account_id.as_deref()).await?;
        let (debit, credit) = if debits > credits {
            (Decimal::ZERO, debits - credits)
        } else {
            (credits - debits, Decimal::ZERO)
        };
        lines.push(Line {
            account_id: balancing,
            debit,
            credit,
            memo: Some(
                if english {
                    "Opening balance difference"
                } else {
                    "Selisih saldo awal"
                }
                .into(),
            ),
        });
    }
    replace_earlier(&txn, actor).await?;
    let description = if english { "Opening balances" } else { "Saldo awal" };
    let posted = post_made_in(&txn, EntryKind::Opening, input.date, description, &lines, actor).await?;
    audit::record(
        &txn,
        actor,
        action::OPENING_BALANCES_SET,
        Some(posted.id),
        format!(
            "{} dated {}: {} accounts, debits {}, credits {} before balancing",
            posted.number.as_deref().unwrap_or_default(),
            posted.date,
            raw.len(),
            format_amount(debits),
            format_amount(credits)
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(posted)
}

/// The lines of the balances given: each checked as a journal line (one side above
/// zero), zero lines skipped, every account at most once.
fn balances(raw: &[RawLine]) -> Result<Vec<Line>> {
    let zero = |amount: &str| parse_amount(amount.trim()).is_ok_and(|a| a.is_zero());
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for (i, line) in raw.iter().enumerate() {
        if zero(&line.debit) && zero(&line.credit) {
            continue;
        }
        let checked = check_line(line, &format!("input.lines.{i}"))?;
        if !seen.insert(checked.account_id) {
            return Err(Error::bad_input(
                format!("input.lines.{i}"),
                "an account has one opening balance: it appears twice",
            ));
        }
        lines.push(checked);
    }
    if lines.is_empty() {
        return Err(Error::bad_input("input.lines", "no balance other than zero"));
    }
    Ok(lines)
}

/// The account the difference goes to: the one named, else the postable
/// OPENING_BALANCE_EQUITY account of the chart (its rules are checked at posting).
async fn balancing_account(db: &impl ConnectionTrait, named: Option<&str>) -> Result<Uuid> {
    if let Some(id) = named {
        return Uuid::parse_str(id.trim())
            .map_err(|_| Error::bad_input("input.balancingAccountId", "not an account id"));
    }
    account::Entity::find()
        .filter(account::Column::Role.eq(AccountRole::OpeningBalanceEquity))
        .filter(account::Column::IsPostable.eq(true))
        .filter(account::Column::IsArchived.eq(false))
        .order_by_asc(account::Column::Code)
        .one(db)
        .await?
        .map(|a| a.id)
        .ok_or_else(|| {
            Error::bad_input(
                "input.balancingAccountId",
                "the balances differ and the chart has no OPENING_BALANCE_EQUITY account: name the account \
                 that takes the difference",
            )
        })
}

/// Reverses the opening entries in force (posted, not reversed) on their own dates, or
/// refuses when another entry has been posted in one of their fiscal years.
async fn replace_earlier(txn: &impl ConnectionTrait, actor: &Actor) -> Result<()> {
    let earlier = entry::Entity::find()
        .filter(entry::Column::Kind.eq(EntryKind::Opening))
        .filter(entry::Column::Status.eq(EntryStatus::Posted))
        .order_by_asc(entry::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await?;
    for opening in earlier {
        let year = opening.fiscal_year.unwrap_or_default();
        if posted_besides_openings(txn, year).await? {
            return Err(Error::conflict(
                "input",
                format!(
                    "other entries are posted in fiscal year {year} since the opening balances \
                     ({}): correct them with an ordinary entry",
                    opening.number.as_deref().unwrap_or_default()
                ),
            ));
        }
        let number = opening.number.clone().unwrap_or_default();
        let date = opening.date;
        let reversal = reverse_in(
            txn,
            opening.clone(),
            date,
            Some(format!("Pembalikan saldo awal {number} (diganti)")),
            actor,
        )
        .await?;
        audit::record(
            txn,
            actor,
            action::ENTRY_REVERSE,
            Some(opening.id),
            format!(
                "{number} reversed by {} dated {date}: opening balances replaced",
                reversal.number.as_deref().unwrap_or_default()
            ),
        )
        .await?;
    }
    Ok(())
}

/// Whether fiscal year `year` holds a posted entry other than opening entries and their
/// reversals.
async fn posted_besides_openings(db: &impl ConnectionTrait, year: i32) -> Result<bool> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT EXISTS (
                 SELECT 1 FROM journal_entry e
                 WHERE e.fiscal_year = $1
                   AND e.status <> 'DRAFT'
                   AND e.kind <> 'OPENING'
                   AND NOT (e.kind = 'REVERSAL' AND EXISTS (
                       SELECT 1 FROM journal_entry o WHERE o.id = e.reversal_of AND o.kind = 'OPENING'))
             ) AS found",
            [year.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "found")?,
        None => false,
    })
}
