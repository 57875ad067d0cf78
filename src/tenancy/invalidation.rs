//! Keeping every instance's caches and pools in step with the registry.
//!
//! A change to a tenant or its tokens is applied locally at once and announced with
//! `NOTIFY` on the registry database; every instance `LISTEN`s and applies it too
//! (closing the tenant's pool, dropping cached rows). Notifications sent while a
//! listener is disconnected are lost, so a reconnect flushes everything; the
//! directory's short TTL is the last fallback.

use std::sync::Arc;

use crate::tenancy::connections::TenantConnections;
use crate::tenancy::directory::TenantDirectory;
use crate::tenancy::registry::{self, Heard, Registry, RegistryChange};

#[derive(Clone)]
pub struct Invalidation {
    registry: Registry,
    directory: Arc<TenantDirectory>,
    connections: Arc<TenantConnections>,
}

impl Invalidation {
    pub fn new(registry: Registry, directory: Arc<TenantDirectory>, connections: Arc<TenantConnections>) -> Self {
        Invalidation {
            registry,
            directory,
            connections,
        }
    }

    /// Applies a change here and announces it to the other instances.
    pub async fn publish(&self, change: RegistryChange) {
        self.apply(&change);
        self.registry.notify(&change, true).await;
    }

    pub fn apply(&self, change: &RegistryChange) {
        tracing::debug!(?change, "applying registry change");
        match change {
            RegistryChange::Tenant { slug } => {
                self.directory.forget_tenant(slug);
                self.connections.invalidate(slug);
            }
            RegistryChange::Tokens { tenant_id } => self.directory.forget_tokens_of(*tenant_id),
        }
    }

    /// Drops every cached row and pool: used when notifications may have been missed.
    pub fn flush_all(&self) {
        self.directory.forget_all();
        self.connections.invalidate_all();
    }

    /// Listens for changes until the registry pool closes. The receiver completes once
    /// the listener is in place (the server waits for it before serving).
    pub fn spawn_listener(&self) -> (tokio::task::JoinHandle<()>, tokio::sync::oneshot::Receiver<()>) {
        let this = self.clone();
        let (listening_tx, listening_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move { this.listen(listening_tx).await });
        (task, listening_rx)
    }

    async fn listen(self, listening: tokio::sync::oneshot::Sender<()>) {
        let registry = self.registry.clone();
        registry::listen(
            registry,
            |heard| match heard {
                Heard::Change(change) => self.apply(&change),
                Heard::MayHaveMissed => self.flush_all(),
            },
            listening,
        )
        .await;
    }
}
