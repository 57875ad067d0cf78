//! Fleet operations: each tenant's last migration result.

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
ALTER TABLE tenants ADD COLUMN last_migration_result text;
ALTER TABLE tenants ADD COLUMN last_migrated_at timestamptz;
CREATE INDEX tenant_events_kind_idx ON tenant_events (slug, kind, created_at);
"#,
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "DROP INDEX tenant_events_kind_idx; ALTER TABLE tenants DROP COLUMN last_migrated_at, DROP COLUMN last_migration_result;",
            )
            .await
            .map(|_| ())
    }
}
