//! Closes three ways around the books' rules that a login-role session could take with
//! plain SQL (found by a hostile review of the second round):
//!
//! - **Stale snapshots.** The posting triggers, the totals trigger and the close/reopen
//!   functions read rows other transactions only lock (the company, `fiscal_year`, the
//!   lines of a draft). Under REPEATABLE READ or SERIALIZABLE a session keeps its first
//!   snapshot even after waiting for such a lock, so it could post into a year closed
//!   meanwhile, or post a draft without a line another session added (the kept totals
//!   and the balance check would both miss it). Posting and writing `fiscal_year` are
//!   refused unless the transaction is READ COMMITTED, where every statement (and every
//!   deferred check at commit) sees what committed before it; the service never posts
//!   otherwise. [`sqlstate::POSTING_BYPASSED`].
//! - **A date changed while posting.** DRAFT -> POSTED keeps the date the lines carry
//!   (`journal_line.entry_date`, which the general ledger ranges on; the totals take
//!   the entry's date): a posting that also changes the date is refused.
//! - **Roles that contradict types.** `account.role` places an account in the
//!   statements: the database now checks that it fits the type (the same table as
//!   `nusa_journal::entities::tenant::account::AccountRole::account_type`), so the login role cannot move cash
//!   into the income statement with an UPDATE. [`sqlstate::REPORT_KEY_FROZEN`] is not
//!   the right word for it: a misfit is [`sqlstate::ROLE_MISFIT`].
//!
//! Functions get the fixed `search_path`; EXECUTE is revoked from PUBLIC (triggers need
//! none). Down drops them.

use sea_orm_migration::prelude::*;

use crate::m20261130_000001_guarded_posting::SEARCH_PATH;
use crate::sqlstate;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(&up()).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(DOWN).await.map(|_| ())
    }
}

/// Each role and the account type it belongs to (as `AccountRole::account_type`).
pub const ROLE_TYPES: &[(&str, &str)] = &[
    ("CASH", "ASSET"),
    ("BANK", "ASSET"),
    ("RECEIVABLE", "ASSET"),
    ("INVENTORY", "ASSET"),
    ("PREPAID_TAX", "ASSET"),
    ("VAT_INPUT", "ASSET"),
    ("OTHER_CURRENT_ASSET", "ASSET"),
    ("FIXED_ASSET", "ASSET"),
    ("ACCUMULATED_DEPRECIATION", "ASSET"),
    ("OTHER_NON_CURRENT_ASSET", "ASSET"),
    ("PAYABLE", "LIABILITY"),
    ("TAX_PAYABLE", "LIABILITY"),
    ("VAT_OUTPUT", "LIABILITY"),
    ("OTHER_CURRENT_LIABILITY", "LIABILITY"),
    ("NON_CURRENT_LIABILITY", "LIABILITY"),
    ("CAPITAL", "EQUITY"),
    ("RETAINED_EARNINGS", "EQUITY"),
    ("CURRENT_YEAR_EARNINGS", "EQUITY"),
    ("DRAWINGS", "EQUITY"),
    ("OPENING_BALANCE_EQUITY", "EQUITY"),
    ("REVENUE", "REVENUE"),
    ("SALES_RETURNS", "REVENUE"),
    ("OTHER_INCOME", "REVENUE"),
    ("COST_OF_SALES", "EXPENSE"),
    ("OPERATING_EXPENSE", "EXPENSE"),
    ("OTHER_EXPENSE", "EXPENSE"),
    ("INCOME_TAX_EXPENSE", "EXPENSE"),
];

fn up() -> String {
    let cases = ROLE_TYPES
        .iter()
        .map(|(role, t)| format!("WHEN '{role}' THEN '{t}'"))
        .collect::<Vec<_>>()
        .join(" ");
    UP.replace("{cases}", &cases)
        .replace("{bypassed}", sqlstate::POSTING_BYPASSED)
        .replace("{misfit}", sqlstate::ROLE_MISFIT)
        .replace("{search_path}", SEARCH_PATH)
}

const UP: &str = r#"
-- DRAFT -> POSTED only from READ COMMITTED, and without a new date.
CREATE FUNCTION nusa_guard_posting_snapshot() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'entries are posted only in READ COMMITTED transactions'
            USING ERRCODE = '{bypassed}';
    END IF;
    IF NEW.date IS DISTINCT FROM OLD.date THEN
        RAISE EXCEPTION 'an entry keeps its date when it is posted'
            USING ERRCODE = '{bypassed}';
    END IF;
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_guard_posting_snapshot() FROM PUBLIC;
CREATE TRIGGER journal_entry_fresh_snapshot
    BEFORE UPDATE ON journal_entry
    FOR EACH ROW WHEN (OLD.status = 'DRAFT' AND NEW.status = 'POSTED')
    EXECUTE FUNCTION nusa_guard_posting_snapshot();

-- Fiscal years change only from READ COMMITTED (their functions read totals and rows
-- that other transactions lock).
CREATE FUNCTION nusa_guard_fiscal_year_snapshot() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'fiscal years are closed and reopened only in READ COMMITTED transactions'
            USING ERRCODE = '{bypassed}';
    END IF;
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_guard_fiscal_year_snapshot() FROM PUBLIC;
CREATE TRIGGER fiscal_year_fresh_snapshot
    BEFORE INSERT OR UPDATE ON fiscal_year
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_fiscal_year_snapshot();

-- A role fits the account's type.
CREATE FUNCTION nusa_guard_account_role() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
BEGIN
    IF NEW.role IS NOT NULL AND (CASE NEW.role {cases} END) IS DISTINCT FROM NEW.type THEN
        RAISE EXCEPTION 'role % is not for % accounts', NEW.role, NEW.type
            USING ERRCODE = '{misfit}';
    END IF;
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_guard_account_role() FROM PUBLIC;
CREATE TRIGGER account_role_fits
    BEFORE INSERT OR UPDATE OF role, type ON account
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_account_role();
"#;

const DOWN: &str = r#"
DROP TRIGGER account_role_fits ON account;
DROP FUNCTION nusa_guard_account_role();
DROP TRIGGER fiscal_year_fresh_snapshot ON fiscal_year;
DROP FUNCTION nusa_guard_fiscal_year_snapshot();
DROP TRIGGER journal_entry_fresh_snapshot ON journal_entry;
DROP FUNCTION nusa_guard_posting_snapshot();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_every_function_has_a_fixed_search_path() {
        let up = up();
        assert!(!up.contains('{') && !DOWN.contains('{'), "every placeholder is filled");
        let created = up.matches("CREATE FUNCTION").count();
        assert_eq!(created, 3);
        assert_eq!(
            up.matches("SET search_path = pg_catalog, public, pg_temp").count(),
            created
        );
        assert_eq!(up.matches("REVOKE EXECUTE ON FUNCTION").count(), created);
        assert!(!up.contains("SECURITY DEFINER"));
    }

    #[test]
    fn every_role_has_a_type() {
        let mut roles: Vec<&str> = ROLE_TYPES.iter().map(|(r, _)| *r).collect();
        let mut allowed = crate::m20261201_000001_balances_at_scale::ACCOUNT_ROLES.to_vec();
        roles.sort_unstable();
        allowed.sort_unstable();
        assert_eq!(roles, allowed);
    }
}
