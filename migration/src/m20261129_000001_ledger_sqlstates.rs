//! The ledger's triggers raise SQLSTATEs of their own, so that the service can tell
//! their refusals apart by code rather than by message text. Before this migration the
//! balance check raised `check_violation` (23514), the same code as every CHECK
//! constraint, and the guards of posted entries `integrity_constraint_violation` (23000).
//!
//! The functions are replaced with the same bodies and messages; only the codes change
//! (see [`crate::sqlstate`]). Down restores the earlier codes.

use sea_orm_migration::prelude::*;

use crate::sqlstate;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = functions(sqlstate::POSTED_ENTRY_CHANGED, sqlstate::UNBALANCED_ENTRY);
        manager.get_connection().execute_unprepared(&sql).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = functions("23000", "23514");
        manager.get_connection().execute_unprepared(&sql).await.map(|_| ())
    }
}

/// The trigger functions of `m20261126_000002_create_ledger`, raising `changed` where a
/// posted entry or its lines would change and `unbalanced` where a posted entry does
/// not balance.
fn functions(changed: &str, unbalanced: &str) -> String {
    FUNCTIONS
        .replace("{changed}", changed)
        .replace("{unbalanced}", unbalanced)
}

const FUNCTIONS: &str = r#"
CREATE OR REPLACE FUNCTION nusa_guard_journal_line() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    target uuid;
    entry_status text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        target := NEW.entry_id;
    ELSE
        target := OLD.entry_id;
    END IF;
    SELECT status INTO entry_status FROM journal_entry WHERE id = target;
    IF entry_status IS DISTINCT FROM 'DRAFT' AND entry_status IS NOT NULL
       AND NOT nusa_entry_written_now(target) THEN
        RAISE EXCEPTION 'lines of a posted journal entry cannot be changed'
            USING ERRCODE = '{changed}';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.entry_id <> OLD.entry_id THEN
        RAISE EXCEPTION 'a journal line cannot move to another entry'
            USING ERRCODE = '{changed}';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION nusa_guard_journal_entry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'DRAFT' THEN
            RAISE EXCEPTION 'a posted journal entry cannot be deleted'
                USING ERRCODE = '{changed}';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'POSTED' THEN
        IF NEW.status = 'REVERSED'
           AND (NEW.number, NEW.date, NEW.description, NEW.reference, NEW.fiscal_year, NEW.sequence, NEW.posted_at)
               IS NOT DISTINCT FROM
               (OLD.number, OLD.date, OLD.description, OLD.reference, OLD.fiscal_year, OLD.sequence, OLD.posted_at) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'a posted journal entry cannot be changed'
            USING ERRCODE = '{changed}';
    ELSIF OLD.status = 'REVERSED' THEN
        RAISE EXCEPTION 'a reversed journal entry cannot be changed'
            USING ERRCODE = '{changed}';
    END IF;
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION nusa_check_entry_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    target uuid;
    entry journal_entry%ROWTYPE;
    total_debit numeric;
    total_credit numeric;
    line_count integer;
BEGIN
    IF TG_TABLE_NAME = 'journal_entry' THEN
        target := NEW.id;
    ELSE
        target := NEW.entry_id;
    END IF;
    SELECT * INTO entry FROM journal_entry WHERE id = target;
    IF NOT FOUND OR entry.status = 'DRAFT' THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(sum(debit), 0), coalesce(sum(credit), 0), count(*)
      INTO total_debit, total_credit, line_count
      FROM journal_line WHERE entry_id = entry.id;
    IF line_count < 2 OR total_debit <> total_credit OR total_debit = 0 THEN
        RAISE EXCEPTION 'journal entry % is not balanced (debit %, credit %, % lines)',
            entry.id, total_debit, total_credit, line_count
            USING ERRCODE = '{unbalanced}';
    END IF;
    RETURN NULL;
END
$$;
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_raise_gets_a_code_of_its_own() {
        let up = functions(sqlstate::POSTED_ENTRY_CHANGED, sqlstate::UNBALANCED_ENTRY);
        assert!(!up.contains('{'), "every placeholder is filled");
        assert_eq!(up.matches("ERRCODE = 'NJ002'").count(), 5);
        assert_eq!(up.matches("ERRCODE = 'NJ001'").count(), 1);
        assert_eq!(up.matches("ERRCODE").count(), 6);
    }
}
