//! Keeping every instance's caches and pools in step with the registry.
//!
//! A change to a tenant or its tokens is applied locally at once and announced with
//! `NOTIFY` on the registry database; every instance `LISTEN`s and applies it too
//! (closing the tenant's pool, dropping cached rows). Notifications sent while a
//! listener is disconnected are lost, so a reconnect flushes everything; the
//! directory's short TTL is the last fallback.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::tenancy::connections::TenantConnections;
use crate::tenancy::directory::TenantDirectory;

/// The registry's notification channel.
pub const CHANNEL: &str = "nusa_registry_changes";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RegistryChange {
    /// Status, credentials or location of a tenant changed (or it was created or purged).
    Tenant { slug: String },
    /// A token of this tenant was revoked (or created).
    Tokens { tenant_id: Uuid },
}

#[derive(Clone)]
pub struct Invalidation {
    directory: Arc<TenantDirectory>,
    connections: Arc<TenantConnections>,
}

impl Invalidation {
    pub fn new(directory: Arc<TenantDirectory>, connections: Arc<TenantConnections>) -> Self {
        Invalidation { directory, connections }
    }

    /// Applies a change here and announces it to the other instances.
    pub async fn publish(&self, change: RegistryChange) {
        self.apply(&change);
        self.directory.registry().notify(&change).await;
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

    /// Listens for changes until the registry pool closes.
    pub fn spawn_listener(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move { this.listen().await })
    }

    async fn listen(self) {
        let pool = self.directory.registry().db().get_postgres_connection_pool().clone();
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(err) if pool.is_closed() => {
                    tracing::debug!(error = %err, "registry closed; listener stops");
                    return;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot connect the registry listener; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(err) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %err, "cannot LISTEN on the registry; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // Anything may have changed while we were not listening.
            tracing::debug!("registry listener connected; flushing caches");
            self.flush_all();
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => match serde_json::from_str::<RegistryChange>(notification.payload()) {
                        Ok(change) => self.apply(&change),
                        Err(err) => tracing::warn!(error = %err, "unreadable registry notification"),
                    },
                    Ok(None) => {
                        tracing::warn!("registry listener lost its connection; flushing caches");
                        self.flush_all();
                    }
                    Err(err) => {
                        if pool.is_closed() {
                            return;
                        }
                        tracing::warn!(error = %err, "registry listener failed; reconnecting");
                        self.flush_all();
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_as_json() {
        let changes = [
            RegistryChange::Tenant { slug: "pt-maju".into() },
            RegistryChange::Tokens {
                tenant_id: Uuid::new_v4(),
            },
        ];
        for change in changes {
            let json = serde_json::to_string(&change).unwrap_or_default();
            assert_eq!(serde_json::from_str::<RegistryChange>(&json).ok(), Some(change));
        }
    }
}
