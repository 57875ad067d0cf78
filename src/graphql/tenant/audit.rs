//! `auditLog`, and `Actor`: who did what to the books (see `ledger::audit`).

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::tenant_db;
use crate::entities::tenant::audit_event;
use crate::graphql::pagination::{connection, page_size, total_wanted, CountedConnection};
use crate::ledger::audit as service;

/// The API token (or "system") that acted.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
#[graphql(name = "Actor")]
pub struct ActorView {
    /// The token's id; null for the system.
    pub token_id: Option<ID>,
    /// The token's name, or "system".
    pub name: String,
}

impl ActorView {
    /// The actor recorded as `token_id` and `name`; none where nothing was recorded
    /// (entries made before actors were).
    pub fn recorded(token_id: Option<Uuid>, name: Option<&str>) -> Option<ActorView> {
        name.map(|name| ActorView {
            token_id: token_id.map(|id| ID(id.to_string())),
            name: name.to_owned(),
        })
    }
}

/// One change to the books or the company's settings.
pub struct AuditEvent(pub audit_event::Model);

#[Object]
impl AuditEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// When it was written, in the transaction of its change (the database's clock).
    async fn at(&self) -> DateTime<Utc> {
        self.0.at.with_timezone(&Utc)
    }

    async fn actor(&self) -> Option<ActorView> {
        ActorView::recorded(self.0.actor_token_id, Some(&self.0.actor_name))
    }

    /// What was done, e.g. "journal_entry.post", "fiscal_year.reopen".
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// The entry, account or company it was done to.
    async fn subject_id(&self) -> Option<ID> {
        self.0.subject_id.map(|id| ID(id.to_string()))
    }

    /// A short summary: what changed, from what to what; a reopening's reason.
    async fn detail(&self) -> Option<&str> {
        self.0.detail.as_deref()
    }
}

pub type AuditEventConnection = CountedConnection<AuditEvent>;

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The audit log, newest first.
    #[graphql(complexity = "crate::graphql::pagination::page_cost(first, 50, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        let db = tenant_db(ctx)?;
        let limit = page_size(ctx, first, 50)?;
        let page = service::list(&db.conn, limit, after.as_deref(), total_wanted(ctx)).await?;
        Ok(connection(page, after.is_some(), service::cursor, AuditEvent))
    }
}
