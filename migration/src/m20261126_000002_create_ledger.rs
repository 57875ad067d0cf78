//! The books: chart of accounts, journal entries and lines, numbering. The database
//! itself refuses unbalanced or altered books (DESIGN.md), whatever the client.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(UP).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(DOWN).await.map(|_| ())
    }
}

const UP: &str = r#"
CREATE TABLE account (
    id              uuid PRIMARY KEY,
    code            text NOT NULL UNIQUE CHECK (code ~ '^[0-9A-Za-z][0-9A-Za-z.\-]{0,31}$'),
    name            text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    type            text NOT NULL CHECK (type IN ('ASSET', 'LIABILITY', 'EQUITY', 'REVENUE', 'EXPENSE')),
    normal_balance  text NOT NULL CHECK (normal_balance IN ('DEBIT', 'CREDIT')),
    parent_id       uuid REFERENCES account (id),
    is_postable     boolean NOT NULL DEFAULT true,
    is_archived     boolean NOT NULL DEFAULT false,
    description     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX account_parent_idx ON account (parent_id);

CREATE TABLE journal_entry (
    id               uuid PRIMARY KEY,
    -- assigned at posting: JE/<fiscal year>/<sequence>, gapless per fiscal year
    number           text UNIQUE,
    fiscal_year      integer,
    sequence         integer,
    date             date NOT NULL,
    description      text NOT NULL CHECK (length(btrim(description)) BETWEEN 1 AND 500),
    reference        text,
    status           text NOT NULL DEFAULT 'DRAFT' CHECK (status IN ('DRAFT', 'POSTED', 'REVERSED')),
    reversal_of      uuid UNIQUE REFERENCES journal_entry (id),
    idempotency_key  text UNIQUE,
    request_hash     text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    posted_at        timestamptz,
    CHECK ((status = 'DRAFT') = (number IS NULL)),
    CHECK ((status = 'DRAFT') = (posted_at IS NULL)),
    UNIQUE (fiscal_year, sequence)
);
CREATE INDEX journal_entry_date_idx ON journal_entry (date, created_at, id);
CREATE INDEX journal_entry_status_idx ON journal_entry (status);

CREATE TABLE journal_line (
    id          uuid PRIMARY KEY,
    entry_id    uuid NOT NULL REFERENCES journal_entry (id) ON DELETE CASCADE,
    line_no     integer NOT NULL,
    account_id  uuid NOT NULL REFERENCES account (id),
    -- money: non-negative, at most 2 decimals and 18 integer digits, exactly one side
    debit       numeric NOT NULL DEFAULT 0 CHECK (debit >= 0 AND scale(debit) <= 2 AND debit < 1e18),
    credit      numeric NOT NULL DEFAULT 0 CHECK (credit >= 0 AND scale(credit) <= 2 AND credit < 1e18),
    memo        text,
    CHECK ((debit > 0) <> (credit > 0)),
    UNIQUE (entry_id, line_no)
);
CREATE INDEX journal_line_account_idx ON journal_line (account_id);

-- Last number given per fiscal year; the row lock serialises concurrent posting.
CREATE TABLE journal_sequence (
    fiscal_year  integer PRIMARY KEY,
    last_number  integer NOT NULL
);

-- True when the entry row was written by the current transaction (so its lines may
-- still be written while it is being posted).
CREATE FUNCTION nusa_entry_written_now(entry uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT xmin = pg_current_xact_id()::xid FROM journal_entry WHERE id = entry
$$;

-- Lines of a posted (or reversed) entry cannot be added, changed or removed.
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
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.entry_id <> OLD.entry_id THEN
        RAISE EXCEPTION 'a journal line cannot move to another entry'
            USING ERRCODE = 'integrity_constraint_violation';
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

-- A posted entry is immutable but for being marked REVERSED; only drafts are deleted.
CREATE FUNCTION nusa_guard_journal_entry() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'DRAFT' THEN
            RAISE EXCEPTION 'a posted journal entry cannot be deleted'
                USING ERRCODE = 'integrity_constraint_violation';
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
            USING ERRCODE = 'integrity_constraint_violation';
    ELSIF OLD.status = 'REVERSED' THEN
        RAISE EXCEPTION 'a reversed journal entry cannot be changed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER journal_entry_guard
    BEFORE UPDATE OR DELETE ON journal_entry
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_journal_entry();

-- At commit: a posted entry has at least two lines and its debits equal its credits.
CREATE FUNCTION nusa_check_entry_balanced() RETURNS trigger
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
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journal_entry_balanced
    AFTER INSERT OR UPDATE ON journal_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION nusa_check_entry_balanced();
CREATE CONSTRAINT TRIGGER journal_line_balanced
    AFTER INSERT OR UPDATE ON journal_line
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION nusa_check_entry_balanced();
"#;

const DOWN: &str = r#"
DROP TABLE journal_line;
DROP TABLE journal_entry;
DROP TABLE journal_sequence;
DROP TABLE account;
DROP FUNCTION nusa_check_entry_balanced();
DROP FUNCTION nusa_guard_journal_entry();
DROP FUNCTION nusa_guard_journal_line();
DROP FUNCTION nusa_entry_written_now(uuid);
"#;
