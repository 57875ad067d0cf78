//! The posting rules that need no database: a [`BalancedLines`] can only be built from
//! lines that obey them (at least two, one-sided, non-negative, debits = credits); a
//! draft's [`DraftLines`] obey the rules of each line only.

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ledger::money::{format_amount, parse_amount};

/// Most lines one entry may have.
pub const MAX_LINES: usize = 5000;

/// Longest memo of a line, in characters: a note, not a document (every read of the
/// entry carries it, and an export's piece of `CHUNK_ROWS` lines must stay small).
pub const MAX_MEMO_CHARS: usize = 2_000;

/// A line as the client sent it. It names its account by `account_id` or by
/// `account_code`; the journal commands turn a code into an id
/// (`journal::validation::resolve_account_codes`) before the line is checked here.
#[derive(Debug, Clone, Default)]
pub struct RawLine {
    pub account_id: Option<String>,
    pub account_code: Option<String>,
    pub debit: String,
    pub credit: String,
    pub memo: Option<String>,
}

/// A checked line: exactly one side above zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub account_id: Uuid,
    pub debit: Decimal,
    pub credit: Decimal,
    pub memo: Option<String>,
}

/// A draft's lines: each checked on its own (an account id, one side above zero, no
/// negative amount, at most two decimals), but not against each other. A draft is work
/// in progress: it may be unbalanced and have any number of lines from none to
/// [`MAX_LINES`]; posting turns it into [`BalancedLines`] or refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftLines {
    lines: Vec<Line>,
}

impl DraftLines {
    /// Checks each line; `path` names the input (e.g. `input.lines`) for error fields.
    pub fn new(raw: &[RawLine], path: &str) -> Result<Self> {
        if raw.len() > MAX_LINES {
            return Err(Error::bad_input(
                path,
                format!("an entry has at most {MAX_LINES} lines"),
            ));
        }
        let lines = raw
            .iter()
            .enumerate()
            .map(|(i, line)| check_line(line, &format!("{path}.{i}")))
            .collect::<Result<Vec<_>>>()?;
        Ok(DraftLines { lines })
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Sums of debits and of credits.
    pub fn totals(&self) -> (Decimal, Decimal) {
        self.lines
            .iter()
            .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), l| (d + l.debit, c + l.credit))
    }

    /// Whether the lines could be posted: at least two, debits equal to credits
    /// (`UNBALANCED_ENTRY` otherwise). Returns the total.
    pub fn check_balanced(&self, path: &str) -> Result<Decimal> {
        if self.lines.len() < 2 {
            return Err(Error::bad_input(path, "an entry has at least two lines"));
        }
        let (debits, credits) = self.totals();
        if debits != credits {
            return Err(Error::UnbalancedEntry(format!(
                "debits ({}) do not equal credits ({})",
                format_amount(debits),
                format_amount(credits)
            )));
        }
        Ok(debits)
    }

    /// The lines as a postable entry ([`DraftLines::check_balanced`]).
    pub fn balanced(self, path: &str) -> Result<BalancedLines> {
        let total = self.check_balanced(path)?;
        Ok(BalancedLines {
            lines: self.lines,
            total,
        })
    }
}

/// One line on its own: `at` names it in errors (`input.lines.2`).
pub(crate) fn check_line(line: &RawLine, at: &str) -> Result<Line> {
    let field = |name: &str| format!("{at}.{name}");
    let account_id = match (&line.account_id, &line.account_code) {
        (Some(id), _) => {
            Uuid::parse_str(id.trim()).map_err(|_| Error::bad_input(field("accountId"), "not an account id"))?
        }
        (None, Some(_)) => return Err(Error::bad_input(field("accountCode"), "no such account")),
        (None, None) => {
            return Err(Error::bad_input(
                at,
                "a line names its account by accountId or accountCode",
            ))
        }
    };
    let debit = parse_amount(line.debit.trim()).map_err(|why| Error::bad_input(field("debit"), why))?;
    let credit = parse_amount(line.credit.trim()).map_err(|why| Error::bad_input(field("credit"), why))?;
    if debit.is_sign_negative() && !debit.is_zero() {
        return Err(Error::bad_input(field("debit"), "amounts are never negative"));
    }
    if credit.is_sign_negative() && !credit.is_zero() {
        return Err(Error::bad_input(field("credit"), "amounts are never negative"));
    }
    if debit.is_zero() == credit.is_zero() {
        return Err(Error::bad_input(at, "a line has either a debit or a credit"));
    }
    let memo = line
        .memo
        .as_ref()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty());
    if memo.as_ref().is_some_and(|m| m.chars().count() > MAX_MEMO_CHARS) {
        return Err(Error::bad_input(
            field("memo"),
            format!("a memo has at most {MAX_MEMO_CHARS} characters"),
        ));
    }
    Ok(Line {
        account_id,
        debit,
        credit,
        memo,
    })
}

/// Lines whose debits equal their credits. The only ways to make one are
/// [`BalancedLines::new`] and [`DraftLines::balanced`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancedLines {
    lines: Vec<Line>,
    total: Decimal,
}

impl BalancedLines {
    /// Checks the rules; `path` names the input (e.g. `input.lines`) for error fields.
    pub fn new(raw: &[RawLine], path: &str) -> Result<Self> {
        if raw.len() < 2 {
            return Err(Error::bad_input(path, "an entry has at least two lines"));
        }
        DraftLines::new(raw, path)?.balanced(path)
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// Sum of debits (= sum of credits).
    pub fn total(&self) -> Decimal {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(debit: &str, credit: &str) -> RawLine {
        RawLine {
            account_id: Some(Uuid::new_v4().to_string()),
            debit: debit.into(),
            credit: credit.into(),
            ..RawLine::default()
        }
    }

    fn code(result: Result<BalancedLines>) -> &'static str {
        result.err().map(|e| e.code()).unwrap_or("OK")
    }

    #[test]
    fn rules() {
        assert_eq!(
            code(BalancedLines::new(&[line("10.00", "0"), line("0", "10")], "lines")),
            "OK"
        );
        assert_eq!(
            code(BalancedLines::new(&[line("10.00", "0")], "lines")),
            "BAD_USER_INPUT",
            "one line"
        );
        assert_eq!(
            code(BalancedLines::new(&[line("10", "10"), line("0", "0.01")], "lines")),
            "BAD_USER_INPUT",
            "two-sided"
        );
        assert_eq!(
            code(BalancedLines::new(&[line("0", "0"), line("0", "1")], "lines")),
            "BAD_USER_INPUT",
            "empty line"
        );
        assert_eq!(
            code(BalancedLines::new(&[line("-5", "0"), line("0", "-5")], "lines")),
            "BAD_USER_INPUT",
            "negative"
        );
        assert_eq!(
            code(BalancedLines::new(&[line("10.00", "0"), line("0", "9.99")], "lines")),
            "UNBALANCED_ENTRY"
        );
        assert_eq!(
            code(BalancedLines::new(&[line("0.005", "0"), line("0", "0.005")], "lines")),
            "BAD_USER_INPUT"
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = BalancedLines::new(&[line("10", "0"), line("0", "1e1")], "input.lines").err();
        assert!(matches!(err, Some(Error::BadUserInput { field: Some(f), .. }) if f == "input.lines.1.credit"));
    }

    fn draft(lines: &[RawLine]) -> Result<DraftLines> {
        DraftLines::new(lines, "input.lines")
    }

    #[test]
    fn drafts_may_be_unbalanced_but_each_line_is_checked() {
        let unbalanced = draft(&[line("10.00", "0"), line("0", "9.99")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unbalanced.totals(), (Decimal::new(1000, 2), Decimal::new(999, 2)));
        assert!(draft(&[]).is_ok_and(|d| d.lines().is_empty()), "an empty draft");
        assert!(draft(&[line("5", "0")]).is_ok(), "one line");
        for (bad, why) in [
            (line("10", "10"), "two-sided"),
            (line("0", "0"), "empty"),
            (line("-5", "0"), "negative"),
            (line("0.005", "0"), "three decimals"),
            (line("1e3", "0"), "exponent"),
        ] {
            let err = draft(&[line("1", "0"), bad]).err();
            assert!(
                matches!(&err, Some(Error::BadUserInput { field: Some(f), .. }) if f.starts_with("input.lines.1")),
                "{why}: {err:?}"
            );
        }
        let no_account = RawLine {
            account_id: Some("nope".into()),
            ..line("1", "0")
        };
        assert!(draft(&[no_account]).is_err());
        let unnamed = RawLine {
            account_id: None,
            ..line("1", "0")
        };
        assert!(
            matches!(draft(&[unnamed]), Err(Error::BadUserInput { field: Some(f), .. }) if f == "input.lines.0"),
            "a line names its account"
        );
        let too_many: Vec<RawLine> = (0..=MAX_LINES).map(|_| line("1", "0")).collect();
        assert!(draft(&too_many).is_err(), "at most MAX_LINES");
    }

    #[test]
    fn posting_a_draft_checks_its_balance() {
        let balanced = |lines: &[RawLine]| draft(lines).and_then(|d| d.balanced("lines"));
        assert_eq!(
            code(balanced(&[line("10.00", "0"), line("0", "9.99")])),
            "UNBALANCED_ENTRY"
        );
        assert_eq!(code(balanced(&[])), "BAD_USER_INPUT", "no lines");
        assert_eq!(code(balanced(&[line("1", "0")])), "BAD_USER_INPUT", "one line");
        let posted = balanced(&[line("10", "0"), line("0", "4"), line("0", "6.00")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format_amount(posted.total()), "10.00");
        assert_eq!(posted.lines().len(), 3);
    }

    #[test]
    fn a_thousand_cents_balance_exactly() {
        let mut lines: Vec<RawLine> = (0..1000).map(|_| line("0.01", "0")).collect();
        lines.push(line("0", "10.00"));
        let balanced = BalancedLines::new(&lines, "lines").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format_amount(balanced.total()), "10.00");
    }
}
