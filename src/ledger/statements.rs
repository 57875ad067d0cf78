//! Financial statements of SAK EMKM: the statement of financial position (Laporan Posisi
//! Keuangan) and the income statement (Laporan Laba Rugi), built from the chart, the
//! company's language and per-column account totals (`balances::between`). Pure: the
//! caller reads the totals (one snapshot), this module only arranges them, so every rule
//! below is unit-tested without a database.
//!
//! Where an account goes is decided by its *effective role*: its own `role`, else its
//! nearest ancestor's, else a default by its type ([`default_role`]). The role, not the
//! type, picks the section and the sign, and every account lands in exactly one place (a
//! balance-sheet section, or the earnings the balance sheet computes), so the balance
//! sheet balances by construction whenever the books do.
//!
//! Layout (what a client can rely on):
//! - Rows are flat. A `SECTION` row (depth 0) heads each section and carries the sum of
//!   the rows under it, so a condensed statement shows only `SECTION`, `SUBTOTAL` and
//!   `TOTAL` rows. Under it come `ACCOUNT` rows (depth 1), one per account with a non-zero
//!   amount in some column, by code; header accounts hold no postings and are not shown
//!   (their children are). `COMPUTED` rows (depth 1) are the balance sheet's earnings.
//!   `SUBTOTAL` and `TOTAL` rows are at depth 0. Every section is always present (with
//!   zeros when empty); only "Saldo Laba Tahun Lalu Belum Ditutup" is left out when it is
//!   zero in every column.
//! - Amounts are signed as a statement shows them: assets, expenses and costs
//!   debit-positive; liabilities, equity and income credit-positive. A contra account
//!   (accumulated depreciation, sales returns, drawings) therefore shows negative.
//! - Column labels: a balance-sheet column is its date (`31 Des 2026`, `31 Dec 2026`); a
//!   period is its month (`Jan 2026`, `Mei 2026`), its calendar year (`2026`), a run of
//!   whole months (`Jan 2026 - Mar 2026`) or its dates (`15 Jan 2026 - 31 Mar 2026`).

use std::collections::HashMap;

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::entities::tenant::account::{self, AccountRole, AccountType};
use crate::error::{Error, Result};
use crate::ledger::balances::{AccountTotals, Totals};

/// At most this many comparison columns (`compareTo`).
pub const MAX_COMPARE: usize = 4;
/// At most this many columns in all: each is one read of the totals.
pub const MAX_COLUMNS: usize = 36;

/// The language of the labels (`company.language`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Indonesian,
    English,
}

impl Language {
    /// `en` is English; anything else (the column allows only `id` besides) Indonesian.
    pub fn from_code(code: &str) -> Language {
        if code == "en" {
            Language::English
        } else {
            Language::Indonesian
        }
    }
}

/// What a row of a statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "StatementRowKind")]
pub enum RowKind {
    Section,
    Account,
    Subtotal,
    Total,
    Computed,
}

/// How an income statement's range is cut into columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Periodicity {
    Month,
    Quarter,
    Year,
}

impl Periodicity {
    fn months(self) -> u32 {
        match self {
            Periodicity::Month => 1,
            Periodicity::Quarter => 3,
            Periodicity::Year => 12,
        }
    }
}

/// One row: an amount per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub kind: RowKind,
    pub label: String,
    pub account: Option<account::Model>,
    pub depth: i32,
    pub amounts: Vec<Decimal>,
}

/// One column: a date (`from` is `None`) or a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub label: String,
    pub from: Option<NaiveDate>,
    pub to: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FinancialStatement {
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

/// Every label of both statements, in both languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    BalanceSheet,
    CurrentAssets,
    NonCurrentAssets,
    TotalAssets,
    CurrentLiabilities,
    NonCurrentLiabilities,
    TotalLiabilities,
    Equity,
    CurrentYearEarnings,
    PriorYearsEarnings,
    TotalEquity,
    TotalLiabilitiesAndEquity,
    IncomeStatement,
    Revenue,
    TotalRevenue,
    CostOfSales,
    GrossProfit,
    OperatingExpenses,
    OperatingProfit,
    OtherIncome,
    OtherExpenses,
    ProfitBeforeTax,
    IncomeTaxExpense,
    NetProfit,
}

impl Label {
    fn text(self, language: Language) -> &'static str {
        let (id, en) = match self {
            Label::BalanceSheet => ("Laporan Posisi Keuangan", "Statement of Financial Position"),
            Label::CurrentAssets => ("Aset Lancar", "Current Assets"),
            Label::NonCurrentAssets => ("Aset Tidak Lancar", "Non-current Assets"),
            Label::TotalAssets => ("Total Aset", "Total Assets"),
            Label::CurrentLiabilities => ("Liabilitas Jangka Pendek", "Current Liabilities"),
            Label::NonCurrentLiabilities => ("Liabilitas Jangka Panjang", "Non-current Liabilities"),
            Label::TotalLiabilities => ("Total Liabilitas", "Total Liabilities"),
            Label::Equity => ("Ekuitas", "Equity"),
            Label::CurrentYearEarnings => ("Laba Tahun Berjalan", "Current Year Earnings"),
            Label::PriorYearsEarnings => ("Saldo Laba Tahun Lalu Belum Ditutup", "Prior Years' Unclosed Earnings"),
            Label::TotalEquity => ("Total Ekuitas", "Total Equity"),
            Label::TotalLiabilitiesAndEquity => ("Total Liabilitas dan Ekuitas", "Total Liabilities and Equity"),
            Label::IncomeStatement => ("Laporan Laba Rugi", "Income Statement"),
            Label::Revenue => ("Pendapatan", "Revenue"),
            Label::TotalRevenue => ("Total Pendapatan", "Total Revenue"),
            Label::CostOfSales => ("Beban Pokok Penjualan", "Cost of Sales"),
            Label::GrossProfit => ("Laba Kotor", "Gross Profit"),
            Label::OperatingExpenses => ("Beban Usaha", "Operating Expenses"),
            Label::OperatingProfit => ("Laba Usaha", "Operating Profit"),
            Label::OtherIncome => ("Pendapatan Lain-lain", "Other Income"),
            Label::OtherExpenses => ("Beban Lain-lain", "Other Expenses"),
            Label::ProfitBeforeTax => ("Laba Sebelum Pajak", "Profit Before Tax"),
            Label::IncomeTaxExpense => ("Beban Pajak Penghasilan", "Income Tax Expense"),
            Label::NetProfit => ("Laba Bersih", "Net Profit"),
        };
        match language {
            Language::Indonesian => id,
            Language::English => en,
        }
    }
}

/// The role of an account that has none and no ancestor with one.
pub fn default_role(account_type: AccountType) -> AccountRole {
    match account_type {
        AccountType::Asset => AccountRole::OtherCurrentAsset,
        AccountType::Liability => AccountRole::OtherCurrentLiability,
        AccountType::Equity => AccountRole::Capital,
        AccountType::Revenue => AccountRole::Revenue,
        AccountType::Expense => AccountRole::OperatingExpense,
    }
}

/// Each account's effective role: its own, else its nearest ancestor's, else
/// [`default_role`] of its own type. The walk up stops after as many steps as the chart
/// has accounts, so a loop (which the database refuses to store) cannot hang it.
pub fn effective_roles(chart: &[account::Model]) -> HashMap<Uuid, AccountRole> {
    let by_id: HashMap<Uuid, &account::Model> = chart.iter().map(|a| (a.id, a)).collect();
    chart
        .iter()
        .map(|a| {
            let mut current = Some(a);
            let mut role = None;
            for _ in 0..=chart.len() {
                let Some(here) = current else { break };
                if let Some(r) = here.role {
                    role = Some(r);
                    break;
                }
                current = here.parent_id.and_then(|p| by_id.get(&p).copied());
            }
            (a.id, role.unwrap_or_else(|| default_role(a.account_type)))
        })
        .collect()
}

/// A section of the balance sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    CurrentAssets,
    NonCurrentAssets,
    CurrentLiabilities,
    NonCurrentLiabilities,
    Equity,
}

/// A section of the income statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Performance {
    Revenue,
    CostOfSales,
    OperatingExpenses,
    OtherIncome,
    OtherExpenses,
    IncomeTax,
}

/// Where a role puts an account: a balance-sheet section, or the earnings (an
/// income-statement section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Position(Position),
    Performance(Performance),
}

fn place(role: AccountRole) -> Place {
    use AccountRole as R;
    match role {
        R::Cash | R::Bank | R::Receivable | R::Inventory | R::PrepaidTax | R::VatInput | R::OtherCurrentAsset => {
            Place::Position(Position::CurrentAssets)
        }
        R::FixedAsset | R::AccumulatedDepreciation | R::OtherNonCurrentAsset => {
            Place::Position(Position::NonCurrentAssets)
        }
        R::Payable | R::TaxPayable | R::VatOutput | R::OtherCurrentLiability => {
            Place::Position(Position::CurrentLiabilities)
        }
        R::NonCurrentLiability => Place::Position(Position::NonCurrentLiabilities),
        R::Capital | R::RetainedEarnings | R::CurrentYearEarnings | R::Drawings | R::OpeningBalanceEquity => {
            Place::Position(Position::Equity)
        }
        R::Revenue | R::SalesReturns => Place::Performance(Performance::Revenue),
        R::CostOfSales => Place::Performance(Performance::CostOfSales),
        R::OperatingExpense => Place::Performance(Performance::OperatingExpenses),
        R::OtherIncome => Place::Performance(Performance::OtherIncome),
        R::OtherExpense => Place::Performance(Performance::OtherExpenses),
        R::IncomeTaxExpense => Place::Performance(Performance::IncomeTax),
    }
}

/// Whether a section shows debits as positive (assets, costs) or credits (the rest).
fn debit_positive(place: Place) -> bool {
    matches!(
        place,
        Place::Position(Position::CurrentAssets | Position::NonCurrentAssets)
            | Place::Performance(
                Performance::CostOfSales
                    | Performance::OperatingExpenses
                    | Performance::OtherExpenses
                    | Performance::IncomeTax
            )
    )
}

/// A net debit as the section shows it (never a negative zero).
fn shown(place: Place, net_debit: Decimal) -> Decimal {
    let amount = if debit_positive(place) { net_debit } else { -net_debit };
    if amount.is_zero() {
        Decimal::ZERO
    } else {
        amount
    }
}

fn zeros(n: usize) -> Vec<Decimal> {
    vec![Decimal::ZERO; n]
}

fn plus(a: &[Decimal], b: &[Decimal]) -> Vec<Decimal> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

fn minus(a: &[Decimal], b: &[Decimal]) -> Vec<Decimal> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

fn total_row(kind: RowKind, label: Label, language: Language, amounts: Vec<Decimal>) -> Row {
    Row {
        kind,
        label: label.text(language).to_owned(),
        account: None,
        depth: 0,
        amounts,
    }
}

/// The rows of one section: its heading with their sum, then the rows (depth 1).
struct Section {
    label: Label,
    rows: Vec<Row>,
}

impl Section {
    fn new(label: Label) -> Section {
        Section {
            label,
            rows: Vec::new(),
        }
    }

    /// Appends the heading and rows to `out`; returns the section's sum.
    fn emit(self, language: Language, columns: usize, out: &mut Vec<Row>) -> Vec<Decimal> {
        let sum = self.rows.iter().fold(zeros(columns), |acc, r| plus(&acc, &r.amounts));
        out.push(total_row(RowKind::Section, self.label, language, sum.clone()));
        out.extend(self.rows);
        sum
    }
}

fn account_row(account: &account::Model, amounts: Vec<Decimal>) -> Row {
    Row {
        kind: RowKind::Account,
        label: account.name.clone(),
        account: Some(account.clone()),
        depth: 1,
        amounts,
    }
}

fn by_code(chart: &[account::Model]) -> Vec<&account::Model> {
    let mut sorted: Vec<&account::Model> = chart.iter().collect();
    sorted.sort_by(|a, b| a.code.cmp(&b.code));
    sorted
}

fn net_debit(totals: &AccountTotals, id: Uuid, f: impl Fn(&Totals) -> Decimal) -> Decimal {
    totals.get(&id).map(f).unwrap_or_default()
}

/// The totals of one balance-sheet column, split at the start of the fiscal year
/// `as_of` falls in: everything before it, and from it to `as_of`.
#[derive(Debug, Clone, Default)]
pub struct BalanceSheetColumn {
    pub as_of: NaiveDate,
    pub before_year: AccountTotals,
    pub in_year: AccountTotals,
}

/// The statement of financial position, one column per [`BalanceSheetColumn`].
///
/// Revenue and expense accounts (by role) are not rows: their movement in the fiscal
/// year up to the column's date, closing entries included (so a closed year shows 0), is
/// the `COMPUTED` row "Laba Tahun Berjalan"; their balance before the year, closing
/// entries included, is what earlier years left unclosed ("Saldo Laba Tahun Lalu Belum
/// Ditutup", shown when not zero). A non-postable CURRENT_YEAR_EARNINGS account is never
/// a row either (the computed row stands for it; should it hold a balance anyway, that
/// balance is added to the computed row, so the sheet still balances).
pub fn balance_sheet(
    chart: &[account::Model],
    language: Language,
    columns: &[BalanceSheetColumn],
) -> FinancialStatement {
    let n = columns.len();
    let roles = effective_roles(chart);
    let mut current_assets = Section::new(Label::CurrentAssets);
    let mut non_current_assets = Section::new(Label::NonCurrentAssets);
    let mut current_liabilities = Section::new(Label::CurrentLiabilities);
    let mut non_current_liabilities = Section::new(Label::NonCurrentLiabilities);
    let mut equity = Section::new(Label::Equity);
    let mut current_year = zeros(n);
    let mut prior_years = zeros(n);
    for account in by_code(chart) {
        let role = roles
            .get(&account.id)
            .copied()
            .unwrap_or_else(|| default_role(account.account_type));
        let position = match place(role) {
            Place::Performance(_) => {
                for (c, column) in columns.iter().enumerate() {
                    current_year[c] -= net_debit(&column.in_year, account.id, Totals::net_debit);
                    prior_years[c] -= net_debit(&column.before_year, account.id, Totals::net_debit);
                }
                continue;
            }
            Place::Position(position) => position,
        };
        let amounts: Vec<Decimal> = columns
            .iter()
            .map(|column| {
                let net = net_debit(&column.before_year, account.id, Totals::net_debit)
                    + net_debit(&column.in_year, account.id, Totals::net_debit);
                shown(Place::Position(position), net)
            })
            .collect();
        if role == AccountRole::CurrentYearEarnings && !account.is_postable {
            current_year = plus(&current_year, &amounts);
            continue;
        }
        if amounts.iter().all(Decimal::is_zero) {
            continue;
        }
        let section = match position {
            Position::CurrentAssets => &mut current_assets,
            Position::NonCurrentAssets => &mut non_current_assets,
            Position::CurrentLiabilities => &mut current_liabilities,
            Position::NonCurrentLiabilities => &mut non_current_liabilities,
            Position::Equity => &mut equity,
        };
        section.rows.push(account_row(account, amounts));
    }
    let computed = |label: Label, amounts: Vec<Decimal>| Row {
        kind: RowKind::Computed,
        label: label.text(language).to_owned(),
        account: None,
        depth: 1,
        amounts: amounts
            .into_iter()
            .map(|a| if a.is_zero() { Decimal::ZERO } else { a })
            .collect(),
    };
    equity.rows.push(computed(Label::CurrentYearEarnings, current_year));
    if prior_years.iter().any(|a| !a.is_zero()) {
        equity.rows.push(computed(Label::PriorYearsEarnings, prior_years));
    }

    let mut rows = Vec::new();
    let assets = plus(
        &current_assets.emit(language, n, &mut rows),
        &non_current_assets.emit(language, n, &mut rows),
    );
    rows.push(total_row(RowKind::Total, Label::TotalAssets, language, assets));
    let liabilities = plus(
        &current_liabilities.emit(language, n, &mut rows),
        &non_current_liabilities.emit(language, n, &mut rows),
    );
    rows.push(total_row(
        RowKind::Subtotal,
        Label::TotalLiabilities,
        language,
        liabilities.clone(),
    ));
    let equity = equity.emit(language, n, &mut rows);
    rows.push(total_row(
        RowKind::Subtotal,
        Label::TotalEquity,
        language,
        equity.clone(),
    ));
    rows.push(total_row(
        RowKind::Total,
        Label::TotalLiabilitiesAndEquity,
        language,
        plus(&liabilities, &equity),
    ));
    FinancialStatement {
        title: Label::BalanceSheet.text(language).to_owned(),
        columns: columns
            .iter()
            .map(|c| Column {
                label: day_label(c.as_of, language),
                from: None,
                to: c.as_of,
            })
            .collect(),
        rows,
    }
}

/// The totals of one income-statement column: entries dated `from` to `to`.
#[derive(Debug, Clone, Default)]
pub struct PeriodColumn {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: AccountTotals,
}

/// The income statement, one column per [`PeriodColumn`]. Movements leave closing
/// entries out (a closed year still shows its profit); balance-sheet accounts are not
/// shown. The last row, "Laba Bersih", is each column's net income.
pub fn income_statement(chart: &[account::Model], language: Language, columns: &[PeriodColumn]) -> FinancialStatement {
    let n = columns.len();
    let roles = effective_roles(chart);
    let mut revenue = Section::new(Label::Revenue);
    let mut cost_of_sales = Section::new(Label::CostOfSales);
    let mut operating = Section::new(Label::OperatingExpenses);
    let mut other_income = Section::new(Label::OtherIncome);
    let mut other_expenses = Section::new(Label::OtherExpenses);
    let mut income_tax = Section::new(Label::IncomeTaxExpense);
    for account in by_code(chart) {
        let role = roles
            .get(&account.id)
            .copied()
            .unwrap_or_else(|| default_role(account.account_type));
        let Place::Performance(performance) = place(role) else {
            continue;
        };
        let amounts: Vec<Decimal> = columns
            .iter()
            .map(|column| {
                shown(
                    Place::Performance(performance),
                    net_debit(&column.totals, account.id, Totals::net_debit_before_closing),
                )
            })
            .collect();
        if amounts.iter().all(Decimal::is_zero) {
            continue;
        }
        let section = match performance {
            Performance::Revenue => &mut revenue,
            Performance::CostOfSales => &mut cost_of_sales,
            Performance::OperatingExpenses => &mut operating,
            Performance::OtherIncome => &mut other_income,
            Performance::OtherExpenses => &mut other_expenses,
            Performance::IncomeTax => &mut income_tax,
        };
        section.rows.push(account_row(account, amounts));
    }

    let mut rows = Vec::new();
    let revenue = revenue.emit(language, n, &mut rows);
    rows.push(total_row(
        RowKind::Subtotal,
        Label::TotalRevenue,
        language,
        revenue.clone(),
    ));
    let gross = minus(&revenue, &cost_of_sales.emit(language, n, &mut rows));
    rows.push(total_row(
        RowKind::Subtotal,
        Label::GrossProfit,
        language,
        gross.clone(),
    ));
    let operating_profit = minus(&gross, &operating.emit(language, n, &mut rows));
    rows.push(total_row(
        RowKind::Subtotal,
        Label::OperatingProfit,
        language,
        operating_profit.clone(),
    ));
    let other = minus(
        &other_income.emit(language, n, &mut rows),
        &other_expenses.emit(language, n, &mut rows),
    );
    let before_tax = plus(&operating_profit, &other);
    rows.push(total_row(
        RowKind::Subtotal,
        Label::ProfitBeforeTax,
        language,
        before_tax.clone(),
    ));
    let net = minus(&before_tax, &income_tax.emit(language, n, &mut rows));
    rows.push(total_row(RowKind::Total, Label::NetProfit, language, net));
    FinancialStatement {
        title: Label::IncomeStatement.text(language).to_owned(),
        columns: columns
            .iter()
            .map(|c| Column {
                label: period_label(c.from, c.to, language),
                from: Some(c.from),
                to: c.to,
            })
            .collect(),
        rows,
    }
}

/// The first day of the fiscal year `date` falls in (the year starts on the first of
/// `start_month`).
pub fn fiscal_year_start(date: NaiveDate, start_month: u32) -> NaiveDate {
    let year = crate::ledger::journal::fiscal_year(date, start_month);
    NaiveDate::from_ymd_opt(year, start_month, 1).unwrap_or(date)
}

/// The dates of a balance sheet: `as_of`, then each comparison date (at most
/// [`MAX_COMPARE`], else `BAD_USER_INPUT` on `compareTo`).
pub fn balance_sheet_dates(as_of: NaiveDate, compare_to: &[NaiveDate]) -> Result<Vec<NaiveDate>> {
    if compare_to.len() > MAX_COMPARE {
        return Err(Error::bad_input(
            "compareTo",
            format!("at most {MAX_COMPARE} comparison dates"),
        ));
    }
    Ok(std::iter::once(as_of).chain(compare_to.iter().copied()).collect())
}

fn month_index(date: NaiveDate) -> i64 {
    i64::from(date.year()) * 12 + i64::from(date.month0())
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// `from..=to` cut into periods: without a periodicity one period; with one, periods of
/// 1, 3 or 12 months that start on the first of a month, counted from the month of
/// `from` (so a year from January by QUARTER gives calendar quarters, a fiscal year from
/// July its fiscal quarters), the first starting at `from` and the last ending at `to`.
/// `from` after `to` and more than [`MAX_COLUMNS`] periods are `BAD_USER_INPUT`; the
/// count is worked out before any period is made.
pub fn periods(
    from: NaiveDate,
    to: NaiveDate,
    periodicity: Option<Periodicity>,
) -> Result<Vec<(NaiveDate, NaiveDate)>> {
    if from > to {
        return Err(Error::bad_input("from", "from must not be after to"));
    }
    let Some(periodicity) = periodicity else {
        return Ok(vec![(from, to)]);
    };
    let step = periodicity.months();
    let count = (month_index(to) - month_index(from)) / i64::from(step) + 1;
    if count > MAX_COLUMNS as i64 {
        return Err(Error::bad_input(
            "periodicity",
            format!("{count} periods: a statement has at most {MAX_COLUMNS} columns"),
        ));
    }
    let anchor = first_of_month(from);
    let mut out = Vec::with_capacity(count as usize);
    for k in 0..count as u32 {
        let start = anchor.checked_add_months(Months::new(k * step)).unwrap_or(to).max(from);
        let end = anchor
            .checked_add_months(Months::new((k + 1) * step))
            .and_then(|next| next.pred_opt())
            .unwrap_or(to)
            .min(to);
        out.push((start, end));
    }
    Ok(out)
}

/// The columns of an income statement: the periods of `from..=to`, then each comparison
/// period. At most [`MAX_COMPARE`] comparisons and [`MAX_COLUMNS`] columns in all, each
/// period with its start on or before its end, else `BAD_USER_INPUT`.
pub fn income_statement_periods(
    from: NaiveDate,
    to: NaiveDate,
    compare_to: &[(NaiveDate, NaiveDate)],
    periodicity: Option<Periodicity>,
) -> Result<Vec<(NaiveDate, NaiveDate)>> {
    if compare_to.len() > MAX_COMPARE {
        return Err(Error::bad_input(
            "compareTo",
            format!("at most {MAX_COMPARE} comparison periods"),
        ));
    }
    if compare_to.iter().any(|(f, t)| f > t) {
        return Err(Error::bad_input(
            "compareTo",
            "a comparison period's from must not be after its to",
        ));
    }
    let mut columns = periods(from, to, periodicity)?;
    if columns.len() + compare_to.len() > MAX_COLUMNS {
        return Err(Error::bad_input(
            "periodicity",
            format!("a statement has at most {MAX_COLUMNS} columns"),
        ));
    }
    columns.extend_from_slice(compare_to);
    Ok(columns)
}

const MONTHS_ID: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
];
const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_name(date: NaiveDate, language: Language) -> &'static str {
    let names = match language {
        Language::Indonesian => &MONTHS_ID,
        Language::English => &MONTHS_EN,
    };
    names[date.month0() as usize % 12]
}

/// `31 Des 2026` / `31 Dec 2026`.
pub fn day_label(date: NaiveDate, language: Language) -> String {
    format!("{} {} {}", date.day(), month_name(date, language), date.year())
}

fn month_label(date: NaiveDate, language: Language) -> String {
    format!("{} {}", month_name(date, language), date.year())
}

fn is_month_end(date: NaiveDate) -> bool {
    date.succ_opt().is_none_or(|next| next.day() == 1)
}

/// A period's label: `Jan 2026`, `2026`, `Jan 2026 - Mar 2026`, `15 Jan 2026 - 31 Mar 2026`
/// or, for one day, `15 Jan 2026`.
pub fn period_label(from: NaiveDate, to: NaiveDate, language: Language) -> String {
    if from == to {
        return day_label(from, language);
    }
    if from.day() == 1 && is_month_end(to) {
        if (from.year(), from.month()) == (to.year(), to.month()) {
            return month_label(from, language);
        }
        if from.year() == to.year() && from.month() == 1 && to.month() == 12 {
            return from.year().to_string();
        }
        return format!("{} - {}", month_label(from, language), month_label(to, language));
    }
    format!("{} - {}", day_label(from, language), day_label(to, language))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::tenant::account::NormalBalance;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    fn acct(
        code: &str,
        account_type: AccountType,
        role: Option<AccountRole>,
        parent: Option<&account::Model>,
    ) -> account::Model {
        let now = chrono::Utc::now().into();
        account::Model {
            id: Uuid::new_v4(),
            code: code.to_owned(),
            name: format!("Akun {code}"),
            account_type,
            normal_balance: account_type.usual_normal_balance(),
            parent_id: parent.map(|p| p.id),
            is_postable: true,
            is_archived: false,
            description: None,
            role,
            created_at: now,
            updated_at: now,
        }
    }

    fn header(mut a: account::Model) -> account::Model {
        a.is_postable = false;
        a
    }

    /// Debit `amount` (negative: credit) on `account`, optionally as a closing entry.
    fn post(totals: &mut AccountTotals, account: &account::Model, amount: &str, closing: bool) {
        let amount = dec(amount);
        let t = totals.entry(account.id).or_default();
        let (debit, credit) = if amount >= Decimal::ZERO {
            (amount, Decimal::ZERO)
        } else {
            (Decimal::ZERO, -amount)
        };
        t.debit += debit;
        t.credit += credit;
        if closing {
            t.closing_debit += debit;
            t.closing_credit += credit;
        }
    }

    fn row<'a>(statement: &'a FinancialStatement, label: &str) -> &'a Row {
        statement
            .rows
            .iter()
            .find(|r| r.label == label)
            .unwrap_or_else(|| panic!("no row {label}: {statement:#?}"))
    }

    fn amounts(statement: &FinancialStatement, label: &str) -> Vec<String> {
        row(statement, label).amounts.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_role_comes_from_the_account_then_its_ancestors_then_its_type() {
        let top = header(acct("1-0000", AccountType::Asset, None, None));
        let group = header(acct(
            "1-2000",
            AccountType::Asset,
            Some(AccountRole::FixedAsset),
            Some(&top),
        ));
        let sub = header(acct("1-2100", AccountType::Asset, None, Some(&group)));
        let building = acct("1-2101", AccountType::Asset, None, Some(&sub));
        let depreciation = acct(
            "1-2102",
            AccountType::Asset,
            Some(AccountRole::AccumulatedDepreciation),
            Some(&sub),
        );
        let cash = acct("1-1101", AccountType::Asset, None, Some(&top));
        let loan = acct("2-2001", AccountType::Liability, None, None);
        let capital = acct("3-1001", AccountType::Equity, None, None);
        let sales = acct("4-1001", AccountType::Revenue, None, None);
        let rent = acct("6-2002", AccountType::Expense, None, None);
        let orphan = acct("9-0001", AccountType::Expense, None, None);
        let mut orphan_with_missing_parent = orphan.clone();
        orphan_with_missing_parent.parent_id = Some(Uuid::new_v4());
        let chart = vec![
            top.clone(),
            group.clone(),
            sub.clone(),
            building.clone(),
            depreciation.clone(),
            cash.clone(),
            loan.clone(),
            capital.clone(),
            sales.clone(),
            rent.clone(),
            orphan_with_missing_parent,
        ];
        let roles = effective_roles(&chart);
        assert_eq!(roles[&building.id], AccountRole::FixedAsset, "from the grandparent");
        assert_eq!(roles[&sub.id], AccountRole::FixedAsset, "from the parent");
        assert_eq!(
            roles[&depreciation.id],
            AccountRole::AccumulatedDepreciation,
            "its own wins"
        );
        assert_eq!(
            roles[&cash.id],
            AccountRole::OtherCurrentAsset,
            "no role above: by type"
        );
        assert_eq!(roles[&top.id], AccountRole::OtherCurrentAsset);
        assert_eq!(roles[&loan.id], AccountRole::OtherCurrentLiability);
        assert_eq!(roles[&capital.id], AccountRole::Capital);
        assert_eq!(roles[&sales.id], AccountRole::Revenue);
        assert_eq!(roles[&rent.id], AccountRole::OperatingExpense);
        assert_eq!(
            roles[&orphan.id],
            AccountRole::OperatingExpense,
            "a missing parent ends the walk"
        );
    }

    #[test]
    fn a_loop_in_the_chart_does_not_hang_the_walk() {
        let mut a = acct("1-0001", AccountType::Asset, None, None);
        let mut b = acct("1-0002", AccountType::Liability, None, None);
        a.parent_id = Some(b.id);
        b.parent_id = Some(a.id);
        let roles = effective_roles(&[a.clone(), b.clone()]);
        assert_eq!(roles[&a.id], AccountRole::OtherCurrentAsset);
        assert_eq!(roles[&b.id], AccountRole::OtherCurrentLiability);
    }

    #[test]
    fn every_role_has_a_place_and_a_side() {
        use sea_orm::Iterable;
        for role in AccountRole::iter() {
            let p = place(role);
            let assets = matches!(p, Place::Position(Position::CurrentAssets | Position::NonCurrentAssets));
            let costs = matches!(
                p,
                Place::Performance(
                    Performance::CostOfSales
                        | Performance::OperatingExpenses
                        | Performance::OtherExpenses
                        | Performance::IncomeTax
                )
            );
            assert_eq!(debit_positive(p), assets || costs, "{role:?}");
        }
        assert_eq!(
            place(AccountRole::SalesReturns),
            Place::Performance(Performance::Revenue)
        );
        assert_eq!(place(AccountRole::Drawings), Place::Position(Position::Equity));
        assert_eq!(
            place(AccountRole::AccumulatedDepreciation),
            Place::Position(Position::NonCurrentAssets)
        );
        assert!(shown(Place::Position(Position::Equity), Decimal::ZERO).is_sign_positive());
    }

    /// A small company: the chart of a trading business, with contra accounts.
    struct Books {
        chart: Vec<account::Model>,
        cash: account::Model,
        vat_in: account::Model,
        equipment: account::Model,
        depreciation: account::Model,
        vat_out: account::Model,
        loan: account::Model,
        capital: account::Model,
        drawings: account::Model,
        retained: account::Model,
        current_year_header: account::Model,
        sales: account::Model,
        returns: account::Model,
        cogs: account::Model,
        salaries: account::Model,
        interest_income: account::Model,
        interest: account::Model,
        tax: account::Model,
    }

    fn books() -> Books {
        use AccountRole as R;
        use AccountType as T;
        let cash = acct("1-1101", T::Asset, Some(R::Cash), None);
        let vat_in = acct("1-1403", T::Asset, Some(R::VatInput), None);
        let equipment = acct("1-2005", T::Asset, Some(R::FixedAsset), None);
        let mut depreciation = acct("1-2006", T::Asset, Some(R::AccumulatedDepreciation), None);
        depreciation.normal_balance = NormalBalance::Credit;
        let vat_out = acct("2-1201", T::Liability, Some(R::VatOutput), None);
        let loan = acct("2-2001", T::Liability, Some(R::NonCurrentLiability), None);
        let capital = acct("3-1001", T::Equity, Some(R::Capital), None);
        let drawings = acct("3-1002", T::Equity, Some(R::Drawings), None);
        let retained = acct("3-2001", T::Equity, Some(R::RetainedEarnings), None);
        let current_year_header = header(acct("3-2002", T::Equity, Some(R::CurrentYearEarnings), None));
        let sales = acct("4-1001", T::Revenue, Some(R::Revenue), None);
        let returns = acct("4-1002", T::Revenue, Some(R::SalesReturns), None);
        let cogs = acct("5-1001", T::Expense, Some(R::CostOfSales), None);
        let salaries = acct("6-2001", T::Expense, None, None);
        let interest_income = acct("7-1001", T::Revenue, Some(R::OtherIncome), None);
        let interest = acct("8-1001", T::Expense, Some(R::OtherExpense), None);
        let tax = acct("9-1001", T::Expense, Some(R::IncomeTaxExpense), None);
        let chart = vec![
            cash.clone(),
            vat_in.clone(),
            equipment.clone(),
            depreciation.clone(),
            vat_out.clone(),
            loan.clone(),
            capital.clone(),
            drawings.clone(),
            retained.clone(),
            current_year_header.clone(),
            sales.clone(),
            returns.clone(),
            cogs.clone(),
            salaries.clone(),
            interest_income.clone(),
            interest.clone(),
            tax.clone(),
        ];
        Books {
            chart,
            cash,
            vat_in,
            equipment,
            depreciation,
            vat_out,
            loan,
            capital,
            drawings,
            retained,
            current_year_header,
            sales,
            returns,
            cogs,
            salaries,
            interest_income,
            interest,
            tax,
        }
    }

    /// Last year (before the fiscal year): capital 1000 in cash, sales 300 (+33 VAT),
    /// salaries 100; not closed. This year: sales 500 (+55 VAT), a return of 50,
    /// cost of sales 200, salaries 120, interest received 10, interest paid 20, tax 15,
    /// equipment 600 (+66 VAT in) of which 100 depreciated, a loan of 400, drawings 30.
    fn two_years(b: &Books) -> BalanceSheetColumn {
        let mut before = AccountTotals::new();
        post(&mut before, &b.cash, "1000", false);
        post(&mut before, &b.capital, "-1000", false);
        post(&mut before, &b.cash, "333", false);
        post(&mut before, &b.sales, "-300", false);
        post(&mut before, &b.vat_out, "-33", false);
        post(&mut before, &b.salaries, "100", false);
        post(&mut before, &b.cash, "-100", false);
        let mut year = AccountTotals::new();
        for (account, amount) in [
            (&b.cash, "555"),
            (&b.sales, "-500"),
            (&b.vat_out, "-55"),
            (&b.returns, "50"),
            (&b.cash, "-50"),
            (&b.cogs, "200"),
            (&b.cash, "-200"),
            (&b.salaries, "120"),
            (&b.cash, "-120"),
            (&b.cash, "10"),
            (&b.interest_income, "-10"),
            (&b.interest, "20"),
            (&b.cash, "-20"),
            (&b.tax, "15"),
            (&b.cash, "-15"),
            (&b.equipment, "600"),
            (&b.vat_in, "66"),
            (&b.cash, "-666"),
            (&b.salaries, "100"),
            (&b.depreciation, "-100"),
            (&b.cash, "400"),
            (&b.loan, "-400"),
            (&b.drawings, "30"),
            (&b.cash, "-30"),
        ] {
            post(&mut year, account, amount, false);
        }
        BalanceSheetColumn {
            as_of: d(2026, 12, 31),
            before_year: before,
            in_year: year,
        }
    }

    #[test]
    fn the_balance_sheet_sections_signs_and_computed_earnings() {
        let b = books();
        let column = two_years(&b);
        let sheet = balance_sheet(&b.chart, Language::Indonesian, std::slice::from_ref(&column));
        assert_eq!(sheet.title, "Laporan Posisi Keuangan");
        assert_eq!(sheet.columns[0].label, "31 Des 2026");
        assert_eq!(sheet.columns[0].from, None);
        // Cash: 1000 + 333 - 100 + 555 - 50 - 200 - 120 + 10 - 20 - 15 - 666 + 400 - 30 = 1097.
        assert_eq!(amounts(&sheet, "Akun 1-1101"), ["1097"]);
        assert_eq!(amounts(&sheet, "Aset Lancar"), ["1163"], "1097 + 66 VAT in");
        assert_eq!(
            amounts(&sheet, "Akun 1-2006"),
            ["-100"],
            "a contra asset shows negative"
        );
        assert_eq!(amounts(&sheet, "Aset Tidak Lancar"), ["500"]);
        assert_eq!(amounts(&sheet, "Total Aset"), ["1663"]);
        assert_eq!(amounts(&sheet, "Liabilitas Jangka Pendek"), ["88"], "33 + 55 VAT out");
        assert_eq!(amounts(&sheet, "Liabilitas Jangka Panjang"), ["400"]);
        assert_eq!(amounts(&sheet, "Total Liabilitas"), ["488"]);
        assert_eq!(amounts(&sheet, "Akun 3-1002"), ["-30"], "drawings reduce equity");
        // This year: 500 - 50 - 200 - 120 + 10 - 20 - 15 - 100 = 5.
        assert_eq!(amounts(&sheet, "Laba Tahun Berjalan"), ["5"]);
        assert_eq!(row(&sheet, "Laba Tahun Berjalan").kind, RowKind::Computed);
        // Last year, never closed: 300 - 100 = 200.
        assert_eq!(amounts(&sheet, "Saldo Laba Tahun Lalu Belum Ditutup"), ["200"]);
        assert_eq!(amounts(&sheet, "Total Ekuitas"), ["1175"], "1000 - 30 + 5 + 200");
        assert_eq!(amounts(&sheet, "Total Liabilitas dan Ekuitas"), ["1663"]);
        // No income-statement account and no header is a row; zero accounts are skipped.
        for absent in ["Akun 4-1001", "Akun 6-2001", "Akun 3-2002", "Akun 3-2001"] {
            assert!(sheet.rows.iter().all(|r| r.label != absent), "{absent}");
        }
        let kinds: Vec<(RowKind, i32)> = sheet.rows.iter().map(|r| (r.kind, r.depth)).collect();
        assert_eq!(kinds[0], (RowKind::Section, 0));
        assert_eq!(kinds[1], (RowKind::Account, 1));
        assert_eq!(sheet.rows.last().map(|r| r.kind), Some(RowKind::Total));
    }

    #[test]
    fn a_closed_year_moves_its_earnings_into_retained_earnings() {
        let b = books();
        let mut column = two_years(&b);
        // Close last year: sales 300 and salaries 100 into retained earnings (200).
        post(&mut column.before_year, &b.sales, "300", true);
        post(&mut column.before_year, &b.salaries, "-100", true);
        post(&mut column.before_year, &b.retained, "-200", true);
        let sheet = balance_sheet(&b.chart, Language::English, std::slice::from_ref(&column));
        assert!(
            sheet.rows.iter().all(|r| r.label != "Prior Years' Unclosed Earnings"),
            "zero in every column: left out"
        );
        assert_eq!(amounts(&sheet, "Akun 3-2001"), ["200"]);
        assert_eq!(amounts(&sheet, "Current Year Earnings"), ["5"]);
        assert_eq!(
            amounts(&sheet, "Total Assets"),
            amounts(&sheet, "Total Liabilities and Equity")
        );
        // And this year closed too: its earnings are 0, retained earnings 205.
        for (account, amount) in [
            (&b.sales, "500"),
            (&b.returns, "-50"),
            (&b.cogs, "-200"),
            (&b.salaries, "-220"),
            (&b.interest_income, "10"),
            (&b.interest, "-20"),
            (&b.tax, "-15"),
            (&b.retained, "-5"),
        ] {
            post(&mut column.in_year, account, amount, true);
        }
        let closed = balance_sheet(&b.chart, Language::English, std::slice::from_ref(&column));
        assert_eq!(amounts(&closed, "Current Year Earnings"), ["0"]);
        assert_eq!(amounts(&closed, "Akun 3-2001"), ["205"]);
        assert_eq!(amounts(&closed, "Total Assets"), ["1663"]);
        assert_eq!(amounts(&closed, "Total Liabilities and Equity"), ["1663"]);
    }

    #[test]
    fn a_postable_current_year_earnings_account_with_postings_is_an_equity_row() {
        let b = books();
        let mut old = acct(
            "3-2003",
            AccountType::Equity,
            Some(AccountRole::CurrentYearEarnings),
            None,
        );
        old.name = "Laba Tahun Berjalan (lama)".into();
        let mut chart = b.chart.clone();
        chart.push(old.clone());
        let mut column = BalanceSheetColumn {
            as_of: d(2026, 6, 30),
            ..Default::default()
        };
        post(&mut column.in_year, &b.cash, "70", false);
        post(&mut column.in_year, &old, "-70", false);
        // And a header CURRENT_YEAR_EARNINGS account that somehow holds a balance: it
        // is no row, its balance joins the computed one.
        post(&mut column.in_year, &b.cash, "5", false);
        post(&mut column.in_year, &b.current_year_header, "-5", false);
        let sheet = balance_sheet(&chart, Language::Indonesian, &[column]);
        assert_eq!(amounts(&sheet, "Laba Tahun Berjalan (lama)"), ["70"]);
        assert_eq!(row(&sheet, "Laba Tahun Berjalan (lama)").kind, RowKind::Account);
        assert_eq!(amounts(&sheet, "Laba Tahun Berjalan"), ["5"]);
        assert!(sheet.rows.iter().all(|r| r.label != "Akun 3-2002"));
        assert_eq!(amounts(&sheet, "Total Aset"), ["75"]);
        assert_eq!(amounts(&sheet, "Total Liabilitas dan Ekuitas"), ["75"]);
    }

    #[test]
    fn the_income_statement_sections_subtotals_and_signs() {
        let b = books();
        let year = two_years(&b);
        let mut closing = year.in_year.clone();
        // A closing entry in the period changes nothing in the income statement.
        post(&mut closing, &b.sales, "500", true);
        post(&mut closing, &b.retained, "-500", true);
        let statement = income_statement(
            &b.chart,
            Language::Indonesian,
            &[
                PeriodColumn {
                    from: d(2026, 1, 1),
                    to: d(2026, 12, 31),
                    totals: closing,
                },
                PeriodColumn {
                    from: d(2025, 1, 1),
                    to: d(2025, 12, 31),
                    totals: year.before_year.clone(),
                },
            ],
        );
        assert_eq!(statement.title, "Laporan Laba Rugi");
        let labels: Vec<&str> = statement.columns.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["2026", "2025"]);
        assert_eq!(amounts(&statement, "Akun 4-1001"), ["500", "300"]);
        assert_eq!(
            amounts(&statement, "Akun 4-1002"),
            ["-50", "0"],
            "returns reduce revenue"
        );
        assert_eq!(amounts(&statement, "Total Pendapatan"), ["450", "300"]);
        assert_eq!(amounts(&statement, "Beban Pokok Penjualan"), ["200", "0"]);
        assert_eq!(amounts(&statement, "Laba Kotor"), ["250", "300"]);
        // Salaries (no role: OPERATING_EXPENSE by type) 120 + depreciation 100.
        assert_eq!(amounts(&statement, "Beban Usaha"), ["220", "100"]);
        assert_eq!(amounts(&statement, "Laba Usaha"), ["30", "200"]);
        assert_eq!(amounts(&statement, "Pendapatan Lain-lain"), ["10", "0"]);
        assert_eq!(amounts(&statement, "Beban Lain-lain"), ["20", "0"]);
        assert_eq!(amounts(&statement, "Laba Sebelum Pajak"), ["20", "200"]);
        assert_eq!(amounts(&statement, "Beban Pajak Penghasilan"), ["15", "0"]);
        let last = statement.rows.last().cloned();
        assert_eq!(last.as_ref().map(|r| r.label.as_str()), Some("Laba Bersih"));
        assert_eq!(last.as_ref().map(|r| r.kind), Some(RowKind::Total));
        assert_eq!(amounts(&statement, "Laba Bersih"), ["5", "200"]);
        assert!(
            statement.rows.iter().all(|r| r.label != "Akun 1-1101"),
            "no balance-sheet account"
        );
        let order: Vec<&str> = statement
            .rows
            .iter()
            .filter(|r| r.kind != RowKind::Account)
            .map(|r| r.label.as_str())
            .collect();
        assert_eq!(
            order,
            [
                "Pendapatan",
                "Total Pendapatan",
                "Beban Pokok Penjualan",
                "Laba Kotor",
                "Beban Usaha",
                "Laba Usaha",
                "Pendapatan Lain-lain",
                "Beban Lain-lain",
                "Laba Sebelum Pajak",
                "Beban Pajak Penghasilan",
                "Laba Bersih"
            ]
        );
        let english = income_statement(&b.chart, Language::English, &[]);
        let order: Vec<&str> = english.rows.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            order,
            [
                "Revenue",
                "Total Revenue",
                "Cost of Sales",
                "Gross Profit",
                "Operating Expenses",
                "Operating Profit",
                "Other Income",
                "Other Expenses",
                "Profit Before Tax",
                "Income Tax Expense",
                "Net Profit"
            ]
        );
        assert_eq!(english.title, "Income Statement");
    }

    #[test]
    fn the_balance_sheet_balances_whatever_the_roles() {
        // Roles that disagree with types (a revenue-typed account as CAPITAL, an asset as
        // REVENUE): the role decides, and the sheet still balances.
        let b = books();
        let mut chart = b.chart.clone();
        for a in &mut chart {
            if a.id == b.interest_income.id {
                a.role = Some(AccountRole::Capital);
            }
            if a.id == b.vat_in.id {
                a.role = Some(AccountRole::Revenue);
            }
        }
        let column = two_years(&b);
        let sheet = balance_sheet(&chart, Language::English, &[column.clone(), column]);
        let assets = amounts(&sheet, "Total Assets");
        assert_eq!(assets, amounts(&sheet, "Total Liabilities and Equity"));
        assert_eq!(assets, ["1597", "1597"], "1663 without the 66 now counted as revenue");
    }

    #[test]
    fn periods_are_cut_at_months_from_the_month_of_from() {
        let year = periods(d(2026, 1, 1), d(2026, 12, 31), Some(Periodicity::Month)).unwrap_or_default();
        assert_eq!(year.len(), 12);
        assert_eq!(year[0], (d(2026, 1, 1), d(2026, 1, 31)));
        assert_eq!(year[1], (d(2026, 2, 1), d(2026, 2, 28)));
        assert_eq!(year[11], (d(2026, 12, 1), d(2026, 12, 31)));
        let partial = periods(d(2026, 1, 15), d(2026, 3, 10), Some(Periodicity::Month)).unwrap_or_default();
        assert_eq!(
            partial,
            [
                (d(2026, 1, 15), d(2026, 1, 31)),
                (d(2026, 2, 1), d(2026, 2, 28)),
                (d(2026, 3, 1), d(2026, 3, 10))
            ]
        );
        let fiscal = periods(d(2025, 7, 1), d(2026, 6, 30), Some(Periodicity::Quarter)).unwrap_or_default();
        assert_eq!(fiscal.len(), 4);
        assert_eq!(fiscal[0], (d(2025, 7, 1), d(2025, 9, 30)));
        assert_eq!(fiscal[3], (d(2026, 4, 1), d(2026, 6, 30)));
        let years = periods(d(2024, 1, 1), d(2026, 12, 31), Some(Periodicity::Year)).unwrap_or_default();
        assert_eq!(years.len(), 3);
        assert_eq!(years[2], (d(2026, 1, 1), d(2026, 12, 31)));
        assert_eq!(
            periods(d(2026, 1, 1), d(2026, 12, 31), None).unwrap_or_default(),
            [(d(2026, 1, 1), d(2026, 12, 31))]
        );
        let day = periods(d(2026, 5, 5), d(2026, 5, 5), Some(Periodicity::Year)).unwrap_or_default();
        assert_eq!(day, [(d(2026, 5, 5), d(2026, 5, 5))]);
        // At the end of the calendar: no overflow.
        let last = periods(d(9999, 11, 1), d(9999, 12, 31), Some(Periodicity::Month)).unwrap_or_default();
        assert_eq!(
            last,
            [(d(9999, 11, 1), d(9999, 11, 30)), (d(9999, 12, 1), d(9999, 12, 31))]
        );
    }

    fn field(result: Result<Vec<(NaiveDate, NaiveDate)>>) -> Option<String> {
        match result {
            Err(Error::BadUserInput { field, .. }) => field,
            _ => None,
        }
    }

    #[test]
    fn too_many_columns_and_backwards_ranges_are_refused() {
        // 36 months is the most; 37 (or a whole millennium) is refused before any is made.
        assert_eq!(
            periods(d(2024, 1, 1), d(2026, 12, 31), Some(Periodicity::Month))
                .map(|p| p.len())
                .ok(),
            Some(36)
        );
        assert_eq!(
            field(periods(d(2024, 1, 1), d(2027, 1, 1), Some(Periodicity::Month))).as_deref(),
            Some("periodicity")
        );
        assert_eq!(
            field(periods(d(1, 1, 1), d(9999, 12, 31), Some(Periodicity::Month))).as_deref(),
            Some("periodicity")
        );
        assert_eq!(
            field(periods(d(2026, 2, 1), d(2026, 1, 31), None)).as_deref(),
            Some("from")
        );
        let compare = [(d(2025, 1, 1), d(2025, 12, 31)); 5];
        assert_eq!(
            field(income_statement_periods(d(2026, 1, 1), d(2026, 12, 31), &compare, None)).as_deref(),
            Some("compareTo")
        );
        assert_eq!(
            field(income_statement_periods(
                d(2026, 1, 1),
                d(2026, 12, 31),
                &[(d(2025, 2, 1), d(2025, 1, 1))],
                None
            ))
            .as_deref(),
            Some("compareTo")
        );
        // 33 months and 4 comparisons: 37 columns.
        assert_eq!(
            field(income_statement_periods(
                d(2024, 1, 1),
                d(2026, 9, 30),
                &compare[..4],
                Some(Periodicity::Month)
            ))
            .as_deref(),
            Some("periodicity")
        );
        let ok = income_statement_periods(d(2026, 1, 1), d(2026, 12, 31), &compare[..4], Some(Periodicity::Month))
            .unwrap_or_default();
        assert_eq!(ok.len(), 16);
        assert_eq!(ok[12], (d(2025, 1, 1), d(2025, 12, 31)));
        assert!(balance_sheet_dates(d(2026, 1, 1), &[d(2025, 1, 1); 5]).is_err());
        assert_eq!(
            balance_sheet_dates(d(2026, 1, 1), &[d(2025, 1, 1); 4])
                .map(|v| v.len())
                .ok(),
            Some(5)
        );
    }

    #[test]
    fn labels_of_columns() {
        let id = Language::Indonesian;
        let en = Language::English;
        assert_eq!(day_label(d(2026, 12, 31), id), "31 Des 2026");
        assert_eq!(day_label(d(2026, 12, 31), en), "31 Dec 2026");
        assert_eq!(period_label(d(2026, 5, 1), d(2026, 5, 31), id), "Mei 2026");
        assert_eq!(period_label(d(2026, 5, 1), d(2026, 5, 31), en), "May 2026");
        assert_eq!(period_label(d(2026, 1, 1), d(2026, 12, 31), id), "2026");
        assert_eq!(period_label(d(2026, 1, 1), d(2026, 3, 31), en), "Jan 2026 - Mar 2026");
        assert_eq!(period_label(d(2025, 7, 1), d(2026, 6, 30), id), "Jul 2025 - Jun 2026");
        assert_eq!(
            period_label(d(2026, 1, 15), d(2026, 3, 31), id),
            "15 Jan 2026 - 31 Mar 2026"
        );
        assert_eq!(period_label(d(2026, 8, 17), d(2026, 8, 17), id), "17 Agu 2026");
        assert_eq!(Language::from_code("en"), en);
        assert_eq!(Language::from_code("id"), id);
    }

    #[test]
    fn the_fiscal_year_starts_on_the_first_of_its_month() {
        assert_eq!(fiscal_year_start(d(2026, 3, 15), 1), d(2026, 1, 1));
        assert_eq!(fiscal_year_start(d(2026, 3, 15), 7), d(2025, 7, 1));
        assert_eq!(fiscal_year_start(d(2026, 7, 1), 7), d(2026, 7, 1));
    }
}
