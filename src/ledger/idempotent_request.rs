//! Idempotency keys of mutations other than `createJournalEntry` (whose key is kept on
//! the entry): table `idempotent_request`, one row per key. A retry with the same key
//! and the same normalised request returns the first result; the same key with another
//! request (or another mutation) is a `CONFLICT`.
//!
//! How a mutation uses it:
//!
//! 1. [`check_key`], then [`request_hash`] of the request as the mutation understands it
//!    (defaults applied, amounts and dates in one form), so two spellings of one request
//!    are one request;
//! 2. [`replayed`] before any work: a key already used answers at once;
//! 3. in the mutation's transaction, [`remember`] FIRST: the key's row is inserted before
//!    anything else is locked, so a concurrent retry with the same key waits on it and,
//!    when this transaction commits, is told the key is [`Remembered::Taken`]; it then
//!    drops its transaction and answers from [`replayed`]. If this transaction rolls
//!    back, the key was never used.

use sea_orm::{ActiveValue::NotSet, ConnectionTrait, EntityTrait, Set, SqlErr};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::entities::tenant::idempotent_request;
use crate::error::{Error, Result};

/// The first request made with a key, as far as a retry needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstResult {
    /// What it gave, when the request does not name it itself.
    pub result_id: Option<Uuid>,
}

/// Whether [`remember`] took the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remembered {
    /// The key is this transaction's.
    Fresh,
    /// A concurrent request committed the key first; this transaction is aborted.
    Taken,
}

/// A key has 1 to 200 characters, not all blank. `field` names the argument in errors.
pub fn check_key(key: &str, field: &str) -> Result<()> {
    if key.trim().is_empty() || key.chars().count() > 200 {
        return Err(Error::bad_input(field, "an idempotency key has 1 to 200 characters"));
    }
    Ok(())
}

/// A stable hash of a normalised request: the operation and its parts, each
/// length-prefixed, so no two different requests feed the same bytes.
pub fn request_hash(operation: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in std::iter::once(&operation).chain(parts) {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The first request made with `key`: `None` when the key is unused; `CONFLICT` on
/// `field` when it was used for another request or another operation.
pub async fn replayed(
    db: &impl ConnectionTrait,
    key: &str,
    operation: &str,
    hash: &str,
    field: &str,
) -> Result<Option<FirstResult>> {
    let Some(first) = idempotent_request::Entity::find_by_id(key.to_owned()).one(db).await? else {
        return Ok(None);
    };
    if first.operation == operation && first.request_hash == hash {
        Ok(Some(FirstResult {
            result_id: first.result_id,
        }))
    } else {
        Err(Error::conflict(
            field,
            "this idempotency key was used with a different request",
        ))
    }
}

/// Records the key in the caller's transaction (call it before anything else there).
pub async fn remember(
    txn: &impl ConnectionTrait,
    key: &str,
    operation: &str,
    hash: &str,
    result_id: Option<Uuid>,
) -> Result<Remembered> {
    let inserted = idempotent_request::Entity::insert(idempotent_request::ActiveModel {
        key: Set(key.to_owned()),
        operation: Set(operation.to_owned()),
        request_hash: Set(hash.to_owned()),
        result_id: Set(result_id),
        created_at: NotSet,
    })
    .exec_without_returning(txn)
    .await;
    match inserted {
        Ok(_) => Ok(Remembered::Fresh),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(Remembered::Taken),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_tell_requests_and_operations_apart() {
        let close = request_hash("closeFiscalYear", &["2025"]);
        assert_eq!(close, request_hash("closeFiscalYear", &["2025"]));
        assert_ne!(close, request_hash("closeFiscalYear", &["2026"]));
        assert_ne!(close, request_hash("reopenFiscalYear", &["2025"]));
        assert_ne!(
            request_hash("op", &["ab", "c"]),
            request_hash("op", &["a", "bc"]),
            "parts are delimited"
        );
    }

    #[test]
    fn keys_have_a_length() {
        assert!(check_key("close-2025", "idempotencyKey").is_ok());
        assert!(check_key(" ", "idempotencyKey").is_err());
        assert!(check_key(&"k".repeat(201), "idempotencyKey").is_err());
        assert!(matches!(
            check_key("", "idempotencyKey"),
            Err(Error::BadUserInput { field: Some(f), .. }) if f == "idempotencyKey"
        ));
    }
}
