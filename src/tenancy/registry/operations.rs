//! The `long_operations` table: each long admin operation's step and lease (see
//! `crate::tenancy::operations` for how they are run and reclaimed).

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, SqlErr, Statement};
use uuid::Uuid;

use super::Registry;
use crate::error::{Error, Result};

/// What a long operation does; stored as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Provision,
    Restore,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Provision => "provision",
            OperationKind::Restore => "restore",
        }
    }

    fn parse(stored: &str) -> Option<Self> {
        match stored {
            "provision" => Some(OperationKind::Provision),
            "restore" => Some(OperationKind::Restore),
            _ => None,
        }
    }
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Failed,
    RolledBack,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled_back",
        }
    }
}

/// The databases an operation creates (dropped if it is rolled back) and replaces
/// (dropped once it is done).
#[derive(Debug, Clone, Copy, Default)]
pub struct OperationDatabases<'a> {
    pub creates: Option<&'a str>,
    pub replaces: Option<&'a str>,
}

/// An operation record, as stored.
#[derive(Debug, Clone, FromQueryResult)]
pub struct LongOperation {
    pub id: Uuid,
    kind: String,
    pub tenant_id: Uuid,
    pub slug: String,
    pub step: String,
    pub new_database: Option<String>,
    /// The database the operation replaces once it succeeds (a restore's old one).
    pub replaces_database: Option<String>,
}

impl LongOperation {
    /// `None` for a kind this binary does not know (written by a newer version).
    pub fn kind(&self) -> Option<OperationKind> {
        OperationKind::parse(&self.kind)
    }
}

fn statement(sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

fn seconds(lease: Duration) -> f64 {
    lease.as_secs_f64()
}

impl Registry {
    /// Records a new operation, leased to this instance. A tenant with an open operation
    /// gets `CONFLICT`.
    pub async fn begin_operation(
        &self,
        kind: OperationKind,
        tenant_id: Uuid,
        slug: &str,
        step: &str,
        databases: OperationDatabases<'_>,
        lease: Duration,
    ) -> Result<Uuid> {
        let id = Uuid::new_v4();
        let inserted = self
            .db
            .execute_raw(statement(
                "INSERT INTO long_operations (id, kind, tenant_id, slug, step, new_database, replaces_database, owner, lease_until)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))",
                vec![
                    id.into(),
                    kind.as_str().into(),
                    tenant_id.into(),
                    slug.into(),
                    step.into(),
                    databases.creates.map(str::to_owned).into(),
                    databases.replaces.map(str::to_owned).into(),
                    self.instance.into(),
                    seconds(lease).into(),
                ],
            ))
            .await;
        match inserted {
            Ok(_) => Ok(id),
            Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(Error::conflict(
                "slug",
                format!("another long operation is running on '{slug}'"),
            )),
            Err(err) => Err(err.into()),
        }
    }

    /// Extends the lease of an operation this instance holds; false when it holds it no
    /// longer (it lapsed and another instance claimed it) or the operation is over.
    pub async fn renew_operation(&self, id: Uuid, lease: Duration) -> Result<bool> {
        let renewed = self
            .db
            .execute_raw(statement(
                "UPDATE long_operations SET lease_until = now() + make_interval(secs => $3), updated_at = now()
                 WHERE id = $1 AND owner = $2 AND finished_at IS NULL",
                vec![id.into(), self.instance.into(), seconds(lease).into()],
            ))
            .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Records the step an operation is at.
    pub async fn operation_step(&self, id: Uuid, step: &str) -> Result<()> {
        self.db
            .execute_raw(statement(
                "UPDATE long_operations SET step = $2, updated_at = now() WHERE id = $1",
                vec![id.into(), step.into()],
            ))
            .await?;
        Ok(())
    }

    /// Gives an open operation up at once (its rollback failed half-way): any instance,
    /// this one included, claims and retries it on its next look.
    pub async fn release_operation(&self, id: Uuid) -> Result<()> {
        self.db
            .execute_raw(statement(
                "UPDATE long_operations SET owner = $2, lease_until = now(), updated_at = now()
                 WHERE id = $1 AND finished_at IS NULL",
                vec![id.into(), Uuid::nil().into()],
            ))
            .await?;
        Ok(())
    }

    /// Closes an operation.
    pub async fn finish_operation(&self, id: Uuid, outcome: Outcome) -> Result<()> {
        self.db
            .execute_raw(statement(
                "UPDATE long_operations SET finished_at = now(), updated_at = now(), outcome = $2
                 WHERE id = $1 AND finished_at IS NULL",
                vec![id.into(), outcome.as_str().into()],
            ))
            .await?;
        Ok(())
    }

    /// Claims (for this instance, for `lease`) up to `limit` open operations of other
    /// instances whose lease lapsed: their process died (or lost the registry for a
    /// lease; it can then commit nothing, see `Registry::switch_database`). Concurrent
    /// claimers skip each other's rows.
    pub async fn claim_lapsed_operations(&self, lease: Duration, limit: u64) -> Result<Vec<LongOperation>> {
        Ok(LongOperation::find_by_statement(statement(
            "UPDATE long_operations SET owner = $1, lease_until = now() + make_interval(secs => $2), updated_at = now()
             WHERE id IN (SELECT id FROM long_operations
                          WHERE finished_at IS NULL AND lease_until < now() AND owner <> $1
                          ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, tenant_id, slug, step, new_database, replaces_database",
            vec![self.instance.into(), seconds(lease).into(), (limit as i64).into()],
        ))
        .all(&self.db)
        .await?)
    }

    /// The open operation of a tenant, if any.
    pub async fn open_operation(&self, tenant_id: Uuid) -> Result<Option<LongOperation>> {
        Ok(LongOperation::find_by_statement(statement(
            "SELECT id, kind, tenant_id, slug, step, new_database, replaces_database FROM long_operations
             WHERE tenant_id = $1 AND finished_at IS NULL",
            vec![tenant_id.into()],
        ))
        .one(&self.db)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_as_written() {
        for kind in [OperationKind::Provision, OperationKind::Restore] {
            assert_eq!(OperationKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(OperationKind::parse("teleport"), None);
    }
}
