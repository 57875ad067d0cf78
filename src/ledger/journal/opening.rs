//! Opening balances (`setOpeningBalances`): a company that comes from other books brings
//! its balances as one posted OPENING entry. What does not balance goes to a balancing
//! account: the one named, else the chart's OPENING_BALANCE_EQUITY account.
//!
//! Setting them again replaces the opening entry (it is reversed on its own date, and
//! the reversal is audited) as long as no other entry is posted from the start of its
//! fiscal year on (or of the new date's, if earlier); an opening reversed by hand still
//! counts. After that the books have moved on from the opening, and a correction is an
//! ordinary entry (`CONFLICT`).
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
use super::numbering::fiscal_year;
use super::validation::{check_accounts_named, resolve_account_codes, Archived};
use crate::entities::tenant::account::{self, AccountRole};
use crate::entities::tenant::company;
use crate::entities::tenant::journal_entry::{self as entry, EntryKind, EntryStatus};
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::audit::{self, action};
use crate::ledger::fiscal_years::bounds;
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
    let given = balances(&raw)?;
    let (mut fields, mut lines): (Vec<String>, Vec<Line>) = given
        .into_iter()
        .map(|(i, line)| (format!("input.lines.{i}.accountId"), line))
        .unzip();
    let named_balancing = input
        .balancing_account_id
        .as_deref()
        .map(|id| {
            Uuid::parse_str(id.trim()).map_err(|_| Error::bad_input("input.balancingAccountId", "not an account id"))
        })
        .transpose()?;
    let txn = db.begin().await?;
    let company = company::Entity::find()
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("tenant database has no company row")))?;
    let english = company.language == "en";
    let (debits, credits) = lines
        .iter()
        .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), l| (d + l.debit, c + l.credit));
    let difference = (debits - credits).abs();
    if difference >= Decimal::from(MAX_AMOUNT_EXCLUSIVE) {
        return Err(Error::bad_input(
            "input.lines",
            "the balances differ by more than one line can hold (18 integer digits)",
        ));
    }
    let balancing = match named_balancing {
        Some(id) => Some(id),
        None if !difference.is_zero() => Some(opening_balance_equity(&txn).await?),
        None => None,
    };
    if let Some(account_id) = balancing.filter(|_| !difference.is_zero()) {
        let (debit, credit) = if debits > credits {
            (Decimal::ZERO, difference)
        } else {
            (difference, Decimal::ZERO)
        };
        let memo = if english {
            "Opening balance difference"
        } else {
            "Selisih saldo awal"
        };
        lines.push(Line {
            account_id,
            debit,
            credit,
            memo: Some(memo.into()),
        });
        fields.push("input.balancingAccountId".into());
    }
    check_accounts_named(&txn, &lines, &fields, Archived::Refused).await?;
    if let Some(id) = named_balancing.filter(|_| difference.is_zero()) {
        // Named but not needed: still an account the difference could have gone to.
        let line = Line {
            account_id: id,
            debit: Decimal::ONE,
            credit: Decimal::ZERO,
            memo: None,
        };
        check_accounts_named(&txn, &[line], &["input.balancingAccountId".into()], Archived::Refused).await?;
    }
    replace_earlier(&txn, &company, input.date, actor).await?;
    let description = if english { "Opening balances" } else { "Saldo awal" };
    let posted = post_made_in(&txn, EntryKind::Opening, input.date, description, &lines, actor).await?;
    let balanced_by = if difference.is_zero() {
        String::new()
    } else {
        format!(", difference {} balanced", format_amount(difference))
    };
    audit::record(
        &txn,
        actor,
        action::OPENING_BALANCES_SET,
        Some(posted.id),
        format!(
            "{} dated {}: {} balances, debits {}, credits {}{balanced_by}",
            posted.number.as_deref().unwrap_or_default(),
            posted.date,
            fields.len() - usize::from(!difference.is_zero()),
            format_amount(debits),
            format_amount(credits)
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(posted)
}

/// Amounts of one line stay below 10^18 (18 integer digits, as the database checks).
const MAX_AMOUNT_EXCLUSIVE: i64 = 1_000_000_000_000_000_000;

/// The lines of the balances given, with their index in the input: each checked as a
/// journal line (one side above zero), zero lines skipped, every account at most once.
fn balances(raw: &[RawLine]) -> Result<Vec<(usize, Line)>> {
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
        lines.push((i, checked));
    }
    if lines.is_empty() {
        return Err(Error::bad_input("input.lines", "no balance other than zero"));
    }
    Ok(lines)
}

/// The postable OPENING_BALANCE_EQUITY account of the chart, which takes the difference
/// when no account is named.
async fn opening_balance_equity(db: &impl ConnectionTrait) -> Result<Uuid> {
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

/// When opening balances were set before (posted, or reversed since by hand), a new set
/// replaces them only while no other entry is posted from the start of the earliest
/// fiscal year involved (the earlier openings' and the new date's) onwards: `CONFLICT`
/// otherwise. The openings still posted are reversed on their own dates.
async fn replace_earlier(
    txn: &impl ConnectionTrait,
    company: &company::Model,
    date: NaiveDate,
    actor: &Actor,
) -> Result<()> {
    let earlier = entry::Entity::find()
        .filter(entry::Column::Kind.eq(EntryKind::Opening))
        .filter(entry::Column::Status.ne(EntryStatus::Draft))
        .order_by_asc(entry::Column::Id)
        .lock_exclusive()
        .all(txn)
        .await?;
    let Some(first_date) = earlier.iter().map(|e| e.date).min() else {
        return Ok(());
    };
    let start_month = company.fiscal_year_start_month as u32;
    let year_start = |d: NaiveDate| bounds(fiscal_year(d, start_month), start_month).map(|(start, _)| start);
    let since = year_start(first_date.min(date))?;
    if let Some(other) = posted_besides_openings(txn, since).await? {
        return Err(Error::conflict(
            "input",
            format!(
                "opening balances were set before, and {other} is posted since {since}: \
                 correct them with an ordinary entry"
            ),
        ));
    }
    let english = company.language == "en";
    for opening in earlier.into_iter().filter(|e| e.status == EntryStatus::Posted) {
        let number = opening.number.clone().unwrap_or_default();
        let date = opening.date;
        let description = if english {
            format!("Reversal of opening balances {number} (replaced)")
        } else {
            format!("Pembalikan saldo awal {number} (diganti)")
        };
        let id = opening.id;
        let reversal = reverse_in(txn, opening, date, Some(description), actor).await?;
        audit::record(
            txn,
            actor,
            action::ENTRY_REVERSE,
            Some(id),
            format!(
                "{number} reversed by {} dated {date}: opening balances replaced",
                reversal.number.as_deref().unwrap_or_default()
            ),
        )
        .await?;
    }
    Ok(())
}

/// The number of a posted entry dated on or after `since` other than opening entries and
/// their reversals, if there is one.
async fn posted_besides_openings(db: &impl ConnectionTrait, since: NaiveDate) -> Result<Option<String>> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT e.number FROM journal_entry e
             WHERE e.date >= $1
               AND e.status <> 'DRAFT'
               AND e.kind <> 'OPENING'
               AND NOT (e.kind = 'REVERSAL' AND EXISTS (
                   SELECT 1 FROM journal_entry o WHERE o.id = e.reversal_of AND o.kind = 'OPENING'))
             LIMIT 1",
            [since.into()],
        ))
        .await?;
    match row {
        Some(row) => Ok(Some(row.try_get::<Option<String>>("", "number")?.unwrap_or_default())),
        None => Ok(None),
    }
}
