//! The chart of accounts cannot loop: the database refuses any insert or update that
//! would make an account its own ancestor, whatever the concurrency. Chart edits that
//! set a parent are serialised per tenant database by a transaction-level advisory
//! lock taken in the trigger, so two moves that are each fine alone (A under B, B under
//! A) cannot both pass; the ancestor walk runs after the lock, on a fresh snapshot, and
//! stops even on a loop stored before this guard existed (`UNION` drops repeats).

use sea_orm_migration::prelude::*;

use crate::sqlstate;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = GUARD.replace("{loop}", sqlstate::ACCOUNT_LOOP);
        manager.get_connection().execute_unprepared(&sql).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "DROP TRIGGER IF EXISTS account_no_loop ON account; DROP FUNCTION IF EXISTS nusa_guard_account_parent();",
            )
            .await
            .map(|_| ())
    }
}

const GUARD: &str = r#"
CREATE FUNCTION nusa_guard_account_parent() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NULL THEN
        RETURN NEW;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('nusa_journal.chart_of_accounts'));
    IF EXISTS (
        WITH RECURSIVE ancestors(id, parent_id) AS (
            SELECT a.id, a.parent_id FROM account a WHERE a.id = NEW.parent_id
            UNION
            SELECT a.id, a.parent_id FROM account a JOIN ancestors ON a.id = ancestors.parent_id
        )
        SELECT 1 FROM ancestors WHERE ancestors.id = NEW.id
    ) THEN
        RAISE EXCEPTION 'account % cannot be placed under its own descendant %', NEW.id, NEW.parent_id
            USING ERRCODE = '{loop}';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER account_no_loop
    BEFORE INSERT OR UPDATE OF parent_id ON account
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_account_parent();
"#;
