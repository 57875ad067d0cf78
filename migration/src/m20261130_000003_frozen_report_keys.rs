//! What the reports rest on is frozen once the books use it, in the database itself, so
//! that the login role (which may UPDATE `account` and `company`, see
//! `nusa_journal::tenancy::ownership::WRITES`) cannot rewrite the statements with SQL:
//!
//! - an account's `code`, `type` and `normal_balance` change only while it has no
//!   journal line at all, draft or posted (API.md: "code/type/side only while the
//!   account has no lines"; the service's own check, `ledger::accounts::has_lines`,
//!   counts every line);
//! - the company's `fiscal_year_start_month` changes only while no entry is POSTED or
//!   REVERSED (API.md: "cannot change once anything is posted").
//!
//! Both refuse with [`sqlstate::REPORT_KEY_FROZEN`]. The triggers fire after the row
//! lock of the UPDATE is held: a posting in flight holds the company row and its
//! accounts shared (`nusa_number_journal_entry`), so the change waits for it, then sees
//! it. Functions get the fixed `search_path` of every function of the schema; nobody
//! calls them directly, so EXECUTE is revoked from PUBLIC (a trigger needs no EXECUTE
//! right to fire). Down drops them.

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

fn up() -> String {
    UP.replace("{frozen}", sqlstate::REPORT_KEY_FROZEN)
        .replace("{search_path}", SEARCH_PATH)
}

const UP: &str = r#"
-- An account with any journal line keeps its code, type and normal balance: the
-- statements place and sign its lines by them.
CREATE FUNCTION nusa_guard_account_keys() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
BEGIN
    IF (NEW.code, NEW.type, NEW.normal_balance)
       IS DISTINCT FROM (OLD.code, OLD.type, OLD.normal_balance)
       AND EXISTS (SELECT 1 FROM journal_line WHERE account_id = OLD.id) THEN
        RAISE EXCEPTION 'account % has journal lines: its code, type and normal balance cannot change', OLD.code
            USING ERRCODE = '{frozen}';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER account_keys_guard
    BEFORE UPDATE OF code, type, normal_balance ON account
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_account_keys();

-- Once an entry is posted, the fiscal year start month stays: posted numbers and
-- fiscal years were worked out from it.
CREATE FUNCTION nusa_guard_fiscal_year_start() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
BEGIN
    IF NEW.fiscal_year_start_month IS DISTINCT FROM OLD.fiscal_year_start_month
       AND EXISTS (SELECT 1 FROM journal_entry WHERE status IN ('POSTED', 'REVERSED')) THEN
        RAISE EXCEPTION 'entries are posted: the fiscal year start month cannot change'
            USING ERRCODE = '{frozen}';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER company_fiscal_year_start_guard
    BEFORE UPDATE OF fiscal_year_start_month ON company
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_fiscal_year_start();

-- Trigger functions need no EXECUTE right to fire; nobody calls them directly.
REVOKE EXECUTE ON FUNCTION nusa_guard_account_keys() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION nusa_guard_fiscal_year_start() FROM PUBLIC;
"#;

const DOWN: &str = r#"
DROP TRIGGER company_fiscal_year_start_guard ON company;
DROP FUNCTION nusa_guard_fiscal_year_start();
DROP TRIGGER account_keys_guard ON account;
DROP FUNCTION nusa_guard_account_keys();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_every_function_has_a_fixed_search_path() {
        let up = up();
        assert!(!up.contains('{') && !DOWN.contains('{'), "every placeholder is filled");
        let created = up.matches("CREATE FUNCTION").count();
        assert_eq!(created, 2);
        assert_eq!(
            up.matches("SET search_path = pg_catalog, public, pg_temp").count(),
            created
        );
        assert_eq!(up.matches("REVOKE EXECUTE ON FUNCTION").count(), created);
        assert!(!up.contains("SECURITY DEFINER"), "they read as the one who updates");
        assert_eq!(DOWN.matches("DROP FUNCTION").count(), created);
    }

    #[test]
    fn each_refusal_has_its_code() {
        assert_eq!(
            up().matches(&format!("ERRCODE = '{}'", sqlstate::REPORT_KEY_FROZEN))
                .count(),
            2
        );
    }
}
