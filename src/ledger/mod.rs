//! The books: accounting rules and the services resolvers call. Functions here take
//! `&impl ConnectionTrait`, the tenant's own database, and know nothing of HTTP.

/// An `ILIKE` pattern matching text that contains `search` literally (`%`, `_` and `\`
/// in the search are escaped).
pub fn contains_pattern(search: &str) -> String {
    format!(
        "%{}%",
        search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
    )
}

/// The chart of accounts: listing, creating, changing, archiving, balances.
pub mod accounts;
/// Who acts: an API token (id and name) or the system.
pub mod actor;
/// The append-only audit log: an event per change to the books or the company.
pub mod audit;
/// Balances from the per-account totals the database keeps at posting; verify, rebuild.
pub mod balances;
/// A change to an optional field: keep, clear or set (from GraphQL's `MaybeUndefined`).
pub mod change;
/// Chart-of-accounts templates shipped in `coa/`, parsed once.
pub mod coa;
/// The company row: settings that rule the books (currency, fiscal year, lock date).
pub mod company;
/// Fiscal years: listing, closing into retained earnings, reopening, the hard lock.
pub mod fiscal_years;
/// Idempotency keys of mutations other than `createJournalEntry` (`idempotent_request`).
pub mod idempotent_request;
/// Journal entries: drafts, posting, numbering, reversal, idempotency.
pub mod journal;
/// Money parsing and formatting (`rust_decimal`, never floats).
pub mod money;
/// A page of a listing, with its total across pages when asked for.
pub mod paging;
/// Posting rules that need no database (`BalancedLines`).
pub mod posting;
/// Trial balance and general ledger.
pub mod reports;
/// Balance sheet and income statement from the chart and account totals (no SQL).
pub mod statements;

#[cfg(test)]
mod tests {
    #[test]
    fn search_patterns_are_literal() {
        assert_eq!(super::contains_pattern("kas"), "%kas%");
        assert_eq!(super::contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
