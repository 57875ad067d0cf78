//! Tenant database migrations, applied to every tenant's own database.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_company;
mod m20261126_000002_create_ledger;
mod m20261129_000001_ledger_sqlstates;
mod m20261129_000002_chart_without_loops;
mod m20261130_000001_guarded_posting;
mod m20261130_000002_tenant_identity;
mod m20261130_000003_frozen_report_keys;
pub mod m20261201_000001_balances_at_scale;
pub mod m20261201_000002_fiscal_year_close;
pub mod m20261201_000003_template_roles;
pub mod m20261201_000004_posting_hardening;

/// SQLSTATEs the tenant schema's own triggers raise, class `NJ` (Nusa Journal; a class
/// PostgreSQL leaves to applications), so that a refusal is told apart by its code,
/// never by its message. The service maps them to API codes in one place
/// (`nusa_journal::error`).
pub mod sqlstate {
    /// At commit: a posted entry whose debits differ from its credits, or that has fewer
    /// than two lines (trigger `journal_entry_balanced` / `journal_line_balanced`).
    pub const UNBALANCED_ENTRY: &str = "NJ001";
    /// A posted or reversed entry, or a line of one, would be changed or deleted, or a
    /// line would move to another entry (triggers `journal_entry_guard`, `journal_line_guard`).
    pub const POSTED_ENTRY_CHANGED: &str = "NJ002";
    /// An account would become its own ancestor (trigger `account_no_loop`).
    pub const ACCOUNT_LOOP: &str = "NJ003";
    /// The books would change other than through posting: an entry inserted other than
    /// as a draft, a draft given a number by hand, an entry marked REVERSED without its
    /// posted, mirroring reversing entry (triggers `journal_entry_guard`,
    /// `journal_entry_reversal`).
    pub const POSTING_BYPASSED: &str = "NJ004";
    /// Posting an entry dated on or before the company's lock date (trigger
    /// `journal_entry_number`).
    pub const PERIOD_LOCKED: &str = "NJ005";
    /// Posting an entry with a line on a header or archived account (trigger
    /// `journal_entry_number`).
    pub const ACCOUNT_NOT_POSTABLE: &str = "NJ006";
    /// What the reports rest on would change after the books use it: the code, type or
    /// normal balance of an account that has journal lines (trigger
    /// `account_keys_guard`), or the fiscal year start month once an entry is posted
    /// (trigger `company_fiscal_year_start_guard`).
    pub const REPORT_KEY_FROZEN: &str = "NJ007";
    /// Posting into a fiscal year that is closed (trigger `journal_entry_number`,
    /// checked before the lock date), or on or before the end of the latest closed year
    /// (trigger `journal_entry_hard_lock`).
    pub const FISCAL_YEAR_CLOSED: &str = "NJ008";
    /// Posting a reversing entry dated before the entry it reverses (trigger
    /// `journal_entry_number`).
    pub const REVERSAL_BEFORE_ORIGINAL: &str = "NJ009";
    /// Changing or removing an audit event (trigger `audit_event_guard`).
    pub const AUDIT_APPEND_ONLY: &str = "NJ010";
    /// Closing or reopening a fiscal year against the order of years: closing one that
    /// is closed, lies before the first posted entry or follows a year still open;
    /// reopening one that is not the latest closed year, or without a reason (functions
    /// `nusa_close_fiscal_year`, `nusa_reopen_fiscal_year`).
    pub const FISCAL_YEAR_ORDER: &str = "NJ011";
    /// A closing entry that does not close its year: not a posted CLOSING entry dated the
    /// year end, a line outside revenue, expense and retained earnings, a revenue or
    /// expense balance left at the year end, a CLOSING entry posted without closing its
    /// year, or reversed while the year stays closed (`nusa_close_fiscal_year`, triggers
    /// `journal_entry_closing`, `fiscal_year_closing`).
    pub const CLOSING_ENTRY_INVALID: &str = "NJ012";
    /// An account's role that does not fit its type (trigger `account_role_fits`).
    pub const ROLE_MISFIT: &str = "NJ013";
}

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_company::Migration),
            Box::new(m20261126_000002_create_ledger::Migration),
            Box::new(m20261129_000001_ledger_sqlstates::Migration),
            Box::new(m20261129_000002_chart_without_loops::Migration),
            Box::new(m20261130_000001_guarded_posting::Migration),
            Box::new(m20261130_000002_tenant_identity::Migration),
            Box::new(m20261130_000003_frozen_report_keys::Migration),
            Box::new(m20261201_000001_balances_at_scale::Migration),
            Box::new(m20261201_000002_fiscal_year_close::Migration),
            Box::new(m20261201_000003_template_roles::Migration),
            Box::new(m20261201_000004_posting_hardening::Migration),
        ]
    }
}

/// The name of the newest tenant migration: the schema version this binary expects.
/// Worked out once: every tenant request compares its schema version with it.
pub fn latest_version() -> String {
    static LATEST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        Migrator::migrations()
            .last()
            .map(|m| m.name().to_owned())
            .unwrap_or_default()
    });
    LATEST.clone()
}
