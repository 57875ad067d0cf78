//! A tenant's writes can be paused (restore; later moves): its mutations get
//! `TENANT_READ_ONLY` while reads go on. The database itself enforces the pause too (the
//! login role's write rights are withdrawn); this flag lets every instance answer it
//! before touching the database.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE tenants ADD COLUMN writes_paused boolean NOT NULL DEFAULT false;")
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE tenants DROP COLUMN writes_paused;")
            .await
            .map(|_| ())
    }
}
