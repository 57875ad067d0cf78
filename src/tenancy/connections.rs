//! The tenant connection manager: an LRU-bounded map from tenant to its own pool.
//!
//! Bounds and guarantees (DESIGN.md):
//! - at most `cache_capacity` pools of at most `pool_max_connections` each;
//! - the bound on open connections holds while an evicted pool drains: each pool holds
//!   one of `cache_capacity` permits until it is fully closed, and a new pool waits
//!   for a permit;
//! - single flight: concurrent first requests for a tenant share one open;
//! - a failed open is not cached, and the tenant backs off for a short while so a dead
//!   database is not hammered (other tenants are never delayed by it);
//! - eviction is graceful: requests holding a lease finish, then the pool closes.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use prometheus_client::metrics::counter::Counter;
use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::sqlx::PgPool;
use sea_orm::{DatabaseConnection, SqlxPostgresConnector};
use tokio::sync::{OnceCell, OwnedRwLockReadGuard, OwnedSemaphorePermit, RwLock, Semaphore};

use crate::config::TenancyLimits;
use crate::entities::registry::tenants;
use crate::error::{Error, Result};
use crate::tenancy::credentials::{connect_options, unseal};
use crate::tenancy::sealing::Sealer;

/// Longest pause after repeated failed opens of one tenant's database.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// A request's hold on a tenant pool. While it lives, the pool stays open, even if
/// it has been evicted meanwhile.
pub struct TenantLease {
    pub conn: DatabaseConnection,
    _guard: OwnedRwLockReadGuard<()>,
}

impl TenantLease {
    /// Every connection the pool may have is open and in use: a request that could not
    /// get one in time met a busy pool, not an unreachable database.
    pub fn saturated(&self) -> bool {
        let pool = self.conn.get_postgres_connection_pool();
        pool.size() >= pool.options().get_max_connections() && pool.num_idle() == 0
    }
}

/// Where and as whom a tenant's pool connects; a change (restore, rotation) means a new pool.
#[derive(Clone, PartialEq, Eq)]
struct ConnectionTarget {
    host: String,
    port: i32,
    database: String,
    username: String,
    sealed_password: Option<String>,
}

impl ConnectionTarget {
    fn of(tenant: &tenants::Model) -> Self {
        ConnectionTarget {
            host: tenant.db_host.clone(),
            port: tenant.db_port,
            database: tenant.db_name.clone(),
            username: tenant.db_username.clone(),
            sealed_password: tenant.db_password.clone(),
        }
    }
}

struct PoolEntry {
    target: ConnectionTarget,
    pool: OnceCell<PgPool>,
    /// Read-held by each lease; write-acquired on retirement, so closing waits for them.
    gate: Arc<RwLock<()>>,
    /// The pool's share of the global bound, released only after the pool is closed.
    permit: Mutex<Option<OwnedSemaphorePermit>>,
    retired: AtomicBool,
}

#[derive(Default)]
struct Backoff {
    failures: u32,
    until: Option<Instant>,
}

/// Counters for `/metrics` (shared handles: the metrics registry holds clones).
#[derive(Default, Debug)]
pub struct ConnectionStats {
    pub pool_opens: Counter,
    pub failed_opens: Counter,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub evictions: Counter,
    /// Requests that found every connection of their tenant's pool busy past the
    /// acquire timeout (the pool is kept).
    pub pool_busy: Counter,
}

pub struct TenantConnections {
    limits: TenancyLimits,
    sealer: Sealer,
    /// std `Mutex`: held only for map operations, never across an `.await`.
    cache: Mutex<LruCache<String, Arc<PoolEntry>>>,
    /// Pools being closed after eviction, so their connections still count.
    retiring: Mutex<Vec<Arc<PoolEntry>>>,
    pool_permits: Arc<Semaphore>,
    backoff: Mutex<HashMap<String, Backoff>>,
    pub stats: ConnectionStats,
}

impl TenantConnections {
    pub fn new(limits: TenancyLimits, sealer: Sealer) -> Arc<Self> {
        let capacity = NonZeroUsize::new(limits.cache_capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Arc::new(TenantConnections {
            pool_permits: Arc::new(Semaphore::new(capacity.get())),
            cache: Mutex::new(LruCache::new(capacity)),
            retiring: Mutex::new(Vec::new()),
            backoff: Mutex::new(HashMap::new()),
            stats: ConnectionStats::default(),
            limits,
            sealer,
        })
    }

    /// A lease on the tenant's pool, opening it if needed.
    pub async fn get(self: &Arc<Self>, tenant: &tenants::Model) -> Result<TenantLease> {
        loop {
            self.check_backoff(&tenant.slug)?;
            let entry = self.entry_for(tenant);
            let guard = entry.gate.clone().read_owned().await;
            if entry.retired.load(Ordering::Acquire) {
                continue; // evicted while we waited: take the fresh entry
            }
            let opened = entry.pool.get_or_try_init(|| self.open(tenant, &entry)).await;
            return match opened {
                Ok(pool) => {
                    self.clear_backoff(&tenant.slug);
                    Ok(TenantLease {
                        conn: SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone()),
                        _guard: guard,
                    })
                }
                Err(err) => {
                    drop(guard);
                    self.forget_failed(&tenant.slug, &entry);
                    Err(err)
                }
            };
        }
    }

    /// The cache entry for this tenant, creating (and possibly evicting for) it.
    fn entry_for(self: &Arc<Self>, tenant: &tenants::Model) -> Arc<PoolEntry> {
        let target = ConnectionTarget::of(tenant);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = cache.get(&tenant.slug) {
            if entry.target == target {
                self.stats.cache_hits.inc();
                return entry.clone();
            }
        }
        self.stats.cache_misses.inc();
        let entry = Arc::new(PoolEntry {
            target,
            pool: OnceCell::new(),
            gate: Arc::new(RwLock::new(())),
            permit: Mutex::new(None),
            retired: AtomicBool::new(false),
        });
        if let Some((slug, displaced)) = cache.push(tenant.slug.clone(), entry.clone()) {
            if slug != tenant.slug {
                self.stats.evictions.inc();
                tracing::debug!(tenant.slug = %slug, "evicting tenant pool");
            }
            self.retire(displaced);
        }
        entry
    }

    async fn open(&self, tenant: &tenants::Model, entry: &PoolEntry) -> Result<PgPool> {
        let unavailable = |why: &str| Error::TenantUnavailable(format!("the tenant database is unavailable: {why}"));
        let password = unseal(&self.sealer, tenant)?;
        let timeout = self.limits.connect_timeout;
        let permit = tokio::time::timeout(timeout, self.pool_permits.clone().acquire_owned())
            .await
            .map_err(|_| unavailable("the connection limit is reached"))?
            .map_err(|_| unavailable("shutting down"))?;
        // No parallel workers: a tenant's query uses one backend, so a tenant's share of
        // the server's CPU is bounded by its pool size (a report with two workers per
        // connection would let one tenant run three times its pool in processes).
        let options = connect_options(tenant, &password, &format!("nusa-journal:{}", tenant.slug)).options([
            (
                "statement_timeout",
                self.limits.statement_timeout.as_millis().to_string(),
            ),
            ("max_parallel_workers_per_gather", "0".to_owned()),
        ]);
        let connecting = PgPoolOptions::new()
            .max_connections(self.limits.pool_max_connections)
            .min_connections(0)
            .acquire_timeout(timeout)
            .idle_timeout(Duration::from_secs(300))
            // No ping before each use: it doubled the round trips of every statement. A
            // connection that died is seen by the statement itself, which answers 503
            // and drops the pool (see http::tenant).
            .test_before_acquire(false)
            .connect_with(options);
        match tokio::time::timeout(timeout, connecting).await {
            Ok(Ok(pool)) => {
                *entry.permit.lock().unwrap_or_else(|p| p.into_inner()) = Some(permit);
                self.stats.pool_opens.inc();
                tracing::debug!(tenant.slug = %tenant.slug, "opened tenant pool");
                Ok(pool)
            }
            Ok(Err(err)) => {
                self.stats.failed_opens.inc();
                tracing::warn!(tenant.slug = %tenant.slug, error = %err, "cannot open tenant pool");
                Err(unavailable("it cannot be reached"))
            }
            Err(_) => {
                self.stats.failed_opens.inc();
                tracing::warn!(tenant.slug = %tenant.slug, "timed out opening tenant pool");
                Err(unavailable("connecting timed out"))
            }
        }
    }

    /// Closes the tenant's pool (suspend, delete, credential change, restore).
    pub fn invalidate(self: &Arc<Self>, slug: &str) {
        let removed = self.cache.lock().unwrap_or_else(|p| p.into_inner()).pop(slug);
        if let Some(entry) = removed {
            self.retire(entry);
        }
        self.clear_backoff(slug);
    }

    /// Closes every pool (a lost invalidation channel, or shutdown).
    pub fn invalidate_all(self: &Arc<Self>) {
        let entries: Vec<_> = {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            let mut all = Vec::new();
            while let Some((_, entry)) = cache.pop_lru() {
                all.push(entry);
            }
            all
        };
        for entry in entries {
            self.retire(entry);
        }
    }

    /// Closes all pools and waits (up to `grace`) until their connections are gone.
    pub async fn close_all(self: &Arc<Self>, grace: Duration) {
        self.invalidate_all();
        let deadline = Instant::now() + grace;
        while !self.retiring.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
            if Instant::now() > deadline {
                tracing::warn!("tenant pools still draining at shutdown; giving up waiting");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Marks the entry retired and closes its pool once its leases are gone.
    fn retire(self: &Arc<Self>, entry: Arc<PoolEntry>) {
        entry.retired.store(true, Ordering::Release);
        self.retiring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry.clone());
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let _exclusive = entry.gate.clone().write_owned().await;
            if let Some(pool) = entry.pool.get() {
                pool.close().await;
            }
            entry.permit.lock().unwrap_or_else(|p| p.into_inner()).take();
            this.retiring
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|e| !Arc::ptr_eq(e, &entry));
        });
    }

    fn forget_failed(&self, slug: &str, entry: &Arc<PoolEntry>) {
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.peek(slug).is_some_and(|cached| Arc::ptr_eq(cached, entry)) && entry.pool.get().is_none() {
                cache.pop(slug);
            }
        }
        let mut backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        let state = backoff.entry(slug.to_owned()).or_default();
        state.failures += 1;
        let pause = FIRST_BACKOFF
            .saturating_mul(1 << state.failures.min(8).saturating_sub(1))
            .min(MAX_BACKOFF);
        state.until = Some(Instant::now() + pause);
    }

    fn check_backoff(&self, slug: &str) -> Result<()> {
        let backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        match backoff.get(slug).and_then(|b| b.until) {
            Some(until) if Instant::now() < until => Err(Error::TenantUnavailable(
                "the tenant database is unavailable; retrying shortly".into(),
            )),
            _ => Ok(()),
        }
    }

    fn clear_backoff(&self, slug: &str) {
        let mut backoff = self.backoff.lock().unwrap_or_else(|p| p.into_inner());
        if backoff.contains_key(slug) {
            backoff.remove(slug);
        }
    }

    /// Pools in the cache with an open pool.
    pub fn open_pools(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, e)| e.pool.get().is_some())
            .count()
    }

    /// Open tenant connections, in cached and draining pools alike.
    pub fn open_connections(&self) -> u64 {
        let cached: u64 = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|(_, e)| e.pool.get())
            .map(|p| u64::from(p.size()))
            .sum();
        let draining: u64 = self
            .retiring
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|e| e.pool.get())
            .filter(|p| !p.is_closed() || p.size() > 0)
            .map(|p| u64::from(p.size()))
            .sum();
        cached + draining
    }
}
