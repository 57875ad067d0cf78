//! Journal entries: queries and the draft / post / reverse mutations.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ID};
use chrono::{DateTime, Utc};

use super::accounts::Account;
use super::audit::ActorView;
use super::{actor, parse_id, tenant_db};
use crate::entities::tenant::journal_entry::{self as entity, EntryKind, EntryStatus};
use crate::entities::tenant::journal_line;
use crate::error::Error;
use crate::graphql::pagination::{connection, page_size, total_wanted, CountedConnection};
use crate::graphql::scalars::{Date, DecimalText};
use crate::ledger::journal::{self as service, EntryChanges, EntryFilter, NewEntry, OpeningBalances};
use crate::ledger::posting::RawLine;

pub struct JournalEntry(pub entity::Model);

#[Object]
impl JournalEntry {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Assigned when posted, gapless per fiscal year, e.g. "JE/2026/000001".
    async fn number(&self) -> Option<&str> {
        self.0.number.as_deref()
    }

    async fn date(&self) -> Date {
        Date(self.0.date)
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }

    async fn status(&self) -> EntryStatus {
        self.0.status
    }

    /// REGULAR, OPENING, CLOSING (a fiscal year's closing entry) or REVERSAL.
    async fn kind(&self) -> EntryKind {
        self.0.kind
    }

    /// The API token (or "system") that created it; null for entries made before this
    /// was recorded.
    async fn created_by(&self) -> Option<ActorView> {
        ActorView::recorded(self.0.created_by_token_id, self.0.created_by_name.as_deref())
    }

    /// The API token (or "system") that posted it; null for a draft.
    async fn posted_by(&self) -> Option<ActorView> {
        ActorView::recorded(self.0.posted_by_token_id, self.0.posted_by_name.as_deref())
    }

    /// An imported entry's number in its old books.
    async fn source_number(&self) -> Option<&str> {
        self.0.source_number.as_deref()
    }

    #[graphql(complexity = "crate::graphql::pagination::list_cost(child_complexity)")]
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<JournalLine>> {
        let db = tenant_db(ctx)?;
        Ok(db
            .cache
            .lines(&db.conn, self.0.id)
            .await?
            .iter()
            .cloned()
            .map(JournalLine)
            .collect())
    }

    async fn total_debit(&self, ctx: &Context<'_>) -> async_graphql::Result<DecimalText> {
        let db = tenant_db(ctx)?;
        Ok(service::totals(&db.cache.lines(&db.conn, self.0.id).await?).0.into())
    }

    async fn total_credit(&self, ctx: &Context<'_>) -> async_graphql::Result<DecimalText> {
        let db = tenant_db(ctx)?;
        Ok(service::totals(&db.cache.lines(&db.conn, self.0.id).await?).1.into())
    }

    /// The entry this one reverses.
    async fn reversal_of(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<JournalEntry>> {
        let Some(original) = self.0.reversal_of else {
            return Ok(None);
        };
        let db = tenant_db(ctx)?;
        Ok(db.cache.entry(&db.conn, original).await?.map(JournalEntry))
    }

    /// The entry that reverses this one.
    async fn reversed_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<JournalEntry>> {
        let db = tenant_db(ctx)?;
        Ok(db.cache.reversal(&db.conn, self.0.id).await?.map(JournalEntry))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.with_timezone(&Utc)
    }

    async fn posted_at(&self) -> Option<DateTime<Utc>> {
        self.0.posted_at.map(|t| t.with_timezone(&Utc))
    }
}

pub struct JournalLine(pub journal_line::Model);

#[Object]
impl JournalLine {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<Account> {
        let db = tenant_db(ctx)?;
        let chart = db.cache.chart(&db.conn).await?;
        chart
            .by_id
            .get(&self.0.account_id)
            .cloned()
            .map(Account)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("line {} names a missing account", self.0.id)).into())
    }

    async fn debit(&self) -> DecimalText {
        self.0.debit.into()
    }

    async fn credit(&self) -> DecimalText {
        self.0.credit.into()
    }

    async fn memo(&self) -> Option<&str> {
        self.0.memo.as_deref()
    }
}

/// A line names its account by `accountId` or by `accountCode` (exactly one).
#[derive(InputObject)]
pub struct JournalLineInput {
    pub account_id: Option<ID>,
    /// The account's code, e.g. "1-1101", instead of its id.
    pub account_code: Option<String>,
    #[graphql(default_with = "Some(DecimalText(\"0\".into()))")]
    pub debit: Option<DecimalText>,
    #[graphql(default_with = "Some(DecimalText(\"0\".into()))")]
    pub credit: Option<DecimalText>,
    pub memo: Option<String>,
}

fn raw_lines(lines: Vec<JournalLineInput>) -> Vec<RawLine> {
    lines
        .into_iter()
        .map(|l| RawLine {
            account_id: l.account_id.map(|id| id.0),
            account_code: l.account_code,
            debit: l.debit.map(|d| d.0).unwrap_or_else(|| "0".into()),
            credit: l.credit.map(|c| c.0).unwrap_or_else(|| "0".into()),
            memo: l.memo,
        })
        .collect()
}

#[derive(InputObject)]
pub struct OpeningBalancesInput {
    pub date: Date,
    pub lines: Vec<OpeningBalanceLineInput>,
    /// Takes the difference when the balances do not balance; the chart's
    /// OPENING_BALANCE_EQUITY account when absent.
    pub balancing_account_id: Option<ID>,
}

/// One account's opening balance, on its debit or its credit side; name the account by
/// `accountId` or `accountCode`.
#[derive(InputObject)]
pub struct OpeningBalanceLineInput {
    pub account_id: Option<ID>,
    pub account_code: Option<String>,
    #[graphql(default_with = "Some(DecimalText(\"0\".into()))")]
    pub debit: Option<DecimalText>,
    #[graphql(default_with = "Some(DecimalText(\"0\".into()))")]
    pub credit: Option<DecimalText>,
}

impl From<OpeningBalanceLineInput> for JournalLineInput {
    fn from(line: OpeningBalanceLineInput) -> Self {
        JournalLineInput {
            account_id: line.account_id,
            account_code: line.account_code,
            debit: line.debit,
            credit: line.credit,
            memo: None,
        }
    }
}

fn new_entry(input: CreateJournalEntryInput) -> NewEntry {
    NewEntry {
        date: input.date.0,
        description: input.description,
        reference: input.reference,
        lines: raw_lines(input.lines),
        post: input.post.unwrap_or(false),
        idempotency_key: input.idempotency_key,
        source_number: None,
    }
}

#[derive(InputObject)]
pub struct CreateJournalEntryInput {
    pub date: Date,
    pub description: String,
    pub reference: Option<String>,
    /// A draft may be unbalanced and hold 0 to 5000 lines (work in progress); an entry
    /// posted at once needs at least two lines whose debits equal its credits.
    pub lines: Vec<JournalLineInput>,
    /// Create and post in one step.
    #[graphql(default_with = "Some(false)")]
    pub post: Option<bool>,
    /// Same key + same request returns the first result; a different request ->
    /// CONFLICT. Requests are compared normalised: amounts as decimals ("100" =
    /// "100.00"), defaults applied, text trimmed.
    pub idempotency_key: Option<String>,
}

/// Drafts only. Fields left out are kept; `lines`, when given, replace all lines (a
/// draft may be unbalanced and hold 0 to 5000 lines; posting checks).
#[derive(InputObject)]
pub struct UpdateJournalEntryInput {
    pub date: Option<Date>,
    pub description: Option<String>,
    pub reference: MaybeUndefined<String>,
    pub lines: Option<Vec<JournalLineInput>>,
}

#[derive(InputObject, Default)]
pub struct JournalEntryFilter {
    pub status: Option<EntryStatus>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub account_id: Option<ID>,
    pub search: Option<String>,
}

pub type JournalEntryConnection = CountedConnection<JournalEntry>;

#[derive(Default)]
pub struct JournalQuery;

#[Object]
impl JournalQuery {
    /// Entries in journal order (date, then creation).
    #[graphql(complexity = "crate::graphql::pagination::page_cost(first, 50, child_complexity)")]
    async fn journal_entries(
        &self,
        ctx: &Context<'_>,
        filter: Option<JournalEntryFilter>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<JournalEntryConnection> {
        let db = tenant_db(ctx)?;
        let filter = filter.unwrap_or_default();
        let limit = page_size(ctx, first, 50)?;
        let service_filter = EntryFilter {
            status: filter.status,
            from: filter.from.map(|d| d.0),
            to: filter.to.map(|d| d.0),
            account_id: filter
                .account_id
                .as_ref()
                .map(|id| parse_id(id, "filter.accountId"))
                .transpose()?,
            search: filter.search,
        };
        let page = service::list(&db.conn, &service_filter, limit, after.as_deref(), total_wanted(ctx)).await?;
        db.cache.prefetch_page(&db.conn, &page.rows).await?;
        Ok(connection(page, after.is_some(), service::entry_cursor, JournalEntry))
    }

    async fn journal_entry(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<JournalEntry>> {
        let db = tenant_db(ctx)?;
        Ok(service::by_id(&db.conn, parse_id(&id, "id")?).await?.map(JournalEntry))
    }
}

#[derive(Default)]
pub struct JournalMutation;

#[Object]
impl JournalMutation {
    async fn create_journal_entry(
        &self,
        ctx: &Context<'_>,
        input: CreateJournalEntryInput,
    ) -> async_graphql::Result<JournalEntry> {
        let db = tenant_db(ctx)?;
        let created = service::create(&db.conn, new_entry(input), actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(JournalEntry(created))
    }

    /// Creates (and, per input, posts) up to 1,000 entries (20,000 lines in all) in one
    /// transaction: all or nothing; an error names its input (`inputs.3.lines.1.
    /// accountCode`, or `inputs.3:` in its message). Posted entries get consecutive
    /// numbers in input order within each fiscal year. Each input may carry its own
    /// idempotency key: one used before with the same input answers the entry made then.
    /// The answer is in input order; ask for each entry's lines with a query afterwards
    /// (a mutation's answer passes through at most one list).
    async fn create_journal_entries(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<CreateJournalEntryInput>,
    ) -> async_graphql::Result<Vec<JournalEntry>> {
        let db = tenant_db(ctx)?;
        let inputs = inputs.into_iter().map(new_entry).collect();
        let created = service::create_many(&db.conn, inputs, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(created.into_iter().map(JournalEntry).collect())
    }

    /// Posts the opening balances as one OPENING entry dated `date`. Balances that do
    /// not balance are made up on `balancingAccountId`, else on the chart's
    /// OPENING_BALANCE_EQUITY account. Called again while nothing else is posted in the
    /// opening entry's fiscal year, it replaces that entry (reversed on its own date,
    /// audited); later it is a CONFLICT. A line with neither a debit nor a credit is
    /// skipped; an account appears at most once.
    async fn set_opening_balances(
        &self,
        ctx: &Context<'_>,
        input: OpeningBalancesInput,
    ) -> async_graphql::Result<JournalEntry> {
        let db = tenant_db(ctx)?;
        let opening = OpeningBalances {
            date: input.date.0,
            lines: raw_lines(input.lines.into_iter().map(JournalLineInput::from).collect()),
            balancing_account_id: input.balancing_account_id.map(|id| id.0),
        };
        let posted = service::set_opening_balances(&db.conn, opening, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(JournalEntry(posted))
    }

    /// Drafts only.
    async fn update_journal_entry(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateJournalEntryInput,
    ) -> async_graphql::Result<JournalEntry> {
        let db = tenant_db(ctx)?;
        let changes = EntryChanges {
            date: input.date.map(|d| d.0),
            description: input.description,
            reference: input.reference.into(),
            lines: input.lines.map(raw_lines),
        };
        let updated = service::update_draft(&db.conn, parse_id(&id, "id")?, changes, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(JournalEntry(updated))
    }

    /// Drafts only.
    async fn delete_journal_entry(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let db = tenant_db(ctx)?;
        let deleted = service::delete_draft(&db.conn, parse_id(&id, "id")?, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(ID(deleted.to_string()))
    }

    /// Posts a draft (its debits must equal its credits: UNBALANCED_ENTRY otherwise).
    /// A retry with the same `idempotencyKey` returns the entry posted the first time;
    /// the key used for another request is a CONFLICT.
    async fn post_journal_entry(
        &self,
        ctx: &Context<'_>,
        id: ID,
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<JournalEntry> {
        let db = tenant_db(ctx)?;
        let posted = service::post(&db.conn, parse_id(&id, "id")?, idempotency_key.as_deref(), actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(JournalEntry(posted))
    }

    /// Posts a mirror entry and marks the original REVERSED; returns the new entry. It
    /// may use accounts archived since. `date` is on or after the original's
    /// (BAD_USER_INPUT otherwise) and defaults to today in the company's time zone, or
    /// the original's date when that is later. A retry with the same `idempotencyKey`
    /// returns the reversing entry made the first time.
    async fn reverse_journal_entry(
        &self,
        ctx: &Context<'_>,
        id: ID,
        date: Option<Date>,
        description: Option<String>,
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<JournalEntry> {
        let db = tenant_db(ctx)?;
        let reversal = service::reverse(
            &db.conn,
            parse_id(&id, "id")?,
            date.map(|d| d.0),
            description,
            idempotency_key.as_deref(),
            actor(ctx)?,
        )
        .await?;
        db.cache.invalidate();
        Ok(JournalEntry(reversal))
    }
}
