//! Idempotency keys: a retried request with the same key and the same request returns
//! the result of the first; the same key with another request is a `CONFLICT`. Requests
//! are compared by a hash of their *normalised* form (amounts as decimals, so `"100"`
//! and `"100.00"` are one request; defaults applied; text trimmed, blank as absent),
//! so a client that re-serialises a retry is not refused.
//!
//! `createJournalEntry` keeps its key and hash on the entry it made
//! (`journal_entry.idempotency_key`). Other mutations (`postJournalEntry`,
//! `reverseJournalEntry`, `closeFiscalYear`, ...) record theirs in `idempotent_request`
//! with [`record`], in the transaction that does the work, and look them up with
//! [`replay`] first; one key serves one operation.

use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QueryFilter, SqlErr, Statement};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::input::NewEntry;
use crate::entities::tenant::journal_entry as entry;
use crate::error::{Error, Result};
use crate::ledger::money::{format_amount, parse_amount};

/// The one rule for keys, whatever the mutation (1 to 200 characters, not all blank).
pub use crate::ledger::idempotent_request::check_key;

/// Builds a request hash from parts. Each part is length-prefixed, so no two different
/// sequences of parts feed the same bytes.
#[derive(Default)]
pub struct RequestHash(Sha256);

impl RequestHash {
    /// A hash of a request to `operation`.
    pub fn new(operation: &str) -> Self {
        let mut hash = RequestHash::default();
        hash.part(operation);
        hash
    }

    pub fn part(&mut self, part: &str) -> &mut Self {
        self.0.update((part.len() as u64).to_le_bytes());
        self.0.update(part.as_bytes());
        self
    }

    /// A text field as compared: trimmed, blank as absent (`None` is told apart from
    /// every text).
    pub fn text(&mut self, text: Option<&str>) -> &mut Self {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            Some(text) => self.part("t").part(text),
            None => self.part("-"),
        }
    }

    /// An amount as compared: its decimal value with two places (`"100"` = `"100.00"`);
    /// text that is no amount as itself (the request fails its checks anyway).
    pub fn amount(&mut self, raw: &str) -> &mut Self {
        let raw = raw.trim();
        match parse_amount(raw) {
            Ok(value) => self.part("a").part(&format_amount(value)),
            Err(_) => self.part("r").part(raw),
        }
    }

    /// An id as compared: the canonical form of a UUID (case does not matter).
    pub fn id(&mut self, raw: &str) -> &mut Self {
        match Uuid::parse_str(raw.trim()) {
            Ok(id) => self.part("u").part(&id.to_string()),
            Err(_) => self.part("r").part(raw.trim()),
        }
    }

    pub fn finish(&self) -> String {
        hex::encode(self.0.clone().finalize())
    }
}

/// The normalised hash of a `createJournalEntry` request (`post` is already defaulted
/// by the caller: a missing `post` and `post: false` are one request).
pub(super) fn request_hash(new: &NewEntry) -> String {
    let mut hash = RequestHash::new("createJournalEntry");
    hash.part(&new.date.to_string())
        .text(Some(&new.description))
        .text(new.reference.as_deref())
        .part(if new.post { "post" } else { "draft" });
    for l in &new.lines {
        match (&l.account_id, &l.account_code) {
            (Some(id), _) => hash.id(id),
            (None, Some(code)) => hash.part("code").text(Some(code)),
            (None, None) => hash.part("-"),
        }
        .amount(&l.debit)
        .amount(&l.credit)
        .text(l.memo.as_deref());
    }
    hash.finish()
}

/// The entry made earlier with this key and the same request; `CONFLICT` for another request.
pub(super) async fn replayed(db: &impl ConnectionTrait, key: &str, hash: &str) -> Result<Option<entry::Model>> {
    use sea_orm::ColumnTrait;
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
        Err(reused("input.idempotencyKey"))
    }
}

fn reused(field: &str) -> Error {
    Error::conflict(field, "this idempotency key was used with a different request")
}

/// A key given to an operation other than `createJournalEntry`, with the hash of its
/// request (see [`RequestHash`]).
#[derive(Debug, Clone)]
pub struct Idempotent {
    pub key: String,
    /// The mutation, e.g. `postJournalEntry`: one key serves one operation.
    pub operation: &'static str,
    pub hash: String,
    /// The input field that holds the key, for errors (`idempotencyKey`).
    pub field: &'static str,
}

impl Idempotent {
    /// `None` without a key; `BAD_USER_INPUT` for a key of the wrong length.
    pub fn new(
        key: Option<&str>,
        field: &'static str,
        operation: &'static str,
        hash: &RequestHash,
    ) -> Result<Option<Idempotent>> {
        let Some(key) = key else { return Ok(None) };
        check_key(key, field)?;
        Ok(Some(Idempotent {
            key: key.to_owned(),
            operation,
            hash: hash.finish(),
            field,
        }))
    }
}

/// The result id recorded for this key by an earlier request of the same operation
/// with the same hash; `None` when the key is new; `CONFLICT` when it was used for
/// another operation or another request.
pub async fn replay(db: &impl ConnectionTrait, request: &Idempotent) -> Result<Option<Uuid>> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT operation, request_hash, result_id FROM idempotent_request WHERE key = $1",
            [request.key.clone().into()],
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let operation: String = row.try_get("", "operation")?;
    let hash: String = row.try_get("", "request_hash")?;
    if operation != request.operation || hash != request.hash {
        return Err(reused(request.field));
    }
    let result: Option<Uuid> = row.try_get("", "result_id")?;
    result.map(Some).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "idempotent request {} has no result",
            request.operation
        ))
    })
}

/// What [`record`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The key is now this request's; commit the work.
    Fresh,
    /// A concurrent request took the key first (and committed): roll back, then
    /// [`replay`] to answer with its result (or its `CONFLICT`).
    Taken,
}

/// Records the key, its request and the result, inside the transaction that does the
/// work (so the key is kept exactly when the work commits). A concurrent request with
/// the same key waits here until the other commits or rolls back.
pub async fn record(db: &impl ConnectionTrait, request: &Idempotent, result_id: Uuid) -> Result<Recorded> {
    let inserted = db
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO idempotent_request (key, operation, request_hash, result_id) VALUES ($1, $2, $3, $4)",
            [
                request.key.clone().into(),
                request.operation.into(),
                request.hash.clone().into(),
                result_id.into(),
            ],
        ))
        .await;
    match inserted {
        Ok(_) => Ok(Recorded::Fresh),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Ok(Recorded::Taken),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::posting::RawLine;

    const ACCOUNT: &str = "6f9619ff-8b86-d011-b42d-00c04fc964ff";

    fn entry(amount: &str) -> NewEntry {
        let line = |debit: &str, credit: &str| RawLine {
            account_id: Some(ACCOUNT.into()),
            debit: debit.into(),
            credit: credit.into(),
            ..RawLine::default()
        };
        NewEntry {
            date: chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default(),
            description: "Sekali saja".into(),
            reference: None,
            lines: vec![line(amount, "0"), line("0", amount)],
            post: true,
            idempotency_key: Some("req-42".into()),
            source_number: None,
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
        let mut memo = entry("1");
        memo.lines[0].memo = Some("x".into());
        assert_ne!(request_hash(&memo), request_hash(&entry("1")));
    }

    #[test]
    fn the_hash_compares_the_normalised_request() {
        assert_eq!(request_hash(&entry("100")), request_hash(&entry("100.00")));
        assert_eq!(request_hash(&entry("100.5")), request_hash(&entry("100.50")));
        assert_eq!(request_hash(&entry("0100")), request_hash(&entry("100.0")));
        let mut spaced = entry("7");
        spaced.description = "  Sekali saja ".into();
        spaced.reference = Some("   ".into());
        spaced.lines[0].memo = Some(" ".into());
        spaced.lines[1].account_id = Some(ACCOUNT.to_uppercase());
        spaced.lines[1].debit = "0.00".into();
        assert_eq!(request_hash(&spaced), request_hash(&entry("7")));
        // Not an amount: compared as given (and refused by the checks).
        assert_ne!(request_hash(&entry("1x")), request_hash(&entry("1")));
    }

    #[test]
    fn request_hashes_name_their_operation() {
        let post = RequestHash::new("postJournalEntry").id(ACCOUNT).finish();
        let reverse = RequestHash::new("reverseJournalEntry").id(ACCOUNT).finish();
        assert_ne!(post, reverse);
        assert_eq!(
            post,
            RequestHash::new("postJournalEntry")
                .id(&ACCOUNT.to_uppercase())
                .finish()
        );
        assert_ne!(
            RequestHash::new("r").text(None).finish(),
            RequestHash::new("r").text(Some("-")).finish()
        );
    }

    #[test]
    fn keys_have_a_length() {
        assert!(check_key("req-42", "input.idempotencyKey").is_ok());
        assert!(check_key("  ", "idempotencyKey").is_err());
        assert!(check_key(&"k".repeat(201), "idempotencyKey").is_err());
        let hash = RequestHash::new("postJournalEntry");
        assert!(Idempotent::new(None, "idempotencyKey", "postJournalEntry", &hash).is_ok_and(|k| k.is_none()));
        let err = Idempotent::new(Some(""), "idempotencyKey", "postJournalEntry", &hash).err();
        assert!(matches!(err, Some(Error::BadUserInput { field: Some(f), .. }) if f == "idempotencyKey"));
    }
}
