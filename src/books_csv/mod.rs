//! Books in and out as CSV (API.md "Getting books in and out"): the file formats both
//! ways ([`format`]), importing a chart or entries, exporting every report.
//!
//! An export of `accounts` or `journal` is written with exactly the columns an import
//! reads, so a company's books leave one tenant and enter another unchanged.

/// The columns, cells and dialects shared by imports and exports.
pub mod format;

/// Reports as CSV files, read chunk by chunk from one snapshot.
pub mod export;
/// Importing a chart or entries from CSV, with every error by row and column.
pub mod import;

/// Signed, short-lived download links for exports (`createExportLink`).
pub mod links;
