//! The company: one row per tenant database, the fields of `Company` in API.md.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(UP).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE company;")
            .await
            .map(|_| ())
    }
}

const UP: &str = r#"
CREATE TABLE company (
    id                       uuid PRIMARY KEY,
    -- exactly one company per tenant database
    singleton                boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
    name                     text NOT NULL CHECK (length(btrim(name)) > 0),
    legal_name               text,
    tax_id                   text,
    base_currency            text NOT NULL DEFAULT 'IDR' CHECK (base_currency ~ '^[A-Z]{3}$'),
    fiscal_year_start_month  smallint NOT NULL DEFAULT 1 CHECK (fiscal_year_start_month BETWEEN 1 AND 12),
    lock_date                date,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
"#;
