//! Long admin operations (provisioning, restore; later moves and imports) that finish or
//! roll back cleanly whatever happens to their caller (DESIGN.md "Fleet across database
//! servers"):
//!
//! - they run as tasks of their own ([`Operations::detach`]), so an HTTP client that goes
//!   away does not cancel them half-way; shutdown waits for them up to its grace period;
//! - each has a record in the registry with its step and a lease that a heartbeat renews
//!   ([`RunningOperation`]); when a process dies, its lease lapses and any instance's
//!   [`Operations::lapsed`] claims the record so that the operation's owner module can
//!   roll it back (`Lifecycle::reclaim_lapsed_operations`).

use std::future::Future;
use std::time::Duration;

use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::tenancy::registry::{LongOperation, OperationDatabases, OperationKind, Outcome, Registry};

/// How long an operation's record stays ours without a heartbeat (`OPERATION_LEASE_MS`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// Test hook, in debug builds only: when the variable `var` is `1`, the operation waits
/// here for ever, so that a test can kill the process at that point and watch another
/// instance roll it back. `NUSA_TEST_STALL_PROVISIONING` stalls provisioning before
/// activation, `NUSA_TEST_STALL_RESTORE` a restore once writes are paused. Release
/// builds ignore both.
pub async fn stall_if_asked(var: &str) {
    if cfg!(debug_assertions) && std::env::var_os(var).is_some_and(|v| v == "1") {
        tracing::warn!(var, "test hook: stalling a long operation");
        std::future::pending::<()>().await;
    }
}

/// Runs and records long operations. Cheap to clone.
#[derive(Clone)]
pub struct Operations {
    registry: Registry,
    lease: Duration,
    tasks: TaskTracker,
}

impl Operations {
    pub fn new(registry: Registry, lease: Duration) -> Self {
        Operations {
            registry,
            lease,
            tasks: TaskTracker::new(),
        }
    }

    /// The lease of operation records (the reclaimer runs a few times per lease).
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Runs `work` as a task of its own, so that it goes on if the caller's future is
    /// dropped (a client that disconnects); the caller still gets its result.
    pub async fn detach<T: Send + 'static>(&self, work: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        self.tasks
            .spawn(work)
            .await
            .map_err(|e| Error::Internal(anyhow::anyhow!("a long operation's task ended abnormally: {e}")))?
    }

    /// Waits up to `grace` for detached operations to end (at shutdown); true if they did.
    pub async fn wait(&self, grace: Duration) -> bool {
        self.tasks.close();
        tokio::time::timeout(grace, self.tasks.wait()).await.is_ok()
    }

    /// Records a new operation leased to this instance and starts its heartbeat.
    pub async fn begin(
        &self,
        kind: OperationKind,
        tenant_id: Uuid,
        slug: &str,
        step: &str,
        databases: OperationDatabases<'_>,
    ) -> Result<RunningOperation> {
        let id = self
            .registry
            .begin_operation(kind, tenant_id, slug, step, databases, self.lease)
            .await?;
        Ok(RunningOperation::start(self.registry.clone(), id, self.lease))
    }

    /// Open operations whose lease lapsed, now claimed by this instance: their process
    /// died, and the caller must finish or roll them back, then [`Operations::close`] them.
    pub async fn lapsed(&self) -> Result<Vec<LongOperation>> {
        self.registry.claim_lapsed_operations(self.lease, 16).await
    }

    /// Gives a claimed operation up, for any instance to retry at its next look.
    pub async fn release(&self, operation: &LongOperation) {
        if let Err(err) = self.registry.release_operation(operation.id).await {
            tracing::warn!(operation = %operation.id, error = %err, "cannot release an operation; its lease will lapse");
        }
    }

    /// Closes a claimed operation.
    pub async fn close(&self, operation: &LongOperation, outcome: Outcome) -> Result<()> {
        self.registry.finish_operation(operation.id, outcome).await
    }
}

/// An operation in progress: its lease is renewed until it is finished or dropped. A
/// dropped one (a panic) stops its heartbeat, so its lease lapses and it is reclaimed.
pub struct RunningOperation {
    registry: Registry,
    id: Uuid,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl RunningOperation {
    fn start(registry: Registry, id: Uuid, lease: Duration) -> Self {
        let renewing = registry.clone();
        let heartbeat = tokio::spawn(async move {
            let mut every = tokio::time::interval(lease / 3);
            every.tick().await;
            loop {
                every.tick().await;
                match renewing.renew_operation(id, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(operation = %id, "lost the lease of a running operation");
                        return;
                    }
                    Err(err) => tracing::warn!(operation = %id, error = %err, "cannot renew an operation's lease"),
                }
            }
        });
        RunningOperation {
            registry,
            id,
            heartbeat,
        }
    }

    /// The record's id: steps that commit the operation's result name it, so that they
    /// commit only while this instance holds the lease.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Records the step the operation is at (what a reclaimer will see).
    pub async fn step(&self, step: &str) {
        if let Err(err) = self.registry.operation_step(self.id, step).await {
            tracing::warn!(operation = %self.id, error = %err, "cannot record an operation's step");
        }
    }

    /// Gives the operation up unfinished (its rollback failed): the reclaimer of any
    /// instance retries the rollback.
    pub async fn abandon(self) {
        self.heartbeat.abort();
        if let Err(err) = self.registry.release_operation(self.id).await {
            tracing::warn!(operation = %self.id, error = %err, "cannot release an operation; its lease will lapse");
        }
    }

    /// Ends the operation.
    pub async fn finish(self, outcome: Outcome) {
        self.heartbeat.abort();
        if let Err(err) = self.registry.finish_operation(self.id, outcome).await {
            tracing::warn!(operation = %self.id, error = %err, "cannot close an operation's record");
        }
    }
}

impl Drop for RunningOperation {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}
