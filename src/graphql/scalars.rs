//! Scalars of API.md that async-graphql does not name the way the contract does.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// `Date`: a calendar date, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => strict_date(s)
                .map(Date)
                .ok_or_else(|| InputValueError::custom("a Date is YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    /// Checked at validation too, so a bad date is refused before anything runs and the
    /// error names the argument path (`BAD_USER_INPUT` with `field`).
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(s) if strict_date(s).is_some())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// `YYYY-MM-DD` exactly (chrono alone would take `2026-1-5`).
pub(crate) fn strict_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
}

impl From<NaiveDate> for Date {
    fn from(d: NaiveDate) -> Self {
        Date(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(
            Date::parse(Value::String("2026-11-26".into())).ok(),
            NaiveDate::from_ymd_opt(2026, 11, 26).map(Date)
        );
        for bad in [
            "2026-13-01",
            "2026-02-30",
            "26-11-2026",
            "2026-1-5",
            "2026-11-26T00:00:00Z",
            "",
        ] {
            assert!(Date::parse(Value::String(bad.into())).is_err(), "{bad}");
        }
        assert!(Date::parse(Value::Number(20261126.into())).is_err());
        assert!(Date::is_valid(&Value::String("2026-11-26".into())));
        assert!(!Date::is_valid(&Value::String("2026-02-30".into())));
        assert!(!Date::is_valid(&Value::Number(20261126.into())));
    }
}

/// `Decimal`: money as a JSON string, e.g. `"1500000.00"`. Never a float: JSON numbers
/// are refused. Inputs are checked by the posting rules (`ledger::money`), which name
/// the offending field; outputs always carry two decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalText(pub String);

#[Scalar(name = "Decimal")]
impl ScalarType for DecimalText {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(DecimalText(s)),
            other => Err(InputValueError::custom(format!(
                "a Decimal is a JSON string such as \"1500000.00\", not {other}"
            ))),
        }
    }

    /// Checked at validation too: a JSON number is refused before anything runs, with
    /// the argument path (`BAD_USER_INPUT` with `field`).
    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl From<rust_decimal::Decimal> for DecimalText {
    fn from(value: rust_decimal::Decimal) -> Self {
        DecimalText(crate::ledger::money::format_amount(value))
    }
}
