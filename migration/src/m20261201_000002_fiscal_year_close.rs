//! Closing a fiscal year, enforced by the database (issue "Books an accountant can
//! close", point 3). The login role only reads `fiscal_year`; it changes a year's
//! status through two functions that check their own rules (`SECURITY DEFINER`, owned
//! by the tenant's owner role, fixed `search_path`, EXECUTE revoked from PUBLIC and
//! granted to the login role by `nusa_journal::tenancy::ownership`):
//!
//! - `nusa_close_fiscal_year(label, closing_entry, token, name)`: years close in order
//!   (every year from the first posted entry's up to the one before is CLOSED), not
//!   twice, not before the books begin; the closing entry, when there is one, is a
//!   POSTED entry of kind CLOSING dated the year's last day whose lines touch only
//!   revenue, expense and RETAINED_EARNINGS accounts; afterwards every revenue and
//!   expense account's balance at the year end is zero (read from
//!   `account_month_total`: a fiscal year is whole months). Writes the row CLOSED and
//!   appends the audit event.
//! - `nusa_reopen_fiscal_year(label, reason, token, name)`: only the latest closed year,
//!   with a reason of 1 to 500 characters; marks it OPEN (time and reason kept), appends
//!   the audit event and returns the closing entry, which the caller reverses in the same
//!   transaction (dated its own date: the year is open again, so posting takes it).
//!
//! Both take the company row `FOR UPDATE` first: postings in flight hold it shared
//! (`nusa_number_journal_entry`), so they commit before the balances are checked, and
//! postings that come later wait, then find the year closed.
//!
//! And at commit (deferred constraint triggers), whatever SQL ran:
//! - `journal_entry_closing`: a POSTED entry of kind CLOSING is the closing entry of its
//!   CLOSED year; a REVERSED one is not (its year was reopened first) and its reversal
//!   is dated on its own date. So the login role cannot post a CLOSING entry of its own
//!   to move revenue out of the income statement (which leaves closing entries out), nor
//!   reverse a closed year's closing entry into the next year.
//! - `fiscal_year_closing`: a CLOSED year's closing entry is POSTED; a reopened year's is
//!   not (it was reversed in the reopening transaction).
//!
//! And when posting, the hard lock (`journal_entry_hard_lock`, before the numbering
//! trigger, so it wins over the lock date): no entry is posted on or before the end of
//! the latest CLOSED year ([`sqlstate::FISCAL_YEAR_CLOSED`]), also into years before the
//! first posted entry's, which have no row.
//!
//! Refusals: [`sqlstate::FISCAL_YEAR_ORDER`] and [`sqlstate::CLOSING_ENTRY_INVALID`].
//! Down drops all of it.

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
    UP.replace("{order}", sqlstate::FISCAL_YEAR_ORDER)
        .replace("{closing}", sqlstate::CLOSING_ENTRY_INVALID)
        .replace("{closed}", sqlstate::FISCAL_YEAR_CLOSED)
        .replace("{bypassed}", sqlstate::POSTING_BYPASSED)
        .replace("{search_path}", SEARCH_PATH)
}

const UP: &str = r#"
CREATE FUNCTION nusa_close_fiscal_year(year_label integer, closing_entry uuid, token uuid, actor text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {search_path} AS $$
DECLARE
    start_month integer;
    year_start date;
    year_end date;
    first_year integer;
    was text;
    entry journal_entry%ROWTYPE;
    refused text;
BEGIN
    SELECT c.fiscal_year_start_month INTO start_month FROM company c FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the tenant database has no company row'
            USING ERRCODE = '{bypassed}';
    END IF;
    year_start := make_date(year_label, start_month, 1);
    year_end := (year_start + interval '1 year' - interval '1 day')::date;
    SELECT y.status INTO was FROM fiscal_year y WHERE y.label = year_label FOR UPDATE;
    IF was = 'CLOSED' THEN
        RAISE EXCEPTION 'fiscal year % is already closed', year_label
            USING ERRCODE = '{order}';
    END IF;
    SELECT min(e.fiscal_year) INTO first_year FROM journal_entry e WHERE e.fiscal_year IS NOT NULL;
    IF first_year IS NULL OR year_label < first_year THEN
        RAISE EXCEPTION 'fiscal year % is before the first posted entry', year_label
            USING ERRCODE = '{order}';
    END IF;
    IF (SELECT count(*) FROM fiscal_year y
         WHERE y.status = 'CLOSED' AND y.label >= first_year AND y.label < year_label)
       <> year_label - first_year THEN
        RAISE EXCEPTION 'fiscal years close in order: every year from % to % must be closed first',
            first_year, year_label - 1
            USING ERRCODE = '{order}';
    END IF;
    IF closing_entry IS NOT NULL THEN
        SELECT * INTO entry FROM journal_entry e WHERE e.id = closing_entry;
        IF NOT FOUND OR entry.kind <> 'CLOSING' OR entry.status <> 'POSTED' OR entry.date <> year_end THEN
            RAISE EXCEPTION 'the closing entry of fiscal year % is a posted CLOSING entry dated %', year_label, year_end
                USING ERRCODE = '{closing}';
        END IF;
        SELECT a.code INTO refused FROM journal_line l JOIN account a ON a.id = l.account_id
         WHERE l.entry_id = closing_entry
           AND a.type NOT IN ('REVENUE', 'EXPENSE')
           AND a.role IS DISTINCT FROM 'RETAINED_EARNINGS'
         ORDER BY a.code LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'a closing entry moves revenue and expense into retained earnings only, not into account %', refused
                USING ERRCODE = '{closing}';
        END IF;
    END IF;
    SELECT a.code INTO refused
      FROM account a JOIN account_month_total t ON t.account_id = a.id
     WHERE a.type IN ('REVENUE', 'EXPENSE') AND t.month <= year_end
     GROUP BY a.id, a.code
    HAVING sum(t.debit) <> sum(t.credit)
     ORDER BY a.code LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'account % still has a balance at the end of fiscal year %', refused, year_label
            USING ERRCODE = '{closing}';
    END IF;
    INSERT INTO fiscal_year AS y (label, start_date, end_date, status, closing_entry_id, closed_at,
                                  closed_by_token_id, closed_by_name)
    VALUES (year_label, year_start, year_end, 'CLOSED', closing_entry, clock_timestamp(), token, actor)
    ON CONFLICT (label) DO UPDATE
       SET start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, status = 'CLOSED',
           closing_entry_id = EXCLUDED.closing_entry_id, closed_at = EXCLUDED.closed_at,
           closed_by_token_id = EXCLUDED.closed_by_token_id, closed_by_name = EXCLUDED.closed_by_name;
    INSERT INTO audit_event (actor_token_id, actor_name, action, subject_id, detail)
    VALUES (token, coalesce(nullif(left(btrim(actor), 200), ''), 'system'), 'fiscal_year.close', closing_entry,
            format('fiscal year %s (%s to %s) closed %s', year_label, year_start, year_end,
                   CASE WHEN entry.number IS NULL THEN 'with nothing to close'
                        ELSE 'by closing entry ' || entry.number END));
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_close_fiscal_year(integer, uuid, uuid, text) FROM PUBLIC;

CREATE FUNCTION nusa_reopen_fiscal_year(year_label integer, reason text, token uuid, actor text)
RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {search_path} AS $$
DECLARE
    fy fiscal_year%ROWTYPE;
    why text;
BEGIN
    PERFORM 1 FROM company FOR UPDATE;
    why := btrim(reason);
    IF why IS NULL OR length(why) NOT BETWEEN 1 AND 500 THEN
        RAISE EXCEPTION 'reopening a fiscal year needs a reason of 1 to 500 characters'
            USING ERRCODE = '{order}';
    END IF;
    SELECT * INTO fy FROM fiscal_year y WHERE y.label = year_label FOR UPDATE;
    IF NOT FOUND OR fy.status <> 'CLOSED' THEN
        RAISE EXCEPTION 'fiscal year % is not closed', year_label
            USING ERRCODE = '{order}';
    END IF;
    IF EXISTS (SELECT 1 FROM fiscal_year y WHERE y.status = 'CLOSED' AND y.label > year_label) THEN
        RAISE EXCEPTION 'only the latest closed fiscal year can be reopened'
            USING ERRCODE = '{order}';
    END IF;
    UPDATE fiscal_year SET status = 'OPEN', reopened_at = clock_timestamp(), reopen_reason = why
     WHERE label = year_label;
    INSERT INTO audit_event (actor_token_id, actor_name, action, subject_id, detail)
    VALUES (token, coalesce(nullif(left(btrim(actor), 200), ''), 'system'), 'fiscal_year.reopen',
            fy.closing_entry_id, format('fiscal year %s reopened: %s', year_label, why));
    RETURN fy.closing_entry_id;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_reopen_fiscal_year(integer, text, uuid, text) FROM PUBLIC;

-- Nothing is posted on or before the end of the latest closed year. Fires before the
-- numbering trigger (names in order), so a closed year wins over the lock date.
CREATE FUNCTION nusa_check_hard_lock() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {search_path} AS $$
DECLARE
    closed_until date;
BEGIN
    -- Shared like the numbering trigger's: a close in flight is waited for, then seen.
    PERFORM 1 FROM company FOR SHARE;
    SELECT max(y.end_date) INTO closed_until FROM fiscal_year y WHERE y.status = 'CLOSED';
    IF closed_until IS NOT NULL AND NEW.date <= closed_until THEN
        RAISE EXCEPTION 'the books are closed up to % (the end of the latest closed fiscal year)', closed_until
            USING ERRCODE = '{closed}';
    END IF;
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_check_hard_lock() FROM PUBLIC;
CREATE TRIGGER journal_entry_hard_lock
    BEFORE UPDATE ON journal_entry
    FOR EACH ROW WHEN (OLD.status = 'DRAFT' AND NEW.status = 'POSTED')
    EXECUTE FUNCTION nusa_check_hard_lock();

-- At commit: a posted closing entry closes its year; a reversed one belongs to a year
-- that was reopened first, and is reversed on its own date.
CREATE FUNCTION nusa_check_closing_entry() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
DECLARE
    entry journal_entry%ROWTYPE;
    fy fiscal_year%ROWTYPE;
    reversed_on date;
BEGIN
    SELECT * INTO entry FROM journal_entry WHERE id = NEW.id;
    IF NOT FOUND OR entry.kind <> 'CLOSING' OR entry.status = 'DRAFT' THEN
        RETURN NULL;
    END IF;
    SELECT * INTO fy FROM fiscal_year y WHERE y.label = entry.fiscal_year;
    IF entry.status = 'POSTED' THEN
        IF fy.status IS DISTINCT FROM 'CLOSED' OR fy.closing_entry_id IS DISTINCT FROM entry.id THEN
            RAISE EXCEPTION 'closing entry % is posted without closing fiscal year %', entry.id, entry.fiscal_year
                USING ERRCODE = '{closing}';
        END IF;
        RETURN NULL;
    END IF;
    IF fy.status = 'CLOSED' AND fy.closing_entry_id = entry.id THEN
        RAISE EXCEPTION 'the closing entry of closed fiscal year % is reversed only by reopening the year', entry.fiscal_year
            USING ERRCODE = '{closing}';
    END IF;
    SELECT r.date INTO reversed_on FROM journal_entry r WHERE r.reversal_of = entry.id AND r.status <> 'DRAFT';
    IF reversed_on IS DISTINCT FROM entry.date THEN
        RAISE EXCEPTION 'closing entry % is reversed on its own date', entry.id
            USING ERRCODE = '{closing}';
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_check_closing_entry() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER journal_entry_closing
    AFTER INSERT OR UPDATE ON journal_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.kind = 'CLOSING')
    EXECUTE FUNCTION nusa_check_closing_entry();

-- At commit: a closed year's closing entry is posted; a reopened year's was reversed.
CREATE FUNCTION nusa_check_fiscal_year() RETURNS trigger
LANGUAGE plpgsql SET search_path = {search_path} AS $$
DECLARE
    fy fiscal_year%ROWTYPE;
    entry_status text;
BEGIN
    SELECT * INTO fy FROM fiscal_year y WHERE y.label = NEW.label;
    IF NOT FOUND OR fy.closing_entry_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT e.status INTO entry_status FROM journal_entry e WHERE e.id = fy.closing_entry_id;
    IF fy.status = 'CLOSED' AND entry_status IS DISTINCT FROM 'POSTED' THEN
        RAISE EXCEPTION 'the closing entry of closed fiscal year % is not posted', fy.label
            USING ERRCODE = '{closing}';
    END IF;
    IF fy.status = 'OPEN' AND entry_status = 'POSTED' THEN
        RAISE EXCEPTION 'reopened fiscal year % keeps its closing entry: it is reversed when the year reopens', fy.label
            USING ERRCODE = '{closing}';
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION nusa_check_fiscal_year() FROM PUBLIC;
CREATE CONSTRAINT TRIGGER fiscal_year_closing
    AFTER INSERT OR UPDATE ON fiscal_year
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION nusa_check_fiscal_year();
"#;

const DOWN: &str = r#"
DROP TRIGGER fiscal_year_closing ON fiscal_year;
DROP FUNCTION nusa_check_fiscal_year();
DROP TRIGGER journal_entry_closing ON journal_entry;
DROP FUNCTION nusa_check_closing_entry();
DROP TRIGGER journal_entry_hard_lock ON journal_entry;
DROP FUNCTION nusa_check_hard_lock();
DROP FUNCTION nusa_reopen_fiscal_year(integer, text, uuid, text);
DROP FUNCTION nusa_close_fiscal_year(integer, uuid, uuid, text);
"#;

/// The functions the login role calls, with their argument types (as `GRANT EXECUTE ON
/// FUNCTION` and `to_regprocedure` name them).
pub const LOGIN_CALLABLE: &[&str] = &[
    "nusa_close_fiscal_year(integer, uuid, uuid, text)",
    "nusa_reopen_fiscal_year(integer, text, uuid, text)",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_every_function_has_a_fixed_search_path() {
        let up = up();
        assert!(!up.contains('{') && !DOWN.contains('{'), "every placeholder is filled");
        let created = up.matches("CREATE FUNCTION").count();
        assert_eq!(created, 5);
        assert_eq!(
            up.matches("SET search_path = pg_catalog, public, pg_temp").count(),
            created
        );
        assert_eq!(up.matches("REVOKE EXECUTE ON FUNCTION").count(), created);
        assert_eq!(
            up.matches("SECURITY DEFINER").count(),
            3,
            "close, reopen and the hard lock; the commit checks read as the one who commits"
        );
        assert_eq!(DOWN.matches("DROP FUNCTION").count(), created);
        for callable in LOGIN_CALLABLE {
            assert!(
                up.contains(&format!("REVOKE EXECUTE ON FUNCTION {callable} FROM PUBLIC")),
                "{callable}"
            );
            assert!(DOWN.contains(&format!("DROP FUNCTION {callable};")), "{callable}");
        }
    }

    #[test]
    fn each_refusal_has_its_code() {
        let up = up();
        for code in [
            sqlstate::FISCAL_YEAR_ORDER,
            sqlstate::CLOSING_ENTRY_INVALID,
            sqlstate::FISCAL_YEAR_CLOSED,
        ] {
            assert!(up.contains(&format!("ERRCODE = '{code}'")), "{code}");
        }
        // PostgreSQL fires BEFORE triggers in name order: the hard lock comes after the
        // guard and before the numbering trigger (and its lock date).
        let mut fired = ["journal_entry_number", "journal_entry_hard_lock", "journal_entry_guard"];
        fired.sort_unstable();
        assert_eq!(
            fired,
            ["journal_entry_guard", "journal_entry_hard_lock", "journal_entry_number"]
        );
    }
}
