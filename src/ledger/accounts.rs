//! The chart of accounts.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::sea_query::extension::postgres::PgExpr;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use crate::entities::tenant::account::{self, AccountType, NormalBalance};
use crate::error::{Error, Result};
use crate::ledger::actor::Actor;
use crate::ledger::audit::{self, action, ChangeList};
use crate::ledger::change::Change;
use crate::ledger::coa::CoaTemplate;
use crate::ledger::paging::{self, Page, Total};

#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub account_type: Option<AccountType>,
    pub search: Option<String>,
    pub include_archived: bool,
    pub postable_only: Option<bool>,
}

/// A page of accounts ordered by code, `first` after the code `after`.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &AccountFilter,
    first: u64,
    after: Option<&str>,
    total: Total,
) -> Result<Page<account::Model>> {
    let mut condition = Condition::all();
    if let Some(account_type) = filter.account_type {
        condition = condition.add(account::Column::AccountType.eq(account_type));
    }
    if let Some(search) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = crate::ledger::contains_pattern(search);
        condition = condition.add(
            Condition::any()
                .add(Expr::col(account::Column::Name).ilike(pattern.clone()))
                .add(Expr::col(account::Column::Code).ilike(pattern)),
        );
    }
    if !filter.include_archived {
        condition = condition.add(account::Column::IsArchived.eq(false));
    }
    if let Some(postable) = filter.postable_only {
        if postable {
            condition = condition.add(account::Column::IsPostable.eq(true));
        }
    }
    let after = after.map(|code| Condition::all().add(account::Column::Code.gt(code)));
    paging::fetch::<account::Entity>(db, condition, &[account::Column::Code], after, first, total).await
}

/// The whole chart, for request-scoped lookups (charts are small: hundreds of rows).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<account::Model>> {
    Ok(account::Entity::find()
        .order_by_asc(account::Column::Code)
        .all(db)
        .await?)
}

pub async fn by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<account::Model>> {
    Ok(account::Entity::find_by_id(id).one(db).await?)
}

pub async fn by_code(db: &impl ConnectionTrait, code: &str) -> Result<Option<account::Model>> {
    Ok(account::Entity::find()
        .filter(account::Column::Code.eq(code))
        .one(db)
        .await?)
}

fn check_code(code: &str) -> Result<()> {
    let ok = !code.is_empty()
        && code.len() <= 32
        && code.starts_with(|c: char| c.is_ascii_alphanumeric())
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(
            "input.code",
            "an account code has 1 to 32 letters, digits, '.' or '-'",
        ))
    }
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::bad_input(
            "input.name",
            "an account name has 1 to 200 characters",
        ));
    }
    Ok(name.to_owned())
}

pub struct NewAccount {
    pub code: String,
    pub name: String,
    pub account_type: AccountType,
    pub parent_id: Option<Uuid>,
    pub is_postable: bool,
    pub description: Option<String>,
    /// The type's usual side when not given ([`AccountType::usual_normal_balance`]).
    pub normal_balance: Option<NormalBalance>,
}

/// A parent must exist, be a header (not postable) and have the same type.
async fn check_parent(db: &impl ConnectionTrait, parent_id: Uuid, account_type: AccountType) -> Result<account::Model> {
    let parent = by_id(db, parent_id)
        .await?
        .ok_or_else(|| Error::bad_input("input.parentId", "no such account"))?;
    if parent.is_postable {
        return Err(Error::bad_input(
            "input.parentId",
            "the parent must be a header account (isPostable: false)",
        ));
    }
    if parent.account_type != account_type {
        return Err(Error::bad_input(
            "input.parentId",
            "the parent must have the same account type",
        ));
    }
    Ok(parent)
}

/// Creates an account, with its audit event, in one transaction.
pub async fn create(db: &DatabaseConnection, new: NewAccount, actor: &Actor) -> Result<account::Model> {
    let txn = db.begin().await?;
    let created = create_in(&txn, new).await?;
    audit::record(
        &txn,
        actor,
        action::ACCOUNT_CREATE,
        Some(created.id),
        format!(
            "{} {} ({}, {})",
            created.code,
            created.name,
            created.account_type.to_value(),
            created.normal_balance.to_value()
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

async fn create_in(db: &impl ConnectionTrait, new: NewAccount) -> Result<account::Model> {
    let code = new.code.trim().to_owned();
    check_code(&code)?;
    let name = check_name(&new.name)?;
    if let Some(parent_id) = new.parent_id {
        check_parent(db, parent_id, new.account_type).await?;
    }
    let now = Utc::now();
    account::ActiveModel {
        id: Set(Uuid::new_v4()),
        code: Set(code.clone()),
        name: Set(name),
        account_type: Set(new.account_type),
        normal_balance: Set(new
            .normal_balance
            .unwrap_or_else(|| new.account_type.usual_normal_balance())),
        parent_id: Set(new.parent_id),
        is_postable: Set(new.is_postable),
        is_archived: Set(false),
        description: Set(new.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty())),
        role: Set(None),
        created_at: Set(now.into()),
        updated_at: Set(now.into()),
    }
    .insert(db)
    .await
    .map_err(|err| match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            Error::conflict("input.code", format!("an account with code '{code}' exists"))
        }
        _ => err.into(),
    })
}

#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub parent_id: Change<Uuid>,
    pub description: Change<String>,
    pub is_postable: Option<bool>,
}

async fn has_lines(db: &impl ConnectionTrait, id: Uuid) -> Result<bool> {
    use crate::entities::tenant::journal_line;
    Ok(journal_line::Entity::find()
        .filter(journal_line::Column::AccountId.eq(id))
        .count(db)
        .await?
        > 0)
}

async fn has_children(db: &impl ConnectionTrait, id: Uuid, only_active: bool) -> Result<bool> {
    let mut query = account::Entity::find().filter(account::Column::ParentId.eq(id));
    if only_active {
        query = query.filter(account::Column::IsArchived.eq(false));
    }
    Ok(query.count(db).await? > 0)
}

/// Changes an account, with its audit event (what changed), in one transaction.
pub async fn update(
    db: &DatabaseConnection,
    id: Uuid,
    changes: AccountChanges,
    actor: &Actor,
) -> Result<account::Model> {
    let txn = db.begin().await?;
    let (before, after) = update_in(&txn, id, changes).await?;
    let mut changed = ChangeList::default();
    changed.field("name", Some(before.name.clone()), Some(after.name.clone()));
    if before.parent_id != after.parent_id {
        changed.field(
            "parent",
            code_of(&txn, before.parent_id).await?,
            code_of(&txn, after.parent_id).await?,
        );
    }
    changed.field("description", before.description.clone(), after.description.clone());
    changed.field(
        "isPostable",
        Some(before.is_postable.to_string()),
        Some(after.is_postable.to_string()),
    );
    audit::record(
        &txn,
        actor,
        action::ACCOUNT_UPDATE,
        Some(id),
        format!("{}: {}", after.code, changed.detail()),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// The code of the account `id`, if any.
async fn code_of(db: &impl ConnectionTrait, id: Option<Uuid>) -> Result<Option<String>> {
    Ok(match id {
        Some(id) => by_id(db, id).await?.map(|a| a.code),
        None => None,
    })
}

/// The account before and after the change.
async fn update_in(
    db: &impl ConnectionTrait,
    id: Uuid,
    changes: AccountChanges,
) -> Result<(account::Model, account::Model)> {
    // Not locked first: a `FOR UPDATE` here would conflict with the key-share lock a
    // concurrent sibling move's foreign key check takes, while that move holds the
    // chart's advisory lock (trigger `account_no_loop`) that this update will wait for.
    let current = by_id(db, id)
        .await?
        .ok_or_else(|| Error::NotFound("no such account".into()))?;
    let mut row: account::ActiveModel = current.clone().into();
    if let Some(name) = changes.name {
        row.name = Set(check_name(&name)?);
    }
    match changes.parent_id {
        Change::Keep => {}
        Change::Clear => row.parent_id = Set(None),
        Change::Set(parent_id) => {
            check_parent(db, parent_id, current.account_type).await?;
            // Walk up from the new parent: meeting this account would make a cycle. (The
            // database checks it again under a lock, against concurrent moves; the walk
            // stops at an account seen twice, should a loop ever have been stored.)
            let mut cursor = Some(parent_id);
            let mut seen = std::collections::HashSet::new();
            while let Some(ancestor) = cursor.filter(|a| seen.insert(*a)) {
                if ancestor == id {
                    return Err(Error::bad_input(
                        "input.parentId",
                        "an account cannot be placed under itself",
                    ));
                }
                cursor = by_id(db, ancestor).await?.and_then(|a| a.parent_id);
            }
            row.parent_id = Set(Some(parent_id));
        }
    }
    match changes.description {
        Change::Keep => {}
        Change::Clear => row.description = Set(None),
        Change::Set(d) => row.description = Set(Some(d.trim().to_owned()).filter(|d| !d.is_empty())),
    }
    if let Some(postable) = changes.is_postable {
        if postable && !current.is_postable && has_children(db, id, false).await? {
            return Err(Error::bad_input(
                "input.isPostable",
                "an account with children is a header",
            ));
        }
        if !postable && current.is_postable && has_lines(db, id).await? {
            return Err(Error::bad_input(
                "input.isPostable",
                "an account with journal lines stays postable",
            ));
        }
        row.is_postable = Set(postable);
    }
    row.updated_at = Set(Utc::now().into());
    Ok((current, row.update(db).await?))
}

/// Archived accounts take no new lines and leave default listings; history stays.
/// The account row is locked first (`FOR UPDATE`): postings in flight hold it shared,
/// so the archive waits for them, and a posting that comes later sees it archived.
pub async fn archive(db: &DatabaseConnection, id: Uuid, actor: &Actor) -> Result<account::Model> {
    let txn = db.begin().await?;
    let current = account::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such account".into()))?;
    if has_children(&txn, id, true).await? {
        return Err(Error::bad_input("id", "archive the account's children first"));
    }
    let mut row: account::ActiveModel = current.into();
    row.is_archived = Set(true);
    row.updated_at = Set(Utc::now().into());
    let archived = row.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        action::ACCOUNT_ARCHIVE,
        Some(id),
        format!("{} {}", archived.code, archived.name),
    )
    .await?;
    txn.commit().await?;
    Ok(archived)
}

/// Debit and credit totals of posted entries per account, up to `as_of` (inclusive;
/// every posted entry when `None`), from the totals kept at posting.
pub async fn posted_totals(
    db: &impl ConnectionTrait,
    as_of: Option<NaiveDate>,
) -> Result<HashMap<Uuid, (Decimal, Decimal)>> {
    Ok(crate::ledger::balances::as_of(db, as_of)
        .await?
        .into_iter()
        .map(|(id, t)| (id, (t.debit, t.credit)))
        .collect())
}

/// Inserts a template's accounts (parents first, as the files are ordered).
pub async fn seed_from_template(db: &impl ConnectionTrait, template: &CoaTemplate) -> Result<usize> {
    let mut ids: HashMap<&str, Uuid> = HashMap::new();
    let now = Utc::now();
    let mut rows = Vec::with_capacity(template.accounts.len());
    for a in &template.accounts {
        let id = Uuid::new_v4();
        ids.insert(a.code.as_str(), id);
        rows.push(account::ActiveModel {
            id: Set(id),
            code: Set(a.code.clone()),
            name: Set(a.name.clone()),
            account_type: Set(a.account_type),
            normal_balance: Set(a.normal_balance),
            parent_id: Set(a.parent_code.as_deref().and_then(|p| ids.get(p).copied())),
            is_postable: Set(a.is_postable),
            is_archived: Set(false),
            description: Set(None),
            role: Set(None),
            created_at: Set(now.into()),
            updated_at: Set(now.into()),
        });
    }
    let count = rows.len();
    if count > 0 {
        account::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(count)
}
