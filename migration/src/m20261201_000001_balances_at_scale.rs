//! The schema of the second round's books (issue "Books an accountant can close"):
//!
//! - **Balances kept at posting** (DESIGN.md "Balances at scale"): `account_day_total`
//!   and `account_month_total` hold per-account debit and credit totals of posted lines
//!   by day and by month. The database itself adds an entry's lines to them in the
//!   transaction that posts it (trigger `journal_entry_totals`, `SECURITY DEFINER`; the
//!   login role can only read them), so they cannot drift from the lines whatever path
//!   wrote them. Posted lines never change and posted entries are never deleted
//!   (a reversal is a new posted entry), so posting is the only event that moves them.
//!   Rows are touched in (account, period) order, days before months, after the
//!   posting trigger has taken the fiscal-year counter: concurrent postings cannot
//!   deadlock. `closing_debit` / `closing_credit` hold the part that comes from closing
//!   entries (and their reversals), which an income statement leaves out. The view
//!   `account_day_total_from_lines` is the one definition of what the day totals must
//!   be: the fill below, `verify books` and its `--repair` use it.
//! - `journal_line.entry_date`: the entry's date on each line (kept by the line guard
//!   and, for a draft whose date changes, by `journal_entry_line_dates`), so a general
//!   ledger page is an index range, not a sort of every line of the account.
//! - `journal_entry.kind` (REGULAR, OPENING, CLOSING, REVERSAL; REVERSAL exactly when
//!   `reversal_of` is set), who created and posted it, and `source_number` (an
//!   imported entry's number in its old books).
//! - `fiscal_year`: one row per year that was ever closed; posting into a CLOSED year is
//!   refused with [`sqlstate::FISCAL_YEAR_CLOSED`] before the lock date is looked at.
//!   The login role only reads it.
//! - `audit_event`: append-only (the login role may INSERT and SELECT; the time is the
//!   database's; no UPDATE or DELETE, refused by a trigger too).
//! - `idempotent_request`: keys of retried mutations other than `createJournalEntry`.
//! - `company.timezone`, `company.language`, `account.role`.
//! - Posting: a reversing entry may use archived accounts and is dated on or after its
//!   original ([`sqlstate::REVERSAL_BEFORE_ORIGINAL`]); the posted-entry guard keeps the
//!   new columns as they were.
//!
//! The fill holds posting off while it runs (`SHARE ROW EXCLUSIVE` on `journal_entry`,
//! in the migration's transaction). Down drops all of it and restores the functions of
//! `m20261130_000001_guarded_posting`.

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
        manager.get_connection().execute_unprepared(&down()).await.map(|_| ())
    }
}

/// The roles of API.md's `AccountRole`, as stored in `account.role`.
pub const ACCOUNT_ROLES: &[&str] = &[
    "CASH",
    "BANK",
    "RECEIVABLE",
    "INVENTORY",
    "PREPAID_TAX",
    "VAT_INPUT",
    "OTHER_CURRENT_ASSET",
    "FIXED_ASSET",
    "ACCUMULATED_DEPRECIATION",
    "OTHER_NON_CURRENT_ASSET",
    "PAYABLE",
    "TAX_PAYABLE",
    "VAT_OUTPUT",
    "OTHER_CURRENT_LIABILITY",
    "NON_CURRENT_LIABILITY",
    "CAPITAL",
    "RETAINED_EARNINGS",
    "CURRENT_YEAR_EARNINGS",
    "DRAWINGS",
    "OPENING_BALANCE_EQUITY",
    "REVENUE",
    "SALES_RETURNS",
    "COST_OF_SALES",
    "OPERATING_EXPENSE",
    "OTHER_INCOME",
    "OTHER_EXPENSE",
    "INCOME_TAX_EXPENSE",
];

fn up() -> String {
    let roles = ACCOUNT_ROLES
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(", ");
    UP.replace("{roles}", &roles)
        .replace("{changed}", sqlstate::POSTED_ENTRY_CHANGED)
        .replace("{bypassed}", sqlstate::POSTING_BYPASSED)
        .replace("{locked}", sqlstate::PERIOD_LOCKED)
        .replace("{account}", sqlstate::ACCOUNT_NOT_POSTABLE)
        .replace("{closed}", sqlstate::FISCAL_YEAR_CLOSED)
        .replace("{before}", sqlstate::REVERSAL_BEFORE_ORIGINAL)
        .replace("{appended}", sqlstate::AUDIT_APPEND_ONLY)
        .replace("{search_path}", SEARCH_PATH)
}

fn down() -> String {
    DOWN.replace("{changed}", sqlstate::POSTED_ENTRY_CHANGED)
        .replace("{bypassed}", sqlstate::POSTING_BYPASSED)
        .replace("{locked}", sqlstate::PERIOD_LOCKED)
        .replace("{account}", sqlstate::ACCOUNT_NOT_POSTABLE)
        .replace("{search_path}", SEARCH_PATH)
}

const UP: &str = r#"
-- Posting waits until the totals are filled (the migration's transaction).
LOCK TABLE journal_entry IN SHARE ROW EXCLUSIVE MODE;

ALTER TABLE company
    ADD COLUMN timezone text NOT NULL DEFAULT 'Asia/Jakarta' CHECK (length(timezone) BETWEEN 1 AND 64),
    ADD COLUMN language text NOT NULL DEFAULT 'id' CHECK (language IN ('id', 'en'));

ALTER TABLE account ADD COLUMN role text CHECK (role IN ({roles}));

-- Existing rows are rewritten with the guards off (the owner runs migrations).
ALTER TABLE journal_entry DISABLE TRIGGER USER;
ALTER TABLE journal_line DISABLE TRIGGER USER;

ALTER TABLE journal_entry
    ADD COLUMN kind text NOT NULL DEFAULT 'REGULAR'
        CHECK (kind IN ('REGULAR', 'OPENING', 'CLOSING', 'REVERSAL')),
    ADD COLUMN created_by_token_id uuid,
    ADD COLUMN created_by_name text,
    ADD COLUMN posted_by_token_id uuid,
    ADD COLUMN posted_by_name text,
    ADD COLUMN source_number text CHECK (length(source_number) BETWEEN 1 AND 100);
UPDATE journal_entry SET kind = 'REVERSAL' WHERE reversal_of IS NOT NULL;
ALTER TABLE journal_entry ADD CONSTRAINT journal_entry_reversal_kind
    CHECK ((kind = 'REVERSAL') = (reversal_of IS NOT NULL));

ALTER TABLE journal_line ADD COLUMN entry_date date;
UPDATE journal_line l SET entry_date = e.date FROM journal_entry e WHERE e.id = l.entry_id;
ALTER TABLE journal_line ALTER COLUMN entry_date SET NOT NULL;
CREATE INDEX journal_line_account_date_idx ON journal_line (account_id, entry_date, entry_id, line_no);
DROP INDEX journal_line_account_idx;

ALTER TABLE journal_entry ENABLE TRIGGER USER;
ALTER TABLE journal_line ENABLE TRIGGER USER;

CREATE TABLE account_day_total (
    account_id      uuid NOT NULL REFERENCES account (id),
    day             date NOT NULL,
    debit           numeric NOT NULL DEFAULT 0,
    credit          numeric NOT NULL DEFAULT 0,
    closing_debit   numeric NOT NULL DEFAULT 0,
    closing_credit  numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day)
);
CREATE INDEX account_day_total_day_idx ON account_day_total (day);

CREATE TABLE account_month_total (
    account_id      uuid NOT NULL REFERENCES account (id),
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    debit           numeric NOT NULL DEFAULT 0,
    credit          numeric NOT NULL DEFAULT 0,
    closing_debit   numeric NOT NULL DEFAULT 0,
    closing_credit  numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, month)
);
CREATE INDEX account_month_total_month_idx ON account_month_total (month);

-- What the day totals must be, from the lines: the one definition (fill, verify, repair).
CREATE VIEW account_day_total_from_lines AS
SELECT l.account_id,
       e.date AS day,
       sum(l.debit) AS debit,
       sum(l.credit) AS credit,
       coalesce(sum(l.debit) FILTER (WHERE e.kind = 'CLOSING' OR o.kind = 'CLOSING'), 0) AS closing_debit,
       coalesce(sum(l.credit) FILTER (WHERE e.kind = 'CLOSING' OR o.kind = 'CLOSING'), 0) AS closing_credit
  FROM journal_line l
  JOIN journal_entry e ON e.id = l.entry_id
  LEFT JOIN journal_entry o ON o.id = e.reversal_of
 WHERE e.status <> 'DRAFT'
 GROUP BY l.account_id, e.date;

INSERT INTO account_day_total (account_id, day, debit, credit, closing_debit, closing_credit)
SELECT account_id, day, debit, credit, closing_debit, closing_credit FROM account_day_total_from_lines;
INSERT INTO account_month_total (account_id, month, debit, credit, closing_debit, closing_credit)
SELECT account_id, date_trunc('month', day)::date, sum(debit), sum(credit), sum(closing_debit), sum(closing_credit)
  FROM account_day_total GROUP BY account_id, date_trunc('month', day)::date;

-- DRAFT -> POSTED adds the entry's lines to the totals (after the number trigger has
-- taken the fiscal-year counter), in (account, period) order, days before months.
CREATE FUNCTION nusa_add_posted_totals() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {search_path} AS $$
DECLARE
    closing boolean;
BEGIN
    closing := NEW.kind = 'CLOSING'
        OR (NEW.reversal_of IS NOT NULL
            AND EXISTS (SELECT 1 FROM journal_entry o WHERE o.id = NEW.reversal_of AND o.kind = 'CLOSING'));
    INSERT INTO account_day_total AS t (account_id, day, debit, credit, closing_debit, closing_credit)
    SELECT l.account_id, NEW.date, sum(l.debit), sum(l.credit),
           CASE WHEN closing THEN sum(l.debit) ELSE 0 END,
           CASE WHEN closing THEN sum(l.credit) ELSE 0 END
      FROM journal_line l WHERE l.entry_id = NEW.id
     GROUP BY l.account_id ORDER BY l.account_id
    ON CONFLICT (account_id, day) DO UPDATE
       SET debit = t.debit + EXCLUDED.debit, credit = t.credit + EXCLUDED.credit,
           closing_debit = t.closing_debit + EXCLUDED.closing_debit,
           closing_credit = t.closing_credit + EXCLUDED.closing_credit;
    INSERT INTO account_month_total AS t (account_id, month, debit, credit, closing_debit, closing_credit)
    SELECT l.account_id, date_trunc('month', NEW.date)::date, sum(l.debit), sum(l.credit),
           CASE WHEN closing THEN sum(l.debit) ELSE 0 END,
           CASE WHEN closing THEN sum(l.credit) ELSE 0 END
      FROM journal_line l WHERE l.entry_id = NEW.id
     GROUP BY l.account_id ORDER BY l.account_id
    ON CONFLICT (account_id, month) DO UPDATE
       SET debit = t.debit + EXCLUDED.debit, credit = t.credit + EXCLUDED.credit,
           closing_debit = t.closing_debit + EXCLUDED.closing_debit,
           closing_credit = t.closing_credit + EXCLUDED.closing_credit;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_add_posted_totals() FROM PUBLIC;
CREATE TRIGGER journal_entry_totals
    AFTER UPDATE ON journal_entry
    FOR EACH ROW WHEN (OLD.status = 'DRAFT' AND NEW.status = 'POSTED')
    EXECUTE FUNCTION nusa_add_posted_totals();

CREATE TABLE fiscal_year (
    label               integer PRIMARY KEY,
    start_date          date NOT NULL,
    end_date            date NOT NULL,
    status              text NOT NULL CHECK (status IN ('OPEN', 'CLOSED')),
    closing_entry_id    uuid REFERENCES journal_entry (id),
    closed_at           timestamptz,
    closed_by_token_id  uuid,
    closed_by_name      text,
    reopened_at         timestamptz,
    reopen_reason       text,
    CHECK (end_date > start_date)
);

CREATE TABLE audit_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_token_id  uuid,
    actor_name      text NOT NULL CHECK (length(actor_name) BETWEEN 1 AND 200),
    action          text NOT NULL CHECK (length(action) BETWEEN 1 AND 100),
    subject_id      uuid,
    detail          text CHECK (length(detail) <= 10000)
);
-- The time of an event is the database's; an event is never changed or removed.
CREATE FUNCTION nusa_guard_audit_event() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.at := clock_timestamp();
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = '{appended}';
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_guard_audit_event() FROM PUBLIC;
CREATE TRIGGER audit_event_guard
    BEFORE INSERT OR UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION nusa_guard_audit_event();

CREATE TABLE idempotent_request (
    key           text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    operation     text NOT NULL,
    request_hash  text NOT NULL,
    result_id     uuid,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Lines belong to drafts (as before) and carry their entry's date.
CREATE OR REPLACE FUNCTION nusa_guard_journal_line() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
DECLARE
    target uuid;
    entry_status text;
    entry_day date;
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
    SELECT status, date INTO entry_status, entry_day FROM journal_entry WHERE id = target FOR SHARE;
    IF entry_status IS NOT NULL AND entry_status <> 'DRAFT' THEN
        RAISE EXCEPTION 'lines of a posted journal entry cannot be changed'
            USING ERRCODE = '{changed}';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    NEW.entry_date := entry_day;
    RETURN NEW;
END
$$;

-- A draft's new date reaches its lines (the login role does not UPDATE lines itself).
CREATE FUNCTION nusa_journal_line_dates() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {search_path} AS $$
BEGIN
    UPDATE journal_line SET entry_date = NEW.date WHERE entry_id = NEW.id;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_journal_line_dates() FROM PUBLIC;
CREATE TRIGGER journal_entry_line_dates
    AFTER UPDATE OF date ON journal_entry
    FOR EACH ROW WHEN (OLD.status = 'DRAFT' AND NEW.status = 'DRAFT' AND OLD.date IS DISTINCT FROM NEW.date)
    EXECUTE FUNCTION nusa_journal_line_dates();

-- As before, and the new columns: kind and creator are kept from the draft on; a
-- posted entry keeps who posted it.
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
           OR NEW.sequence IS NOT NULL OR NEW.posted_at IS NOT NULL
           OR NEW.posted_by_token_id IS NOT NULL OR NEW.posted_by_name IS NOT NULL THEN
            RAISE EXCEPTION 'a journal entry is inserted as a draft and posted afterwards'
                USING ERRCODE = '{bypassed}';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'a journal entry keeps its id'
            USING ERRCODE = '{changed}';
    END IF;
    IF (NEW.kind, NEW.reversal_of, NEW.created_by_token_id, NEW.created_by_name, NEW.created_at)
       IS DISTINCT FROM (OLD.kind, OLD.reversal_of, OLD.created_by_token_id, OLD.created_by_name, OLD.created_at) THEN
        RAISE EXCEPTION 'a journal entry keeps its kind, origin and creator'
            USING ERRCODE = '{changed}';
    END IF;
    IF OLD.status = 'DRAFT' THEN
        IF NEW.status = 'DRAFT' THEN
            IF NEW.number IS NOT NULL OR NEW.fiscal_year IS NOT NULL OR NEW.sequence IS NOT NULL
               OR NEW.posted_at IS NOT NULL OR NEW.posted_by_token_id IS NOT NULL OR NEW.posted_by_name IS NOT NULL THEN
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
                NEW.posted_at, NEW.posted_by_token_id, NEW.posted_by_name, NEW.source_number)
               IS NOT DISTINCT FROM
               (OLD.number, OLD.date, OLD.description, OLD.reference, OLD.fiscal_year, OLD.sequence,
                OLD.posted_at, OLD.posted_by_token_id, OLD.posted_by_name, OLD.source_number) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'a posted journal entry cannot be changed'
            USING ERRCODE = '{changed}';
    END IF;
    RAISE EXCEPTION 'a reversed journal entry cannot be changed'
        USING ERRCODE = '{changed}';
END
$$;

-- DRAFT -> POSTED, as before, and: a closed fiscal year refuses first; a reversing
-- entry may use archived accounts and is dated on or after its original.
CREATE OR REPLACE FUNCTION nusa_number_journal_entry() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {search_path} AS $$
DECLARE
    lock_until date;
    start_month integer;
    fy integer;
    seq integer;
    year_status text;
    original_date date;
    refused record;
BEGIN
    SELECT c.lock_date, c.fiscal_year_start_month INTO lock_until, start_month
      FROM company c FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the tenant database has no company row'
            USING ERRCODE = '{bypassed}';
    END IF;
    fy := CASE WHEN extract(month FROM NEW.date)::integer >= start_month
               THEN extract(year FROM NEW.date)::integer
               ELSE extract(year FROM NEW.date)::integer - 1 END;
    SELECT y.status INTO year_status FROM fiscal_year y WHERE y.label = fy FOR SHARE;
    IF year_status = 'CLOSED' THEN
        RAISE EXCEPTION 'fiscal year % is closed', fy
            USING ERRCODE = '{closed}';
    END IF;
    IF lock_until IS NOT NULL AND NEW.date <= lock_until THEN
        RAISE EXCEPTION 'the books are locked up to %: an entry must be dated after it', lock_until
            USING ERRCODE = '{locked}';
    END IF;
    IF NEW.reversal_of IS NOT NULL THEN
        SELECT o.date INTO original_date FROM journal_entry o WHERE o.id = NEW.reversal_of;
        IF NEW.date < original_date THEN
            RAISE EXCEPTION 'a reversal is dated on or after its original (%)', original_date
                USING ERRCODE = '{before}';
        END IF;
    END IF;
    PERFORM 1 FROM account a
      WHERE a.id IN (SELECT l.account_id FROM journal_line l WHERE l.entry_id = NEW.id)
      ORDER BY a.id FOR SHARE;
    SELECT a.code, a.is_postable, a.is_archived INTO refused FROM account a
      WHERE a.id IN (SELECT l.account_id FROM journal_line l WHERE l.entry_id = NEW.id)
        AND (NOT a.is_postable OR (a.is_archived AND NEW.reversal_of IS NULL))
      ORDER BY a.code LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'account % is %', refused.code,
            CASE WHEN refused.is_archived THEN 'archived' ELSE 'a header account' END
            USING ERRCODE = '{account}';
    END IF;
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
"#;

const DOWN: &str = r#"
DROP TRIGGER journal_entry_totals ON journal_entry;
DROP FUNCTION nusa_add_posted_totals();
DROP TRIGGER journal_entry_line_dates ON journal_entry;
DROP FUNCTION nusa_journal_line_dates();
DROP VIEW account_day_total_from_lines;
DROP TABLE account_day_total;
DROP TABLE account_month_total;
DROP TABLE fiscal_year;
DROP TABLE audit_event;
DROP FUNCTION nusa_guard_audit_event();
DROP TABLE idempotent_request;

CREATE OR REPLACE FUNCTION nusa_guard_journal_line() RETURNS trigger
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

CREATE OR REPLACE FUNCTION nusa_number_journal_entry() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {search_path} AS $$
DECLARE
    lock_until date;
    start_month integer;
    fy integer;
    seq integer;
    refused record;
BEGIN
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

ALTER TABLE journal_entry DROP CONSTRAINT journal_entry_reversal_kind;
ALTER TABLE journal_entry
    DROP COLUMN kind, DROP COLUMN created_by_token_id, DROP COLUMN created_by_name,
    DROP COLUMN posted_by_token_id, DROP COLUMN posted_by_name, DROP COLUMN source_number;
CREATE INDEX journal_line_account_idx ON journal_line (account_id);
DROP INDEX journal_line_account_date_idx;
ALTER TABLE journal_line DROP COLUMN entry_date;
ALTER TABLE account DROP COLUMN role;
ALTER TABLE company DROP COLUMN timezone, DROP COLUMN language;
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_every_function_has_a_fixed_search_path() {
        let up = up();
        assert!(
            !up.contains('{') && !down().contains('{'),
            "every placeholder is filled"
        );
        let created = up.matches("CREATE FUNCTION").count() + up.matches("CREATE OR REPLACE FUNCTION").count();
        assert_eq!(created, 6);
        assert_eq!(
            up.matches("SET search_path = pg_catalog, public, pg_temp").count(),
            created
        );
        assert_eq!(
            up.matches("SECURITY DEFINER").count(),
            3,
            "totals, line dates, numbering"
        );
        assert_eq!(up.matches("REVOKE EXECUTE ON FUNCTION").count(), 3, "the new ones");
    }

    #[test]
    fn each_refusal_has_its_code() {
        let up = up();
        for code in [
            sqlstate::FISCAL_YEAR_CLOSED,
            sqlstate::REVERSAL_BEFORE_ORIGINAL,
            sqlstate::AUDIT_APPEND_ONLY,
            sqlstate::PERIOD_LOCKED,
            sqlstate::ACCOUNT_NOT_POSTABLE,
        ] {
            assert!(up.contains(&format!("ERRCODE = '{code}'")), "{code}");
        }
        // A closed year wins over the lock date: it is checked first.
        let closed = up.find(&format!("ERRCODE = '{}'", sqlstate::FISCAL_YEAR_CLOSED));
        let locked = up.rfind(&format!("ERRCODE = '{}'", sqlstate::PERIOD_LOCKED));
        assert!(closed < locked);
    }

    #[test]
    fn every_role_is_allowed() {
        assert_eq!(ACCOUNT_ROLES.len(), 27);
        assert!(up().contains("'INCOME_TAX_EXPENSE'"));
    }
}
