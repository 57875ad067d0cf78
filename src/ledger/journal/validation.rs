//! Checks the journal commands share: an entry's text, the accounts of its lines, and
//! the company's lock date.

use std::collections::HashMap;

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::entities::tenant::{account, company};
use crate::error::{Error, Result};
use crate::ledger::posting::{Line, RawLine};

/// A trimmed description of 1 to 500 characters and an optional reference of at most
/// 100 (blank means none), of the input `input`.
pub(crate) fn check_text(description: &str, reference: Option<&str>) -> Result<(String, Option<String>)> {
    check_text_of("input", description, reference)
}

/// [`check_text`] of the input at `path` (`inputs.3`), which errors name.
pub(super) fn check_text_of(
    path: &str,
    description: &str,
    reference: Option<&str>,
) -> Result<(String, Option<String>)> {
    let description = description.trim();
    if description.is_empty() || description.chars().count() > 500 {
        return Err(Error::bad_input(
            format!("{path}.description"),
            "a description has 1 to 500 characters",
        ));
    }
    let reference = reference.map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    if reference.as_ref().is_some_and(|r| r.chars().count() > 100) {
        return Err(Error::bad_input(
            format!("{path}.reference"),
            "a reference has at most 100 characters",
        ));
    }
    Ok((description.to_owned(), reference))
}

/// Lines that name their account by code, as lines that name it by id: every code is
/// looked up in one query. A line names exactly one of the two (`BAD_USER_INPUT` on the
/// line otherwise); an unknown code is `BAD_USER_INPUT` on `accountCode`. `inputs` are
/// the line lists of one or more entries with the paths that name them in errors.
pub(crate) async fn resolve_account_codes(
    db: &impl ConnectionTrait,
    inputs: &mut [(String, &mut Vec<RawLine>)],
) -> Result<()> {
    let mut codes: Vec<String> = Vec::new();
    for (path, lines) in inputs.iter() {
        for (i, line) in lines.iter().enumerate() {
            match (&line.account_id, &line.account_code) {
                (Some(_), Some(_)) => {
                    return Err(Error::bad_input(
                        format!("{path}.{i}"),
                        "a line names its account by accountId or by accountCode, not both",
                    ))
                }
                (None, Some(code)) => codes.push(code.trim().to_owned()),
                _ => {}
            }
        }
    }
    if codes.is_empty() {
        return Ok(());
    }
    codes.sort_unstable();
    codes.dedup();
    let ids: HashMap<String, Uuid> = account::Entity::find()
        .filter(account::Column::Code.is_in(codes))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.code, a.id))
        .collect();
    for (path, lines) in inputs.iter_mut() {
        for (i, line) in lines.iter_mut().enumerate() {
            let Some(code) = &line.account_code else { continue };
            let id = ids.get(code.trim()).ok_or_else(|| {
                Error::bad_input(format!("{path}.{i}.accountCode"), format!("no account has code {code}"))
            })?;
            line.account_id = Some(id.to_string());
            line.account_code = None;
        }
    }
    Ok(())
}

/// Whether lines may use archived accounts: only a reversal may (it takes back what an
/// entry put on them, so an archived account's history can still be corrected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Archived {
    Refused,
    Allowed,
}

/// Every account of the lines exists, is postable and not archived (unless `archived`
/// allows it); `path` names the lines in errors (`input.lines.2.accountId`). The
/// accounts are share-locked (in id order) until the transaction ends, so an archive
/// waits for it and it for an archive in flight: what was checked here is still true at
/// commit.
pub(super) async fn check_accounts(
    db: &impl ConnectionTrait,
    lines: &[Line],
    path: &str,
    archived: Archived,
) -> Result<()> {
    let fields: Vec<String> = (0..lines.len()).map(|i| format!("{path}.{i}.accountId")).collect();
    check_accounts_named(db, lines, &fields, archived).await
}

/// [`check_accounts`] with each line's field for errors given (`fields[i]` names `lines[i]`).
pub(super) async fn check_accounts_named(
    db: &impl ConnectionTrait,
    lines: &[Line],
    fields: &[String],
    archived: Archived,
) -> Result<()> {
    let ids: Vec<Uuid> = lines.iter().map(|l| l.account_id).collect();
    let found: HashMap<Uuid, account::Model> = account::Entity::find()
        .filter(account::Column::Id.is_in(ids.clone()))
        .order_by_asc(account::Column::Id)
        .lock_shared()
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    for (id, field) in ids.iter().zip(fields) {
        match found.get(id) {
            None => return Err(Error::bad_input(field, "no such account")),
            Some(a) if !a.is_postable => {
                return Err(Error::bad_input(
                    field,
                    format!("{} {} is a header account", a.code, a.name),
                ))
            }
            Some(a) if a.is_archived && archived == Archived::Refused => {
                return Err(Error::bad_input(field, format!("{} {} is archived", a.code, a.name)))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The company row, share-locked until the transaction ends: a lock-date change waits
/// for this posting, and this posting for a change in flight (then reads its result).
pub(super) async fn company_for_posting(db: &impl ConnectionTrait) -> Result<company::Model> {
    company::Entity::find()
        .lock_shared()
        .one(db)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("tenant database has no company row")))
}

/// An entry is dated after the company's lock date, if there is one.
pub(crate) fn check_lock_date(company: &company::Model, date: NaiveDate) -> Result<()> {
    match company.lock_date {
        Some(lock) if date <= lock => Err(Error::PeriodLocked(format!(
            "the books are locked up to {lock}: an entry must be dated after it"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(check_text("  Gaji  ", Some("  ")).ok(), Some(("Gaji".to_owned(), None)));
        assert!(check_text(" ", None).is_err());
        assert!(check_text(&"x".repeat(501), None).is_err());
        assert!(check_text("ok", Some(&"r".repeat(101))).is_err());
    }

    #[test]
    fn the_lock_date_itself_is_locked() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 1, d).unwrap_or_default();
        let now = chrono::Utc::now();
        let company = company::Model {
            id: Uuid::new_v4(),
            name: "PT".into(),
            legal_name: None,
            tax_id: None,
            base_currency: "IDR".into(),
            fiscal_year_start_month: 1,
            lock_date: Some(day(31)),
            timezone: "Asia/Jakarta".into(),
            language: "id".into(),
            created_at: now.into(),
            updated_at: now.into(),
        };
        assert_eq!(
            check_lock_date(&company, day(31)).err().map(|e| e.code()),
            Some("PERIOD_LOCKED")
        );
        assert!(check_lock_date(&company, day(30)).is_err(), "before it too");
        let next_day = NaiveDate::from_ymd_opt(2026, 2, 1).unwrap_or_default();
        assert!(check_lock_date(&company, next_day).is_ok());
        let open = company::Model {
            lock_date: None,
            ..company
        };
        assert!(check_lock_date(&open, day(1)).is_ok());
    }
}
