//! Entry numbers: `JE/<fiscal year>/<sequence>`, assigned at posting, gapless per
//! fiscal year even under concurrent posting.

use chrono::{Datelike, NaiveDate};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::error::{Error, Result};

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

/// The next number of a fiscal year. The row lock it takes is held to commit, so
/// concurrent posts take turns and a rolled-back post gives its number back: no gaps.
pub(super) async fn next_sequence(txn: &impl ConnectionTrait, fiscal_year: i32) -> Result<i32> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"INSERT INTO journal_sequence (fiscal_year, last_number) VALUES ($1, 1)
               ON CONFLICT (fiscal_year) DO UPDATE SET last_number = journal_sequence.last_number + 1
               RETURNING last_number"#,
            [fiscal_year.into()],
        ))
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("numbering returned no row")))?;
    Ok(row.try_get("", "last_number")?)
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
