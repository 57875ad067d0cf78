//! Request-scoped loading: what a query needs is fetched in a few batched statements,
//! not one per field (no N+1). The chart of accounts is loaded once per request (charts
//! are hundreds of rows); lines, linked entries and balances are fetched per page.
//! Mutations call [`LedgerCache::invalidate`] so later fields see their effect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::entities::tenant::{account, journal_entry, journal_line};
use crate::error::Result;
use crate::ledger::{accounts, journal};

/// The whole chart, indexed.
pub struct Chart {
    pub by_id: HashMap<Uuid, account::Model>,
    pub children: HashMap<Uuid, Vec<Uuid>>,
}

impl Chart {
    /// Ids of the account and all accounts below it. Each account is visited once, so
    /// the walk ends even on a loop (which the database refuses to store).
    pub fn subtree(&self, id: Uuid) -> Vec<Uuid> {
        let mut out = vec![id];
        let mut seen: std::collections::HashSet<Uuid> = out.iter().copied().collect();
        let mut i = 0;
        while i < out.len() {
            if let Some(children) = self.children.get(&out[i]) {
                out.extend(children.iter().copied().filter(|child| seen.insert(*child)));
            }
            i += 1;
        }
        out
    }
}

type Totals = HashMap<Uuid, (Decimal, Decimal)>;

/// Distinct `asOf` dates one request may ask balances at (each is an aggregate).
pub const MAX_BALANCE_DATES: usize = 8;

/// Loaded at most once, even when many resolvers ask at the same moment (GraphQL
/// resolves sibling fields concurrently); replaced by a fresh cell on invalidation.
type Once<T> = Arc<OnceCell<Arc<T>>>;

#[derive(Default)]
pub struct LedgerCache {
    chart: Mutex<Once<Chart>>,
    /// Today in the company's time zone: the default date of balances.
    today: Mutex<Once<NaiveDate>>,
    totals: Mutex<HashMap<Option<NaiveDate>, Once<Totals>>>,
    lines: Mutex<HashMap<Uuid, Arc<Vec<journal_line::Model>>>>,
    entries: Mutex<HashMap<Uuid, journal_entry::Model>>,
    /// By the reversed entry's id; `None` once known to have no reversal.
    reversals: Mutex<HashMap<Uuid, Option<journal_entry::Model>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LedgerCache {
    pub fn invalidate(&self) {
        *lock(&self.chart) = Once::default();
        *lock(&self.today) = Once::default();
        lock(&self.totals).clear();
        lock(&self.lines).clear();
        lock(&self.entries).clear();
        lock(&self.reversals).clear();
    }

    pub async fn chart(&self, db: &impl ConnectionTrait) -> Result<Arc<Chart>> {
        let cell = lock(&self.chart).clone();
        let chart = cell
            .get_or_try_init(|| async {
                let rows = accounts::all(db).await?;
                let mut children: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
                for a in &rows {
                    if let Some(parent) = a.parent_id {
                        children.entry(parent).or_default().push(a.id);
                    }
                }
                Ok::<_, crate::error::Error>(Arc::new(Chart {
                    by_id: rows.into_iter().map(|a| (a.id, a)).collect(),
                    children,
                }))
            })
            .await?;
        Ok(chart.clone())
    }

    /// Today in the company's time zone, read once per request.
    pub async fn today(&self, db: &impl ConnectionTrait) -> Result<NaiveDate> {
        let cell = lock(&self.today).clone();
        let today = cell
            .get_or_try_init(|| async {
                Ok::<_, crate::error::Error>(Arc::new(crate::ledger::company::today(db).await?))
            })
            .await?;
        Ok(**today)
    }

    pub async fn totals(&self, db: &impl ConnectionTrait, as_of: Option<NaiveDate>) -> Result<Arc<Totals>> {
        let cell = {
            let mut totals = lock(&self.totals);
            // Each date is an aggregate over the books: a request may ask for a few.
            if !totals.contains_key(&as_of) && totals.len() >= MAX_BALANCE_DATES {
                return Err(crate::error::Error::bad_input(
                    "asOf",
                    format!("one request may ask for balances at most at {MAX_BALANCE_DATES} different dates"),
                ));
            }
            totals.entry(as_of).or_default().clone()
        };
        let totals = cell
            .get_or_try_init(|| async {
                Ok::<_, crate::error::Error>(Arc::new(accounts::posted_totals(db, as_of).await?))
            })
            .await?;
        Ok(totals.clone())
    }

    /// The balance of an account and everything below it, in its normal direction.
    pub async fn balance(
        &self,
        db: &impl ConnectionTrait,
        account: &account::Model,
        as_of: Option<NaiveDate>,
    ) -> Result<Decimal> {
        let chart = self.chart(db).await?;
        let totals = self.totals(db, as_of).await?;
        let (debit, credit) = chart
            .subtree(account.id)
            .into_iter()
            .filter_map(|id| totals.get(&id))
            .fold((Decimal::ZERO, Decimal::ZERO), |(d, c), (dd, cc)| (d + dd, c + cc));
        Ok(account.normal_balance.signed(debit - credit))
    }

    /// Loads the lines of these entries (those not loaded yet) in one statement.
    pub async fn prefetch_lines(&self, db: &impl ConnectionTrait, entry_ids: &[Uuid]) -> Result<()> {
        let missing: Vec<Uuid> = {
            let lines = lock(&self.lines);
            entry_ids.iter().copied().filter(|id| !lines.contains_key(id)).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut loaded = journal::lines_of(db, &missing).await?;
        let mut lines = lock(&self.lines);
        for id in missing {
            lines.insert(id, Arc::new(loaded.remove(&id).unwrap_or_default()));
        }
        Ok(())
    }

    /// The lines of an entry that is not in the database (a dry run's preview), for the
    /// fields of that entry.
    pub fn preload_lines(&self, entry_id: Uuid, lines: Vec<journal_line::Model>) {
        lock(&self.lines).insert(entry_id, Arc::new(lines));
    }

    pub async fn lines(&self, db: &impl ConnectionTrait, entry_id: Uuid) -> Result<Arc<Vec<journal_line::Model>>> {
        self.prefetch_lines(db, &[entry_id]).await?;
        Ok(lock(&self.lines).get(&entry_id).cloned().unwrap_or_default())
    }

    /// Remembers entries already loaded (pages), so links to them cost nothing.
    pub fn remember(&self, entries: &[journal_entry::Model]) {
        let mut known = lock(&self.entries);
        for e in entries {
            known.insert(e.id, e.clone());
        }
    }

    pub async fn prefetch_entries(&self, db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<()> {
        let missing: Vec<Uuid> = {
            let known = lock(&self.entries);
            ids.iter().copied().filter(|id| !known.contains_key(id)).collect()
        };
        if !missing.is_empty() {
            let loaded = journal::by_ids(db, &missing).await?;
            lock(&self.entries).extend(loaded);
        }
        Ok(())
    }

    pub async fn entry(&self, db: &impl ConnectionTrait, id: Uuid) -> Result<Option<journal_entry::Model>> {
        self.prefetch_entries(db, &[id]).await?;
        Ok(lock(&self.entries).get(&id).cloned())
    }

    pub async fn prefetch_reversals(&self, db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<()> {
        let missing: Vec<Uuid> = {
            let known = lock(&self.reversals);
            ids.iter().copied().filter(|id| !known.contains_key(id)).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut found = journal::reversals_of(db, &missing).await?;
        let mut known = lock(&self.reversals);
        for id in missing {
            known.insert(id, found.remove(&id));
        }
        Ok(())
    }

    pub async fn reversal(&self, db: &impl ConnectionTrait, id: Uuid) -> Result<Option<journal_entry::Model>> {
        self.prefetch_reversals(db, &[id]).await?;
        Ok(lock(&self.reversals).get(&id).cloned().flatten())
    }

    /// Everything a page of entries will be asked for, in three statements.
    pub async fn prefetch_page(&self, db: &impl ConnectionTrait, page: &[journal_entry::Model]) -> Result<()> {
        self.remember(page);
        let ids: Vec<Uuid> = page.iter().map(|e| e.id).collect();
        self.prefetch_lines(db, &ids).await?;
        self.prefetch_reversals(db, &ids).await?;
        let originals: Vec<Uuid> = page.iter().filter_map(|e| e.reversal_of).collect();
        self.prefetch_entries(db, &originals).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtree_walk_ends_even_on_a_stored_loop() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let chart = Chart {
            by_id: HashMap::new(),
            children: HashMap::from([(a, vec![b]), (b, vec![a, c])]),
        };
        assert_eq!(chart.subtree(a), vec![a, b, c]);
        assert_eq!(chart.subtree(c), vec![c]);
    }
}
