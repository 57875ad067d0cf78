//! A chart of accounts from CSV: `code,name,type,parent_code,is_postable,normal_balance,role,description`.
//!
//! Rows may come in any order (a child before its parent); they are written parents
//! first. Each account is checked by the rules of `createAccount` (`ledger::accounts`:
//! code, name, role against type, parent a header of the same type), against the other
//! rows and against the chart already there.

use std::collections::{HashMap, VecDeque};

use sea_orm::{ActiveEnum, DatabaseConnection, TransactionTrait};
use uuid::Uuid;

use super::reader::{truncated, Columns, Sheet};
use super::{code, refusal, text, ErrorList, ImportError, ImportResult};
use crate::books_csv::format::ACCOUNT_COLUMNS;
use crate::entities::tenant::account::{self, AccountRole, AccountType, NormalBalance};
use crate::error::{Error, Result};
use crate::ledger::accounts::{self as ledger, NewAccount};
use crate::ledger::actor::Actor;

/// Most rows of a chart file: charts have hundreds of accounts, and each is created
/// (and audited) on its own, so a file of a million would hold a transaction for long.
pub const MAX_ACCOUNT_ROWS: u32 = 10_000;

/// Deepest an imported account may sit (1 = no parent). The database's loop check and
/// the statements' role lookup walk up an account's ancestors: a file of one 10,000-deep
/// chain would make every insert and every statement walk thousands.
pub const MAX_DEPTH: usize = 12;

const COLUMNS: Columns = Columns {
    known: &ACCOUNT_COLUMNS,
    required: &["code", "name", "type"],
};

// Positions in ACCOUNT_COLUMNS.
const CODE: usize = 0;
const NAME: usize = 1;
const TYPE: usize = 2;
const PARENT: usize = 3;
const POSTABLE: usize = 4;
const SIDE: usize = 5;
const ROLE: usize = 6;
const DESCRIPTION: usize = 7;

/// One row as read; a cell that failed its check is `None` (its error is listed).
#[derive(Debug)]
struct AccountRow {
    row: u32,
    code: Option<String>,
    name: Option<String>,
    account_type: Option<AccountType>,
    parent_code: Option<String>,
    is_postable: Option<bool>,
    normal_balance: Option<NormalBalance>,
    role: Option<AccountRole>,
    description: Option<String>,
}

/// The rows of a file, read and checked on their own (no chart needed).
#[derive(Debug)]
pub struct ParsedAccounts {
    rows: Vec<AccountRow>,
    rows_read: u32,
    errors: ErrorList,
}

/// A value of one of the API's enums, case-insensitive (`asset` or `ASSET`).
fn parse_enum<E: ActiveEnum<Value = String>>(cell: &str) -> Option<E> {
    E::try_from_value(&cell.trim().to_ascii_uppercase()).ok()
}

fn parse_bool(cell: &str) -> Option<bool> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Reads and checks every row (blocking work: run it off the async threads).
pub fn parse(bytes: &[u8]) -> ParsedAccounts {
    let mut errors = ErrorList::default();
    let mut sheet = match Sheet::open(bytes, &COLUMNS) {
        Ok(sheet) => sheet,
        Err(header) => {
            header.into_iter().for_each(|e| errors.push(e));
            return ParsedAccounts {
                rows: vec![],
                rows_read: 0,
                errors,
            };
        }
    };
    let mut rows = Vec::new();
    while let Some(row) = sheet.next_row() {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        if row.number > MAX_ACCOUNT_ROWS {
            errors.push(ImportError::row(
                row.number,
                None,
                code::TOO_MANY_ROWS,
                format!("a chart file has at most {MAX_ACCOUNT_ROWS} rows: the rest was not read"),
            ));
            break;
        }
        let number = row.number;
        let mut bad = |column: usize, code: &'static str, message: String| {
            errors.push(ImportError::cell(number, ACCOUNT_COLUMNS[column], code, message));
        };
        let code_cell = row.cell(CODE).trim();
        let code = if code_cell.is_empty() {
            bad(CODE, code::MISSING_VALUE, "an account needs a code".into());
            None
        } else {
            match ledger::check_code(code_cell) {
                Ok(()) => Some(code_cell.to_owned()),
                Err(e) => {
                    bad(CODE, code::BAD_VALUE, format!("{:?}: {e}", truncated(code_cell)));
                    None
                }
            }
        };
        let name = match text(row.cell(NAME)) {
            None => {
                bad(NAME, code::MISSING_VALUE, "an account needs a name".into());
                None
            }
            Some(name) => match ledger::check_name(name) {
                Ok(name) => Some(name),
                Err(e) => {
                    bad(NAME, code::BAD_VALUE, e.to_string());
                    None
                }
            },
        };
        let type_cell = row.cell(TYPE).trim();
        let account_type = if type_cell.is_empty() {
            bad(TYPE, code::MISSING_VALUE, "an account needs a type".into());
            None
        } else {
            let parsed = parse_enum::<AccountType>(type_cell);
            if parsed.is_none() {
                bad(
                    TYPE,
                    code::BAD_VALUE,
                    format!(
                        "{:?} is not a type: ASSET, LIABILITY, EQUITY, REVENUE or EXPENSE",
                        truncated(type_cell)
                    ),
                );
            }
            parsed
        };
        let parent_code = text(row.cell(PARENT)).map(str::to_owned);
        let postable_cell = row.cell(POSTABLE).trim();
        let is_postable = if postable_cell.is_empty() {
            Some(true)
        } else {
            let parsed = parse_bool(postable_cell);
            if parsed.is_none() {
                bad(
                    POSTABLE,
                    code::BAD_VALUE,
                    format!("{:?} is not true or false", truncated(postable_cell)),
                );
            }
            parsed
        };
        let side_cell = row.cell(SIDE).trim();
        let normal_balance = if side_cell.is_empty() {
            account_type.map(AccountType::usual_normal_balance)
        } else {
            let parsed = parse_enum::<NormalBalance>(side_cell);
            if parsed.is_none() {
                bad(
                    SIDE,
                    code::BAD_VALUE,
                    format!("{:?} is not DEBIT or CREDIT", truncated(side_cell)),
                );
            }
            parsed
        };
        let role_cell = row.cell(ROLE).trim();
        let role = if role_cell.is_empty() {
            None
        } else {
            let parsed = parse_enum::<AccountRole>(role_cell);
            match (parsed, account_type, is_postable) {
                (None, _, _) => bad(
                    ROLE,
                    code::BAD_VALUE,
                    format!("{:?} is not an account role of API.md", truncated(role_cell)),
                ),
                (Some(role), Some(t), Some(postable)) => {
                    if let Err(e) = ledger::check_role(Some(role), t, postable) {
                        bad(ROLE, code::BAD_VALUE, e.to_string());
                    }
                }
                _ => {}
            }
            parsed
        };
        let description = text(row.cell(DESCRIPTION)).map(str::to_owned);
        rows.push(AccountRow {
            row: number,
            code,
            name,
            account_type,
            parent_code,
            is_postable,
            normal_balance,
            role,
            description,
        });
    }
    ParsedAccounts {
        rows_read: sheet.rows_read().min(MAX_ACCOUNT_ROWS),
        rows,
        errors,
    }
}

/// A parent as the checks need it: from the file (its row) or the chart.
#[derive(Clone, Copy)]
enum Parent {
    Row(usize),
    Chart(Uuid),
}

/// Checks the rows against each other and the chart: codes unique, parents found and
/// fitting, no cycles. Returns the rows' indexes parents first (when there is no error).
fn check_against(parsed: &mut ParsedAccounts, chart: &[account::Model]) -> Vec<(usize, Option<Parent>)> {
    let in_chart: HashMap<&str, &account::Model> = chart.iter().map(|a| (a.code.as_str(), a)).collect();
    let mut in_file: HashMap<&str, usize> = HashMap::with_capacity(parsed.rows.len());
    let errors = &mut parsed.errors;
    for (index, row) in parsed.rows.iter().enumerate() {
        let Some(code) = row.code.as_deref() else { continue };
        if let Some(existing) = in_chart.get(code) {
            errors.push(ImportError::cell(
                row.row,
                "code",
                code::DUPLICATE_CODE,
                format!(
                    "the chart has an account {code} already ({})",
                    truncated(&existing.name)
                ),
            ));
        } else if let Some(&first) = in_file.get(code) {
            errors.push(ImportError::cell(
                row.row,
                "code",
                code::DUPLICATE_CODE,
                format!("code {code} is used on row {} too", parsed.rows[first].row),
            ));
        } else {
            in_file.insert(code, index);
        }
    }
    // Each row's parent, and the children of each row (for the order and the cycles).
    let mut parents: Vec<Option<Parent>> = Vec::with_capacity(parsed.rows.len());
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); parsed.rows.len()];
    for (index, row) in parsed.rows.iter().enumerate() {
        let Some(parent_code) = row.parent_code.as_deref() else {
            parents.push(None);
            continue;
        };
        let parent = match (in_file.get(parent_code), in_chart.get(parent_code)) {
            (Some(&at), _) => {
                children[at].push(index);
                Some(Parent::Row(at))
            }
            (None, Some(account)) => Some(Parent::Chart(account.id)),
            (None, None) => {
                errors.push(ImportError::cell(
                    row.row,
                    "parent_code",
                    code::PARENT_NOT_FOUND,
                    format!("no account {:?} in the file or the chart", truncated(parent_code)),
                ));
                None
            }
        };
        let fits = match parent {
            Some(Parent::Row(at)) => {
                let p = &parsed.rows[at];
                p.is_postable.zip(p.account_type)
            }
            Some(Parent::Chart(_)) => in_chart.get(parent_code).map(|a| (a.is_postable, a.account_type)),
            None => None,
        };
        if let (Some((postable, parent_type)), Some(account_type)) = (fits, row.account_type) {
            if let Err(e) = ledger::check_parent_fits(postable, parent_type, account_type) {
                errors.push(refusal(row.row, "parent_code", code::PARENT_MISFIT, &e));
            }
        }
        parents.push(parent);
    }
    // Parents first (Kahn): from the rows whose parent is not a row of the file.
    let mut order = Vec::with_capacity(parsed.rows.len());
    let mut queue: VecDeque<usize> = (0..parsed.rows.len())
        .filter(|&i| !matches!(parents[i], Some(Parent::Row(_))))
        .collect();
    let mut placed = vec![false; parsed.rows.len()];
    let mut depth = vec![0usize; parsed.rows.len()];
    let chart_parents: HashMap<Uuid, Option<Uuid>> = chart.iter().map(|a| (a.id, a.parent_id)).collect();
    let chart_depth = |mut id: Uuid| {
        let mut depth = 1;
        while let Some(Some(parent)) = chart_parents.get(&id) {
            depth += 1;
            id = *parent;
            if depth > MAX_DEPTH {
                break;
            }
        }
        depth
    };
    while let Some(index) = queue.pop_front() {
        placed[index] = true;
        depth[index] = 1 + match parents[index] {
            Some(Parent::Row(at)) => depth[at],
            Some(Parent::Chart(id)) => chart_depth(id),
            None => 0,
        };
        if depth[index] > MAX_DEPTH {
            let row = &parsed.rows[index];
            errors.push(ImportError::cell(
                row.row,
                "parent_code",
                code::PARENT_MISFIT,
                format!(
                    "an account sits at most {MAX_DEPTH} levels deep; this one would be {}",
                    depth[index]
                ),
            ));
        }
        order.push((index, parents[index]));
        queue.extend(children[index].iter().copied());
    }
    // What was never reached hangs under a cycle of parents.
    for (_, row) in parsed.rows.iter().enumerate().filter(|(i, _)| !placed[*i]) {
        errors.push(ImportError::cell(
            row.row,
            "parent_code",
            code::PARENT_CYCLE,
            format!(
                "following the parents from {} comes back to an account of the file: there is a cycle",
                row.code.as_deref().unwrap_or("this row")
            ),
        ));
    }
    order
}

/// Checks a chart file and, with `dry_run` false and no error, creates its accounts in
/// one transaction (each audited as by `createAccount`).
pub async fn import(
    db: &DatabaseConnection,
    csv: impl AsRef<[u8]> + Send + 'static,
    dry_run: bool,
    actor: &Actor,
) -> Result<ImportResult> {
    let mut parsed = tokio::task::spawn_blocking(move || parse(csv.as_ref()))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("the import's parser stopped: {e}")))?;
    let chart = ledger::all(db).await?;
    let order = check_against(&mut parsed, &chart);
    let mut result = ImportResult {
        dry_run,
        rows_read: parsed.rows_read,
        accounts_created: 0,
        entries_created: 0,
        errors: vec![],
    };
    if !parsed.errors.is_empty() {
        result.errors = parsed.errors.into_vec();
        return Ok(result);
    }
    result.accounts_created = u32::try_from(parsed.rows.len()).unwrap_or(u32::MAX);
    if dry_run {
        return Ok(result);
    }
    let txn = db.begin().await?;
    let mut ids: Vec<Option<Uuid>> = vec![None; parsed.rows.len()];
    for (index, parent) in order {
        let row = &mut parsed.rows[index];
        let parent_id = match parent {
            Some(Parent::Row(at)) => ids[at],
            Some(Parent::Chart(id)) => Some(id),
            None => None,
        };
        let new = NewAccount {
            code: row.code.take().unwrap_or_default(),
            name: row.name.take().unwrap_or_default(),
            account_type: row.account_type.unwrap_or(AccountType::Asset),
            parent_id,
            is_postable: row.is_postable.unwrap_or(true),
            description: row.description.take(),
            normal_balance: row.normal_balance,
            role: row.role,
        };
        match ledger::create_audited_in(&txn, new, actor).await {
            Ok(created) => ids[index] = Some(created.id),
            // A rule the checks above missed, or a concurrent change of the chart (a code
            // taken meanwhile): nothing is written, and the row says why.
            Err(error @ (Error::Conflict { .. } | Error::BadUserInput { .. })) => {
                let code = if matches!(error, Error::Conflict { .. }) {
                    code::DUPLICATE_CODE
                } else {
                    code::BAD_VALUE
                };
                result.accounts_created = 0;
                result.errors = vec![ImportError::row(row.row, None, code, error.to_string())];
                return Ok(result);
            }
            Err(error) => return Err(error),
        }
    }
    txn.commit().await?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(file: &str, chart: &[account::Model]) -> Vec<(u32, Option<&'static str>, &'static str)> {
        let mut parsed = parse(file.as_bytes());
        check_against(&mut parsed, chart);
        parsed
            .errors
            .into_vec()
            .iter()
            .map(|e| (e.row, e.column, e.code))
            .collect()
    }

    const HEADER: &str = "code,name,type,parent_code,is_postable,normal_balance,role,description\n";

    fn chart_account(code: &str, postable: bool) -> account::Model {
        let now = chrono::Utc::now();
        account::Model {
            id: Uuid::new_v4(),
            code: code.into(),
            name: "Aset".into(),
            account_type: AccountType::Asset,
            normal_balance: NormalBalance::Debit,
            parent_id: None,
            is_postable: postable,
            is_archived: false,
            description: None,
            role: None,
            created_at: now.into(),
            updated_at: now.into(),
        }
    }

    #[test]
    fn children_before_parents_are_ordered_parents_first() {
        let file = format!("{HEADER}1101,Kas,ASSET,1100,true,,CASH,\n1100,\"Kas, Bank\",asset,1000,false,,,\n");
        let chart = [chart_account("1000", false)];
        let mut parsed = parse(file.as_bytes());
        let order = check_against(&mut parsed, &chart);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let codes: Vec<_> = order
            .iter()
            .map(|(i, _)| parsed.rows[*i].code.clone().unwrap_or_default())
            .collect();
        assert_eq!(codes, ["1100", "1101"]);
    }

    #[test]
    fn every_error_with_its_row_and_column() {
        let file = format!(
            "{HEADER}\
             1101,Kas,ASSET,9999,,,,\n\
             1101,Kas lagi,ASSET,,,,,\n\
             1000,Dup chart,ASSET,,,,,\n\
             ,No code,ASSET,,,,,\n\
             1200,Bad,ASSETS,,maybe,LEFT,REVENUE,\n\
             1300,Misfit,ASSET,1000x,,,,\n\
             1000x,Postable parent,ASSET,,true,,,\n\
             A,Cycle a,ASSET,B,false,,,\n\
             B,Cycle b,ASSET,A,false,,,\n\
             1400,Wrong role,ASSET,,,,REVENUE,\n"
        );
        let chart = [chart_account("1000", false)];
        assert_eq!(
            codes(&file, &chart),
            vec![
                (1, Some("parent_code"), code::PARENT_NOT_FOUND),
                (2, Some("code"), code::DUPLICATE_CODE),
                (3, Some("code"), code::DUPLICATE_CODE),
                (4, Some("code"), code::MISSING_VALUE),
                (5, Some("type"), code::BAD_VALUE),
                (5, Some("is_postable"), code::BAD_VALUE),
                (5, Some("normal_balance"), code::BAD_VALUE),
                (6, Some("parent_code"), code::PARENT_MISFIT),
                (8, Some("parent_code"), code::PARENT_CYCLE),
                (9, Some("parent_code"), code::PARENT_CYCLE),
                (10, Some("role"), code::BAD_VALUE),
            ]
        );
    }

    #[test]
    fn a_chart_file_has_a_row_cap() {
        let mut file = HEADER.to_owned();
        for n in 0..=MAX_ACCOUNT_ROWS {
            file.push_str(&format!("X{n},Akun,ASSET,,,,,\n"));
        }
        let parsed = parse(file.as_bytes());
        let errors = parsed.errors.into_vec();
        assert_eq!(parsed.rows_read, MAX_ACCOUNT_ROWS);
        assert_eq!(errors.iter().map(|e| e.code).collect::<Vec<_>>(), [code::TOO_MANY_ROWS]);
    }

    #[test]
    fn enums_and_flags() {
        assert_eq!(parse_enum::<AccountType>(" expense "), Some(AccountType::Expense));
        assert_eq!(parse_enum::<AccountRole>("cash"), Some(AccountRole::Cash));
        assert_eq!(parse_enum::<NormalBalance>("x"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
