//! Importing a chart of accounts or journal entries from CSV (API.md "Getting books in
//! and out"): every row checked, every error collected with its row, column and code,
//! then — only when asked (`dryRun: false`) and only without errors — everything
//! written in one transaction, through the same ledger functions the mutations use.
//!
//! - [`reader`]: the file (CSV dialect, BOM, delimiter, header);
//! - [`accounts`]: a chart (parents in any order, cycles found);
//! - [`entries`]: entries, one row per line (grouped by the `entry` column).
//!
//! What one import may cost is bounded: the file's size by the caller (the GraphQL
//! body limit, or `IMPORT_MAX_BYTES` of the upload route), its rows by [`MAX_ROWS`], the
//! errors listed by [`MAX_ERRORS`]; rows are kept in compact form (amounts as decimals,
//! accounts as indexes), and the parsing runs on a blocking thread.

pub mod accounts;
pub mod entries;
pub mod reader;

/// Most data rows one file may have (a 50 MB file of short rows has about 1,000,000).
pub const MAX_ROWS: u32 = 1_000_000;

/// Most errors listed; beyond them one more error says how many were left out.
pub const MAX_ERRORS: usize = 1000;

/// The codes of [`ImportError`] (listed in the README).
pub mod code {
    /// The file is not UTF-8.
    pub const NOT_UTF8: &str = "NOT_UTF8";
    /// The header names a column the format does not have.
    pub const UNKNOWN_COLUMN: &str = "UNKNOWN_COLUMN";
    /// The header names a column twice.
    pub const DUPLICATE_COLUMN: &str = "DUPLICATE_COLUMN";
    /// The header lacks a required column (or there is no header).
    pub const MISSING_COLUMN: &str = "MISSING_COLUMN";
    /// A required cell is empty.
    pub const MISSING_VALUE: &str = "MISSING_VALUE";
    /// A cell does not hold what its column takes (a type, a yes/no, a name too long...).
    pub const BAD_VALUE: &str = "BAD_VALUE";
    /// Not an amount with at most 2 decimals and 18 integer digits, negative, or a line
    /// with both or neither of debit and credit.
    pub const BAD_AMOUNT: &str = "BAD_AMOUNT";
    /// Not a date `YYYY-MM-DD`.
    pub const BAD_DATE: &str = "BAD_DATE";
    /// An account code used twice in the file, or one the chart has already.
    pub const DUPLICATE_CODE: &str = "DUPLICATE_CODE";
    /// A parent code that is neither in the file nor in the chart.
    pub const PARENT_NOT_FOUND: &str = "PARENT_NOT_FOUND";
    /// A parent that cannot take the account (a postable account, another type).
    pub const PARENT_MISFIT: &str = "PARENT_MISFIT";
    /// Accounts of the file that are (through their parents) their own ancestors.
    pub const PARENT_CYCLE: &str = "PARENT_CYCLE";
    /// A line's account code is not in the chart.
    pub const UNKNOWN_ACCOUNT: &str = "UNKNOWN_ACCOUNT";
    /// A line's account is a header (not postable).
    pub const HEADER_ACCOUNT: &str = "HEADER_ACCOUNT";
    /// A line's account is archived.
    pub const ARCHIVED_ACCOUNT: &str = "ARCHIVED_ACCOUNT";
    /// An entry to post whose debits differ from its credits, or with fewer than two lines.
    pub const UNBALANCED_ENTRY: &str = "UNBALANCED_ENTRY";
    /// An entry's rows are not consecutive (its `entry` value appeared before another entry).
    pub const DUPLICATE_ENTRY: &str = "DUPLICATE_ENTRY";
    /// A later row of an entry disagrees with its first on date, description or reference.
    pub const ENTRY_MISMATCH: &str = "ENTRY_MISMATCH";
    /// A date on or before the company's lock date (entries to post).
    pub const PERIOD_LOCKED: &str = "PERIOD_LOCKED";
    /// A date in a closed fiscal year (entries to post).
    pub const FISCAL_YEAR_CLOSED: &str = "FISCAL_YEAR_CLOSED";
    /// The file has more than [`super::MAX_ROWS`] rows: the rest was not read.
    pub const TOO_MANY_ROWS: &str = "TOO_MANY_ROWS";
    /// More than [`super::MAX_ERRORS`] errors: this one counts those not listed.
    pub const TOO_MANY_ERRORS: &str = "TOO_MANY_ERRORS";
}

/// One problem of a file: its row (the record number, 1 = the first record after the
/// header; 0 = the header or the file as a whole), the column, a code of [`code`] and
/// a message for people. Serialised (the upload route's answer) as GraphQL names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImportError {
    pub row: u32,
    pub column: Option<&'static str>,
    pub code: &'static str,
    pub message: String,
}

impl ImportError {
    pub fn row(row: u32, column: Option<&'static str>, code: &'static str, message: impl Into<String>) -> Self {
        ImportError {
            row,
            column,
            code,
            message: message.into(),
        }
    }

    pub fn cell(row: u32, column: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::row(row, Some(column), code, message)
    }

    /// An error of the file as a whole (row 0).
    pub fn file(code: &'static str, message: impl Into<String>) -> Self {
        Self::row(0, None, code, message)
    }

    /// An error of the header's `column` (row 0).
    pub fn file_column(column: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::row(0, Some(column), code, message)
    }
}

/// Errors as collected: the first [`MAX_ERRORS`] kept, the rest only counted.
#[derive(Debug, Default)]
pub struct ErrorList {
    kept: Vec<ImportError>,
    left_out: u64,
}

impl ErrorList {
    pub fn push(&mut self, error: ImportError) {
        if self.kept.len() < MAX_ERRORS {
            self.kept.push(error);
        } else {
            self.left_out += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The errors in file order (row, then as found), and one `TOO_MANY_ERRORS` at the
    /// end when some were left out.
    pub fn into_vec(self) -> Vec<ImportError> {
        let mut kept = self.kept;
        kept.sort_by_key(|e| e.row);
        if self.left_out > 0 {
            kept.push(ImportError::file(
                code::TOO_MANY_ERRORS,
                format!(
                    "{} more errors are not listed (at most {MAX_ERRORS} are); correct these and try again",
                    self.left_out
                ),
            ));
        }
        kept
    }
}

/// What an import did, or (dry run, or with errors) would have done. Serialised (the
/// upload route's answer) as GraphQL names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    /// Nothing was written because only a check was asked for.
    pub dry_run: bool,
    /// Data rows read (the header not counted).
    pub rows_read: u32,
    /// Accounts created (or that would be, in a dry run without errors).
    pub accounts_created: u32,
    /// Entries created (or that would be).
    pub entries_created: u32,
    /// Every problem found (at most [`MAX_ERRORS`] and a count of the rest); with any,
    /// nothing was written.
    pub errors: Vec<ImportError>,
}

/// A ledger rule's refusal (an [`crate::error::Error`]) as the error of a cell.
fn refusal(row: u32, column: &'static str, code: &'static str, error: &crate::error::Error) -> ImportError {
    ImportError::cell(row, column, code, error.to_string())
}

/// Text cells through [`crate::books_csv::format::unneutralise`] and trimmed; `None` when blank.
fn text(cell: &str) -> Option<&str> {
    let cell = crate::books_csv::format::unneutralise(cell.trim()).trim();
    (!cell.is_empty()).then_some(cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_capped_and_counted() {
        let mut list = ErrorList::default();
        for row in (1..=MAX_ERRORS as u32 + 5).rev() {
            list.push(ImportError::cell(row, "date", code::BAD_DATE, "x"));
        }
        let errors = list.into_vec();
        assert_eq!(errors.len(), MAX_ERRORS + 1);
        assert!(
            errors.windows(2).take(MAX_ERRORS - 1).all(|w| w[0].row <= w[1].row),
            "in row order"
        );
        let last = errors.last().map(|e| (e.code, e.message.starts_with("5 more")));
        assert_eq!(last, Some((code::TOO_MANY_ERRORS, true)));
    }

    #[test]
    fn text_cells_are_unneutralised() {
        assert_eq!(text(" '=SUM(A1) "), Some("=SUM(A1)"));
        assert_eq!(text("  "), None);
        assert_eq!(text("Kas"), Some("Kas"));
    }
}
