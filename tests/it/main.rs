//! The integration tests, one binary: the crate is linked once, and the tests share one
//! throwaway PostgreSQL cluster (started on first use by `common::server`, stopped when
//! the binary exits). Each test still gets its own registry database and uniquely named
//! tenants, so they run in parallel and in any order. Tests that need a cluster of their
//! own (a second server, the embedded default) start it themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod balances;
mod book_fixes;
mod books;
mod books_in;
mod budgets;
mod embedded;
mod exports;
mod fiscal_years;
mod foundation;
mod frontend;
mod guarded_books;
mod imports;
mod lifecycle;
mod neighbours;
mod operability;
mod operations;
mod restores;
mod round_trip;
mod schema;
mod statements;
mod tenancy;
