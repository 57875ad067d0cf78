//! The posting rules that need no database: a [`BalancedLines`] can only be built from
//! lines that obey them (at least two, one-sided, non-negative, debits = credits).

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ledger::money::{format_amount, parse_amount};

/// Most lines one entry may have.
pub const MAX_LINES: usize = 5000;

/// A line as the client sent it.
#[derive(Debug, Clone)]
pub struct RawLine {
    pub account_id: String,
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

/// Lines whose debits equal their credits. The only way to make one is [`BalancedLines::new`].
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
        if raw.len() > MAX_LINES {
            return Err(Error::bad_input(
                path,
                format!("an entry has at most {MAX_LINES} lines"),
            ));
        }
        let mut lines = Vec::with_capacity(raw.len());
        let (mut debits, mut credits) = (Decimal::ZERO, Decimal::ZERO);
        for (i, line) in raw.iter().enumerate() {
            let at = |field: &str| format!("{path}.{i}.{field}");
            let account_id = Uuid::parse_str(&line.account_id)
                .map_err(|_| Error::bad_input(at("accountId"), "not an account id"))?;
            let debit = parse_amount(&line.debit).map_err(|why| Error::bad_input(at("debit"), why))?;
            let credit = parse_amount(&line.credit).map_err(|why| Error::bad_input(at("credit"), why))?;
            if debit.is_sign_negative() && !debit.is_zero() {
                return Err(Error::bad_input(at("debit"), "amounts are never negative"));
            }
            if credit.is_sign_negative() && !credit.is_zero() {
                return Err(Error::bad_input(at("credit"), "amounts are never negative"));
            }
            if debit.is_zero() == credit.is_zero() {
                return Err(Error::bad_input(
                    path.to_owned() + &format!(".{i}"),
                    "a line has either a debit or a credit",
                ));
            }
            let memo = line
                .memo
                .as_ref()
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty());
            debits += debit;
            credits += credit;
            lines.push(Line {
                account_id,
                debit,
                credit,
                memo,
            });
        }
        if debits != credits {
            return Err(Error::UnbalancedEntry(format!(
                "debits ({}) do not equal credits ({})",
                format_amount(debits),
                format_amount(credits)
            )));
        }
        Ok(BalancedLines { lines, total: debits })
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
            account_id: Uuid::new_v4().to_string(),
            debit: debit.into(),
            credit: credit.into(),
            memo: None,
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

    #[test]
    fn a_thousand_cents_balance_exactly() {
        let mut lines: Vec<RawLine> = (0..1000).map(|_| line("0.01", "0")).collect();
        lines.push(line("0", "10.00"));
        let balanced = BalancedLines::new(&lines, "lines").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(format_amount(balanced.total()), "10.00");
    }
}
