//! Prometheus metrics, one registry per application (no global state, so several
//! instances in one test process stay apart).

use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::tenancy::connections::TenantConnections;

pub struct Metrics {
    registry: Registry,
    /// Statements each tenant request sent to its database.
    statements_per_request: Histogram,
    open_pools: Gauge,
    open_connections: Gauge,
    connections: Arc<TenantConnections>,
}

impl Metrics {
    pub fn new(connections: Arc<TenantConnections>) -> Self {
        let mut registry = Registry::with_prefix("nusa");
        let stats = &connections.stats;
        registry.register("tenant_pool_opens", "Tenant pools opened", stats.pool_opens.clone());
        registry.register(
            "tenant_pool_failed_opens",
            "Tenant pool opens that failed",
            stats.failed_opens.clone(),
        );
        registry.register(
            "tenant_pool_cache_hits",
            "Requests served by an already cached tenant pool",
            stats.cache_hits.clone(),
        );
        registry.register(
            "tenant_pool_cache_misses",
            "Requests that had to open a tenant pool",
            stats.cache_misses.clone(),
        );
        registry.register(
            "tenant_pool_evictions",
            "Tenant pools evicted to stay within capacity",
            stats.evictions.clone(),
        );
        let open_pools = Gauge::default();
        let open_connections = Gauge::default();
        registry.register("tenant_pools_open", "Tenant pools currently open", open_pools.clone());
        registry.register(
            "tenant_connections_open",
            "Tenant database connections currently open",
            open_connections.clone(),
        );
        let statements_per_request = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "tenant_statements_per_request",
            "SQL statements a tenant GraphQL request sent to its database",
            statements_per_request.clone(),
        );
        Metrics {
            registry,
            statements_per_request,
            open_pools,
            open_connections,
            connections,
        }
    }

    pub fn observe_statements(&self, count: u64) {
        self.statements_per_request.observe(count as f64);
    }

    /// The text exposition format, with gauges read at scrape time.
    pub fn render(&self) -> String {
        self.open_pools.set(self.connections.open_pools() as i64);
        self.open_connections.set(self.connections.open_connections() as i64);
        let mut out = String::new();
        if let Err(err) = encode(&mut out, &self.registry) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        out
    }
}
