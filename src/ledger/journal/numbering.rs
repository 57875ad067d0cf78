//! Entry numbers: `JE/<fiscal year>/<sequence>`, assigned at posting, gapless per
//! fiscal year even under concurrent posting. The database assigns them (trigger
//! `journal_entry_number` of the tenant schema, the only writer of the counter); these
//! are the same rules in Rust, for whoever needs to name a fiscal year or a number
//! (and a test checks that both agree).

use chrono::{Datelike, NaiveDate};

/// The fiscal year a date falls in, named by the calendar year in which it starts.
pub fn fiscal_year(date: NaiveDate, start_month: u32) -> i32 {
    if date.month() >= start_month {
        date.year()
    } else {
        date.year() - 1
    }
}

/// `JE/2026/000001`.
pub fn entry_number(fiscal_year: i32, sequence: i32) -> String {
    format!("JE/{fiscal_year}/{sequence:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn fiscal_years_follow_the_start_month() {
        assert_eq!(fiscal_year(date(2026, 1, 1), 1), 2026);
        assert_eq!(fiscal_year(date(2026, 12, 31), 1), 2026);
        assert_eq!(fiscal_year(date(2026, 6, 30), 7), 2025);
        assert_eq!(fiscal_year(date(2026, 7, 1), 7), 2026);
        assert_eq!(entry_number(2026, 1), "JE/2026/000001");
        assert_eq!(entry_number(2026, 1234567), "JE/2026/1234567");
    }
}
