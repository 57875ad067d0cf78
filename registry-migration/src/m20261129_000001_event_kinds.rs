//! Event kinds are a closed list (`EventKind` in the code): the column stays `text`,
//! so adding a kind is an ordinary migration that replaces this constraint.

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
ALTER TABLE tenant_events ADD CONSTRAINT tenant_events_kind_known CHECK (kind IN (
    'created', 'provisioning_failed', 'provisioning_rolled_back', 'suspended', 'activated',
    'token_created', 'token_revoked', 'deleted', 'purged', 'backed_up', 'restored',
    'migrated', 'migration_failed'
));
"#,
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE tenant_events DROP CONSTRAINT tenant_events_kind_known;")
            .await
            .map(|_| ())
    }
}
