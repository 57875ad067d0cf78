//! Each tenant database records which tenant it belongs to, so that a backup restored
//! into another tenant is recognised (and refused) by what it holds, not by its file
//! name. The row is written by the service's owner connection; the login role reads it.

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
CREATE TABLE tenant_identity (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    tenant_id    uuid NOT NULL,
    slug         text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
"#,
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE tenant_identity;")
            .await
            .map(|_| ())
    }
}
