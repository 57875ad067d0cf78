//! Cached reads of the registry on the request path: tenants by slug and tokens by
//! hash. Entries expire after a short TTL (the fallback), and are dropped at once
//! when a change notification arrives (see `invalidation`).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use lru::LruCache;
use secrecy::SecretString;
use uuid::Uuid;

use crate::entities::registry::{api_tokens, tenants};
use crate::error::Result;
use crate::tenancy::registry::Registry;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::hash_token;

/// Entries kept per cache; bounded so that floods of unknown slugs or tokens cannot
/// grow memory.
const CACHE_ENTRIES: usize = 10_000;
/// `last_used_at` is written at most this often per token.
const LAST_USED_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

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
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The tenant with this slug (cached, unknown slugs included).
    pub async fn tenant(&self, slug: &TenantSlug) -> Result<Option<tenants::Model>> {
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
