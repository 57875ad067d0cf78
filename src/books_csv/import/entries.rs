//! Journal entries from CSV: `entry,date,description,reference,account_code,debit,credit,memo`,
//! one row per line. Consecutive rows with the same `entry` value form one entry; its
//! date, description and reference come from its first row (later rows may leave them
//! empty, and must not say otherwise). An `entry` value that comes back after another
//! entry is an error (`DUPLICATE_ENTRY`): two entries that happen to share a key are
//! not merged silently.
//!
//! Amounts are decimals with a `.`; in a `;`-separated file a decimal comma
//! (`1500000,00`) is read too, as spreadsheets set to a comma decimal write it. Dates
//! are `YYYY-MM-DD`.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::reader::{truncated, Columns, Row, Sheet};
use super::{code, text, ErrorList, ImportError, ImportResult, MAX_ROWS};
use crate::books_csv::format::{Delimiter, ENTRY_COLUMNS};
use crate::entities::tenant::{account, company};
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::idempotent_request::{self, Remembered};
use crate::ledger::journal;
use crate::ledger::money::{format_amount, parse_amount};
use crate::ledger::posting::MAX_LINES;

const COLUMNS: Columns = Columns {
    known: &ENTRY_COLUMNS,
    required: &["entry", "date", "description", "account_code", "debit", "credit"],
};

// Positions in ENTRY_COLUMNS.
const ENTRY: usize = 0;
const DATE: usize = 1;
const DESCRIPTION: usize = 2;
const REFERENCE: usize = 3;
const ACCOUNT: usize = 4;
const DEBIT: usize = 5;
const CREDIT: usize = 6;
const MEMO: usize = 7;

/// Longest `entry` value (it only groups rows; it is not stored).
const MAX_KEY_CHARS: usize = 100;

/// The operation name an idempotency key of an import is recorded under.
pub const OPERATION: &str = "importJournalEntries";

/// What the checks need of the tenant's books, read before the file is.
pub struct Books {
    pub chart: Vec<account::Model>,
    /// The company (its lock date: entries to post are dated after it).
    pub company: company::Model,
    /// The end of the latest closed fiscal year.
    pub closed_until: Option<NaiveDate>,
}

impl Books {
    pub async fn read(db: &impl sea_orm::ConnectionTrait) -> Result<Books> {
        Ok(Books {
            chart: crate::ledger::accounts::all(db).await?,
            company: crate::ledger::company::company(db).await?,
            closed_until: crate::ledger::fiscal_years::hard_lock_date(db).await?,
        })
    }
}

/// One line, compact: its account as an index into the chart.
#[derive(Debug)]
struct Line {
    row: u32,
    account: u32,
    debit: Decimal,
    credit: Decimal,
    memo: Option<Box<str>>,
}

/// One entry: its first row's values and its lines (a range of [`Parsed::lines`]).
#[derive(Debug)]
struct Entry {
    row: u32,
    /// The `entry` value, kept as the entry's `sourceNumber`.
    key: Box<str>,
    date: Option<NaiveDate>,
    description: Option<Box<str>>,
    reference: Option<Box<str>>,
    first_line: usize,
    lines: usize,
    debits: Decimal,
    credits: Decimal,
}

/// A file read and checked. Lines are kept only while no error was found (with one,
/// nothing is written, so only the checks go on).
#[derive(Debug)]
pub struct Parsed {
    entries: Vec<Entry>,
    lines: Vec<Line>,
    rows_read: u32,
    errors: ErrorList,
}

/// An amount cell: empty is zero; `1500000.00`, or `1500000,00` in a `;` file.
fn amount(cell: &str, delimiter: Delimiter) -> std::result::Result<Decimal, String> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok(Decimal::ZERO);
    }
    let parsed = if delimiter == Delimiter::Semicolon && cell.contains(',') && !cell.contains('.') {
        parse_amount(&cell.replacen(',', ".", 1))
    } else {
        parse_amount(cell)
    };
    let value = parsed.map_err(|_| {
        format!(
            "{:?} is not an amount like 1500000.00 (at most 2 decimals, 18 integer digits, no thousands separators)",
            truncated(cell)
        )
    })?;
    if value.is_sign_negative() && !value.is_zero() {
        return Err("amounts are never negative: put the amount on the other side".into());
    }
    Ok(value)
}

fn date(cell: &str) -> std::result::Result<NaiveDate, String> {
    let cell = cell.trim();
    let wrong = || format!("{:?} is not a date YYYY-MM-DD", truncated(cell));
    if cell.len() != 10 {
        return Err(wrong());
    }
    NaiveDate::parse_from_str(cell, "%Y-%m-%d").map_err(|_| wrong())
}

/// The state of a pass over the rows.
struct Pass<'b> {
    books: &'b Books,
    by_code: HashMap<&'b str, u32>,
    post: bool,
    delimiter: Delimiter,
    parsed: Parsed,
    /// Each `entry` value seen, and the row of its first line.
    seen: HashMap<Box<str>, u32>,
}

impl Pass<'_> {
    fn error(&mut self, row: u32, column: usize, code: &'static str, message: impl Into<String>) {
        self.parsed
            .errors
            .push(ImportError::cell(row, ENTRY_COLUMNS[column], code, message));
    }

    fn row(&mut self, row: &Row<'_>) {
        let number = row.number;
        let key = row.cell(ENTRY).trim();
        if key.is_empty() {
            self.error(number, ENTRY, code::MISSING_VALUE, "every row names its entry");
            return;
        }
        if key.chars().count() > MAX_KEY_CHARS {
            self.error(
                number,
                ENTRY,
                code::BAD_VALUE,
                format!("an entry value has at most {MAX_KEY_CHARS} characters"),
            );
            return;
        }
        let continues = match self.seen.get(key) {
            Some(_) if self.current_key_is(key) => true,
            Some(&first) => {
                self.error(
                    number,
                    ENTRY,
                    code::DUPLICATE_ENTRY,
                    format!(
                        "entry {:?} began on row {first} and another entry came between: an entry's rows are consecutive",
                        truncated(key)
                    ),
                );
                return;
            }
            None => false,
        };
        if !continues {
            self.finish_entry();
            self.seen.insert(key.into(), number);
            self.start_entry(row);
        } else {
            self.check_repeated(row);
        }
        self.line(row);
    }

    fn current_key_is(&self, key: &str) -> bool {
        self.parsed
            .entries
            .last()
            .is_some_and(|e| self.seen.get(key).copied() == Some(e.row))
    }

    /// The entry's own values, from its first row.
    fn start_entry(&mut self, row: &Row<'_>) {
        let number = row.number;
        let date = match row.cell(DATE).trim() {
            "" => {
                self.error(number, DATE, code::MISSING_VALUE, "an entry's first row has its date");
                None
            }
            cell => match date(cell) {
                Ok(date) => Some(date),
                Err(why) => {
                    self.error(number, DATE, code::BAD_DATE, why);
                    None
                }
            },
        };
        if let (Some(date), true) = (date, self.post) {
            // A closed fiscal year wins over the lock date (as when posting one entry).
            match self.books.closed_until {
                Some(closed) if date <= closed => self.error(
                    number,
                    DATE,
                    code::FISCAL_YEAR_CLOSED,
                    format!("the fiscal years up to {closed} are closed: nothing is posted on {date}"),
                ),
                _ => {
                    if let Err(locked) = journal::check_lock_date(&self.books.company, date) {
                        self.error(number, DATE, code::PERIOD_LOCKED, locked.to_string());
                    }
                }
            }
        }
        let description = text(row.cell(DESCRIPTION));
        let reference = text(row.cell(REFERENCE));
        let (description, reference) = match description {
            None => {
                self.error(
                    number,
                    DESCRIPTION,
                    code::MISSING_VALUE,
                    "an entry's first row has its description",
                );
                (None, None)
            }
            Some(d) => match journal::check_text(d, reference) {
                Ok((d, r)) => (Some(d.into_boxed_str()), r.map(String::into_boxed_str)),
                Err(Error::BadUserInput { field, message }) => {
                    let column = if field.as_deref() == Some("input.reference") {
                        REFERENCE
                    } else {
                        DESCRIPTION
                    };
                    self.error(number, column, code::BAD_VALUE, message);
                    (None, None)
                }
                Err(other) => {
                    self.error(number, DESCRIPTION, code::BAD_VALUE, other.to_string());
                    (None, None)
                }
            },
        };
        let first_line = self.parsed.lines.len();
        self.parsed.entries.push(Entry {
            row: number,
            key: row.cell(ENTRY).trim().into(),
            date,
            description,
            reference,
            first_line,
            lines: 0,
            debits: Decimal::ZERO,
            credits: Decimal::ZERO,
        });
    }

    /// A later row of an entry leaves date, description and reference empty or repeats them.
    fn check_repeated(&mut self, row: &Row<'_>) {
        let Some(entry) = self.parsed.entries.last() else {
            return;
        };
        let first = entry.row;
        let number = row.number;
        let mut mismatches = Vec::new();
        let date_cell = row.cell(DATE).trim();
        if !date_cell.is_empty() {
            match date(date_cell) {
                Ok(d) if entry.date.is_none_or(|first| first == d) => {}
                Ok(_) => mismatches.push(DATE),
                Err(why) => self
                    .parsed
                    .errors
                    .push(ImportError::cell(number, "date", code::BAD_DATE, why)),
            }
        }
        let entry = self.parsed.entries.last();
        if let (Some(cell), Some(entry)) = (text(row.cell(DESCRIPTION)), entry) {
            if entry.description.as_deref().is_some_and(|d| d != cell) {
                mismatches.push(DESCRIPTION);
            }
        }
        if let (Some(cell), Some(entry)) = (text(row.cell(REFERENCE)), entry) {
            if entry.reference.as_deref() != Some(cell) {
                mismatches.push(REFERENCE);
            }
        }
        for column in mismatches {
            self.error(
                number,
                column,
                code::ENTRY_MISMATCH,
                format!(
                    "the entry's {} is given on its first row ({first}); later rows leave it empty or repeat it",
                    ENTRY_COLUMNS[column]
                ),
            );
        }
    }

    /// The row's line: account, amounts, memo.
    fn line(&mut self, row: &Row<'_>) {
        let number = row.number;
        let code_cell = row.cell(ACCOUNT).trim();
        let account = if code_cell.is_empty() {
            self.error(
                number,
                ACCOUNT,
                code::MISSING_VALUE,
                "every line names its account's code",
            );
            None
        } else {
            match self.by_code.get(code_cell).copied() {
                None => {
                    self.error(
                        number,
                        ACCOUNT,
                        code::UNKNOWN_ACCOUNT,
                        format!("the chart has no account {:?}", truncated(code_cell)),
                    );
                    None
                }
                Some(index) => {
                    let a = &self.books.chart[index as usize];
                    if !a.is_postable {
                        let message = format!("{} {} is a header account", a.code, truncated(&a.name));
                        self.error(number, ACCOUNT, code::HEADER_ACCOUNT, message);
                        None
                    } else if a.is_archived {
                        let message = format!("{} {} is archived", a.code, truncated(&a.name));
                        self.error(number, ACCOUNT, code::ARCHIVED_ACCOUNT, message);
                        None
                    } else {
                        Some(index)
                    }
                }
            }
        };
        let debit = amount(row.cell(DEBIT), self.delimiter)
            .map_err(|why| self.error(number, DEBIT, code::BAD_AMOUNT, why))
            .ok();
        let credit = amount(row.cell(CREDIT), self.delimiter)
            .map_err(|why| self.error(number, CREDIT, code::BAD_AMOUNT, why))
            .ok();
        if let (Some(debit), Some(credit)) = (debit, credit) {
            if debit.is_zero() == credit.is_zero() {
                self.error(
                    number,
                    DEBIT,
                    code::BAD_AMOUNT,
                    "a line has either a debit or a credit above zero",
                );
            }
        }
        let Some(entry) = self.parsed.entries.last_mut() else {
            return;
        };
        entry.lines += 1;
        entry.debits += debit.unwrap_or_default();
        entry.credits += credit.unwrap_or_default();
        if entry.lines == MAX_LINES + 1 {
            let first = entry.row;
            self.error(
                number,
                ENTRY,
                code::BAD_VALUE,
                format!("the entry of row {first} has more than {MAX_LINES} lines"),
            );
        }
        let memo = text(row.cell(MEMO));
        if memo.is_some_and(|m| m.chars().count() > crate::ledger::posting::MAX_MEMO_CHARS) {
            self.error(
                number,
                MEMO,
                code::BAD_VALUE,
                format!(
                    "a memo has at most {} characters",
                    crate::ledger::posting::MAX_MEMO_CHARS
                ),
            );
        }
        // With an error nothing will be written: only the checks go on.
        if let (Some(account), Some(debit), Some(credit), true) =
            (account, debit, credit, self.parsed.errors.is_empty())
        {
            self.parsed.lines.push(Line {
                row: number,
                account,
                debit,
                credit,
                memo: memo.map(Into::into),
            });
        }
    }

    /// An entry to post has at least two lines and balances.
    fn finish_entry(&mut self) {
        let Some(entry) = self.parsed.entries.last() else {
            return;
        };
        if !self.post {
            return;
        }
        let (row, lines, debits, credits) = (entry.row, entry.lines, entry.debits, entry.credits);
        if lines < 2 {
            self.error(
                row,
                ENTRY,
                code::UNBALANCED_ENTRY,
                "an entry to post has at least two lines",
            );
        } else if debits != credits {
            self.error(
                row,
                ENTRY,
                code::UNBALANCED_ENTRY,
                format!(
                    "debits ({}) do not equal credits ({})",
                    format_amount(debits),
                    format_amount(credits)
                ),
            );
        }
    }
}

/// Reads and checks every row against `books` (blocking work: run it off the async
/// threads). `post`: the entries are to be posted (balance, lock date, closed years).
pub fn parse(bytes: &[u8], books: &Books, post: bool) -> Parsed {
    let mut errors = ErrorList::default();
    let mut sheet = match Sheet::open(bytes, &COLUMNS) {
        Ok(sheet) => sheet,
        Err(header) => {
            header.into_iter().for_each(|e| errors.push(e));
            return Parsed {
                entries: vec![],
                lines: vec![],
                rows_read: 0,
                errors,
            };
        }
    };
    let by_code = books
        .chart
        .iter()
        .enumerate()
        .map(|(i, a)| (a.code.as_str(), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let mut pass = Pass {
        books,
        by_code,
        post,
        delimiter: sheet.delimiter,
        parsed: Parsed {
            entries: Vec::new(),
            lines: Vec::new(),
            rows_read: 0,
            errors,
        },
        seen: HashMap::new(),
    };
    while let Some(row) = sheet.next_row() {
        match row {
            Ok(row) if row.number > MAX_ROWS => {
                pass.parsed.errors.push(ImportError::row(
                    row.number,
                    None,
                    code::TOO_MANY_ROWS,
                    format!("a file has at most {MAX_ROWS} rows: the rest was not read"),
                ));
                break;
            }
            Ok(row) => pass.row(&row),
            Err(error) => pass.parsed.errors.push(error),
        }
    }
    pass.finish_entry();
    pass.parsed.rows_read = sheet.rows_read().min(MAX_ROWS);
    pass.parsed
}

/// Rows and entries of a file, without any check (the answer to a replayed import).
fn count(bytes: &[u8]) -> (u32, u32) {
    let Ok(mut sheet) = Sheet::open(bytes, &COLUMNS) else {
        return (0, 0);
    };
    let (mut entries, mut last) = (0u32, String::new());
    while let Some(row) = sheet.next_row() {
        if let Ok(row) = row {
            let key = row.cell(ENTRY).trim();
            if key != last {
                entries += 1;
                last = key.to_owned();
            }
        }
    }
    (sheet.rows_read(), entries)
}

/// How an entries file is imported.
#[derive(Debug, Clone, Default)]
pub struct EntryImport {
    /// Post the entries (else they stay drafts).
    pub post: bool,
    pub dry_run: bool,
    /// Considered when writing (not in a dry run): the same file with the same key
    /// imports once; another file (or `post`) with it is `CONFLICT`.
    pub idempotency_key: Option<String>,
    /// Longest the import may run before it stops writing (checked between batches;
    /// `TIMEOUT`, nothing written). `None`: no limit (the CLI, run by an operator).
    pub time_limit: Option<std::time::Duration>,
}

/// Entries handed to the ledger at once, inside the import's one transaction (the
/// batch mutation's own cap is for its GraphQL input).
const ENTRIES_PER_BATCH: usize = 500;

/// Checks an entries file and, with `dry_run` false and no error, creates (and with
/// `post`, posts) its entries in one transaction. Past `options.time_limit` it stops
/// and writes nothing (`TIMEOUT`): a posting import holds its fiscal years' counters,
/// and an upload an import place, until it ends.
pub async fn import(
    db: &DatabaseConnection,
    csv: impl AsRef<[u8]> + Send + Sync + 'static,
    options: EntryImport,
    actor: &Actor,
) -> Result<ImportResult> {
    let started = std::time::Instant::now();
    let field = "idempotencyKey";
    let key = options.idempotency_key.as_deref().filter(|_| !options.dry_run);
    if let Some(key) = options.idempotency_key.as_deref() {
        idempotent_request::check_key(key, field)?;
    }
    let csv = std::sync::Arc::new(csv);
    let hash = match key {
        Some(_) => {
            let bytes = csv.clone();
            let post = options.post;
            Some(blocking(move || request_hash(AsRef::<[u8]>::as_ref(&*bytes), post)).await?)
        }
        None => None,
    };
    if let (Some(key), Some(hash)) = (key, hash.as_deref()) {
        if idempotent_request::replayed(db, key, OPERATION, hash, field)
            .await?
            .is_some()
        {
            return replay(csv).await;
        }
    }
    let books = Books::read(db).await?;
    let post = options.post;
    let bytes = csv.clone();
    let (parsed, books) = blocking(move || {
        let parsed = parse(AsRef::<[u8]>::as_ref(&*bytes), &books, post);
        (parsed, books)
    })
    .await?;
    drop(csv);
    let mut result = ImportResult {
        dry_run: options.dry_run,
        rows_read: parsed.rows_read,
        accounts_created: 0,
        entries_created: 0,
        errors: vec![],
    };
    if !parsed.errors.is_empty() {
        result.errors = parsed.errors.into_vec();
        return Ok(result);
    }
    result.entries_created = u32::try_from(parsed.entries.len()).unwrap_or(u32::MAX);
    if options.dry_run {
        return Ok(result);
    }
    let txn = db.begin().await?;
    if let (Some(key), Some(hash)) = (key, hash.as_deref()) {
        if idempotent_request::remember(&txn, key, OPERATION, hash, None).await? == Remembered::Taken {
            drop(txn);
            let (rows_read, entries) = (result.rows_read, result.entries_created);
            idempotent_request::replayed(db, key, OPERATION, hash, field).await?;
            return Ok(ImportResult {
                dry_run: false,
                rows_read,
                accounts_created: 0,
                entries_created: entries,
                errors: vec![],
            });
        }
    }
    let deadline = options.time_limit.map(|limit| (started + limit, limit));
    if let Some(refused) = write(&txn, &parsed, &books, post, deadline, actor).await? {
        result.entries_created = 0;
        result.errors = vec![refused];
        return Ok(result);
    }
    txn.commit().await?;
    Ok(result)
}

/// Runs CPU-bound work (parsing, hashing a large file) on a blocking thread.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("an import's worker stopped: {e}")))
}

/// The request an idempotency key stands for: the file's bytes (SHA-256) and `post`.
fn request_hash(bytes: &[u8], post: bool) -> String {
    let file = hex::encode(Sha256::digest(bytes));
    idempotent_request::request_hash(OPERATION, &[&file, if post { "post" } else { "draft" }])
}

/// The answer to an import made before with the same key and file: what it wrote.
async fn replay(csv: std::sync::Arc<impl AsRef<[u8]> + Send + Sync + 'static>) -> Result<ImportResult> {
    let (rows_read, entries_created) = blocking(move || count(AsRef::<[u8]>::as_ref(&*csv))).await?;
    Ok(ImportResult {
        dry_run: false,
        rows_read,
        accounts_created: 0,
        entries_created,
        errors: vec![],
    })
}

/// Writes the entries in batches through the ledger; a refusal there (a change of the
/// chart or the lock date since the checks) is answered as the error of its entry's row.
///
/// Entries to post go in fiscal-year order (file order within a year): each batch takes
/// the counters of its years until commit, so the whole import holds them in ascending
/// order, as one batch does, and cannot deadlock with another posting.
async fn write(
    txn: &DatabaseTransaction,
    parsed: &Parsed,
    books: &Books,
    post: bool,
    deadline: Option<(std::time::Instant, std::time::Duration)>,
    actor: &Actor,
) -> Result<Option<ImportError>> {
    let ids: Vec<Uuid> = books.chart.iter().map(|a| a.id).collect();
    let mut order: Vec<&Entry> = parsed.entries.iter().collect();
    if post {
        let start_month = u32::try_from(books.company.fiscal_year_start_month).unwrap_or(1);
        order.sort_by_key(|e| journal::fiscal_year(e.date.unwrap_or_default(), start_month));
    }
    for batch in order.chunks(ENTRIES_PER_BATCH) {
        // Between batches, so the transaction is always dropped (rolled back) cleanly.
        if let Some((deadline, limit)) = deadline {
            if std::time::Instant::now() > deadline {
                return Err(Error::Timeout(limit.as_millis()));
            }
        }
        let inputs: Vec<journal::NewEntry> = batch
            .iter()
            .map(|entry| new_entry(entry, &parsed.lines, &ids, post))
            .collect();
        if let Err(error) = journal::create_many_in(txn, &inputs, actor).await {
            return Ok(Some(refused_row(error, batch, &parsed.lines)?));
        }
    }
    Ok(None)
}

fn new_entry(entry: &Entry, lines: &[Line], ids: &[Uuid], post: bool) -> journal::NewEntry {
    let lines = &lines[entry.first_line..entry.first_line + entry.lines];
    journal::NewEntry {
        date: entry.date.unwrap_or_default(),
        description: entry.description.as_deref().unwrap_or_default().to_owned(),
        reference: entry.reference.as_deref().map(str::to_owned),
        lines: lines
            .iter()
            .map(|l| crate::ledger::posting::RawLine {
                account_id: Some(ids[l.account as usize].to_string()),
                account_code: None,
                debit: format_amount(l.debit),
                credit: format_amount(l.credit),
                memo: l.memo.as_deref().map(str::to_owned),
            })
            .collect(),
        post,
        idempotency_key: None,
        source_number: Some(entry.key.to_string()),
    }
}

/// A ledger refusal of a batch as the error of the row it names (`inputs.N...` in its
/// field, or at the start of its message; `.lines.M` for a line); errors of the service
/// itself stay errors.
fn refused_row(error: Error, batch: &[&Entry], lines: &[Line]) -> Result<ImportError> {
    let code = match &error {
        Error::UnbalancedEntry(_) => code::UNBALANCED_ENTRY,
        Error::PeriodLocked(_) => code::PERIOD_LOCKED,
        Error::FiscalYearClosed(_) => code::FISCAL_YEAR_CLOSED,
        Error::BadUserInput { .. } | Error::Conflict { .. } => code::BAD_VALUE,
        _ => return Err(error),
    };
    let message = error.to_string();
    let path = match &error {
        Error::BadUserInput { field: Some(field), .. } | Error::Conflict { field: Some(field), .. } => field.clone(),
        _ => message.split(':').next().unwrap_or_default().to_owned(),
    };
    let mut parts = path.split('.');
    let input = match (parts.next(), parts.next().and_then(|n| n.parse::<usize>().ok())) {
        (Some("inputs"), Some(n)) => n,
        _ => 0,
    };
    let entry = batch.get(input).or(batch.first());
    let row = match (entry, parts.next(), parts.next().and_then(|n| n.parse::<usize>().ok())) {
        (Some(entry), Some("lines"), Some(m)) => lines.get(entry.first_line + m).map_or(entry.row, |l| l.row),
        (Some(entry), _, _) => entry.row,
        (None, _, _) => 0,
    };
    Ok(ImportError::row(row, None, code, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::tenant::account::{AccountType, NormalBalance};

    fn account(code: &str, postable: bool, archived: bool) -> account::Model {
        let now = chrono::Utc::now();
        account::Model {
            id: Uuid::new_v4(),
            code: code.into(),
            name: format!("Akun {code}"),
            account_type: AccountType::Asset,
            normal_balance: NormalBalance::Debit,
            parent_id: None,
            is_postable: postable,
            is_archived: archived,
            description: None,
            role: None,
            created_at: now.into(),
            updated_at: now.into(),
        }
    }

    fn books() -> Books {
        Books {
            chart: vec![
                account("1101", true, false),
                account("4101", true, false),
                account("1100", false, false),
                account("1199", true, true),
            ],
            company: company::Model {
                id: Uuid::new_v4(),
                name: "PT".into(),
                legal_name: None,
                tax_id: None,
                base_currency: "IDR".into(),
                fiscal_year_start_month: 1,
                lock_date: NaiveDate::from_ymd_opt(2026, 1, 31),
                timezone: "Asia/Jakarta".into(),
                language: "id".into(),
                created_at: chrono::Utc::now().into(),
                updated_at: chrono::Utc::now().into(),
            },
            closed_until: NaiveDate::from_ymd_opt(2025, 12, 31),
        }
    }

    const HEADER: &str = "entry,date,description,reference,account_code,debit,credit,memo\n";

    fn errors(file: &str, post: bool) -> Vec<(u32, Option<&'static str>, &'static str)> {
        parse(file.as_bytes(), &books(), post)
            .errors
            .into_vec()
            .iter()
            .map(|e| (e.row, e.column, e.code))
            .collect()
    }

    #[test]
    fn a_good_file_groups_rows_into_entries() {
        let file = format!(
            "{HEADER}\
             1,2026-02-01,\"Penjualan, tunai\",INV-1,1101,1500000.00,,\"kas, masuk\"\n\
             1,,,,4101,,1500000.00,\n\
             2,2026-02-02,'=Setoran,,1101,10,,\n\
             2,2026-02-02,'=Setoran,,4101,,10,\n"
        );
        let parsed = parse(file.as_bytes(), &books(), true);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.rows_read, 4);
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[0].description.as_deref(), Some("Penjualan, tunai"));
        assert_eq!(
            parsed.entries[1].description.as_deref(),
            Some("=Setoran"),
            "unneutralised"
        );
        assert_eq!(parsed.lines[0].memo.as_deref(), Some("kas, masuk"));
        assert_eq!(parsed.lines.len(), 4);
    }

    #[test]
    fn every_error_with_its_row_and_column() {
        let file = format!(
            "{HEADER}\
             1,2026-02-01,Jual,,1101,100.00,,\n\
             1,,,,9999,,100.00,\n\
             2,2026-02-30,Bad date,,1101,5,,\n\
             2,,,,4101,,4,\n\
             3,2026-01-15,Locked,,1100,1,,\n\
             3,,,,1199,,1,\n\
             4,2025-06-01,Closed,,1101,1.005,,\n\
             4,2025-06-02,Other,R,4101,-1,,\n\
             1,2026-03-01,Again,,1101,1,,\n\
             5,2026-03-01,,,1101,1,1,\n"
        );
        assert_eq!(
            errors(&file, true),
            vec![
                (2, Some("account_code"), code::UNKNOWN_ACCOUNT),
                (3, Some("date"), code::BAD_DATE),
                (3, Some("entry"), code::UNBALANCED_ENTRY),
                (5, Some("date"), code::PERIOD_LOCKED),
                (5, Some("account_code"), code::HEADER_ACCOUNT),
                (6, Some("account_code"), code::ARCHIVED_ACCOUNT),
                (7, Some("date"), code::FISCAL_YEAR_CLOSED),
                (7, Some("debit"), code::BAD_AMOUNT),
                (8, Some("date"), code::ENTRY_MISMATCH),
                (8, Some("description"), code::ENTRY_MISMATCH),
                (8, Some("reference"), code::ENTRY_MISMATCH),
                (8, Some("debit"), code::BAD_AMOUNT),
                (9, Some("entry"), code::DUPLICATE_ENTRY),
                (10, Some("description"), code::MISSING_VALUE),
                (10, Some("debit"), code::BAD_AMOUNT),
                (10, Some("entry"), code::UNBALANCED_ENTRY),
            ]
        );
    }

    #[test]
    fn drafts_skip_the_posting_checks() {
        let file = format!("{HEADER}1,2026-01-15,Draft,,1101,5,,\n");
        assert!(errors(&file, false).is_empty());
        assert_eq!(errors(&file, true).len(), 2, "locked and one line");
    }

    #[test]
    fn decimal_commas_only_with_semicolons() {
        assert_eq!(
            amount("1500000,50", Delimiter::Semicolon),
            Ok(Decimal::new(150000050, 2))
        );
        assert!(amount("1500000,50", Delimiter::Comma).is_err());
        assert!(
            amount("1.500.000,50", Delimiter::Semicolon).is_err(),
            "no thousands separators"
        );
        assert_eq!(amount(" ", Delimiter::Comma), Ok(Decimal::ZERO));
        assert!(amount("-1", Delimiter::Comma).is_err());
        let file = "entry;date;description;account_code;debit;credit\n1;2026-02-01;Jual;1101;10,50;\n1;;;4101;;10,50\n";
        let parsed = parse(file.as_bytes(), &books(), true);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.entries[0].debits, Decimal::new(1050, 2));
    }

    #[test]
    fn dates_are_strict() {
        assert!(date("2026-02-01").is_ok());
        for bad in ["2026-2-1", "01/02/2026", "2026-02-30", "", "20260201"] {
            assert!(date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counting_a_replay() {
        let file = format!("{HEADER}a,2026-02-01,x,,1101,1,,\na,,,,4101,,1,\nb,2026-02-01,x,,1101,1,,\n");
        assert_eq!(count(file.as_bytes()), (3, 2));
    }

    #[test]
    fn ledger_refusals_name_their_rows() {
        let file =
            format!("{HEADER}a,2026-02-01,x,,1101,1,,\na,,,,4101,,1,\nb,2026-02-01,x,,1101,1,,\nb,,,,4101,,1,\n");
        let parsed = parse(file.as_bytes(), &books(), false);
        let batch: Vec<&Entry> = parsed.entries.iter().collect();
        let row = |error| refused_row(error, &batch, &parsed.lines).map(|e| (e.row, e.code)).ok();
        assert_eq!(
            row(Error::bad_input("inputs.1.lines.1.accountId", "archived")),
            Some((4, code::BAD_VALUE))
        );
        assert_eq!(
            row(Error::PeriodLocked("inputs.1: locked".into())),
            Some((3, code::PERIOD_LOCKED))
        );
        assert!(
            row(Error::Internal(anyhow::anyhow!("down"))).is_none(),
            "not a row's error"
        );
    }

    #[test]
    fn the_file_and_post_make_the_request() {
        assert_eq!(request_hash(b"a", true), request_hash(b"a", true));
        assert_ne!(request_hash(b"a", true), request_hash(b"a", false));
        assert_ne!(request_hash(b"a", true), request_hash(b"b", true));
    }
}
