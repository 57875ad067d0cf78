//! Cached reads of the registry on the request path: tenants by slug and tokens by
//! hash. Entries expire after a short TTL (the fallback), and are dropped at once
//! when a change notification arrives (see `invalidation`).
//!
//! In front of those caches stand the registry's keys ([`RegistryKeys`]): every slug
//! and every live token hash, in memory. A slug or token that is not among them is
//! refused without a registry query, however many different ones a caller invents
//! (a negative cache would not help there: each garbage value is new). The keys are
//! loaded on first use and loaded again, in one query, when a change notification
//! (or a listener reconnect) says they may be out of date, when they are older than
//! the TTL, and at most once per [`MISS_RELOAD_INTERVAL`] when a caller presents a key
//! they lack: a token created on another instance a moment ago, whose notification is
//! still on its way, is found by that reload; a flood of garbage causes one reload per
//! interval, never one query per request.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use lru::LruCache;
use secrecy::SecretString;
use uuid::Uuid;

use crate::entities::registry::tenants::TenantStatus;
use crate::entities::registry::{api_tokens, tenants};
use crate::error::Result;
use crate::tenancy::registry::{Registry, RegistryKeys};
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::hash_token;

/// Entries kept per cache; bounded so that floods of unknown slugs or tokens cannot
/// grow memory.
const CACHE_ENTRIES: usize = 10_000;
/// `last_used_at` is written at most this often per token.
const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// A key the in-memory set lacks reloads the set at most this often.
pub const MISS_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The registry's keys as of one load (bounded by the registry's size, which only
/// operators change).
#[derive(Default)]
struct Known {
    slugs: HashSet<String>,
    token_hashes: HashSet<Vec<u8>>,
    /// When the load that gave these keys began; `None`: never loaded.
    loaded_at: Option<Instant>,
    /// The directory's `generation` when that load began: a later invalidation makes
    /// these keys out of date.
    generation: u64,
    /// When the last load, successful or not, began (a failing registry is retried at
    /// most once per [`MISS_RELOAD_INTERVAL`]).
    attempted_at: Option<Instant>,
    /// Whether that last attempt failed.
    failed: bool,
}

struct Cached<T> {
    value: T,
    fetched: Instant,
}

pub struct TenantDirectory {
    registry: Registry,
    ttl: Duration,
    /// Bumped by every invalidation, so a read that raced one does not cache stale data.
    generation: AtomicU64,
    /// std `Mutex`: held for map operations only, never across an `.await`.
    tenants: Mutex<LruCache<String, Cached<Option<tenants::Model>>>>,
    tokens: Mutex<LruCache<Vec<u8>, Cached<Option<api_tokens::Model>>>>,
    /// std `RwLock`: held for set lookups and the swap after a load, never across an `.await`.
    known: RwLock<Known>,
    /// Single flight for loads of `known` (tokio: held across the registry query).
    loading: tokio::sync::Mutex<()>,
    /// Loads of the keys done, for tests and `/metrics`.
    pub key_loads: prometheus_client::metrics::counter::Counter,
}

impl TenantDirectory {
    pub fn new(registry: Registry, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(CACHE_ENTRIES).unwrap_or(NonZeroUsize::MIN);
        TenantDirectory {
            registry,
            ttl,
            generation: AtomicU64::new(0),
            tenants: Mutex::new(LruCache::new(capacity)),
            tokens: Mutex::new(LruCache::new(capacity)),
            known: RwLock::new(Known::default()),
            loading: tokio::sync::Mutex::new(()),
            key_loads: Default::default(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The tenant with this slug (cached, unknown slugs included).
    pub async fn tenant(&self, slug: &TenantSlug) -> Result<Option<tenants::Model>> {
        if !self.knows(|known| known.slugs.contains(slug.as_str())).await? {
            return Ok(None);
        }
        if let Some(hit) = fresh(&self.tenants, slug.as_str(), self.ttl) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        tracing::debug!(tenant.slug = %slug, ttl = ?self.ttl, "tenant cache miss");
        let row = self.registry.tenant_by_slug(slug).await?;
        self.store(&self.tenants, slug.as_str().to_owned(), row.clone(), generation);
        Ok(row)
    }

    /// The token row for a presented token (cached, unknown tokens included).
    pub async fn token(&self, token: &SecretString) -> Result<Option<api_tokens::Model>> {
        let hash = hash_token(token);
        if !self.knows(|known| known.token_hashes.contains(&hash)).await? {
            return Ok(None);
        }
        if let Some(hit) = fresh(&self.tokens, &hash, self.ttl) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let row = self.registry.token_by_secret(token).await?;
        if let Some(row) = &row {
            self.touch(row).await;
        }
        self.store(&self.tokens, hash, row.clone(), generation);
        Ok(row)
    }

    /// Whether the registry's keys hold what `probe` looks for, reloading them first if
    /// they are out of date, or (rate-limited) when they lack it.
    async fn knows(&self, probe: impl Fn(&Known) -> bool) -> Result<bool> {
        let asked = Instant::now();
        let (found, current) = {
            let known = self.known.read().unwrap_or_else(|p| p.into_inner());
            (probe(&known), self.is_current(&known))
        };
        match (current, found) {
            (true, true) => return Ok(true),
            (true, false) => self.load_keys(asked, MISS_RELOAD_INTERVAL).await?,
            (false, _) => self.load_keys(asked, Duration::ZERO).await?,
        }
        Ok(probe(&self.known.read().unwrap_or_else(|p| p.into_inner())))
    }

    /// Loaded, not invalidated since, and younger than the TTL.
    fn is_current(&self, known: &Known) -> bool {
        known.generation == self.generation.load(Ordering::Acquire)
            && known.loaded_at.is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// Loads the keys again, once for all concurrent callers: not when a load began
    /// after `asked` (its answer is as new as the caller needs), nor within `min_age`
    /// of the last attempt (nor within [`MISS_RELOAD_INTERVAL`] of a failed one). A
    /// failed load keeps the keys already held; with none held yet, it is an error.
    async fn load_keys(&self, asked: Instant, min_age: Duration) -> Result<()> {
        let _single = self.loading.lock().await;
        {
            let known = self.known.read().unwrap_or_else(|p| p.into_inner());
            let wait = if known.failed { MISS_RELOAD_INTERVAL } else { min_age };
            if known.attempted_at.is_some_and(|at| at >= asked || at.elapsed() < wait) {
                return match known.loaded_at {
                    Some(_) => Ok(()),
                    None => Err(crate::error::Error::Internal(anyhow::anyhow!(
                        "the registry's keys could not be loaded yet"
                    ))),
                };
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let started = Instant::now();
        self.key_loads.inc();
        let loaded = self.registry.keys().await;
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        known.attempted_at = Some(started);
        match loaded {
            Ok(RegistryKeys { slugs, token_hashes }) => {
                known.slugs = slugs
                    .into_iter()
                    .filter(|(_, status)| *status != TenantStatus::Deleted)
                    .map(|(slug, _)| slug)
                    .collect();
                known.token_hashes = token_hashes.into_iter().collect();
                known.loaded_at = Some(started);
                known.generation = generation;
                known.failed = false;
                tracing::debug!(
                    tenants = known.slugs.len(),
                    tokens = known.token_hashes.len(),
                    "loaded the registry's keys"
                );
                Ok(())
            }
            Err(err) if known.loaded_at.is_some() => {
                known.failed = true;
                tracing::warn!(error = %err, "cannot reload the registry's keys; keeping the ones held");
                Ok(())
            }
            Err(err) => {
                known.failed = true;
                Err(err)
            }
        }
    }

    /// Records use of a token, coarsely (at most once a minute), never failing the request.
    async fn touch(&self, row: &api_tokens::Model) {
        let now = Utc::now();
        let recent = row
            .last_used_at
            .is_some_and(|t| now.signed_duration_since(t) < LAST_USED_RESOLUTION);
        if recent || row.revoked_at.is_some() {
            return;
        }
        if let Err(err) = self.registry.touch_token(row.id).await {
            tracing::warn!(token.id = %row.id, error = %err, "cannot record token use");
        }
    }

    pub fn forget_tenant(&self, slug: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tenants.lock().unwrap_or_else(|p| p.into_inner()).pop(slug);
    }

    pub fn forget_tokens_of(&self, tenant_id: Uuid) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let stale: Vec<Vec<u8>> = tokens
            .iter()
            .filter(|(_, cached)| cached.value.as_ref().is_some_and(|t| t.tenant_id == tenant_id))
            .map(|(hash, _)| hash.clone())
            .collect();
        for hash in stale {
            tokens.pop(&hash);
        }
    }

    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tenants.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn store<K: std::hash::Hash + Eq, T>(
        &self,
        cache: &Mutex<LruCache<K, Cached<T>>>,
        key: K,
        value: T,
        generation: u64,
    ) {
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if self.generation.load(Ordering::Acquire) == generation {
            cache.put(
                key,
                Cached {
                    value,
                    fetched: Instant::now(),
                },
            );
        }
    }
}

fn fresh<K, Q, T>(cache: &Mutex<LruCache<K, Cached<T>>>, key: &Q, ttl: Duration) -> Option<T>
where
    K: std::hash::Hash + Eq + std::borrow::Borrow<Q>,
    Q: std::hash::Hash + Eq + ?Sized,
    T: Clone,
{
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    match cache.get(key) {
        Some(cached) if cached.fetched.elapsed() < ttl => Some(cached.value.clone()),
        _ => None,
    }
}
