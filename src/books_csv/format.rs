//! What imports and exports agree on: the column names of the two importable files,
//! the delimiter, and how a text cell is protected from spreadsheet formulas (and read
//! back).

use std::borrow::Cow;

/// Columns of an accounts file, in order (API.md).
pub const ACCOUNT_COLUMNS: [&str; 8] = [
    "code",
    "name",
    "type",
    "parent_code",
    "is_postable",
    "normal_balance",
    "role",
    "description",
];

/// Columns of an entries file, one row per line; rows with the same `entry` form one entry.
pub const ENTRY_COLUMNS: [&str; 8] = [
    "entry",
    "date",
    "description",
    "reference",
    "account_code",
    "debit",
    "credit",
    "memo",
];

/// The byte-order mark every export starts with (spreadsheets read UTF-8 by it); an
/// import accepts a file with or without it.
pub const BOM: &str = "\u{feff}";

/// The field delimiter: `,` by default, `;` for spreadsheets set to a comma decimal
/// (`sep=;` on an export).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    #[default]
    Comma,
    Semicolon,
}

impl Delimiter {
    pub fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
        }
    }
}

/// Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection"):
/// `=`, `+`, `-`, `@`, and tab / carriage return, which some spreadsheets strip first.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A text cell as exported: one that would start a formula gets a leading `'`, which
/// spreadsheets show as text. Only text cells go through this; amounts are written as
/// plain decimals by the exporter itself.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A text cell as imported: the `'` that [`neutralise`] put before a formula start is
/// taken off again, so an exported file imports to the same text.
pub fn unneutralise(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised_and_read_back() {
        for cell in ["=SUM(A1:A9)", "+62 812", "-5", "@cmd", "\tx", "\rx"] {
            let out = neutralise(cell);
            assert_eq!(out, format!("'{cell}"));
            assert_eq!(unneutralise(&out), cell);
        }
        for cell in ["Kas", "", "'quoted by hand", "1500.00"] {
            assert_eq!(neutralise(cell), cell);
            assert_eq!(unneutralise(cell), cell);
        }
    }
}
