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
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|_| s.len() == 10)
                .map(Date)
                .ok_or_else(|| InputValueError::custom("a Date is YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
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

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl From<rust_decimal::Decimal> for DecimalText {
    fn from(value: rust_decimal::Decimal) -> Self {
        DecimalText(crate::ledger::money::format_amount(value))
    }
}
