//! Change notifications between instances: the channel's name, its payload, how a
//! change is sent (`pg_notify`, from `writes.rs`) and the listener that receives them.
//! What a change means for the caches is `invalidation`'s business.

use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{DbBackend, Statement};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Registry;
use crate::error::{Error, Result};

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

/// What travels on the channel: the change, which instance sent it, and whether that
/// instance has applied it already (then its own listener skips the echo: closing a
/// pool it just reopened would only cost a reconnect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Envelope {
    origin: Uuid,
    applied_by_origin: bool,
    #[serde(flatten)]
    change: RegistryChange,
}

/// `SELECT pg_notify(channel, change)`.
pub(super) fn notify_statement(change: &RegistryChange, origin: Uuid, applied_by_origin: bool) -> Result<Statement> {
    let envelope = Envelope {
        origin,
        applied_by_origin,
        change: change.clone(),
    };
    let payload = serde_json::to_string(&envelope)
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot encode registry change: {e}")))?;
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
}

/// What the listener hands on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// One change.
    Change(RegistryChange),
    /// Notifications may have been missed (first connect, reconnect): forget everything.
    MayHaveMissed,
}

/// Listens on the registry's channel until its pool closes, calling `on_heard` for
/// every change (but this instance's own, already applied ones), and with
/// [`Heard::MayHaveMissed`] whenever the connection was (re)made. `listening` is sent
/// once, when the first `LISTEN` is in place.
pub async fn listen(registry: Registry, on_heard: impl Fn(Heard), listening: tokio::sync::oneshot::Sender<()>) {
    let pool = registry.db.get_postgres_connection_pool().clone();
    let mut listening = Some(listening);
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
        on_heard(Heard::MayHaveMissed);
        if let Some(listening) = listening.take() {
            let _ = listening.send(());
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(notification)) => match serde_json::from_str::<Envelope>(notification.payload()) {
                    Ok(envelope) if envelope.origin == registry.instance && envelope.applied_by_origin => {}
                    Ok(envelope) => on_heard(Heard::Change(envelope.change)),
                    Err(err) => tracing::warn!(error = %err, "unreadable registry notification"),
                },
                Ok(None) => {
                    tracing::warn!("registry listener lost its connection; flushing caches");
                    on_heard(Heard::MayHaveMissed);
                }
                Err(err) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %err, "registry listener failed; reconnecting");
                    on_heard(Heard::MayHaveMissed);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_as_json() {
        let envelope = Envelope {
            origin: Uuid::new_v4(),
            applied_by_origin: true,
            change: RegistryChange::Tenant { slug: "pt-maju".into() },
        };
        let json = serde_json::to_string(&envelope).unwrap_or_default();
        assert!(json.contains(r#""kind":"tenant""#), "{json}");
        assert_eq!(serde_json::from_str::<Envelope>(&json).ok(), Some(envelope));
    }

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
