//! The audit log (`audit_event`): who changed the books or the company's settings, what
//! and when. Each mutation appends its event in its own transaction, so an event exists
//! exactly when its change committed. The database keeps the log append-only (the login
//! role may INSERT and SELECT; a trigger refuses UPDATE and DELETE and sets the time).
//! Closing and reopening a fiscal year are appended by the database functions that do
//! them (`nusa_close_fiscal_year`, `nusa_reopen_fiscal_year`), in the same way.
//!
//! Details are short and never hold secrets (no token, no password): what changed, from
//! what to what.

use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::entities::tenant::audit_event;
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::paging::{Page, Total};

/// The actions recorded, by what they act on.
pub mod action {
    pub const COMPANY_UPDATE: &str = "company.update";
    pub const ACCOUNT_CREATE: &str = "account.create";
    pub const ACCOUNT_UPDATE: &str = "account.update";
    pub const ACCOUNT_ARCHIVE: &str = "account.archive";
    pub const ACCOUNT_UNARCHIVE: &str = "account.unarchive";
    pub const ENTRY_CREATE: &str = "journal_entry.create";
    pub const ENTRY_UPDATE: &str = "journal_entry.update";
    pub const ENTRY_DELETE: &str = "journal_entry.delete";
    pub const ENTRY_POST: &str = "journal_entry.post";
    pub const ENTRY_REVERSE: &str = "journal_entry.reverse";
    /// `setOpeningBalances` posted the opening entry.
    pub const OPENING_BALANCES_SET: &str = "journal_entry.opening_balances";
    /// Written by the database function `nusa_close_fiscal_year`.
    pub const FISCAL_YEAR_CLOSE: &str = "fiscal_year.close";
    /// Written by the database function `nusa_reopen_fiscal_year`.
    pub const FISCAL_YEAR_REOPEN: &str = "fiscal_year.reopen";
}

/// Longest detail kept (the column allows 10,000; a detail is a summary, not a copy).
const MAX_DETAIL_CHARS: usize = 2000;

/// Appends an event. Call it inside the mutation's transaction.
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    subject_id: Option<Uuid>,
    detail: impl Into<String>,
) -> Result<()> {
    let detail: String = detail.into();
    let detail = if detail.chars().count() > MAX_DETAIL_CHARS {
        let mut cut: String = detail.chars().take(MAX_DETAIL_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        detail
    };
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: NotSet,
        // Set by the database (trigger `audit_event_guard`).
        at: NotSet,
        actor_token_id: Set(actor.token_id),
        actor_name: Set(actor.name.clone()),
        action: Set(action.to_owned()),
        subject_id: Set(subject_id),
        detail: Set(Some(detail).filter(|d| !d.is_empty())),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// What an update changed, as `field: before -> after; ...` (fields left as they were
/// are not named).
#[derive(Debug, Default)]
pub struct ChangeList(Vec<String>);

impl ChangeList {
    /// Notes `field` when `before` and `after` differ (`None` reads "none").
    pub fn field(&mut self, field: &str, before: Option<String>, after: Option<String>) {
        if before != after {
            let show = |v: Option<String>| v.map_or_else(|| "none".to_owned(), |v| format!("{v:?}"));
            self.0.push(format!("{field}: {} -> {}", show(before), show(after)));
        }
    }

    /// Notes a change told in words (e.g. "lines replaced: 3 lines, total 12.00").
    pub fn note(&mut self, text: impl Into<String>) {
        self.0.push(text.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The detail of the event; "no change" when nothing differs.
    pub fn detail(&self) -> String {
        if self.0.is_empty() {
            "no change".to_owned()
        } else {
            self.0.join("; ")
        }
    }
}

/// A page of the log, newest first, `first` events after the cursor `after` (an
/// event's id, see [`cursor`]).
pub async fn list(
    db: &impl ConnectionTrait,
    first: u64,
    after: Option<&str>,
    total: Total,
) -> Result<Page<audit_event::Model>> {
    let after = after
        .map(|cursor| {
            cursor
                .parse::<i64>()
                .map_err(|_| Error::bad_input("after", "not a cursor of this list"))
        })
        .transpose()?;
    let mut query = audit_event::Entity::find().order_by_desc(audit_event::Column::Id);
    if let Some(after) = after {
        query = query.filter(audit_event::Column::Id.lt(after));
    }
    let rows = query.limit(first + 1).all(db).await?;
    let total = match total {
        Total::Wanted => Some(audit_event::Entity::find().count(db).await?),
        Total::NotWanted => None,
    };
    Ok(Page::from_overfetched(rows, first, total))
}

/// The cursor of an event in the log: its id (events are listed by id, descending).
pub fn cursor(event: &audit_event::Model) -> String {
    event.id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_only_what_changed() {
        let mut changes = ChangeList::default();
        changes.field("name", Some("Kas".into()), Some("Kas".into()));
        assert!(changes.is_empty());
        assert_eq!(changes.detail(), "no change");
        changes.field("name", Some("Kas".into()), Some("Kas Besar".into()));
        changes.field("lockDate", None, Some("2026-01-31".into()));
        changes.note("lines replaced");
        assert_eq!(
            changes.detail(),
            r#"name: "Kas" -> "Kas Besar"; lockDate: none -> "2026-01-31"; lines replaced"#
        );
    }
}
