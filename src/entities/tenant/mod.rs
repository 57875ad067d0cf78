pub mod account;
pub mod company;
pub mod journal_entry;
pub mod journal_line;
