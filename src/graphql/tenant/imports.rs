//! `importAccounts`, `importJournalEntries`: CSV in a GraphQL argument (as large as the
//! body limit allows; larger files go to `POST /{tenant}/imports/...`). See
//! `books_csv::import`.

use async_graphql::{Context, Object};

use super::{actor, tenant_db};
use crate::books_csv::import::{self as service, entries::EntryImport};

/// What an import did, or (dry run, or with errors) would have done.
pub struct ImportResult(pub service::ImportResult);

#[Object]
impl ImportResult {
    /// Nothing was written because only a check was asked for.
    async fn dry_run(&self) -> bool {
        self.0.dry_run
    }

    /// Data rows read (the header not counted).
    async fn rows_read(&self) -> i32 {
        saturating(self.0.rows_read)
    }

    /// Accounts created (in a dry run without errors: that would be created).
    async fn accounts_created(&self) -> i32 {
        saturating(self.0.accounts_created)
    }

    /// Entries created (in a dry run without errors: that would be created).
    async fn entries_created(&self) -> i32 {
        saturating(self.0.entries_created)
    }

    /// Every problem found (at most 1,000, then one TOO_MANY_ERRORS counting the rest);
    /// with any, nothing was written.
    async fn errors(&self) -> Vec<ImportError> {
        self.0.errors.iter().cloned().map(ImportError).collect()
    }
}

/// One problem of an import file.
pub struct ImportError(pub service::ImportError);

#[Object]
impl ImportError {
    /// The record number: 1 = the first record after the header; 0 = the header or the
    /// file as a whole.
    async fn row(&self) -> i32 {
        saturating(self.0.row)
    }

    /// The column (as the format names it), when the problem is one cell's.
    async fn column(&self) -> Option<&str> {
        self.0.column
    }

    /// UNKNOWN_ACCOUNT, UNBALANCED_ENTRY, BAD_AMOUNT, BAD_DATE, DUPLICATE_CODE, ... (README).
    async fn code(&self) -> &str {
        self.0.code
    }

    async fn message(&self) -> &str {
        &self.0.message
    }
}

fn saturating(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[derive(Default)]
pub struct ImportsMutation;

#[Object]
impl ImportsMutation {
    /// A chart of accounts from CSV (`code,name,type,parent_code,is_postable,
    /// normal_balance,role,description`); parents may follow their children. A dry run
    /// unless `dryRun: false`; all or nothing.
    async fn import_accounts(
        &self,
        ctx: &Context<'_>,
        csv: String,
        #[graphql(default_with = "Some(true)")] dry_run: Option<bool>,
    ) -> async_graphql::Result<ImportResult> {
        let db = tenant_db(ctx)?;
        // An explicit null is the default too: only `false` writes.
        let dry_run = dry_run.unwrap_or(true);
        let result = service::accounts::import(&db.conn, csv, dry_run, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(ImportResult(result))
    }

    /// Journal entries from CSV, one row per line
    /// (`entry,date,description,reference,account_code,debit,credit,memo`); drafts
    /// unless `post`. A dry run unless `dryRun: false`; all or nothing. With an
    /// `idempotencyKey`, the same file imports once (another file with it: CONFLICT).
    async fn import_journal_entries(
        &self,
        ctx: &Context<'_>,
        csv: String,
        #[graphql(default_with = "Some(false)")] post: Option<bool>,
        #[graphql(default_with = "Some(true)")] dry_run: Option<bool>,
        idempotency_key: Option<String>,
    ) -> async_graphql::Result<ImportResult> {
        let db = tenant_db(ctx)?;
        let options = EntryImport {
            post: post.unwrap_or(false),
            dry_run: dry_run.unwrap_or(true),
            idempotency_key,
            // Bounded by the body limit (about 10,000 lines in 1 MB).
            time_limit: None,
        };
        let result = service::entries::import(&db.conn, csv, options, actor(ctx)?).await?;
        db.cache.invalidate();
        Ok(ImportResult(result))
    }
}
