//! The chart of accounts: `accounts`, `account`, `createAccount`, `updateAccount`,
//! `archiveAccount`, `unarchiveAccount`.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ID};

use super::{actor, parse_id, tenant_db};
use crate::entities::tenant::account::{self as entity, AccountRole, AccountType, NormalBalance};
use crate::error::Error;
use crate::graphql::pagination::{connection, page_size, total_wanted, CountedConnection};
use crate::graphql::scalars::{Date, DecimalText};
use crate::ledger::accounts::{self as service, AccountChanges, AccountFilter as ServiceFilter, NewAccount};
use crate::ledger::change::Change;

/// An account of the chart.
pub struct Account(pub entity::Model);

#[Object]
impl Account {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    #[graphql(name = "type")]
    async fn account_type(&self) -> AccountType {
        self.0.account_type
    }

    async fn normal_balance(&self) -> NormalBalance {
        self.0.normal_balance
    }

    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Account>> {
        let Some(parent_id) = self.0.parent_id else {
            return Ok(None);
        };
        let db = tenant_db(ctx)?;
        let chart = db.cache.chart(&db.conn).await?;
        Ok(chart.by_id.get(&parent_id).cloned().map(Account))
    }

    /// Direct children, by code.
    #[graphql(complexity = "crate::graphql::pagination::list_cost(child_complexity)")]
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Account>> {
        let db = tenant_db(ctx)?;
        let chart = db.cache.chart(&db.conn).await?;
        let mut children: Vec<entity::Model> = chart
            .children
            .get(&self.0.id)
            .map(|ids| ids.iter().filter_map(|id| chart.by_id.get(id).cloned()).collect())
            .unwrap_or_default();
        children.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(children.into_iter().map(Account).collect())
    }

    /// False for header (group) accounts.
    async fn is_postable(&self) -> bool {
        self.0.is_postable
    }

    async fn is_archived(&self) -> bool {
        self.0.is_archived
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// Where the account sits in the statements (without one: its parent's, else a
    /// default by type).
    async fn role(&self) -> Option<AccountRole> {
        self.0.role
    }

    /// Signed in the account's normal direction, posted entries up to `asOf` (default:
    /// today in the company's time zone, like every report); a header account sums the
    /// accounts below it.
    async fn balance(&self, ctx: &Context<'_>, as_of: Option<Date>) -> async_graphql::Result<DecimalText> {
        let db = tenant_db(ctx)?;
        let as_of = match as_of {
            Some(date) => date.0,
            None => db.cache.today(&db.conn).await?,
        };
        Ok(db.cache.balance(&db.conn, &self.0, Some(as_of)).await?.into())
    }
}

#[derive(InputObject, Default)]
pub struct AccountFilter {
    #[graphql(name = "type")]
    pub account_type: Option<AccountType>,
    pub search: Option<String>,
    #[graphql(default_with = "Some(false)")]
    pub include_archived: Option<bool>,
    pub postable_only: Option<bool>,
}

#[derive(InputObject)]
pub struct CreateAccountInput {
    pub code: String,
    pub name: String,
    #[graphql(name = "type")]
    pub account_type: AccountType,
    pub parent_id: Option<ID>,
    #[graphql(default_with = "Some(true)")]
    pub is_postable: Option<bool>,
    pub description: Option<String>,
    /// Defaults to DEBIT for assets and expenses, CREDIT otherwise.
    pub normal_balance: Option<NormalBalance>,
    /// Must fit the type; CURRENT_YEAR_EARNINGS only on an account that is not postable.
    pub role: Option<AccountRole>,
}

/// Fields left out are kept; `parentId`, `description` and `role` set to null are
/// cleared. `code`, `type` and `normalBalance` change only while the account has no
/// journal lines (CONFLICT otherwise); a new `type` without a `normalBalance` takes the
/// type's usual side.
#[derive(InputObject)]
pub struct UpdateAccountInput {
    pub name: Option<String>,
    pub parent_id: MaybeUndefined<ID>,
    pub description: MaybeUndefined<String>,
    pub is_postable: Option<bool>,
    pub role: MaybeUndefined<AccountRole>,
    pub code: Option<String>,
    #[graphql(name = "type")]
    pub account_type: Option<AccountType>,
    pub normal_balance: Option<NormalBalance>,
}

pub type AccountConnection = CountedConnection<Account>;

#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// Accounts by code.
    #[graphql(complexity = "crate::graphql::pagination::page_cost(first, 50, child_complexity)")]
    async fn accounts(
        &self,
        ctx: &Context<'_>,
        filter: Option<AccountFilter>,
        #[graphql(default = 50)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AccountConnection> {
        let db = tenant_db(ctx)?;
        let filter = filter.unwrap_or_default();
        let limit = page_size(ctx, first, 50)?;
        let service_filter = ServiceFilter {
            account_type: filter.account_type,
            search: filter.search,
            include_archived: filter.include_archived.unwrap_or(false),
            postable_only: filter.postable_only,
        };
        let page = service::list(&db.conn, &service_filter, limit, after.as_deref(), total_wanted(ctx)).await?;
        // The cursor is the code: accounts are listed by code, which is unique.
        Ok(connection(page, after.is_some(), |a| a.code.clone(), Account))
    }

    /// One account by `id` or by `code` (give exactly one).
    async fn account(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        code: Option<String>,
    ) -> async_graphql::Result<Option<Account>> {
        let db = tenant_db(ctx)?;
        let found = match (id, code) {
            (Some(id), None) => service::by_id(&db.conn, parse_id(&id, "id")?).await?,
            (None, Some(code)) => service::by_code(&db.conn, &code).await?,
            _ => return Err(Error::bad_input("id", "give exactly one of id and code").into()),
        };
        Ok(found.map(Account))
    }
}

#[derive(Default)]
pub struct AccountsMutation;

#[Object]
impl AccountsMutation {
    async fn create_account(&self, ctx: &Context<'_>, input: CreateAccountInput) -> async_graphql::Result<Account> {
        let db = tenant_db(ctx)?;
        let new = NewAccount {
            code: input.code,
            name: input.name,
            account_type: input.account_type,
            parent_id: input
                .parent_id
                .as_ref()
                .map(|id| parse_id(id, "input.parentId"))
                .transpose()?,
            is_postable: input.is_postable.unwrap_or(true),
            description: input.description,
            normal_balance: input.normal_balance,
            role: input.role,
        };
        let created = service::create(&db.conn, new, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(Account(created))
    }

    async fn update_account(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAccountInput,
    ) -> async_graphql::Result<Account> {
        let db = tenant_db(ctx)?;
        let changes = AccountChanges {
            name: input.name,
            parent_id: Change::from(input.parent_id).try_map(|p| parse_id(&p, "input.parentId"))?,
            description: input.description.into(),
            is_postable: input.is_postable,
            role: input.role.into(),
            code: input.code,
            account_type: input.account_type,
            normal_balance: input.normal_balance,
        };
        let updated = service::update(&db.conn, parse_id(&id, "id")?, changes, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(Account(updated))
    }

    /// Archived accounts take no new lines (but for reversals of entries that used them)
    /// and leave default listings; their history stays. Only an account whose balance is
    /// zero, counting every posted entry, can be archived (CONFLICT otherwise).
    async fn archive_account(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Account> {
        let db = tenant_db(ctx)?;
        let archived = service::archive(&db.conn, parse_id(&id, "id")?, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(Account(archived))
    }

    /// Takes an archived account back into use (its parent must be in use).
    async fn unarchive_account(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Account> {
        let db = tenant_db(ctx)?;
        let unarchived = service::unarchive(&db.conn, parse_id(&id, "id")?, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(Account(unarchived))
    }
}
