//! Money: `rust_decimal`, never a float. Amounts arrive as JSON strings and are parsed
//! strictly: digits, an optional `.` and at most two decimals, at most 18 integer digits.

use rust_decimal::Decimal;

pub const MAX_INTEGER_DIGITS: usize = 18;
pub const MAX_DECIMALS: usize = 2;

/// Parses an amount such as `"1500000.00"`. Refuses exponents, signs other than a
/// leading `-`, more than two decimals and more than 18 integer digits.
pub fn parse_amount(raw: &str) -> Result<Decimal, String> {
    let (negative, unsigned) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(integer) || fraction.is_some_and(|f| !digits(f)) {
        return Err(format!("{raw:?} is not a decimal amount like \"1500000.00\""));
    }
    if integer.trim_start_matches('0').len() > MAX_INTEGER_DIGITS {
        return Err(format!("{raw:?} has more than {MAX_INTEGER_DIGITS} integer digits"));
    }
    if fraction.is_some_and(|f| f.len() > MAX_DECIMALS) {
        return Err(format!("{raw:?} has more than {MAX_DECIMALS} decimal places"));
    }
    let value: Decimal = unsigned
        .parse()
        .map_err(|_| format!("{raw:?} is not a decimal amount"))?;
    Ok(if negative { -value } else { value })
}

/// The API's text form: always two decimals, e.g. `"1500000.00"`; zero is `"0.00"`,
/// never `"-0.00"` (a zero balance signed for a credit account is a negative zero).
pub fn format_amount(value: Decimal) -> String {
    let mut rounded = value.round_dp(2);
    rounded.rescale(2);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    rounded.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_has_no_sign() {
        assert_eq!(format_amount(-Decimal::ZERO), "0.00");
        assert_eq!(format_amount(-Decimal::new(1, 3)), "0.00", "rounds to zero");
        assert_eq!(format_amount(-Decimal::new(1, 2)), "-0.01");
    }

    #[test]
    fn strict_parsing() {
        assert_eq!(parse_amount("1500000.00").map(format_amount), Ok("1500000.00".into()));
        assert_eq!(parse_amount("0.01").map(format_amount), Ok("0.01".into()));
        assert_eq!(parse_amount("7").map(format_amount), Ok("7.00".into()));
        assert_eq!(parse_amount("-12.5").map(format_amount), Ok("-12.50".into()));
        for bad in [
            "0.005", "1e3", "1E3", "", ".5", "5.", "1,000", "+1", " 1", "1 ", "0x10", "NaN", "1.2.3", "--1",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn eighteen_digit_amounts_are_exact() {
        let big = "999999999999999999.99";
        assert_eq!(parse_amount(big).map(format_amount), Ok(big.to_owned()));
        assert!(parse_amount("1000000000000000000.00").is_err(), "19 integer digits");
        let sum = parse_amount("999999999999999999.98").unwrap_or_default() + parse_amount("0.01").unwrap_or_default();
        assert_eq!(format_amount(sum), big);
    }

    #[test]
    fn sums_of_cents_are_exact() {
        let cent = parse_amount("0.01").unwrap_or_default();
        let total: Decimal = std::iter::repeat_n(cent, 1000).sum();
        assert_eq!(format_amount(total), "10.00");
    }
}
