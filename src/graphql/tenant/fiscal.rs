//! `fiscalYears`, `closeFiscalYear`, `reopenFiscalYear` (see `ledger::fiscal_years`).

use async_graphql::{Context, Object};

use super::journal::JournalEntry;
use super::{actor, tenant_db};
use crate::entities::tenant::fiscal_year::FiscalYearStatus;
use crate::graphql::scalars::{Date, DecimalText};
use crate::ledger::balances;
use crate::ledger::fiscal_years::{self as service};

/// A fiscal year: twelve months from the company's start month, named by the calendar
/// year in which it starts.
pub struct FiscalYear(pub service::FiscalYear);

#[Object]
impl FiscalYear {
    /// The calendar year in which it starts, e.g. "2025".
    async fn label(&self) -> String {
        self.0.label.to_string()
    }

    async fn start(&self) -> Date {
        Date(self.0.start)
    }

    /// Its last day.
    async fn end(&self) -> Date {
        Date(self.0.end)
    }

    /// CLOSED years refuse posting (FISCAL_YEAR_CLOSED).
    async fn status(&self) -> FiscalYearStatus {
        self.0.status
    }

    /// Revenue less expenses of the year, closing entries left out. One read of the
    /// kept totals: priced like a statement column.
    #[graphql(complexity = 50)]
    async fn net_income(&self, ctx: &Context<'_>) -> async_graphql::Result<DecimalText> {
        let db = tenant_db(ctx)?;
        let chart = db.cache.chart(&db.conn).await?;
        let totals = balances::between(&db.conn, Some(self.0.start), self.0.end).await?;
        Ok(service::net_income(&totals, chart.by_id.values()).into())
    }

    /// The entry that closed it into retained earnings (while it is closed; none when
    /// there was nothing to close).
    async fn closing_entry(&self) -> Option<JournalEntry> {
        self.0.closing_entry.clone().map(JournalEntry)
    }
}

#[derive(Default)]
pub struct FiscalQuery;

#[Object]
impl FiscalQuery {
    /// From the first posted entry's year to the current year (in the company's time
    /// zone), oldest first; at most the latest 100 (priced as 100 items: `netIncome`
    /// reads the totals once per year).
    #[graphql(complexity = "1 + 100 * child_complexity")]
    async fn fiscal_years(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FiscalYear>> {
        let db = tenant_db(ctx)?;
        let years = service::list(&db.conn).await?;
        let entries: Vec<_> = years.iter().filter_map(|y| y.closing_entry.clone()).collect();
        db.cache.prefetch_page(&db.conn, &entries).await?;
        Ok(years.into_iter().map(FiscalYear).collect())
    }
}

#[derive(Default)]
pub struct FiscalMutation;

#[Object]
impl FiscalMutation {
    /// Posts the closing entry (revenue and expense into the RETAINED_EARNINGS account,
    /// dated the year's last day) and closes the year. Years close in order, once they
    /// have ended. `dryRun` answers what closing would give and writes nothing (nor
    /// keeps its key); a retry with the same `idempotencyKey` returns the year.
    async fn close_fiscal_year(
        &self,
        ctx: &Context<'_>,
        label: String,
        #[graphql(default_with = "Some(false)")] dry_run: Option<bool>,
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<FiscalYear> {
        let db = tenant_db(ctx)?;
        let closed = service::close(
            &db.conn,
            &label,
            dry_run.unwrap_or(false),
            idempotency_key.as_deref(),
            actor(ctx)?,
        )
        .await?;
        db.cache.invalidate();
        if let (Some(lines), Some(entry)) = (closed.preview_lines, &closed.year.closing_entry) {
            // The previewed entry is not in the database: its fields read these.
            db.cache.preload_lines(entry.id, lines);
        }
        Ok(FiscalYear(closed.year))
    }

    /// Reopens the latest closed year: its closing entry is reversed, the reason kept in
    /// the audit log.
    async fn reopen_fiscal_year(
        &self,
        ctx: &Context<'_>,
        label: String,
        reason: String,
    ) -> async_graphql::Result<FiscalYear> {
        let db = tenant_db(ctx)?;
        let reopened = service::reopen(&db.conn, &label, &reason, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(FiscalYear(reopened))
    }
}
