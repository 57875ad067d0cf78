//! Idempotency keys: a retried create with the same key and the same body returns the
//! entry made the first time; the same key with another body is a `CONFLICT`. The body
//! is compared by a hash stored beside the key.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use super::input::NewEntry;
use crate::entities::tenant::journal_entry as entry;
use crate::error::{Error, Result};

/// A key has 1 to 200 characters.
pub(super) fn check_key(key: &str) -> Result<()> {
    if key.trim().is_empty() || key.len() > 200 {
        return Err(Error::bad_input(
            "input.idempotencyKey",
            "an idempotency key has 1 to 200 characters",
        ));
    }
    Ok(())
}

/// A stable hash of what was asked, to tell an idempotent replay from a different body.
/// Each part is length-prefixed, so no two different requests feed the same bytes.
pub(super) fn request_hash(new: &NewEntry) -> String {
    let mut hasher = Sha256::new();
    let mut feed = |part: &str| {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    };
    feed(&new.date.to_string());
    feed(&new.description);
    feed(new.reference.as_deref().unwrap_or("\u{0}"));
    feed(if new.post { "post" } else { "draft" });
    for l in &new.lines {
        feed(&l.account_id);
        feed(&l.debit);
        feed(&l.credit);
        feed(l.memo.as_deref().unwrap_or("\u{0}"));
    }
    hex::encode(hasher.finalize())
}

/// The entry made earlier with this key and the same body; `CONFLICT` for another body.
pub(super) async fn replayed(db: &impl ConnectionTrait, key: &str, hash: &str) -> Result<Option<entry::Model>> {
    let Some(existing) = entry::Entity::find()
        .filter(entry::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if existing.request_hash.as_deref() == Some(hash) {
        Ok(Some(existing))
    } else {
        Err(Error::conflict(
            "input.idempotencyKey",
            "this idempotency key was used with a different request",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::posting::RawLine;

    fn entry(amount: &str) -> NewEntry {
        let line = |debit: &str, credit: &str| RawLine {
            account_id: "a".into(),
            debit: debit.into(),
            credit: credit.into(),
            memo: None,
        };
        NewEntry {
            date: chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default(),
            description: "Sekali saja".into(),
            reference: None,
            lines: vec![line(amount, "0"), line("0", amount)],
            post: true,
            idempotency_key: Some("req-42".into()),
        }
    }

    #[test]
    fn the_hash_tells_bodies_apart() {
        assert_eq!(request_hash(&entry("250.00")), request_hash(&entry("250.00")));
        assert_ne!(request_hash(&entry("250.00")), request_hash(&entry("251.00")));
        let mut draft = entry("250.00");
        draft.post = false;
        assert_ne!(request_hash(&draft), request_hash(&entry("250.00")));
        let mut no_ref = entry("1");
        no_ref.description = "ab".into();
        let mut shifted = entry("1");
        shifted.description = "a".into();
        shifted.reference = Some("b".into());
        assert_ne!(request_hash(&no_ref), request_hash(&shifted), "parts are delimited");
    }

    #[test]
    fn keys_have_a_length() {
        assert!(check_key("req-42").is_ok());
        assert!(check_key("  ").is_err());
        assert!(check_key(&"k".repeat(201)).is_err());
    }
}
