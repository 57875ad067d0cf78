//! `balanceSheet` and `incomeStatement` (API.md "Financial statements, fiscal years,
//! audit"): typed rows in the company's language, arranged by `ledger::statements` from
//! the totals kept at posting.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::accounts::Account;
use super::tenant_db;
use crate::graphql::pagination::list_cost;
use crate::graphql::scalars::{Date, DecimalText};
use crate::ledger::reports;
use crate::ledger::statements::{self, Periodicity, RowKind, MAX_COLUMNS, MAX_COMPARE};

/// A statement: its title, its columns, and rows with one amount per column.
#[derive(SimpleObject)]
pub struct FinancialStatement {
    pub title: String,
    pub columns: Vec<StatementColumn>,
    pub rows: Vec<StatementRow>,
}

/// A column: a date (`from` null, a balance sheet) or a period.
#[derive(SimpleObject)]
pub struct StatementColumn {
    pub label: String,
    pub from: Option<Date>,
    pub to: Date,
}

/// A row. `SECTION` rows carry the sum of the rows under them; `ACCOUNT` rows name
/// their account; amounts are signed as the statement shows them.
#[derive(SimpleObject)]
pub struct StatementRow {
    pub kind: RowKind,
    pub label: String,
    pub account: Option<Account>,
    pub depth: i32,
    /// One per column.
    pub amounts: Vec<DecimalText>,
}

/// A period of an income statement's comparison, both days included.
#[derive(InputObject)]
pub struct PeriodInput {
    pub from: Date,
    pub to: Date,
}

impl From<statements::FinancialStatement> for FinancialStatement {
    fn from(s: statements::FinancialStatement) -> Self {
        FinancialStatement {
            title: s.title,
            columns: s
                .columns
                .into_iter()
                .map(|c| StatementColumn {
                    label: c.label,
                    from: c.from.map(Date),
                    to: Date(c.to),
                })
                .collect(),
            rows: s
                .rows
                .into_iter()
                .map(|r| StatementRow {
                    kind: r.kind,
                    label: r.label,
                    account: r.account.map(Account),
                    depth: r.depth,
                    amounts: r.amounts.into_iter().map(DecimalText::from).collect(),
                })
                .collect(),
        }
    }
}

/// What one read of the totals counts for in the complexity limit: a request holds at
/// most a few statements of the most columns (20,000 / (36 x 50) is about 11), however
/// it aliases them.
pub const READ_COST: usize = 50;

/// Complexity of a statement that reads the totals `reads` times, its rows counted as an
/// unpaged list.
fn statement_cost(reads: usize, child_complexity: usize) -> usize {
    READ_COST
        .saturating_mul(reads.max(1))
        .saturating_add(list_cost(child_complexity))
}

/// A balance sheet reads twice per column. Comparison dates beyond the limit count as
/// the limit: the resolver refuses them with `BAD_USER_INPUT`.
fn balance_sheet_cost(compare_to: &Option<Vec<Date>>, child_complexity: usize) -> usize {
    let columns = 1 + compare_to.as_ref().map_or(0, Vec::len).min(MAX_COMPARE);
    statement_cost(2 * columns, child_complexity)
}

/// An income statement reads once per column (worked out from the arguments, at most
/// [`MAX_COLUMNS`]; refused arguments count one, the resolver refuses them).
fn income_statement_cost(
    from: &Date,
    to: &Date,
    compare_to: &Option<Vec<PeriodInput>>,
    periodicity: Option<Periodicity>,
    child_complexity: usize,
) -> usize {
    let periods = statements::periods(from.0, to.0, periodicity).map_or(1, |p| p.len());
    let compared = compare_to.as_ref().map_or(0, Vec::len).min(MAX_COMPARE);
    statement_cost((periods + compared).min(MAX_COLUMNS), child_complexity)
}

#[derive(Default)]
pub struct StatementsQuery;

#[Object]
impl StatementsQuery {
    /// Laporan Posisi Keuangan: assets, liabilities and equity as of `asOf` (default:
    /// today in the company's time zone), then as of each `compareTo` date (at most 4).
    /// Equity includes the current fiscal year's earnings and earlier years' earnings not
    /// yet closed (`COMPUTED` rows), so total assets equal total liabilities and equity.
    #[graphql(complexity = "balance_sheet_cost(&compare_to, child_complexity)")]
    async fn balance_sheet(
        &self,
        ctx: &Context<'_>,
        as_of: Option<Date>,
        compare_to: Option<Vec<Date>>,
    ) -> async_graphql::Result<FinancialStatement> {
        let db = tenant_db(ctx)?;
        let compare_to: Vec<chrono::NaiveDate> = compare_to.unwrap_or_default().into_iter().map(|d| d.0).collect();
        Ok(reports::balance_sheet(&db.conn, as_of.map(|d| d.0), &compare_to)
            .await?
            .into())
    }

    /// Laporan Laba Rugi: revenue, costs and net income from `from` to `to` (one column,
    /// or one per period with `periodicity`: periods start on the first of a month,
    /// counted from the month of `from`), then each `compareTo` period (at most 4).
    /// Closing entries are left out. At most 36 columns.
    #[graphql(complexity = "income_statement_cost(&from, &to, &compare_to, periodicity, child_complexity)")]
    async fn income_statement(
        &self,
        ctx: &Context<'_>,
        from: Date,
        to: Date,
        compare_to: Option<Vec<PeriodInput>>,
        periodicity: Option<Periodicity>,
    ) -> async_graphql::Result<FinancialStatement> {
        let db = tenant_db(ctx)?;
        let compare_to: Vec<(chrono::NaiveDate, chrono::NaiveDate)> = compare_to
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.from.0, p.to.0))
            .collect();
        Ok(
            reports::income_statement(&db.conn, from.0, to.0, &compare_to, periodicity)
                .await?
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date(NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default())
    }

    #[test]
    fn a_statement_costs_its_reads() {
        assert_eq!(balance_sheet_cost(&None, 0), 2 * READ_COST + 1);
        let many = Some(vec![d(2025, 1, 1); 1000]);
        assert_eq!(balance_sheet_cost(&many, 0), 10 * READ_COST + 1, "capped at 5 columns");
        let year = income_statement_cost(&d(2026, 1, 1), &d(2026, 12, 31), &None, Some(Periodicity::Month), 0);
        assert_eq!(year, 12 * READ_COST + 1);
        let refused = income_statement_cost(&d(2000, 1, 1), &d(2026, 12, 31), &None, Some(Periodicity::Month), 0);
        assert_eq!(refused, READ_COST + 1, "refused by the resolver");
        let most = income_statement_cost(
            &d(2024, 1, 1),
            &d(2026, 12, 31),
            &Some(
                (0..9)
                    .map(|_| PeriodInput {
                        from: d(2025, 1, 1),
                        to: d(2025, 2, 1),
                    })
                    .collect(),
            ),
            Some(Periodicity::Month),
            0,
        );
        assert_eq!(most, MAX_COLUMNS * READ_COST + 1);
    }
}
