//! `trialBalance` and `generalLedger`.

use async_graphql::connection::{Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields};
use async_graphql::OutputType;
use async_graphql::{Context, Object, SimpleObject, ID};
use rust_decimal::Decimal;

use super::accounts::Account;
use super::journal::JournalEntry;
use super::{parse_id, tenant_db};
use crate::error::Error;
use crate::graphql::pagination::{page_size, total_wanted};
use crate::graphql::scalars::{Date, DecimalText};
use crate::ledger::reports::{self, LedgerPosition};

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

/// The ledger connection's own fields beside the edges.
#[derive(SimpleObject)]
pub struct LedgerFields {
    /// Posted lines of the account in the range, across all pages.
    pub total_count: u64,
    /// The account's balance the day before `from` (0 without `from`), in its normal direction.
    pub opening_balance: DecimalText,
}

pub type LedgerConnection =
    Connection<String, LedgerLine, LedgerFields, EmptyFields, LedgerConnectionName, LedgerEdgeName>;

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

    /// Posted lines of an account dated `from..to` in ledger order (date, then the order
    /// entries were posted in, entry, line), with the balance after each line. Pages
    /// continue from a position (keyset cursor), so a line posted between two pages
    /// never repeats or skips one.
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
        let position = after.as_deref().map(LedgerPosition::parse).transpose()?;
        let page = reports::general_ledger(
            &db.conn,
            &account,
            from.map(|d| d.0),
            to.map(|d| d.0),
            position,
            limit,
            total_wanted(ctx),
        )
        .await?;
        let entry_ids: Vec<uuid::Uuid> = page.rows.iter().map(|r| r.entry_id).collect();
        db.cache.prefetch_entries(&db.conn, &entry_ids).await?;
        let fields = LedgerFields {
            total_count: page.total.unwrap_or_default(),
            opening_balance: page.opening_balance.into(),
        };
        let mut connection = Connection::with_additional_fields(position.is_some(), page.has_next, fields);
        connection.edges = page
            .rows
            .into_iter()
            .map(|row| Edge::new(row.position.cursor(), LedgerLine(row)))
            .collect();
        Ok(connection)
    }
}
