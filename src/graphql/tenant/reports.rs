//! `trialBalance` and `generalLedger`.

use async_graphql::connection::{ConnectionNameType, EdgeNameType};
use async_graphql::OutputType;
use async_graphql::{Context, Object, SimpleObject, ID};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rust_decimal::Decimal;

use super::accounts::Account;
use super::journal::JournalEntry;
use super::{parse_id, tenant_db};
use crate::error::Error;
use crate::graphql::pagination::{connection, page_size, CountedConnection};
use crate::graphql::scalars::{Date, DecimalText};
use crate::ledger::paging::Page;
use crate::ledger::reports;

#[derive(SimpleObject)]
pub struct TrialBalance {
    pub as_of: Date,
    /// The start of the movements, when asked for.
    pub from: Option<Date>,
    pub rows: Vec<TrialBalanceRow>,
    pub total_debit: DecimalText,
    pub total_credit: DecimalText,
}

/// An account's balance as of the date; with `from`, also where it came from (null
/// without). Balances are signed in the account's normal direction: closingBalance is
/// openingBalance + movementDebit - movementCredit for a debit-normal account,
/// openingBalance + movementCredit - movementDebit for a credit-normal one.
#[derive(SimpleObject)]
pub struct TrialBalanceRow {
    pub account: Account,
    pub debit: DecimalText,
    pub credit: DecimalText,
    /// The balance the day before `from`, in the account's normal direction.
    pub opening_balance: Option<DecimalText>,
    pub movement_debit: Option<DecimalText>,
    pub movement_credit: Option<DecimalText>,
    /// The balance as of the date, in the account's normal direction.
    pub closing_balance: Option<DecimalText>,
}

pub struct LedgerLine(reports::LedgerRow);

#[Object]
impl LedgerLine {
    async fn entry(&self, ctx: &Context<'_>) -> async_graphql::Result<JournalEntry> {
        let db = tenant_db(ctx)?;
        db.cache
            .entry(&db.conn, self.0.entry_id)
            .await?
            .map(JournalEntry)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("ledger line of a missing entry")).into())
    }

    async fn date(&self) -> Date {
        Date(self.0.date)
    }

    async fn debit(&self) -> DecimalText {
        self.0.debit.into()
    }

    async fn credit(&self) -> DecimalText {
        self.0.credit.into()
    }

    /// The account's balance after this line, in its normal direction.
    async fn running_balance(&self) -> DecimalText {
        self.0.running_balance.into()
    }

    async fn memo(&self) -> Option<&str> {
        self.0.memo.as_deref()
    }
}

/// Named `LedgerConnection` / `LedgerEdge`, as API.md has it.
pub struct LedgerConnectionName;

impl ConnectionNameType for LedgerConnectionName {
    fn type_name<T: OutputType>() -> String {
        "LedgerConnection".into()
    }
}

pub struct LedgerEdgeName;

impl EdgeNameType for LedgerEdgeName {
    fn type_name<T: OutputType>() -> String {
        "LedgerEdge".into()
    }
}

pub type LedgerConnection = CountedConnection<LedgerLine, LedgerConnectionName, LedgerEdgeName>;

fn offset_cursor(position: u64) -> String {
    B64.encode(format!("ledger:{position}"))
}

fn parse_offset_cursor(cursor: &str) -> Result<u64, Error> {
    B64.decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("ledger:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| Error::bad_input("after", "not a cursor of this ledger"))
}

#[derive(Default)]
pub struct ReportsQuery;

#[Object]
impl ReportsQuery {
    /// Balances of postable accounts from posted entries up to `asOf` (default: today in the
    /// company's time zone). With `from` (on or before `asOf`), each row also has its
    /// opening balance (the day before `from`), its movements from `from` to `asOf` and
    /// its closing balance, and accounts that moved but end at zero are rows too.
    /// Costs 200 toward the complexity limit, plus its selection counted as an unpaged
    /// list: `rows` has one item per account.
    #[graphql(complexity = "200 + crate::graphql::pagination::list_cost(child_complexity)")]
    async fn trial_balance(
        &self,
        ctx: &Context<'_>,
        as_of: Option<Date>,
        from: Option<Date>,
    ) -> async_graphql::Result<TrialBalance> {
        let db = tenant_db(ctx)?;
        let as_of = match as_of {
            Some(date) => date.0,
            None => crate::ledger::company::today(&db.conn).await?,
        };
        let rows = reports::trial_balance(&db.conn, as_of, from.as_ref().map(|d| d.0)).await?;
        let (debit, credit) = rows
            .iter()
            .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), r| (d + r.debit, c + r.credit));
        Ok(TrialBalance {
            as_of: Date(as_of),
            from,
            rows: rows
                .into_iter()
                .map(|r| TrialBalanceRow {
                    account: Account(r.account),
                    debit: r.debit.into(),
                    credit: r.credit.into(),
                    opening_balance: r.movement.map(|m| m.opening.into()),
                    movement_debit: r.movement.map(|m| m.debit.into()),
                    movement_credit: r.movement.map(|m| m.credit.into()),
                    closing_balance: r.movement.map(|m| m.closing.into()),
                })
                .collect(),
            total_debit: debit.into(),
            total_credit: credit.into(),
        })
    }

    /// Posted lines of an account in journal order, with a running balance.
    #[graphql(complexity = "crate::graphql::pagination::page_cost(first, 100, child_complexity)")]
    async fn general_ledger(
        &self,
        ctx: &Context<'_>,
        account_id: ID,
        from: Option<Date>,
        to: Option<Date>,
        #[graphql(default = 100)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<LedgerConnection> {
        let db = tenant_db(ctx)?;
        let id = parse_id(&account_id, "accountId")?;
        let chart = db.cache.chart(&db.conn).await?;
        let account = chart
            .by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::NotFound("no such account".into()))?;
        let limit = page_size(ctx, first, 100)?;
        let offset = after.as_deref().map(parse_offset_cursor).transpose()?.unwrap_or(0);
        let (rows, total_count) =
            reports::general_ledger(&db.conn, &account, from.map(|d| d.0), to.map(|d| d.0), offset, limit).await?;
        let entry_ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.entry_id).collect();
        db.cache.prefetch_entries(&db.conn, &entry_ids).await?;
        // The ledger pages by position (its running balance needs every earlier line):
        // each row carries its position, which is its cursor.
        let page = Page {
            has_next: offset + (rows.len() as u64) < total_count,
            rows: (offset + 1..).zip(rows).collect(),
            total: Some(total_count),
        };
        Ok(connection(
            page,
            offset > 0,
            |(position, _)| offset_cursor(*position),
            |(_, row)| LedgerLine(row),
        ))
    }
}
