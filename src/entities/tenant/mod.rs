pub mod account;
pub mod audit_event;
pub mod company;
pub mod fiscal_year;
pub mod idempotent_request;
pub mod journal_entry;
pub mod journal_line;
