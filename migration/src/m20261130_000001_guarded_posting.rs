//! Posting is a guarded path of the database itself, so that the role the service logs
//! in as (which no longer owns anything, see `nusa_journal::tenancy::ownership`) cannot
//! rewrite the books whatever SQL it sends:
//!
//! - no `nusa_entry_written_now` exception: a line of an entry that is not a DRAFT can
//!   never be inserted, changed or deleted (the line guard share-locks its entry, so a
//!   line cannot slip into an entry being posted by another transaction);
//! - an entry is inserted only as a DRAFT, without number, counter values or posting time;
//! - DRAFT -> POSTED goes through `nusa_number_journal_entry` (`SECURITY DEFINER`, owned
//!   by the tenant's owner role, fixed `search_path`, EXECUTE revoked from PUBLIC): it
//!   share-locks the company row and the accounts of the entry's lines, refuses a date
//!   on or before the lock date (`PERIOD_LOCKED`) and accounts that are headers or
//!   archived, and sets the number from the counter itself; the login role can only read
//!   `journal_sequence`, so the counter moves only through posting;
//! - POSTED -> REVERSED only together with its reversing entry: at commit a REVERSED
//!   entry has a posted entry whose `reversal_of` names it and whose lines mirror its
//!   own, and a posted reversal's original is REVERSED (constraint trigger
//!   `journal_entry_reversal`, deferred).
//!
//! Every function of the schema gets `search_path = pg_catalog, public, pg_temp`.
//! Down restores the functions and triggers of `m20261129_000001_ledger_sqlstates`.

use sea_orm_migration::prelude::*;

use crate::sqlstate;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(&up()).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(&down()).await.map(|_| ())
    }
}

/// The fixed search path of every function: the catalog first, our schema, temporary
/// objects last (so no temporary table can shadow a real one).
pub const SEARCH_PATH: &str = "pg_catalog, public, pg_temp";

fn up() -> String {
    UP.replace("{changed}", sqlstate::POSTED_ENTRY_CHANGED)
        .replace("{bypassed}", sqlstate::POSTING_BYPASSED)
        .replace("{locked}", sqlstate::PERIOD_LOCKED)
        .replace("{account}", sqlstate::ACCOUNT_NOT_POSTABLE)
        .replace("{search_path}", SEARCH_PATH)
}

fn down() -> String {
    DOWN.replace("{changed}", sqlstate::POSTED_ENTRY_CHANGED)
}

const UP: &str = r#"
DROP TRIGGER journal_line_guard ON journal_line;
DROP FUNCTION nusa_guard_journal_line();
DROP FUNCTION nusa_entry_written_now(uuid);

-- Lines belong to drafts: a line of an entry that is not a DRAFT can never be added,
-- changed or removed, and a line never moves to another entry. The entry row is
-- share-locked so that a concurrent posting is waited for, then seen.
CREATE FUNCTION nusa_guard_journal_line() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
DECLARE
    target uuid;
    entry_status text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        target := NEW.entry_id;
    ELSE
        target := OLD.entry_id;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.entry_id <> OLD.entry_id THEN
        RAISE EXCEPTION 'a journal line cannot move to another entry'
            USING ERRCODE = '{changed}';
    END IF;
    SELECT status INTO entry_status FROM journal_entry WHERE id = target FOR SHARE;
    -- No row: the entry itself is being deleted (a draft; the cascade removes its lines).
    IF entry_status IS NOT NULL AND entry_status <> 'DRAFT' THEN
        RAISE EXCEPTION 'lines of a posted journal entry cannot be changed'
            USING ERRCODE = '{changed}';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER journal_line_guard
    BEFORE INSERT OR UPDATE OR DELETE ON journal_line
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_journal_line();

-- Entries are born drafts; drafts change freely but carry no number; posting is the
-- only way to POSTED (numbered by nusa_number_journal_entry, the next trigger in name
-- order); a posted entry is immutable but for being marked REVERSED; only drafts are
-- deleted.
CREATE OR REPLACE FUNCTION nusa_guard_journal_entry() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'DRAFT' THEN
            RAISE EXCEPTION 'a posted journal entry cannot be deleted'
                USING ERRCODE = '{changed}';
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'DRAFT' OR NEW.number IS NOT NULL OR NEW.fiscal_year IS NOT NULL
           OR NEW.sequence IS NOT NULL OR NEW.posted_at IS NOT NULL THEN
            RAISE EXCEPTION 'a journal entry is inserted as a draft and posted afterwards'
                USING ERRCODE = '{bypassed}';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'a journal entry keeps its id'
            USING ERRCODE = '{changed}';
    END IF;
    IF OLD.status = 'DRAFT' THEN
        IF NEW.status = 'DRAFT' THEN
            IF NEW.number IS NOT NULL OR NEW.fiscal_year IS NOT NULL OR NEW.sequence IS NOT NULL
               OR NEW.posted_at IS NOT NULL THEN
                RAISE EXCEPTION 'a draft has no number; it gets one when it is posted'
                    USING ERRCODE = '{bypassed}';
            END IF;
        ELSIF NEW.status <> 'POSTED' THEN
            RAISE EXCEPTION 'a draft can only be posted'
                USING ERRCODE = '{bypassed}';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status = 'POSTED' THEN
        IF NEW.status = 'REVERSED'
           AND (NEW.number, NEW.date, NEW.description, NEW.reference, NEW.fiscal_year, NEW.sequence,
                NEW.posted_at, NEW.reversal_of, NEW.created_at)
               IS NOT DISTINCT FROM
               (OLD.number, OLD.date, OLD.description, OLD.reference, OLD.fiscal_year, OLD.sequence,
                OLD.posted_at, OLD.reversal_of, OLD.created_at) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'a posted journal entry cannot be changed'
            USING ERRCODE = '{changed}';
    END IF;
    RAISE EXCEPTION 'a reversed journal entry cannot be changed'
        USING ERRCODE = '{changed}';
END
$$;
DROP TRIGGER journal_entry_guard ON journal_entry;
CREATE TRIGGER journal_entry_guard
    BEFORE INSERT OR UPDATE OR DELETE ON journal_entry
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_journal_entry();

-- DRAFT -> POSTED: the rules of posting that need rights the login role does not have
-- (the counter) or locks that close races (company row, accounts). Runs as its owner.
CREATE FUNCTION nusa_number_journal_entry() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {search_path} AS $$
DECLARE
    lock_until date;
    start_month integer;
    fy integer;
    seq integer;
    refused record;
BEGIN
    -- Share locks: a lock-date change or an archive waits for this posting to commit,
    -- and this posting waits for one in flight, then sees its result.
    SELECT c.lock_date, c.fiscal_year_start_month INTO lock_until, start_month
      FROM company c FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the tenant database has no company row'
            USING ERRCODE = '{bypassed}';
    END IF;
    IF lock_until IS NOT NULL AND NEW.date <= lock_until THEN
        RAISE EXCEPTION 'the books are locked up to %: an entry must be dated after it', lock_until
            USING ERRCODE = '{locked}';
    END IF;
    PERFORM 1 FROM account a
      WHERE a.id IN (SELECT l.account_id FROM journal_line l WHERE l.entry_id = NEW.id)
      ORDER BY a.id FOR SHARE;
    SELECT a.code, a.is_postable, a.is_archived INTO refused FROM account a
      WHERE a.id IN (SELECT l.account_id FROM journal_line l WHERE l.entry_id = NEW.id)
        AND (NOT a.is_postable OR a.is_archived)
      ORDER BY a.code LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'account % is %', refused.code,
            CASE WHEN refused.is_archived THEN 'archived' ELSE 'a header account' END
            USING ERRCODE = '{account}';
    END IF;
    fy := CASE WHEN extract(month FROM NEW.date)::integer >= start_month
               THEN extract(year FROM NEW.date)::integer
               ELSE extract(year FROM NEW.date)::integer - 1 END;
    INSERT INTO journal_sequence AS s (fiscal_year, last_number) VALUES (fy, 1)
        ON CONFLICT (fiscal_year) DO UPDATE SET last_number = s.last_number + 1
        RETURNING s.last_number INTO seq;
    NEW.fiscal_year := fy;
    NEW.sequence := seq;
    NEW.number := 'JE/' || fy::text || '/' || lpad(seq::text, greatest(6, length(seq::text)), '0');
    NEW.posted_at := clock_timestamp();
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_number_journal_entry() FROM PUBLIC;
CREATE TRIGGER journal_entry_number
    BEFORE UPDATE ON journal_entry
    FOR EACH ROW WHEN (OLD.status = 'DRAFT' AND NEW.status = 'POSTED')
    EXECUTE FUNCTION nusa_number_journal_entry();

-- At commit: a REVERSED entry has its reversing entry, posted, with the mirror of its
-- lines; a posted reversal's original is REVERSED.
CREATE FUNCTION nusa_check_reversal() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
DECLARE
    entry journal_entry%ROWTYPE;
    reversal journal_entry%ROWTYPE;
    original_status text;
BEGIN
    SELECT * INTO entry FROM journal_entry WHERE id = NEW.id;
    IF NOT FOUND OR entry.status = 'DRAFT' THEN
        RETURN NULL;
    END IF;
    IF entry.status = 'REVERSED' THEN
        SELECT * INTO reversal FROM journal_entry WHERE reversal_of = entry.id AND status <> 'DRAFT';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'journal entry % is marked reversed without a posted reversing entry', entry.id
                USING ERRCODE = '{bypassed}';
        END IF;
        IF EXISTS (
            (SELECT account_id, credit AS debit, debit AS credit FROM journal_line WHERE entry_id = entry.id
             EXCEPT ALL
             SELECT account_id, debit, credit FROM journal_line WHERE entry_id = reversal.id)
            UNION ALL
            (SELECT account_id, debit, credit FROM journal_line WHERE entry_id = reversal.id
             EXCEPT ALL
             SELECT account_id, credit AS debit, debit AS credit FROM journal_line WHERE entry_id = entry.id)
        ) THEN
            RAISE EXCEPTION 'the reversing entry of % does not mirror its lines', entry.id
                USING ERRCODE = '{bypassed}';
        END IF;
    END IF;
    IF entry.reversal_of IS NOT NULL THEN
        SELECT status INTO original_status FROM journal_entry WHERE id = entry.reversal_of;
        IF original_status IS DISTINCT FROM 'REVERSED' THEN
            RAISE EXCEPTION 'journal entry % reverses % which is not marked reversed', entry.id, entry.reversal_of
                USING ERRCODE = '{bypassed}';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journal_entry_reversal
    AFTER INSERT OR UPDATE ON journal_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION nusa_check_reversal();

ALTER FUNCTION nusa_check_entry_balanced() SET search_path = {search_path};
ALTER FUNCTION nusa_guard_account_parent() SET search_path = {search_path};

-- Trigger functions need no EXECUTE right to fire; nobody calls them directly.
REVOKE EXECUTE ON FUNCTION nusa_guard_journal_line() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION nusa_guard_journal_entry() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION nusa_check_reversal() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION nusa_check_entry_balanced() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION nusa_guard_account_parent() FROM PUBLIC;
"#;

const DOWN: &str = r#"
DROP TRIGGER journal_entry_reversal ON journal_entry;
DROP FUNCTION nusa_check_reversal();
DROP TRIGGER journal_entry_number ON journal_entry;
DROP FUNCTION nusa_number_journal_entry();

ALTER FUNCTION nusa_check_entry_balanced() RESET search_path;
ALTER FUNCTION nusa_guard_account_parent() RESET search_path;
GRANT EXECUTE ON FUNCTION nusa_check_entry_balanced() TO PUBLIC;
GRANT EXECUTE ON FUNCTION nusa_guard_account_parent() TO PUBLIC;

DROP TRIGGER journal_line_guard ON journal_line;
DROP FUNCTION nusa_guard_journal_line();

CREATE FUNCTION nusa_entry_written_now(entry uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT xmin = pg_current_xact_id()::xid FROM journal_entry WHERE id = entry
$$;

CREATE FUNCTION nusa_guard_journal_line() RETURNS trigger
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
CREATE TRIGGER journal_line_guard
    BEFORE INSERT OR UPDATE OR DELETE ON journal_line
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_journal_line();

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
ALTER FUNCTION nusa_guard_journal_entry() RESET search_path;
GRANT EXECUTE ON FUNCTION nusa_guard_journal_entry() TO PUBLIC;
DROP TRIGGER journal_entry_guard ON journal_entry;
CREATE TRIGGER journal_entry_guard
    BEFORE UPDATE OR DELETE ON journal_entry
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_journal_entry();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_every_function_has_a_fixed_search_path() {
        let up = up();
        assert!(!up.contains('{'), "every placeholder is filled");
        assert!(!down().contains('{'), "every placeholder is filled");
        let created = up.matches("CREATE FUNCTION").count() + up.matches("CREATE OR REPLACE FUNCTION").count();
        let fixed = up.matches("SET search_path = pg_catalog, public, pg_temp").count();
        assert_eq!(created, 4);
        assert_eq!(fixed, created + 2, "the new functions and the two altered ones");
        assert_eq!(up.matches("SECURITY DEFINER").count(), 1);
        assert!(!up.contains("NOT nusa_entry_written_now"), "the exception is gone");
    }

    #[test]
    fn each_refusal_has_its_code() {
        let up = up();
        assert!(up.contains(&format!("ERRCODE = '{}'", sqlstate::PERIOD_LOCKED)));
        assert!(up.contains(&format!("ERRCODE = '{}'", sqlstate::ACCOUNT_NOT_POSTABLE)));
        assert_eq!(
            up.matches(&format!("ERRCODE = '{}'", sqlstate::POSTING_BYPASSED))
                .count(),
            7
        );
    }
}
