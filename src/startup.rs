//! Building the application from its configuration, binding, serving, shutting down.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::ServiceConfig;
use crate::graphql::documents::DocumentCache;
use crate::graphql::{admin, tenant};
use crate::http::admission::Admission;
use crate::http::listener::{serve, ConnectionLimits};
use crate::http::{admin_router, router, AppInner, AppState};
use crate::metrics::Metrics;
use crate::services::Services;

/// A tenant still PROVISIONING with no operation record after this long was abandoned by
/// a crash of a version before records existed (a live provisioning takes well under a
/// second; the margin covers slow template rebuilds). Recorded ones follow their lease.
const STALE_PROVISIONING: Duration = Duration::from_secs(600);

/// A bound, ready-to-run server (port 0 in tests picks a free port).
pub struct Application {
    listener: TcpListener,
    port: u16,
    /// `ADMIN_BIND_ADDR`'s listener, serving `/admin/graphql` and `/metrics`.
    admin_listener: Option<TcpListener>,
    state: AppState,
}

impl Application {
    pub async fn build(config: ServiceConfig) -> anyhow::Result<Self> {
        let services = Services::connect(&config).await?;
        let rolled_back = services.lifecycle.reclaim_abandoned(STALE_PROVISIONING).await?;
        if rolled_back > 0 {
            tracing::warn!(rolled_back, "finished or rolled back operations abandoned by a crash");
        }
        Self::with_services(config, services).await
    }

    pub async fn with_services(config: ServiceConfig, services: Services) -> anyhow::Result<Self> {
        let admin_schema = crate::graphql::limited(admin::builder(), &config.api)
            .data(services.clone())
            .finish();
        let documents = Arc::new(DocumentCache::new(config.api.document_cache_entries));
        let admission = Admission::new(config.limits.max_in_flight);
        let mut metrics = Metrics::new(
            services.connections.clone(),
            &documents,
            config.api.metrics_tenant_labels,
        );
        metrics.register_counter(
            "tenant_requests_rate_limited",
            "Tenant requests refused with RATE_LIMITED: the tenant had TENANT_MAX_IN_FLIGHT in flight",
            admission.refused.clone(),
        );
        metrics.register_counter(
            "registry_key_loads",
            "Loads of the registry's slugs and token hashes into memory",
            services.directory.key_loads.clone(),
        );
        let state = AppState(Arc::new(AppInner {
            services: services.clone(),
            metrics,
            tenant_schema: tenant::schema_with(&config.api),
            documents,
            limits: config.api.clone(),
            admin_schema,
            admin_token: config.admin_token.clone(),
            admission,
            imports: crate::http::imports::ImportGate::new(config.api.import_max_concurrent),
            exports: crate::http::exports::Exports::new(&config.api.exports, &config.sealer),
        }));
        let listener = TcpListener::bind(config.bind_addr)
            .await
            .with_context(|| format!("binding {}", config.bind_addr))?;
        let port = listener.local_addr()?.port();
        let admin_listener = match config.admin_bind_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding ADMIN_BIND_ADDR {addr}"))?,
            ),
            None => None,
        };
        Ok(Application {
            listener,
            port,
            admin_listener,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin listener's port, when `ADMIN_BIND_ADDR` is set.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin_listener
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .map(|addr| addr.port())
    }

    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// Serves until `shutdown` completes, lets in-flight requests finish, then closes
    /// every tenant pool.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let connections = self.state.services.connections.clone();
        let grace = self.state.limits.shutdown_grace;
        let lifecycle = self.state.services.lifecycle.clone();
        let (listener_task, listening) = self.state.services.invalidation.spawn_listener();
        let reclaimer = tokio::spawn(reclaim_abandoned_operations(lifecycle.clone()));
        // Serve once changes from other instances are heard (the first LISTEN flushes the
        // caches, so nothing read before it is served stale). A registry slow to answer
        // does not keep the service down: the caches' TTL still bounds staleness.
        if tokio::time::timeout(Duration::from_secs(10), listening).await.is_err() {
            tracing::warn!("the registry listener is not in place after 10 s; serving anyway");
        }
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let limits = ConnectionLimits {
            header_read_timeout: self.state.limits.header_read_timeout,
            idle_timeout: self.state.limits.idle_timeout,
        };
        // One stop signal for both listeners.
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut stop_rx = stop_rx.clone();
            async move {
                let _ = stop_rx.wait_for(|stopped| *stopped).await;
            }
        };
        let public = router(self.state.clone(), self.admin_listener.is_some());
        let admin = self.admin_listener.map(|listener| {
            let app = admin_router(self.state.clone());
            serve(listener, app, limits, stopped())
        });
        let server = async move {
            let public = serve(self.listener, public, limits, stopped());
            match admin {
                Some(admin) => {
                    tokio::join!(public, admin);
                }
                None => public.await,
            }
            anyhow::Ok(())
        };
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
            let _ = stopping_tx.send(());
        });
        // After the signal, in-flight requests get `grace` to finish; then we stop anyway.
        let grace_over = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = server => served?,
            _ = grace_over => tracing::warn!(?grace, "shutdown grace period over; dropping unfinished requests"),
        }
        listener_task.abort();
        reclaimer.abort();
        // Provisioning or restores whose callers went away finish or roll back first.
        if !lifecycle.operations().wait(grace).await {
            tracing::warn!(?grace, "long operations still running at the end of the grace period; their leases will lapse and another instance rolls them back");
        }
        connections.close_all(grace).await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// While serving, every instance looks a few times per lease for long operations whose
/// process died, and finishes or rolls them back.
async fn reclaim_abandoned_operations(lifecycle: crate::tenancy::lifecycle::Lifecycle) {
    let mut every = tokio::time::interval(lifecycle.operations().lease() / 3);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match lifecycle.reclaim_abandoned(STALE_PROVISIONING).await {
            Ok(0) => {}
            Ok(closed) => tracing::warn!(closed, "finished or rolled back operations abandoned by a crash"),
            Err(err) => tracing::warn!(error = %err, "cannot look for abandoned operations"),
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
