//! Long admin operations (provisioning, restore; later moves and imports) are recorded
//! with their current step and a lease that the running instance renews. When the lease
//! lapses (the process died), any instance claims the record and finishes or rolls back
//! the operation. At most one open operation per tenant.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE long_operations (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('provision', 'restore', 'move', 'import')),
    tenant_id    uuid NOT NULL,
    slug         text NOT NULL,
    step         text NOT NULL,
    -- the database this operation creates, dropped if it is rolled back
    new_database text,
    -- the database it replaces, dropped once it is done
    replaces_database text,
    -- the instance holding the lease, and until when
    owner        uuid NOT NULL,
    lease_until  timestamptz NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    outcome      text CHECK (outcome IN ('done', 'failed', 'rolled_back')),
    CHECK ((finished_at IS NULL) = (outcome IS NULL))
);
CREATE INDEX long_operations_open_idx ON long_operations (lease_until) WHERE finished_at IS NULL;
CREATE UNIQUE INDEX long_operations_one_open_per_tenant ON long_operations (tenant_id) WHERE finished_at IS NULL;
"#,
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE long_operations;")
            .await
            .map(|_| ())
    }
}
