//! Balances from the totals the database keeps at posting (DESIGN.md "Balances at
//! scale"): `account_month_total` for whole months, `account_day_total` for the days of
//! the partial months at either end of a range. A balance costs accounts x (months +
//! days of two partial months), whatever the number of lines. Also the check that the
//! totals equal the lines (`verify books`) and the rebuild from the lines (`--repair`).

use std::collections::HashMap;

use chrono::{Datelike, Days, Months, NaiveDate};
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use uuid::Uuid;

use crate::error::Result;

/// Posted debits and credits of one account over a range. `closing_*` is the part from
/// closing entries and their reversals (included in `debit` / `credit`), which an income
/// statement leaves out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub debit: Decimal,
    pub credit: Decimal,
    pub closing_debit: Decimal,
    pub closing_credit: Decimal,
}

impl Totals {
    /// Debits minus credits, closing entries included (a balance).
    pub fn net_debit(&self) -> Decimal {
        self.debit - self.credit
    }

    /// Debits minus credits without closing entries (an income statement's movement).
    pub fn net_debit_before_closing(&self) -> Decimal {
        (self.debit - self.closing_debit) - (self.credit - self.closing_credit)
    }

    fn add(&mut self, other: &Totals) {
        self.debit += other.debit;
        self.credit += other.credit;
        self.closing_debit += other.closing_debit;
        self.closing_credit += other.closing_credit;
    }
}

/// Totals by account.
pub type AccountTotals = HashMap<Uuid, Totals>;

/// Adds up the totals of several accounts (a header and its subtree).
pub fn sum<'a>(totals: impl IntoIterator<Item = &'a Totals>) -> Totals {
    let mut out = Totals::default();
    for t in totals {
        out.add(t);
    }
    out
}

/// The earliest date the queries use for "from the beginning" (PostgreSQL's `date`
/// does not reach chrono's `NaiveDate::MIN`).
const BEGINNING: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(date) => date,
    None => NaiveDate::MIN,
};

/// The latest: "every posted entry", future-dated ones included.
pub const FAR_FUTURE: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(date) => date,
    None => NaiveDate::MAX,
};

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// How a date range `[from, to]` splits into whole months (`months`, half-open) and at
/// most two runs of days (the partial months at either end; inclusive, possibly empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    months: (NaiveDate, NaiveDate),
    days: [(NaiveDate, NaiveDate); 2],
}

/// An empty run of days.
const NO_DAYS: (NaiveDate, NaiveDate) = (FAR_FUTURE, BEGINNING);

fn split(from: Option<NaiveDate>, to: NaiveDate) -> Split {
    // Whole months end before the month of `to + 1` (when `to` is a month's last day,
    // its month is whole).
    let whole_to = to
        .checked_add_days(Days::new(1))
        .map(first_of_month)
        .unwrap_or(FAR_FUTURE);
    let tail = if whole_to <= to { (whole_to, to) } else { NO_DAYS };
    let Some(from) = from else {
        return Split {
            months: (BEGINNING, whole_to),
            days: [tail, NO_DAYS],
        };
    };
    if from > to {
        return Split {
            months: (FAR_FUTURE, FAR_FUTURE),
            days: [NO_DAYS, NO_DAYS],
        };
    }
    let whole_from = if from.day() == 1 {
        from
    } else {
        first_of_month(from)
            .checked_add_months(Months::new(1))
            .unwrap_or(FAR_FUTURE)
    };
    if whole_from >= whole_to {
        // Within one partial month (or two adjacent partial ones): days only.
        return Split {
            months: (FAR_FUTURE, FAR_FUTURE),
            days: [(from, to), NO_DAYS],
        };
    }
    let head = if from < whole_from {
        (from, whole_from.pred_opt().unwrap_or(from))
    } else {
        NO_DAYS
    };
    Split {
        months: (whole_from, whole_to),
        days: [head, tail],
    }
}

/// Posted totals per account of entries dated from `from` (the beginning when `None`)
/// to `to`, inclusive. Accounts without posted lines in the range are absent.
pub async fn between(db: &impl ConnectionTrait, from: Option<NaiveDate>, to: NaiveDate) -> Result<AccountTotals> {
    let s = split(from, to);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"SELECT account_id, sum(debit) AS debit, sum(credit) AS credit,
                      sum(closing_debit) AS closing_debit, sum(closing_credit) AS closing_credit
                 FROM (SELECT account_id, debit, credit, closing_debit, closing_credit
                         FROM account_month_total WHERE month >= $1 AND month < $2
                       UNION ALL
                       SELECT account_id, debit, credit, closing_debit, closing_credit
                         FROM account_day_total WHERE day BETWEEN $3 AND $4
                       UNION ALL
                       SELECT account_id, debit, credit, closing_debit, closing_credit
                         FROM account_day_total WHERE day BETWEEN $5 AND $6) t
                GROUP BY account_id"#,
            [
                s.months.0.into(),
                s.months.1.into(),
                s.days[0].0.into(),
                s.days[0].1.into(),
                s.days[1].0.into(),
                s.days[1].1.into(),
            ],
        ))
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        out.insert(
            row.try_get("", "account_id")?,
            Totals {
                debit: row.try_get("", "debit")?,
                credit: row.try_get("", "credit")?,
                closing_debit: row.try_get("", "closing_debit")?,
                closing_credit: row.try_get("", "closing_credit")?,
            },
        );
    }
    Ok(out)
}

/// Posted totals per account up to `as_of` inclusive; every posted entry when `None`.
pub async fn as_of(db: &impl ConnectionTrait, as_of: Option<NaiveDate>) -> Result<AccountTotals> {
    between(db, None, as_of.unwrap_or(FAR_FUTURE)).await
}

/// Where the kept totals differ from the lines: one account and period (a day, or a
/// month's first day with `month` set), what is kept and what the lines say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub account_id: Uuid,
    pub period: NaiveDate,
    pub month: bool,
    pub kept: Option<Totals>,
    pub from_lines: Option<Totals>,
}

/// Recomputes every total from the lines and lists the differences (there should be
/// none). One pass over the lines: an operator's command, not a request path.
pub async fn verify(db: &impl ConnectionTrait) -> Result<Vec<Difference>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            r#"WITH lines AS MATERIALIZED (SELECT * FROM account_day_total_from_lines),
               months AS (SELECT account_id, date_trunc('month', day)::date AS month,
                                 sum(debit) AS debit, sum(credit) AS credit,
                                 sum(closing_debit) AS closing_debit, sum(closing_credit) AS closing_credit
                            FROM lines GROUP BY 1, 2)
               SELECT coalesce(k.account_id, l.account_id) AS account_id, coalesce(k.day, l.day) AS period,
                      false AS month,
                      k.debit AS k_debit, k.credit AS k_credit, k.closing_debit AS k_closing_debit,
                      k.closing_credit AS k_closing_credit,
                      l.debit AS l_debit, l.credit AS l_credit, l.closing_debit AS l_closing_debit,
                      l.closing_credit AS l_closing_credit
                 FROM account_day_total k FULL JOIN lines l ON l.account_id = k.account_id AND l.day = k.day
                WHERE (k.debit, k.credit, k.closing_debit, k.closing_credit)
                      IS DISTINCT FROM (l.debit, l.credit, l.closing_debit, l.closing_credit)
               UNION ALL
               SELECT coalesce(k.account_id, l.account_id), coalesce(k.month, l.month), true,
                      k.debit, k.credit, k.closing_debit, k.closing_credit,
                      l.debit, l.credit, l.closing_debit, l.closing_credit
                 FROM account_month_total k FULL JOIN months l ON l.account_id = k.account_id AND l.month = k.month
                WHERE (k.debit, k.credit, k.closing_debit, k.closing_credit)
                      IS DISTINCT FROM (l.debit, l.credit, l.closing_debit, l.closing_credit)
                ORDER BY 3, 1, 2"#,
        ))
        .await?;
    let totals = |row: &sea_orm::QueryResult, prefix: &str| -> Result<Option<Totals>> {
        let debit: Option<Decimal> = row.try_get("", &format!("{prefix}_debit"))?;
        let Some(debit) = debit else { return Ok(None) };
        Ok(Some(Totals {
            debit,
            credit: row.try_get("", &format!("{prefix}_credit"))?,
            closing_debit: row.try_get("", &format!("{prefix}_closing_debit"))?,
            closing_credit: row.try_get("", &format!("{prefix}_closing_credit"))?,
        }))
    };
    rows.iter()
        .map(|row| {
            Ok(Difference {
                account_id: row.try_get("", "account_id")?,
                period: row.try_get("", "period")?,
                month: row.try_get("", "month")?,
                kept: totals(row, "k")?,
                from_lines: totals(row, "l")?,
            })
        })
        .collect()
}

/// Rebuilds every total from the lines, holding posting off meanwhile. Runs as the
/// tenant's owner (the login role cannot write totals): `owner` is an owner connection.
pub async fn rebuild(owner: &sea_orm::DatabaseConnection) -> Result<()> {
    let txn = owner.begin().await?;
    txn.execute_unprepared(
        r#"LOCK TABLE journal_entry IN SHARE ROW EXCLUSIVE MODE;
           DELETE FROM account_day_total;
           DELETE FROM account_month_total;
           INSERT INTO account_day_total (account_id, day, debit, credit, closing_debit, closing_credit)
           SELECT account_id, day, debit, credit, closing_debit, closing_credit FROM account_day_total_from_lines;
           INSERT INTO account_month_total (account_id, month, debit, credit, closing_debit, closing_credit)
           SELECT account_id, date_trunc('month', day)::date, sum(debit), sum(credit), sum(closing_debit),
                  sum(closing_credit)
             FROM account_day_total GROUP BY account_id, date_trunc('month', day)::date;"#,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    /// Every day of [from, to] is counted exactly once: in a whole month or a day run.
    fn covers_exactly(from: NaiveDate, to: NaiveDate) {
        let s = split(Some(from), to);
        let mut day = d(2024, 1, 1);
        while day <= d(2027, 12, 31) {
            let in_month = first_of_month(day) >= s.months.0 && first_of_month(day) < s.months.1;
            let in_days = s.days.iter().filter(|(a, b)| day >= *a && day <= *b).count();
            let counted = usize::from(in_month) + in_days;
            let wanted = usize::from(day >= from && day <= to);
            assert_eq!(counted, wanted, "{day} in [{from}, {to}]: {s:?}");
            if in_month {
                // A whole month lies entirely inside the range.
                assert!(first_of_month(day) >= from && day <= to);
            }
            day = day.succ_opt().unwrap_or(day);
        }
    }

    #[test]
    fn ranges_split_into_whole_months_and_at_most_two_runs_of_days() {
        let cases = [
            (d(2025, 1, 1), d(2025, 12, 31)),
            (d(2025, 1, 15), d(2025, 3, 10)),
            (d(2025, 1, 15), d(2025, 1, 20)),
            (d(2025, 1, 31), d(2025, 2, 1)),
            (d(2025, 2, 1), d(2025, 2, 28)),
            (d(2024, 2, 10), d(2026, 7, 31)),
            (d(2025, 3, 1), d(2025, 3, 1)),
            (d(2025, 12, 31), d(2026, 1, 1)),
        ];
        for (from, to) in cases {
            covers_exactly(from, to);
        }
    }

    #[test]
    fn from_the_beginning_is_whole_months_and_the_days_of_the_last() {
        let s = split(None, d(2026, 11, 29));
        assert_eq!(s.months, (BEGINNING, d(2026, 11, 1)));
        assert_eq!(s.days[0], (d(2026, 11, 1), d(2026, 11, 29)));
        // A month's last day: no day run at all.
        let s = split(None, d(2026, 11, 30));
        assert_eq!(s.months, (BEGINNING, d(2026, 12, 1)));
        assert!(s.days.iter().all(|(a, b)| a > b));
        // Everything.
        let s = split(None, FAR_FUTURE);
        assert!(s.months.1 > FAR_FUTURE);
    }

    #[test]
    fn an_empty_range_counts_nothing() {
        let s = split(Some(d(2026, 2, 1)), d(2026, 1, 31));
        assert!(s.months.0 >= s.months.1 && s.days.iter().all(|(a, b)| a > b));
    }
}
