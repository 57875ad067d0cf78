//! Reports as CSV files (`GET /{tenant}/exports/{report}.csv`): which reports, their
//! parameters, and the file itself, produced chunk by chunk.
//!
//! - [`ExportRequest::parse`] reads the report's arguments from the URL parameters, as the
//!   GraphQL query takes them; every refusal is a `BAD_USER_INPUT` naming the parameter,
//!   given before anything is read.
//! - [`Export::prepare`] reads what the file needs up front inside the caller's snapshot
//!   (the company, the chart, a statement's totals: bounded by the chart, never by the
//!   ledger) and checks what only the database can tell (the account exists).
//! - [`Export::next_chunk`] gives the file in pieces of at most [`CHUNK_ROWS`] rows, each
//!   read by one keyset statement (accounts by code, journal lines in journal order,
//!   ledger lines in ledger order), so memory does not grow with the ledger and no single
//!   statement comes near `statement_timeout`.
//!
//! Cells: text goes through [`format::neutralise`]; amounts are plain decimals with two
//! places (`1500000.00`, `-250.00`), with a decimal comma when the delimiter is `;`.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{ActiveEnum, ConnectionTrait};
use uuid::Uuid;

use super::format::{self, Delimiter, ACCOUNT_COLUMNS, BOM, ENTRY_COLUMNS};
use crate::entities::tenant::account;
use crate::entities::tenant::journal_entry::EntryStatus;
use crate::error::{Error, Result};
use crate::ledger::accounts::{self, AccountFilter};
use crate::ledger::journal::queries::{lines_in_journal_order, EntryFilter, JournalLinePosition, JournalLines};
use crate::ledger::money::format_amount;
use crate::ledger::paging::Total;
use crate::ledger::reports::{self, LedgerPosition, LedgerRange};
use crate::ledger::statements::{self, Language, Periodicity, MAX_COMPARE};

/// Rows read by one statement (and written as one chunk of the file). A row holds at
/// most a description (500 characters), a reference (100) and a memo
/// (`posting::MAX_MEMO_CHARS`, 2,000): about 11 KB, so a piece is at most about 11 MB
/// however a tenant fills its text.
pub const CHUNK_ROWS: u64 = 1_000;

/// Longest `search` text of a journal export.
const MAX_SEARCH_CHARS: usize = 200;

/// Most URL parameters an export takes (more is refused, not read).
const MAX_PARAMETERS: usize = 12;

/// The reports that export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Accounts,
    Journal,
    TrialBalance,
    GeneralLedger,
    BalanceSheet,
    IncomeStatement,
}

impl Report {
    pub const ALL: [Report; 6] = [
        Report::Accounts,
        Report::Journal,
        Report::TrialBalance,
        Report::GeneralLedger,
        Report::BalanceSheet,
        Report::IncomeStatement,
    ];

    /// The report's name in the path (`trial-balance` of `trial-balance.csv`).
    pub fn name(self) -> &'static str {
        match self {
            Report::Accounts => "accounts",
            Report::Journal => "journal",
            Report::TrialBalance => "trial-balance",
            Report::GeneralLedger => "general-ledger",
            Report::BalanceSheet => "balance-sheet",
            Report::IncomeStatement => "income-statement",
        }
    }

    /// The report a file name of the path names (`trial-balance.csv`), if any.
    pub fn from_file(file: &str) -> Option<Report> {
        let name = file.strip_suffix(".csv")?;
        Report::ALL.into_iter().find(|report| report.name() == name)
    }

    /// The URL parameters the report takes besides `sep`.
    fn parameters(self) -> &'static [&'static str] {
        match self {
            Report::Accounts => &[],
            Report::Journal => &["status", "from", "to", "accountId", "search"],
            Report::TrialBalance => &["asOf", "from"],
            Report::GeneralLedger => &["accountId", "from", "to", "language"],
            Report::BalanceSheet => &["asOf", "compareTo", "language"],
            Report::IncomeStatement => &["from", "to", "compareTo", "periodicity", "language"],
        }
    }

    /// Whether `name` is one of the report's parameters (`sep` included).
    pub fn takes(self, name: &str) -> bool {
        name == "sep" || self.parameters().contains(&name)
    }
}

/// A report and its arguments, read from the URL parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub report: Report,
    pub delimiter: Delimiter,
    pub args: Args,
}

/// The arguments of each report, as its GraphQL query takes them.
#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    /// The whole chart, archived accounts too (a journal may name them).
    Accounts,
    /// Entries with their lines. `status` as `journalEntries(filter: {status})`; without
    /// it, every entry that counts in the balances (POSTED and REVERSED: both sides of a
    /// reversal), which is what re-imports to the same trial balance.
    Journal {
        status: Option<EntryStatus>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        account_id: Option<Uuid>,
        search: Option<String>,
    },
    TrialBalance {
        as_of: Option<NaiveDate>,
        from: Option<NaiveDate>,
    },
    GeneralLedger {
        account_id: Uuid,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        language: Option<Language>,
    },
    BalanceSheet {
        as_of: Option<NaiveDate>,
        compare_to: Vec<NaiveDate>,
        language: Option<Language>,
    },
    IncomeStatement {
        from: NaiveDate,
        to: NaiveDate,
        compare_to: Vec<(NaiveDate, NaiveDate)>,
        periodicity: Option<Periodicity>,
        language: Option<Language>,
    },
}

/// The URL parameters of a query string, decoded, in their order. `BAD_REQUEST` when the
/// query string is not `application/x-www-form-urlencoded`.
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or(""))
        .map_err(|_| Error::bad_request("the URL parameters are not form-encoded"))
}

/// The parameters in one canonical text (sorted by name, then value; form-encoded): what
/// a link signs, so the order a browser or proxy gives them in does not matter.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort();
    serde_urlencoded::to_string(sorted).unwrap_or_default()
}

impl ExportRequest {
    /// Reads `report`'s arguments from `pairs`: only its own parameters, each at most
    /// once, each well formed (`BAD_USER_INPUT` naming the parameter otherwise).
    pub fn parse(report: Report, pairs: &[(String, String)]) -> Result<ExportRequest> {
        if pairs.len() > MAX_PARAMETERS {
            return Err(Error::BadUserInput {
                field: None,
                message: format!("at most {MAX_PARAMETERS} parameters"),
            });
        }
        let mut given: HashMap<&str, &str> = HashMap::new();
        for (name, value) in pairs {
            if !report.takes(name) {
                return Err(Error::bad_input(
                    name.chars().take(40).collect::<String>(),
                    format!(
                        "not a parameter of the {} export (it takes: {})",
                        report.name(),
                        std::iter::once("sep")
                            .chain(report.parameters().iter().copied())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if given.insert(name, value).is_some() {
                return Err(Error::bad_input(name.as_str(), "given more than once"));
            }
        }
        let date = |name: &str| given.get(name).map(|v| parse_date(name, v)).transpose();
        let language = || given.get("language").map(|v| parse_language(v)).transpose();
        let delimiter = match given.get("sep").copied() {
            None | Some(",") => Delimiter::Comma,
            Some(";") => Delimiter::Semicolon,
            Some(_) => return Err(Error::bad_input("sep", "`;` or `,`")),
        };
        let args = match report {
            Report::Accounts => Args::Accounts,
            Report::Journal => {
                let search = given
                    .get("search")
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty());
                if search.as_ref().is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS) {
                    return Err(Error::bad_input(
                        "search",
                        format!("at most {MAX_SEARCH_CHARS} characters"),
                    ));
                }
                let (from, to) = (date("from")?, date("to")?);
                check_range(from, to)?;
                Args::Journal {
                    status: given.get("status").map(|v| parse_status(v)).transpose()?,
                    from,
                    to,
                    account_id: given.get("accountId").map(|v| parse_id(v)).transpose()?,
                    search,
                }
            }
            Report::TrialBalance => {
                let (as_of, from) = (date("asOf")?, date("from")?);
                if let Some(as_of) = as_of {
                    reports::check_trial_balance_range(as_of, from)?;
                }
                Args::TrialBalance { as_of, from }
            }
            Report::GeneralLedger => {
                let account_id = given
                    .get("accountId")
                    .map(|v| parse_id(v))
                    .transpose()?
                    .ok_or_else(|| Error::bad_input("accountId", "the general ledger of which account?"))?;
                let (from, to) = (date("from")?, date("to")?);
                check_range(from, to)?;
                Args::GeneralLedger {
                    account_id,
                    from,
                    to,
                    language: language()?,
                }
            }
            Report::BalanceSheet => {
                let compare_to = list("compareTo", given.get("compareTo").copied())?
                    .into_iter()
                    .map(|v| parse_date("compareTo", v))
                    .collect::<Result<Vec<_>>>()?;
                Args::BalanceSheet {
                    as_of: date("asOf")?,
                    compare_to,
                    language: language()?,
                }
            }
            Report::IncomeStatement => {
                let required = |name: &str| date(name)?.ok_or_else(|| Error::bad_input(name, "required"));
                let (from, to) = (required("from")?, required("to")?);
                let compare_to = list("compareTo", given.get("compareTo").copied())?
                    .into_iter()
                    .map(parse_period)
                    .collect::<Result<Vec<_>>>()?;
                let periodicity = given.get("periodicity").map(|v| parse_periodicity(v)).transpose()?;
                // The columns are checked (order, count) now, not once the file has begun.
                statements::income_statement_periods(from, to, &compare_to, periodicity)?;
                Args::IncomeStatement {
                    from,
                    to,
                    compare_to,
                    periodicity,
                    language: language()?,
                }
            }
        };
        Ok(ExportRequest {
            report,
            delimiter,
            args,
        })
    }
}

fn parse_date(name: &str, value: &str) -> Result<NaiveDate> {
    crate::graphql::scalars::strict_date(value.trim()).ok_or_else(|| Error::bad_input(name, "a date is YYYY-MM-DD"))
}

fn parse_id(value: &str) -> Result<Uuid> {
    Uuid::parse_str(value.trim()).map_err(|_| Error::bad_input("accountId", "not an id of this API"))
}

fn parse_language(value: &str) -> Result<Language> {
    match value.trim() {
        "id" => Ok(Language::Indonesian),
        "en" => Ok(Language::English),
        _ => Err(Error::bad_input("language", "`id` or `en`")),
    }
}

fn parse_status(value: &str) -> Result<EntryStatus> {
    match value.trim() {
        "DRAFT" => Ok(EntryStatus::Draft),
        "POSTED" => Ok(EntryStatus::Posted),
        "REVERSED" => Ok(EntryStatus::Reversed),
        _ => Err(Error::bad_input("status", "DRAFT, POSTED or REVERSED")),
    }
}

fn parse_periodicity(value: &str) -> Result<Periodicity> {
    match value.trim() {
        "MONTH" => Ok(Periodicity::Month),
        "QUARTER" => Ok(Periodicity::Quarter),
        "YEAR" => Ok(Periodicity::Year),
        _ => Err(Error::bad_input("periodicity", "MONTH, QUARTER or YEAR")),
    }
}

/// A period of `compareTo`: `2025-01-01..2025-12-31`.
fn parse_period(value: &str) -> Result<(NaiveDate, NaiveDate)> {
    let (from, to) = value
        .split_once("..")
        .ok_or_else(|| Error::bad_input("compareTo", "a period is FROM..TO, such as 2025-01-01..2025-12-31"))?;
    Ok((parse_date("compareTo", from)?, parse_date("compareTo", to)?))
}

/// A comma-separated list of at most [`MAX_COMPARE`] items.
fn list<'a>(name: &str, value: Option<&'a str>) -> Result<Vec<&'a str>> {
    let items: Vec<&str> = value
        .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if items.len() > MAX_COMPARE {
        return Err(Error::bad_input(name, format!("at most {MAX_COMPARE} comparisons")));
    }
    Ok(items)
}

fn check_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<()> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(Error::bad_input("from", "from must not be after to")),
        _ => Ok(()),
    }
}

/// One cell: text is neutralised against formulas; an amount is a plain decimal; other
/// values (dates, numbers, enum names) are written as they are.
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Amount(Decimal),
    Plain(String),
}

fn text(value: impl Into<String>) -> Cell {
    Cell::Text(value.into())
}

fn optional(value: Option<&str>) -> Cell {
    Cell::Text(value.unwrap_or_default().to_owned())
}

fn plain(value: impl ToString) -> Cell {
    Cell::Plain(value.to_string())
}

/// Where the rows after the header come from.
enum Source {
    /// A report computed up front (trial balance, statements: one row per account at most).
    Rows(std::vec::IntoIter<Vec<Cell>>),
    Accounts {
        codes: HashMap<Uuid, String>,
        after: Option<String>,
    },
    Journal {
        codes: HashMap<Uuid, String>,
        which: JournalLines,
        after: Option<JournalLinePosition>,
    },
    Ledger {
        account: account::Model,
        range: LedgerRange,
        after: Option<LedgerPosition>,
        /// Debits minus credits up to the last line written.
        running: Decimal,
    },
}

/// One export in progress: its file name, the header, and where the rows come from.
pub struct Export {
    file_name: String,
    delimiter: Delimiter,
    header: Vec<Cell>,
    /// Rows before the source's (the general ledger's opening balance).
    leading: Vec<Vec<Cell>>,
    source: Source,
    /// The BOM and header are out.
    started: bool,
    /// The last rows are out.
    done: bool,
}

impl Export {
    /// Reads what the file needs before its first byte, inside the caller's snapshot, and
    /// checks what the database must tell (`NOT_FOUND` for an unknown account).
    pub async fn prepare(db: &impl ConnectionTrait, slug: &str, request: &ExportRequest) -> Result<Export> {
        let company = crate::ledger::company::company(db).await?;
        let today = crate::ledger::company::today_in(&company.timezone);
        let language = |given: &Option<Language>| given.unwrap_or_else(|| Language::from_code(&company.language));
        let name = |dates: String| format!("{slug}-{}-{dates}.csv", request.report.name());
        let export = |file_name: String, header: Vec<Cell>, source: Source| Export {
            file_name,
            delimiter: request.delimiter,
            header,
            leading: Vec::new(),
            source,
            started: false,
            done: false,
        };
        Ok(match &request.args {
            Args::Accounts => export(
                name(today.to_string()),
                ACCOUNT_COLUMNS.iter().map(plain).collect(),
                Source::Accounts {
                    codes: account_codes(db).await?,
                    after: None,
                },
            ),
            Args::Journal {
                status,
                from,
                to,
                account_id,
                search,
            } => export(
                name(range_name(*from, *to, today)),
                ENTRY_COLUMNS.iter().map(plain).collect(),
                Source::Journal {
                    codes: account_codes(db).await?,
                    which: JournalLines {
                        filter: EntryFilter {
                            status: *status,
                            from: *from,
                            to: *to,
                            account_id: *account_id,
                            search: search.clone(),
                        },
                        booked_only: status.is_none(),
                    },
                    after: None,
                },
            ),
            Args::TrialBalance { as_of, from } => {
                let as_of = as_of.unwrap_or(today);
                let rows = reports::trial_balance_in(db, as_of, *from).await?;
                let mut header = vec![
                    plain("code"),
                    plain("name"),
                    plain("type"),
                    plain("debit"),
                    plain("credit"),
                ];
                if from.is_some() {
                    for column in [
                        "opening_balance",
                        "movement_debit",
                        "movement_credit",
                        "closing_balance",
                    ] {
                        header.push(plain(column));
                    }
                }
                let rows = rows
                    .into_iter()
                    .map(|row| {
                        let mut cells = vec![
                            text(row.account.code),
                            text(row.account.name),
                            plain(row.account.account_type.to_value()),
                            Cell::Amount(row.debit),
                            Cell::Amount(row.credit),
                        ];
                        if let Some(m) = row.movement {
                            cells.extend([m.opening, m.debit, m.credit, m.closing].map(Cell::Amount));
                        }
                        cells
                    })
                    .collect::<Vec<_>>();
                let dates = match from {
                    Some(from) => format!("{from}_{as_of}"),
                    None => as_of.to_string(),
                };
                export(name(dates), header, Source::Rows(rows.into_iter()))
            }
            Args::GeneralLedger {
                account_id,
                from,
                to,
                language: wanted,
            } => {
                let account = accounts::by_id(db, *account_id)
                    .await?
                    .ok_or_else(|| Error::NotFound("no such account".into()))?;
                let running = reports::net_debit_before(db, account.id, *from).await?;
                let header = [
                    "date",
                    "entry",
                    "description",
                    "reference",
                    "debit",
                    "credit",
                    "running_balance",
                    "memo",
                ]
                .map(plain)
                .to_vec();
                let opening_label = match language(wanted) {
                    Language::Indonesian => "Saldo awal",
                    Language::English => "Opening balance",
                };
                // The balance the lines start from, as the first row.
                let opening = vec![
                    from.map(plain).unwrap_or(plain("")),
                    plain(""),
                    text(opening_label),
                    plain(""),
                    plain(""),
                    plain(""),
                    Cell::Amount(account.normal_balance.signed(running)),
                    plain(""),
                ];
                let file = format!(
                    "{slug}-{}-{}-{}.csv",
                    request.report.name(),
                    file_safe(&account.code),
                    range_name(*from, *to, today)
                );
                let mut export = export(
                    file,
                    header,
                    Source::Ledger {
                        account,
                        range: LedgerRange { from: *from, to: *to },
                        after: None,
                        running,
                    },
                );
                export.leading.push(opening);
                export
            }
            Args::BalanceSheet {
                as_of,
                compare_to,
                language: wanted,
            } => {
                let statement =
                    reports::balance_sheet_in(db, Some(as_of.unwrap_or(today)), compare_to, Some(language(wanted)))
                        .await?;
                export(
                    name(as_of.unwrap_or(today).to_string()),
                    statement_header(&statement),
                    Source::Rows(statement_rows(statement).into_iter()),
                )
            }
            Args::IncomeStatement {
                from,
                to,
                compare_to,
                periodicity,
                language: wanted,
            } => {
                let statement =
                    reports::income_statement_in(db, *from, *to, compare_to, *periodicity, Some(language(wanted)))
                        .await?;
                export(
                    name(format!("{from}_{to}")),
                    statement_header(&statement),
                    Source::Rows(statement_rows(statement).into_iter()),
                )
            }
        })
    }
}

impl Export {
    /// The file's name: `<slug>-<report>-<date or range>.csv` (the general ledger's
    /// with the account's code), of characters safe in `Content-Disposition`.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// The next piece of the file: the BOM and the header first, then at most
    /// [`CHUNK_ROWS`] rows per piece, each piece from one statement; `None` after the
    /// last. Call it with the snapshot `prepare` read from.
    pub async fn next_chunk(&mut self, db: &impl ConnectionTrait) -> Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        let mut rows: Vec<Vec<Cell>> = std::mem::take(&mut self.leading);
        let more = match &mut self.source {
            Source::Rows(remaining) => {
                rows.extend(remaining.by_ref().take(CHUNK_ROWS as usize));
                remaining.len() > 0
            }
            Source::Accounts { codes, after } => {
                let filter = AccountFilter {
                    include_archived: true,
                    ..AccountFilter::default()
                };
                let page = accounts::list(db, &filter, CHUNK_ROWS, after.as_deref(), Total::NotWanted).await?;
                *after = page.rows.last().map(|a| a.code.clone());
                rows.extend(page.rows.into_iter().map(|a| account_row(a, codes)));
                page.has_next
            }
            Source::Journal { codes, which, after } => {
                let lines = lines_in_journal_order(db, which, *after, CHUNK_ROWS).await?;
                *after = lines.last().map(|l| l.position());
                let full = lines.len() as u64 == CHUNK_ROWS;
                rows.extend(lines.into_iter().map(|l| {
                    let entry = l.number.unwrap_or_else(|| l.entry_id.to_string());
                    vec![
                        text(entry),
                        plain(l.date),
                        text(l.description),
                        optional(l.reference.as_deref()),
                        text(codes.get(&l.account_id).cloned().unwrap_or_default()),
                        Cell::Amount(l.debit),
                        Cell::Amount(l.credit),
                        optional(l.memo.as_deref()),
                    ]
                }));
                full
            }
            Source::Ledger {
                account,
                range,
                after,
                running,
            } => {
                let (lines, has_next) =
                    reports::ledger_lines(db, account, *range, *after, *running, CHUNK_ROWS).await?;
                if let Some(last) = lines.last() {
                    *after = Some(last.position);
                    *running = account.normal_balance.signed(last.running_balance);
                }
                rows.extend(lines.into_iter().map(|l| {
                    vec![
                        plain(l.date),
                        optional(l.entry_number.as_deref()),
                        text(l.description),
                        optional(l.reference.as_deref()),
                        Cell::Amount(l.debit),
                        Cell::Amount(l.credit),
                        Cell::Amount(l.running_balance),
                        optional(l.memo.as_deref()),
                    ]
                }));
                has_next
            }
        };
        self.done = !more;
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.extend_from_slice(BOM.as_bytes());
            out = write_rows(out, self.delimiter, std::slice::from_ref(&self.header))?;
        }
        Ok(Some(write_rows(out, self.delimiter, &rows)?))
    }
}

/// `rows` as CSV (RFC 4180: fields quoted where needed, CRLF line ends) after `out`.
fn write_rows(out: Vec<u8>, delimiter: Delimiter, rows: &[Vec<Cell>]) -> Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter.byte())
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    for row in rows {
        for cell in row {
            writer
                .write_field(cell_text(cell, delimiter).as_bytes())
                .map_err(|e| Error::Internal(e.into()))?;
        }
        // Ends the record.
        writer
            .write_record(None::<&[u8]>)
            .map_err(|e| Error::Internal(e.into()))?;
    }
    writer.into_inner().map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))
}

/// A cell as written. With `;` the decimal point of amounts is a comma, as a
/// spreadsheet set to a comma decimal reads them.
fn cell_text(cell: &Cell, delimiter: Delimiter) -> Cow<'_, str> {
    match cell {
        Cell::Text(value) => format::neutralise(value),
        Cell::Plain(value) => Cow::Borrowed(value),
        Cell::Amount(value) => {
            let amount = format_amount(*value);
            match delimiter {
                Delimiter::Comma => Cow::Owned(amount),
                Delimiter::Semicolon => Cow::Owned(amount.replace('.', ",")),
            }
        }
    }
}

/// A row of the accounts file, in [`ACCOUNT_COLUMNS`] order.
fn account_row(a: account::Model, codes: &HashMap<Uuid, String>) -> Vec<Cell> {
    vec![
        text(a.code),
        text(a.name),
        plain(a.account_type.to_value()),
        text(a.parent_id.and_then(|p| codes.get(&p).cloned()).unwrap_or_default()),
        plain(a.is_postable),
        plain(a.normal_balance.to_value()),
        plain(a.role.map(|r| r.to_value()).unwrap_or_default()),
        optional(a.description.as_deref()),
    ]
}

/// Every account's code by id (the chart, which is small: hundreds of rows).
async fn account_codes(db: &impl ConnectionTrait) -> Result<HashMap<Uuid, String>> {
    Ok(accounts::all(db).await?.into_iter().map(|a| (a.id, a.code)).collect())
}

/// A statement's header: what a row is, then one column per statement column.
fn statement_header(statement: &statements::FinancialStatement) -> Vec<Cell> {
    let mut header = vec![plain("kind"), plain("depth"), plain("code"), plain("label")];
    header.extend(statement.columns.iter().map(|c| text(c.label.clone())));
    header
}

fn statement_rows(statement: statements::FinancialStatement) -> Vec<Vec<Cell>> {
    statement
        .rows
        .into_iter()
        .map(|row| {
            let mut cells = vec![
                plain(kind_name(row.kind)),
                plain(row.depth),
                optional(row.account.as_ref().map(|a| a.code.as_str())),
                text(row.label),
            ];
            cells.extend(row.amounts.into_iter().map(Cell::Amount));
            cells
        })
        .collect()
}

/// A row's kind as the API names it (`StatementRowKind`).
fn kind_name(kind: statements::RowKind) -> &'static str {
    use statements::RowKind::*;
    match kind {
        Section => "SECTION",
        Account => "ACCOUNT",
        Subtotal => "SUBTOTAL",
        Total => "TOTAL",
        Computed => "COMPUTED",
    }
}

/// The dates part of a file name: `from_to` with an open end as `start` / `end`, or the
/// day of the export when neither is given.
fn range_name(from: Option<NaiveDate>, to: Option<NaiveDate>, today: NaiveDate) -> String {
    match (from, to) {
        (None, None) => today.to_string(),
        (from, to) => format!(
            "{}_{}",
            from.map_or("start".to_owned(), |d| d.to_string()),
            to.map_or("end".to_owned(), |d| d.to_string())
        ),
    }
}

/// An account code as part of a file name: letters, digits, `-` and `.` kept, the rest `_`.
fn file_safe(code: &str) -> String {
    code.chars()
        .take(40)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        query_pairs(Some(query)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn refused_field(report: Report, query: &str) -> Option<String> {
        match ExportRequest::parse(report, &pairs(query)) {
            Err(Error::BadUserInput { field, .. }) => field,
            other => panic!("{query}: {other:?}"),
        }
    }

    #[test]
    fn reports_are_named_by_their_file() {
        for report in Report::ALL {
            assert_eq!(Report::from_file(&format!("{}.csv", report.name())), Some(report));
        }
        assert_eq!(Report::from_file("graphql"), None);
        assert_eq!(Report::from_file("accounts"), None);
        assert_eq!(Report::from_file("../accounts.csv"), None);
    }

    #[test]
    fn parameters_are_read_as_the_graphql_queries_take_them() {
        let request = ExportRequest::parse(Report::TrialBalance, &pairs("asOf=2026-12-31&from=2026-01-01&sep=%3B"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.delimiter, Delimiter::Semicolon);
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default();
        assert_eq!(
            request.args,
            Args::TrialBalance {
                as_of: Some(d(2026, 12, 31)),
                from: Some(d(2026, 1, 1))
            }
        );
        let income = ExportRequest::parse(
            Report::IncomeStatement,
            &pairs("from=2026-01-01&to=2026-12-31&compareTo=2025-01-01..2025-12-31&periodicity=QUARTER&language=en"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            income.args,
            Args::IncomeStatement { ref compare_to, periodicity: Some(Periodicity::Quarter), language: Some(Language::English), .. }
                if compare_to == &[(d(2025, 1, 1), d(2025, 12, 31))]
        ));
        let journal = ExportRequest::parse(Report::Journal, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(journal.args, Args::Journal { status: None, .. }));
    }

    #[test]
    fn bad_parameters_name_themselves() {
        assert_eq!(
            refused_field(Report::TrialBalance, "asOf=2026-13-01").as_deref(),
            Some("asOf")
        );
        assert_eq!(
            refused_field(Report::TrialBalance, "asOf=2026-1-1").as_deref(),
            Some("asOf")
        );
        assert_eq!(
            refused_field(Report::TrialBalance, "asOf=2026-01-01&from=2026-02-01").as_deref(),
            Some("from")
        );
        assert_eq!(
            refused_field(Report::TrialBalance, "accountId=x").as_deref(),
            Some("accountId")
        );
        assert_eq!(refused_field(Report::Accounts, "sep=|").as_deref(), Some("sep"));
        assert_eq!(refused_field(Report::GeneralLedger, "").as_deref(), Some("accountId"));
        assert_eq!(
            refused_field(Report::GeneralLedger, "accountId=nope").as_deref(),
            Some("accountId")
        );
        assert_eq!(refused_field(Report::Journal, "status=VOID").as_deref(), Some("status"));
        assert_eq!(
            refused_field(Report::Journal, "from=2026-01-01&from=2026-01-02").as_deref(),
            Some("from")
        );
        assert_eq!(
            refused_field(Report::IncomeStatement, "from=2026-01-01").as_deref(),
            Some("to")
        );
        assert_eq!(
            refused_field(
                Report::BalanceSheet,
                "compareTo=2025-01-01,2024-01-01,2023-01-01,2022-01-01,2021-01-01"
            )
            .as_deref(),
            Some("compareTo")
        );
        assert_eq!(
            refused_field(Report::IncomeStatement, "from=2026-01-01&to=2026-12-31&compareTo=2025").as_deref(),
            Some("compareTo")
        );
        assert_eq!(
            refused_field(Report::BalanceSheet, "language=fr").as_deref(),
            Some("language")
        );
        let search = format!("search={}", "x".repeat(201));
        assert_eq!(refused_field(Report::Journal, &search).as_deref(), Some("search"));
        let many = (0..13).map(|i| format!("p{i}=1")).collect::<Vec<_>>().join("&");
        assert_eq!(refused_field(Report::Accounts, &many), None);
    }

    #[test]
    fn the_canonical_query_ignores_order() {
        assert_eq!(
            canonical_query(&pairs("to=2026-12-31&from=2026-01-01&sep=%3B")),
            canonical_query(&pairs("sep=;&from=2026-01-01&to=2026-12-31"))
        );
        assert_eq!(canonical_query(&pairs("b=2&a=1")), "a=1&b=2");
    }

    #[test]
    fn cells_are_neutralised_and_amounts_plain() {
        let rows = vec![vec![
            text("=HYPERLINK(\"x\")"),
            Cell::Amount(Decimal::new(150_000_000, 2)),
            Cell::Amount(Decimal::new(-25, 1)),
            text("a, \"b\""),
        ]];
        let comma =
            String::from_utf8(write_rows(Vec::new(), Delimiter::Comma, &rows).unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            comma,
            "\"'=HYPERLINK(\"\"x\"\")\",1500000.00,-2.50,\"a, \"\"b\"\"\"\r\n"
        );
        let semicolon = String::from_utf8(write_rows(Vec::new(), Delimiter::Semicolon, &rows).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(
            semicolon,
            "\"'=HYPERLINK(\"\"x\"\")\";1500000,00;-2,50;\"a, \"\"b\"\"\"\r\n"
        );
    }

    #[test]
    fn file_names_carry_the_dates() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap_or_default();
        assert_eq!(range_name(None, None, d(5, 1)), "2026-05-01");
        assert_eq!(range_name(Some(d(1, 1)), None, d(5, 1)), "2026-01-01_end");
        assert_eq!(range_name(None, Some(d(3, 31)), d(5, 1)), "start_2026-03-31");
        assert_eq!(file_safe("1-1101 \"Kas\"/"), "1-1101__Kas__");
    }
}
