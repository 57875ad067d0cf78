//! Tenants, API tokens and the tenant event log.

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
            .execute_unprepared("DROP TABLE tenant_events; DROP TABLE api_tokens; DROP TABLE tenants;")
            .await
            .map(|_| ())
    }
}

const UP: &str = r#"
CREATE TABLE tenants (
    id              uuid PRIMARY KEY,
    slug            text NOT NULL UNIQUE,
    name            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('PROVISIONING', 'ACTIVE', 'SUSPENDED', 'DELETED')),
    status_reason   text,
    db_host         text NOT NULL,
    db_port         integer NOT NULL CHECK (db_port BETWEEN 1 AND 65535),
    db_name         text NOT NULL,
    db_username     text NOT NULL,
    -- sealed (XChaCha20-Poly1305, see src/tenancy/sealing.rs); never a plain password
    db_password     text CHECK (db_password IS NULL OR db_password LIKE 'v1.%'),
    schema_version  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_status_idx ON tenants (status);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name          text NOT NULL,
    -- SHA-256 of the token; the token itself is shown once and never stored
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    scopes        text[] NOT NULL CHECK (scopes <@ ARRAY['READ', 'WRITE']::text[] AND cardinality(scopes) > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id);

-- Append-only. No foreign key: the log outlives a purged or never-finished tenant.
CREATE TABLE tenant_events (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid,
    slug        text NOT NULL,
    kind        text NOT NULL,
    detail      text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_events_tenant_idx ON tenant_events (tenant_id, created_at);

-- Tenant roles have no business in the registry: take CONNECT from PUBLIC where we own
-- the database (an operator-managed registry may already do this itself).
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'registry database not owned by this role; CONNECT for PUBLIC left as is';
END
$$;
"#;
