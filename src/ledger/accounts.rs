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

use crate::entities::tenant::account::{self, AccountRole, AccountType, NormalBalance};
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

/// An account code: 1 to 32 letters, digits, '.' or '-', starting with a letter or digit.
pub(crate) fn check_code(code: &str) -> Result<()> {
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

/// A trimmed name of 1 to 200 characters.
pub(crate) fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::bad_input(
            "input.name",
            "an account name has 1 to 200 characters",
        ));
    }
    Ok(name.to_owned())
}

/// A role fits the account's type; CURRENT_YEAR_EARNINGS only on an account that takes
/// no postings (the statements compute that amount; postings there would count the
/// year's profit twice).
pub(crate) fn check_role(role: Option<AccountRole>, account_type: AccountType, is_postable: bool) -> Result<()> {
    let Some(role) = role else { return Ok(()) };
    if role.account_type() != account_type {
        return Err(Error::bad_input(
            "input.role",
            format!("this role is for {} accounts", role.account_type().to_value()),
        ));
    }
    if role == AccountRole::CurrentYearEarnings && is_postable {
        return Err(Error::bad_input(
            "input.role",
            "current-year earnings are computed by the statements: that account is not postable",
        ));
    }
    Ok(())
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
    /// Where it sits in the statements; without one it takes its parent's.
    pub role: Option<AccountRole>,
}

/// A parent must exist, be a header (not postable) and have the same type.
async fn check_parent(db: &impl ConnectionTrait, parent_id: Uuid, account_type: AccountType) -> Result<account::Model> {
    let parent = by_id(db, parent_id)
        .await?
        .ok_or_else(|| Error::bad_input("input.parentId", "no such account"))?;
    check_parent_fits(parent.is_postable, parent.account_type, account_type)?;
    Ok(parent)
}

/// The rule of [`check_parent`] on its own (an import checks parents that are rows of
/// its file, not yet accounts).
pub(crate) fn check_parent_fits(
    parent_is_postable: bool,
    parent_type: AccountType,
    account_type: AccountType,
) -> Result<()> {
    if parent_is_postable {
        return Err(Error::bad_input(
            "input.parentId",
            "the parent must be a header account (isPostable: false)",
        ));
    }
    if parent_type != account_type {
        return Err(Error::bad_input(
            "input.parentId",
            "the parent must have the same account type",
        ));
    }
    Ok(())
}

/// Creates an account, with its audit event, in one transaction.
pub async fn create(db: &DatabaseConnection, new: NewAccount, actor: &Actor) -> Result<account::Model> {
    let txn = db.begin().await?;
    let created = create_audited_in(&txn, new, actor).await?;
    txn.commit().await?;
    Ok(created)
}

/// [`create`] inside the caller's transaction (an import creates many in one).
pub(crate) async fn create_audited_in(
    db: &impl ConnectionTrait,
    new: NewAccount,
    actor: &Actor,
) -> Result<account::Model> {
    let created = create_in(db, new).await?;
    audit::record(
        db,
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
    Ok(created)
}

async fn create_in(db: &impl ConnectionTrait, new: NewAccount) -> Result<account::Model> {
    let code = new.code.trim().to_owned();
    check_code(&code)?;
    let name = check_name(&new.name)?;
    check_role(new.role, new.account_type, new.is_postable)?;
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
        role: Set(new.role),
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
    pub role: Change<AccountRole>,
    /// Code, type and side change only while the account has no journal line at all
    /// (the statements place and sign its lines by them; the database refuses too).
    pub code: Option<String>,
    pub account_type: Option<AccountType>,
    /// When the type changes and no side is given, the new type's usual side.
    pub normal_balance: Option<NormalBalance>,
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
    changed.field("code", Some(before.code.clone()), Some(after.code.clone()));
    changed.field(
        "type",
        Some(format!("{:?}", before.account_type)),
        Some(format!("{:?}", after.account_type)),
    );
    changed.field(
        "normalBalance",
        Some(format!("{:?}", before.normal_balance)),
        Some(format!("{:?}", after.normal_balance)),
    );
    changed.field(
        "role",
        before.role.map(|r| format!("{r:?}")),
        after.role.map(|r| format!("{r:?}")),
    );
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
    if let Some(name) = &changes.name {
        row.name = Set(check_name(name)?);
    }
    let keys = change_keys(db, &current, &changes).await?;
    // Only what changes is written: updating the unique `code` column, even to itself,
    // takes a stronger row lock (FOR UPDATE, not FOR NO KEY UPDATE) that would make
    // concurrent moves in the chart deadlock on the loop check's locks.
    if keys.code != current.code {
        row.code = Set(keys.code.clone());
    }
    if keys.account_type != current.account_type {
        row.account_type = Set(keys.account_type);
    }
    if keys.normal_balance != current.normal_balance {
        row.normal_balance = Set(keys.normal_balance);
    }
    match changes.parent_id {
        Change::Keep => {
            if let Some(parent_id) = current.parent_id.filter(|_| keys.account_type != current.account_type) {
                check_parent(db, parent_id, keys.account_type)
                    .await
                    .map_err(|_| Error::bad_input("input.type", "an account has its parent's type"))?;
            }
        }
        Change::Clear => row.parent_id = Set(None),
        Change::Set(parent_id) => {
            check_parent(db, parent_id, keys.account_type).await?;
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
    let role = changes.role.apply(current.role);
    check_role(
        role,
        keys.account_type,
        changes.is_postable.unwrap_or(current.is_postable),
    )?;
    if role != current.role {
        row.role = Set(role);
    }
    row.updated_at = Set(Utc::now().into());
    let updated = row.update(db).await.map_err(|err| {
        if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
            return Error::conflict("input.code", format!("an account with code '{}' exists", keys.code));
        }
        match crate::error::sqlstate(&err).as_deref() {
            // Lines arrived since the check above (the database looks again under the row lock).
            Some(migration::sqlstate::REPORT_KEY_FROZEN) => key_frozen(&keys.field),
            _ => err.into(),
        }
    })?;
    Ok((current, updated))
}

/// An account's code, type and side after an update, and the input field of the first
/// one that changes.
struct Keys {
    code: String,
    account_type: AccountType,
    normal_balance: NormalBalance,
    field: String,
}

fn key_frozen(field: &str) -> Error {
    Error::conflict(
        field,
        "the account has journal lines: its code, type and normal balance are kept",
    )
}

/// Checks the new code, type and side: each may change only while the account has no
/// journal line, draft or posted; a new type fits the account's children (it has none
/// of another type) and takes its usual side unless one is given.
async fn change_keys(db: &impl ConnectionTrait, current: &account::Model, changes: &AccountChanges) -> Result<Keys> {
    let code = match &changes.code {
        Some(code) => {
            let code = code.trim().to_owned();
            check_code(&code)?;
            code
        }
        None => current.code.clone(),
    };
    let account_type = changes.account_type.unwrap_or(current.account_type);
    let normal_balance = match (changes.normal_balance, changes.account_type) {
        (Some(side), _) => side,
        (None, Some(t)) if t != current.account_type => t.usual_normal_balance(),
        (None, _) => current.normal_balance,
    };
    let field = if code != current.code {
        "input.code"
    } else if account_type != current.account_type {
        "input.type"
    } else if normal_balance != current.normal_balance {
        "input.normalBalance"
    } else {
        return Ok(Keys {
            code,
            account_type,
            normal_balance,
            field: String::new(),
        });
    };
    if has_lines(db, current.id).await? {
        return Err(key_frozen(field));
    }
    if account_type != current.account_type && has_children(db, current.id, false).await? {
        return Err(Error::bad_input(
            "input.type",
            "an account with children keeps its type (they share it)",
        ));
    }
    Ok(Keys {
        code,
        account_type,
        normal_balance,
        field: field.to_owned(),
    })
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
    // Every posted entry, future-dated ones too: an archived account takes no new lines,
    // so a balance left on it could never be cleared. (Postings in flight hold the row
    // shared: the balance read after the lock includes them.)
    let totals = crate::ledger::balances::as_of(&txn, None).await?;
    let net = totals.get(&id).map(|t| t.net_debit()).unwrap_or_default();
    if !net.is_zero() {
        return Err(Error::conflict(
            "id",
            format!(
                "the account's balance is {}: move it to another account before archiving",
                crate::ledger::money::format_amount(current.normal_balance.signed(net))
            ),
        ));
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

/// Takes an archived account back into use. Its parent must be in use (an archived
/// header has only archived children).
pub async fn unarchive(db: &DatabaseConnection, id: Uuid, actor: &Actor) -> Result<account::Model> {
    let txn = db.begin().await?;
    let current = account::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::NotFound("no such account".into()))?;
    if let Some(parent_id) = current.parent_id {
        let parent = account::Entity::find_by_id(parent_id).lock_shared().one(&txn).await?;
        if parent.is_some_and(|p| p.is_archived) {
            return Err(Error::bad_input("id", "unarchive the account's parent first"));
        }
    }
    let mut row: account::ActiveModel = current.into();
    row.is_archived = Set(false);
    row.updated_at = Set(Utc::now().into());
    let unarchived = row.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        action::ACCOUNT_UNARCHIVE,
        Some(id),
        format!("{} {}", unarchived.code, unarchived.name),
    )
    .await?;
    txn.commit().await?;
    Ok(unarchived)
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
            role: Set(Some(a.role)),
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
