//! The company row: settings that rule the books (currency, fiscal year, lock date).

use std::str::FromStr;

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set, TransactionTrait,
};

use crate::entities::tenant::company;
use crate::entities::tenant::journal_entry::{self, EntryStatus};
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::audit::{self, action, ChangeList};
use crate::ledger::change::Change;

/// Changes to the company; `Keep` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct CompanyChanges {
    pub name: Option<String>,
    pub legal_name: Change<String>,
    pub tax_id: Change<String>,
    pub fiscal_year_start_month: Option<i32>,
    pub lock_date: Change<NaiveDate>,
    /// An IANA time zone name: "today" and every default date follow it.
    pub timezone: Option<String>,
    /// `id` or `en`: the language of statement labels.
    pub language: Option<String>,
}

/// The languages statements are labelled in.
pub const LANGUAGES: [&str; 2] = ["id", "en"];

/// An IANA time zone name as chrono-tz knows it (`Asia/Jakarta`, `Asia/Makassar`,
/// `UTC`), trimmed; `BAD_USER_INPUT` otherwise.
pub fn check_timezone(raw: &str) -> Result<String> {
    let name = raw.trim();
    match chrono_tz::Tz::from_str(name) {
        Ok(zone) if name.len() <= 64 => Ok(zone.name().to_owned()),
        _ => Err(Error::bad_input(
            "input.timezone",
            "not an IANA time zone name (e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura)",
        )),
    }
}

/// `id` or `en` (trimmed, any case); `BAD_USER_INPUT` otherwise.
pub fn check_language(raw: &str) -> Result<String> {
    let language = raw.trim().to_ascii_lowercase();
    if LANGUAGES.contains(&language.as_str()) {
        Ok(language)
    } else {
        Err(Error::bad_input("input.language", "a language is \"id\" or \"en\""))
    }
}

/// The time zone of a company without a valid one (the column's default).
pub const DEFAULT_TIMEZONE: chrono_tz::Tz = chrono_tz::Asia::Jakarta;

/// Today's date in the time zone named `timezone` (IANA); [`DEFAULT_TIMEZONE`] when the
/// name is unknown (names are checked when they are set).
pub fn today_in(timezone: &str) -> NaiveDate {
    let zone: chrono_tz::Tz = timezone.parse().unwrap_or(DEFAULT_TIMEZONE);
    Utc::now().with_timezone(&zone).date_naive()
}

/// Today in the company's time zone: the default date of every report and reversal.
pub async fn today(db: &impl ConnectionTrait) -> Result<NaiveDate> {
    Ok(today_in(&company(db).await?.timezone))
}

pub async fn company(db: &impl ConnectionTrait) -> Result<company::Model> {
    company::Entity::find()
        .one(db)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("tenant database has no company row")))
}

/// Changes the company in one transaction that first locks its row (`FOR UPDATE`):
/// postings in flight hold it shared, so a new lock date is written only after they
/// commit, and a posting that comes later waits, then sees the new date. The change
/// time is taken once the lock is held. The audit event names what changed (lock date
/// moves above all).
pub async fn update_company(db: &DatabaseConnection, changes: CompanyChanges, actor: &Actor) -> Result<company::Model> {
    let txn = db.begin().await?;
    let (before, updated) = update_company_in(&txn, changes).await?;
    let mut changed = ChangeList::default();
    changed.field("name", Some(before.name.clone()), Some(updated.name.clone()));
    changed.field("legalName", before.legal_name.clone(), updated.legal_name.clone());
    changed.field("taxId", before.tax_id.clone(), updated.tax_id.clone());
    changed.field(
        "fiscalYearStartMonth",
        Some(before.fiscal_year_start_month.to_string()),
        Some(updated.fiscal_year_start_month.to_string()),
    );
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string());
    changed.field("lockDate", date(before.lock_date), date(updated.lock_date));
    changed.field(
        "timezone",
        Some(before.timezone.clone()),
        Some(updated.timezone.clone()),
    );
    audit::record(&txn, actor, action::COMPANY_UPDATE, Some(updated.id), changed.detail()).await?;
    txn.commit().await?;
    Ok(updated)
}

/// The company before and after the change.
async fn update_company_in(
    db: &impl ConnectionTrait,
    changes: CompanyChanges,
) -> Result<(company::Model, company::Model)> {
    let current = company::Entity::find()
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("tenant database has no company row")))?;
    let current_start_month = i32::from(current.fiscal_year_start_month);
    let before = current.clone();
    let mut row: company::ActiveModel = current.into();
    if let Some(name) = changes.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::bad_input("input.name", "a company name has 1 to 200 characters"));
        }
        row.name = Set(name.to_owned());
    }
    match changes.legal_name {
        Change::Keep => {}
        Change::Clear => row.legal_name = Set(None),
        Change::Set(legal) => row.legal_name = Set(Some(legal.trim().to_owned()).filter(|s| !s.is_empty())),
    }
    match changes.tax_id {
        Change::Keep => {}
        Change::Clear => row.tax_id = Set(None),
        Change::Set(raw) => row.tax_id = Set(Some(normalize_npwp(&raw)?)),
    }
    if let Some(month) = changes.fiscal_year_start_month {
        if !(1..=12).contains(&month) {
            return Err(Error::bad_input("input.fiscalYearStartMonth", "a month from 1 to 12"));
        }
        // Posted numbers and fiscal years were worked out from it (the database refuses
        // it too, `company_fiscal_year_start_guard`). Postings hold the company row
        // shared, so under this row's lock the answer stays true until commit.
        if month != current_start_month && anything_posted(db).await? {
            return Err(Error::conflict(
                "input.fiscalYearStartMonth",
                "entries are posted: the fiscal year start month cannot change",
            ));
        }
        row.fiscal_year_start_month = Set(month as i16);
    }
    match changes.lock_date {
        Change::Keep => {}
        Change::Clear => row.lock_date = Set(None),
        Change::Set(date) => row.lock_date = Set(Some(date)),
    }
    if let Some(timezone) = changes.timezone {
        row.timezone = Set(check_timezone(&timezone)?);
    }
    if let Some(language) = changes.language {
        row.language = Set(check_language(&language)?);
    }
    row.updated_at = Set(Utc::now().into());
    Ok((before, row.update(db).await?))
}

/// Whether any entry is POSTED or REVERSED.
async fn anything_posted(db: &impl ConnectionTrait) -> Result<bool> {
    Ok(journal_entry::Entity::find()
        .filter(journal_entry::Column::Status.is_in([EntryStatus::Posted, EntryStatus::Reversed]))
        .limit(1)
        .count(db)
        .await?
        > 0)
}

/// An NPWP (Indonesian tax id): 15 digits (the classic `99.999.999.9-999.999`) or 16
/// (the NIK-based form used since 2024). Dots, dashes and spaces are dropped; the
/// digits are stored.
pub fn normalize_npwp(raw: &str) -> Result<String> {
    let digits: String = raw.chars().filter(|c| !matches!(c, '.' | '-' | ' ')).collect();
    if digits.chars().all(|c| c.is_ascii_digit()) && matches!(digits.len(), 15 | 16) {
        Ok(digits)
    } else {
        Err(Error::bad_input(
            "input.taxId",
            "an NPWP has 15 or 16 digits (dots and dashes allowed)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_follows_the_time_zone() {
        let utc = Utc::now().date_naive();
        // Jakarta is UTC+7 and Honolulu UTC-10: their "today" is never before / after UTC's.
        assert!(today_in("Asia/Jakarta") >= utc);
        assert!(today_in("Pacific/Honolulu") <= utc);
        assert_eq!(today_in("Not/AZone"), today_in("Asia/Jakarta"));
    }

    #[test]
    fn time_zones_and_languages_are_checked() {
        assert_eq!(check_timezone(" Asia/Makassar ").ok(), Some("Asia/Makassar".into()));
        assert_eq!(check_timezone("UTC").ok(), Some("UTC".into()));
        for bad in ["", "Asia/Bandung", "GMT+7 ", "asia/jakarta/x", &"A".repeat(65)] {
            assert!(check_timezone(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_language(" EN ").ok(), Some("en".into()));
        assert_eq!(check_language("id").ok(), Some("id".into()));
        for bad in ["", "fr", "indonesian"] {
            assert!(check_language(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn npwp_forms() {
        assert_eq!(
            normalize_npwp("01.234.567.8-901.000").ok(),
            Some("012345678901000".into())
        );
        assert_eq!(normalize_npwp("3201234567890001").ok(), Some("3201234567890001".into()));
        for bad in ["", "12345", "01.234.567.8-901.00x", "12345678901234567"] {
            assert!(normalize_npwp(bad).is_err(), "{bad}");
        }
    }
}
