//! Prometheus metrics, one registry per application (no global state, so several
//! instances in one test process stay apart).
//!
//! Per-tenant labels are bounded: the first `METRICS_TENANT_LABELS` tenants this
//! instance serves get their own `tenant` label, every later one is counted as
//! `tenant="other"` (0 puts every tenant under `other`). Latency is labelled by
//! operation type only.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;

use crate::graphql::documents::DocumentCache;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry as MetricsRegistry;

use crate::tenancy::connections::TenantConnections;
use crate::tenancy::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    tenant: String,
    operation: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    kind: String,
}

pub struct Metrics {
    registry: MetricsRegistry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabels, Histogram>,
    /// Statements each tenant request sent to its database.
    statements_per_request: Histogram,
    open_pools: Gauge,
    open_connections: Gauge,
    tenants: Family<StatusLabels, Gauge>,
    lifecycle_events: Family<EventLabels, Gauge>,
    connections: Arc<TenantConnections>,
    /// Tenants with a label of their own (at most `tenant_label_limit`).
    labelled: Mutex<HashSet<String>>,
    tenant_label_limit: usize,
}

impl Metrics {
    pub fn new(connections: Arc<TenantConnections>, documents: &DocumentCache, tenant_label_limit: usize) -> Self {
        let mut registry = MetricsRegistry::with_prefix("nusa");
        registry.register(
            "graphql_document_cache_hits",
            "Requests whose GraphQL document was already parsed",
            documents.hits.clone(),
        );
        registry.register(
            "graphql_document_cache_misses",
            "Requests whose GraphQL document had to be parsed",
            documents.misses.clone(),
        );
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
        registry.register(
            "tenant_pool_busy",
            "Requests that found every connection of their tenant's pool busy (the pool is kept)",
            stats.pool_busy.clone(),
        );
        let open_pools = Gauge::default();
        let open_connections = Gauge::default();
        registry.register("tenant_pools_open", "Tenant pools currently open", open_pools.clone());
        registry.register(
            "tenant_connections_open",
            "Tenant database connections currently open",
            open_connections.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "tenant_requests",
            "Tenant GraphQL requests by tenant (bounded), operation type and result",
            requests.clone(),
        );
        let latency = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        registry.register(
            "tenant_request_duration_seconds",
            "Tenant GraphQL request latency",
            latency.clone(),
        );
        let statements_per_request = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register(
            "tenant_statements_per_request",
            "SQL statements a tenant GraphQL request sent to its database",
            statements_per_request.clone(),
        );
        let tenants = Family::<StatusLabels, Gauge>::default();
        registry.register("tenants", "Tenants in the registry by status", tenants.clone());
        let lifecycle_events = Family::<EventLabels, Gauge>::default();
        registry.register(
            "tenant_lifecycle_events",
            "Lifecycle events in the registry log by kind (provisioning, migrations, ...), all instances",
            lifecycle_events.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            statements_per_request,
            open_pools,
            open_connections,
            tenants,
            lifecycle_events,
            connections,
            labelled: Mutex::new(HashSet::new()),
            tenant_label_limit,
        }
    }

    /// Registers a counter kept elsewhere (a shared handle: the owner counts, we expose).
    pub fn register_counter(&mut self, name: &str, help: &str, counter: Counter) {
        self.registry.register(name, help, counter);
    }

    /// The tenant's label: its slug while under the limit, else `other`.
    fn tenant_label(&self, tenant: Option<&str>) -> String {
        let Some(slug) = tenant else { return "none".into() };
        let mut labelled = self.labelled.lock().unwrap_or_else(|p| p.into_inner());
        if labelled.contains(slug) {
            return slug.to_owned();
        }
        if labelled.len() < self.tenant_label_limit {
            labelled.insert(slug.to_owned());
            return slug.to_owned();
        }
        "other".into()
    }

    pub fn observe_request(&self, tenant: Option<&str>, operation: &str, result: &str, elapsed: Duration) {
        let labels = RequestLabels {
            tenant: self.tenant_label(tenant),
            operation: operation.into(),
            result: result.into(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&OperationLabels {
                operation: operation.into(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_statements(&self, count: u64) {
        self.statements_per_request.observe(count as f64);
    }

    /// The text exposition format, with gauges read at scrape time (pools here, tenant
    /// counts and lifecycle events from the registry).
    pub async fn render(&self, registry: &Registry) -> String {
        self.open_pools.set(self.connections.open_pools() as i64);
        self.open_connections.set(self.connections.open_connections() as i64);
        self.refresh_registry_gauges(registry).await;
        let mut out = String::new();
        if let Err(err) = encode(&mut out, &self.registry) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        out
    }

    async fn refresh_registry_gauges(&self, registry: &Registry) {
        match registry.figures().await {
            Ok(figures) => {
                for (status, n) in figures.tenants_by_status {
                    let status = sea_orm::ActiveEnum::to_value(&status);
                    self.tenants.get_or_create(&StatusLabels { status }).set(n);
                }
                for (kind, n) in figures.events_by_kind {
                    let kind = kind.to_string();
                    self.lifecycle_events.get_or_create(&EventLabels { kind }).set(n);
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot read registry figures for /metrics"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TenancyLimits;
    use crate::tenancy::sealing::{MasterKey, Sealer};

    #[test]
    fn tenant_labels_are_bounded() {
        let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap_or_else(|e| panic!("{e}"));
        let metrics = Metrics::new(
            TenantConnections::new(TenancyLimits::default(), Sealer::new(key, vec![])),
            &DocumentCache::new(1),
            2,
        );
        assert_eq!(metrics.tenant_label(Some("a")), "a");
        assert_eq!(metrics.tenant_label(Some("b")), "b");
        assert_eq!(metrics.tenant_label(Some("c")), "other");
        assert_eq!(metrics.tenant_label(Some("a")), "a");
        assert_eq!(metrics.tenant_label(None), "none");
    }
}
