//! The books: accounting rules and the services resolvers call. Functions here take
//! `&impl ConnectionTrait`, the tenant's own database, and know nothing of HTTP.

/// Chart-of-accounts templates shipped in `coa/`.
pub mod coa;
/// The company row: settings that rule the books (currency, fiscal year, lock date).
pub mod company;
