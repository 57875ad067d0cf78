//! The journal listing's cursor: an entry's place in journal order (date, creation
//! time, id), as opaque base64 text. The encoding is kept stable so cursors held by
//! clients stay valid across releases.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::Condition;
use uuid::Uuid;

use crate::entities::tenant::journal_entry as entry;
use crate::error::{Error, Result};

/// An entry's place in journal order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct EntryCursor {
    date: NaiveDate,
    created_at: DateTime<Utc>,
    id: Uuid,
}

/// The cursor of an entry in the listing.
pub fn entry_cursor(e: &entry::Model) -> String {
    B64.encode(format!("{}|{}|{}", e.date, e.created_at.timestamp_micros(), e.id))
}

impl EntryCursor {
    /// Reads a cursor given as `after`; `BAD_USER_INPUT` when it is not one of this list.
    pub(super) fn parse(cursor: &str) -> Result<Self> {
        let bad = || Error::bad_input("after", "not a cursor of this list");
        let text = String::from_utf8(B64.decode(cursor).map_err(|_| bad())?).map_err(|_| bad())?;
        let mut parts = text.splitn(3, '|');
        let date = parts.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
        let created_at = parts
            .next()
            .and_then(|m| m.parse().ok())
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(bad)?;
        let id = parts.next().and_then(|i| Uuid::parse_str(i).ok()).ok_or_else(bad)?;
        Ok(EntryCursor { date, created_at, id })
    }

    /// Entries after this one in journal order (the keyset condition of the next page).
    pub(super) fn after(&self) -> Condition {
        Condition::all().add(
            Expr::tuple([
                Expr::col(entry::Column::Date),
                Expr::col(entry::Column::CreatedAt),
                Expr::col(entry::Column::Id),
            ])
            .gt(Expr::tuple([
                Expr::val(self.date),
                Expr::val(self.created_at),
                Expr::val(self.id),
            ])),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entities::tenant::journal_entry::EntryStatus;

    #[test]
    fn cursors_round_trip() {
        let now = Utc::now();
        let e = entry::Model {
            id: Uuid::new_v4(),
            number: None,
            fiscal_year: None,
            sequence: None,
            date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default(),
            description: "x".into(),
            reference: None,
            status: EntryStatus::Draft,
            reversal_of: None,
            idempotency_key: None,
            request_hash: None,
            created_at: now.into(),
            updated_at: now.into(),
            posted_at: None,
            kind: crate::entities::tenant::journal_entry::EntryKind::Regular,
            created_by_token_id: None,
            created_by_name: None,
            posted_by_token_id: None,
            posted_by_name: None,
            source_number: None,
        };
        let cursor = EntryCursor::parse(&entry_cursor(&e)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (cursor.date, cursor.created_at.timestamp_micros(), cursor.id),
            (e.date, now.timestamp_micros(), e.id)
        );
        assert!(EntryCursor::parse("garbage").is_err());
        assert!(EntryCursor::parse(&B64.encode("2026-03-01|x|y")).is_err());
    }
}
