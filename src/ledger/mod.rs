//! The books: accounting rules and the services resolvers call. Functions here take
//! `&impl ConnectionTrait`, the tenant's own database, and know nothing of HTTP.

/// The chart of accounts: listing, creating, changing, archiving, balances.
pub mod accounts;
/// Chart-of-accounts templates shipped in `coa/`.
pub mod coa;
/// The company row: settings that rule the books (currency, fiscal year, lock date).
pub mod company;
/// Journal entries: drafts, posting, numbering, reversal, idempotency.
pub mod journal;
/// Money parsing and formatting (`rust_decimal`, never floats).
pub mod money;
/// Posting rules that need no database (`BalancedLines`).
pub mod posting;
/// Trial balance and general ledger.
pub mod reports;
