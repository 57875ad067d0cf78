//! Who owns a tenant database and who may do what in it (DESIGN.md "Ledger invariants
//! in the database itself"): the one place that says it, applied as one idempotent step.
//!
//! Each tenant has two roles. A NOLOGIN *owner* role ([`owner_role`]) owns the database,
//! its `public` schema and every object in it; migrations, seeding and restores run as
//! it (an admin connection `SET ROLE`s to it, [`owner_connection`]). The *login* role,
//! whose sealed password is in the registry, owns nothing and may only read every
//! table and write where the service writes ([`WRITES`]): no TRUNCATE, no DDL, no
//! CREATE on the database or schema, no TEMP, no EXECUTE on our functions, no
//! membership in the owner role. It therefore cannot switch off a trigger, drop the
//! schema, move the numbering counter or drop its database.
//!
//! [`apply`] runs over an admin connection to the tenant database, since only an admin
//! can create roles and change a database's owner. It converts a tenant made before the
//! owner role existed (the login role owning everything), hands over the template
//! owner's objects after a copy, and re-grants after a migration or restore. It is
//! serialised per database with the migration lock key, so concurrent runners (and
//! migrations) never race on the catalog.

use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::sqlx::Executor as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, SqlxPostgresConnector, TransactionTrait};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::tenancy::registry::{admin_connection_to, admin_options};
use crate::tenancy::template::TEMPLATE_OWNER;

/// `lock_timeout` of the ownership transaction: `ALTER DATABASE ... OWNER`, `REASSIGN
/// OWNED` and the schema lock itself may wait behind another session (a login-role
/// session idle in a transaction, a runner elsewhere); past this the step fails
/// (SQLSTATE 55P03) instead of waiting for ever.
pub const LOCK_TIMEOUT: &str = "30s";

/// Advisory lock key for "changing this database's schema or privileges" ("NUSAMIGR"),
/// shared with `migrate tenants`. Advisory locks are per database.
pub const SCHEMA_LOCK_KEY: i64 = 0x4e55_5341_4d49_4752;

/// The writes the service makes as the login role, table by table: what a writable
/// tenant grants beyond SELECT on every table. Nothing here for `journal_sequence`,
/// `account_day_total` and `account_month_total` (moved only by the posting triggers),
/// `fiscal_year` (written through its own functions) or `seaql_migrations`; no UPDATE of lines
/// (a draft's lines are replaced, never edited); no DELETE of accounts or the company.
pub const WRITES: &[(&str, &str)] = &[
    ("account", "INSERT, UPDATE"),
    ("company", "UPDATE"),
    ("journal_entry", "INSERT, UPDATE, DELETE"),
    ("journal_line", "INSERT, DELETE"),
    // Append-only: the time is the database's, changes are refused (trigger and rights).
    ("audit_event", "INSERT"),
    ("idempotent_request", "INSERT"),
];

/// The functions the login role may call, with their argument types: `SECURITY DEFINER`
/// functions that check their own rules and write what the login role cannot write
/// itself (closing and reopening a fiscal year writes `fiscal_year`). Granted with the
/// writes and withdrawn with them, since they write too. Every other function of the
/// schema stays without EXECUTE for the login role.
pub const CALLS: &[&str] = migration::m20261201_000002_fiscal_year_close::LOGIN_CALLABLE;

/// Whether the login role may write ([`WRITES`]) or only read (a paused tenant, e.g.
/// while it is restored or moved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    ReadOnly,
}

/// The owner role of a tenant whose login role is `login`: `<login>_owner`, or, where
/// that would pass PostgreSQL's 63-byte limit, the login name cut short plus a hash of
/// the whole of it (so two long names never share an owner).
pub fn owner_role(login: &str) -> String {
    const SUFFIX: &str = "_owner";
    const MAX: usize = 63;
    if login.len() + SUFFIX.len() <= MAX {
        return format!("{login}{SUFFIX}");
    }
    let digest = Sha256::digest(login.as_bytes());
    let hash = hex::encode(&digest[..4]);
    // Role names are ASCII ([a-z0-9_]), so any byte index is a char boundary.
    let keep = MAX - SUFFIX.len() - hash.len() - 1;
    format!("{}_{hash}{SUFFIX}", &login[..keep.min(login.len())])
}

/// `name` as a quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a quoted SQL literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Statements that create the owner role if it is missing and let the current (admin)
/// user act as it (`SET ROLE`, `ALTER DATABASE ... OWNER`).
pub fn owner_role_statements(owner: &str) -> Vec<String> {
    vec![
        format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {}) THEN \
             CREATE ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION; END IF; END $$",
            literal(owner),
            ident(owner)
        ),
        format!(
            "DO $$ BEGIN IF NOT pg_has_role(CURRENT_USER, {}, 'MEMBER') THEN EXECUTE {}; END IF; END $$",
            literal(owner),
            literal(&format!("GRANT {} TO CURRENT_USER", ident(owner)))
        ),
    ]
}

/// Grants (or withdraws, for [`Access::ReadOnly`]) the login role's writes, for the
/// tables of [`WRITES`] and the functions of [`CALLS`] that exist.
pub fn write_statements(login: &str, access: Access) -> Vec<String> {
    let calls = CALLS.iter().map(|function| {
        let (verb, preposition) = match access {
            Access::ReadWrite => ("GRANT", "TO"),
            Access::ReadOnly => ("REVOKE", "FROM"),
        };
        let statement = format!(
            "{verb} EXECUTE ON FUNCTION public.{function} {preposition} {}",
            ident(login)
        );
        format!(
            "DO $$ BEGIN IF to_regprocedure({}) IS NOT NULL THEN EXECUTE {}; END IF; END $$",
            literal(&format!("public.{function}")),
            literal(&statement)
        )
    });
    match access {
        Access::ReadOnly => std::iter::once(format!(
            "REVOKE INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM {}",
            ident(login)
        ))
        .chain(calls)
        .collect(),
        Access::ReadWrite => WRITES
            .iter()
            .map(|(table, rights)| {
                let grant = format!("GRANT {rights} ON public.{} TO {}", ident(table), ident(login));
                format!(
                    "DO $$ BEGIN IF to_regclass({}) IS NOT NULL THEN EXECUTE {}; END IF; END $$",
                    literal(&format!("public.{table}")),
                    literal(&grant)
                )
            })
            .chain(calls)
            .collect(),
    }
}

/// The whole "who owns what, who may do what" of a tenant database, as statements to
/// run in one transaction over an admin connection to it; no lock is waited for longer
/// than [`LOCK_TIMEOUT`].
pub fn canonical_statements(database: &str, login: &str, access: Access) -> Vec<String> {
    let owner = owner_role(login);
    let (db, login_q, owner_q) = (ident(database), ident(login), ident(&owner));
    let mut sql = vec![
        format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"),
        format!("SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})"),
    ];
    sql.extend(owner_role_statements(&owner));
    sql.extend([
        format!("ALTER DATABASE {db} OWNER TO {owner_q}"),
        format!("ALTER SCHEMA public OWNER TO {owner_q}"),
        // A tenant made before the owner role: its login role owned everything.
        format!("REASSIGN OWNED BY {login_q} TO {owner_q}"),
        // A copy of the template: its objects (and its grants) belonged to the template owner.
        format!(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {tmpl_l}) THEN \
             EXECUTE {reassign}; EXECUTE {drop}; END IF; END $$",
            tmpl_l = literal(TEMPLATE_OWNER),
            reassign = literal(&format!("REASSIGN OWNED BY {} TO {owner_q}", ident(TEMPLATE_OWNER))),
            drop = literal(&format!("DROP OWNED BY {}", ident(TEMPLATE_OWNER))),
        ),
        format!(
            "DO $$ BEGIN IF pg_has_role({}, {}, 'MEMBER') THEN EXECUTE {}; END IF; END $$",
            literal(login),
            literal(&owner),
            literal(&format!("REVOKE {owner_q} FROM {login_q}"))
        ),
        // Start from nothing: neither PUBLIC nor the login role keeps any right.
        format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC, {login_q}"),
        format!("REVOKE ALL ON SCHEMA public FROM PUBLIC, {login_q}"),
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC, {login_q}"),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC, {login_q}"),
        format!("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC, {login_q}"),
        format!("ALTER DEFAULT PRIVILEGES FOR ROLE {owner_q} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"),
        // Then what the service needs: connect, read everything, write where it writes.
        // Trigger functions need no EXECUTE right to fire; only [`CALLS`] are called.
        format!("GRANT CONNECT ON DATABASE {db} TO {login_q}"),
        format!("GRANT USAGE ON SCHEMA public TO {login_q}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {login_q}"),
        // Reading a sequence's state is part of reading everything (pg_dump does).
        format!("GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {login_q}"),
    ]);
    sql.extend(write_statements(login, access));
    sql
}

/// Runs [`canonical_statements`] in one transaction over `admin`, an admin connection
/// to the tenant database `database`.
pub async fn apply_on(admin: &DatabaseConnection, database: &str, login: &str, access: Access) -> Result<()> {
    let txn = admin.begin().await?;
    for statement in canonical_statements(database, login, access) {
        txn.execute_unprepared(&statement).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// [`apply_on`] over a fresh admin connection to `database`.
pub async fn apply(admin_url: &SecretString, database: &str, login: &str, access: Access) -> Result<()> {
    let admin = admin_connection_to(admin_url, database, "nusa-journal-ownership").await?;
    let applied = apply_on(&admin, database, login, access).await;
    let _ = admin.close().await;
    applied
}

/// Grants or withdraws the login role's writes, leaving everything else as it is: a
/// pause the database itself enforces (a write is refused with SQLSTATE 42501,
/// `insufficient_privilege`), whatever instance sends it. `admin` is an admin
/// connection to the tenant database (or one that has `SET ROLE` to its owner).
pub async fn set_writable(admin: &impl ConnectionTrait, login: &str, access: Access) -> Result<()> {
    for statement in write_statements(login, access) {
        admin.execute_unprepared(&statement).await?;
    }
    Ok(())
}

/// Whether the login role may write now ([`Access::ReadOnly`] while a restore's pause
/// has withdrawn its writes), read over `admin`, a connection to the tenant database.
pub async fn current_access(admin: &impl ConnectionTrait, login: &str) -> Result<Access> {
    let row = admin
        .query_one_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT to_regclass('public.journal_entry') IS NULL
                    OR has_table_privilege($1, 'public.journal_entry', 'INSERT') AS writable",
            [login.into()],
        ))
        .await?;
    let writable: bool = match row {
        Some(row) => row.try_get("", "writable")?,
        None => true,
    };
    Ok(if writable { Access::ReadWrite } else { Access::ReadOnly })
}

/// A one-connection pool to `database` as the admin, acting as the tenant's owner role
/// (`SET ROLE` on every new connection, so a reconnect never runs as the admin itself):
/// what migrations, seeding and restores run as.
pub async fn owner_connection(
    admin_url: &SecretString,
    database: &str,
    owner: &str,
    application_name: &str,
) -> Result<DatabaseConnection> {
    let options = admin_options(admin_url, database, application_name)?;
    let set_role = format!("SET ROLE {}", ident(owner));
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, _| {
            // The role name is a quoted identifier of a validated slug.
            let statement = sea_orm::sqlx::raw_sql(sea_orm::sqlx::AssertSqlSafe(set_role.clone()));
            Box::pin(async move { conn.execute(statement).await.map(|_| ()) })
        })
        .connect_with(options)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("connecting to {database} as its owner: {e}")))?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

/// Drops the owner role of `login` (after its database is gone): what it still owns
/// elsewhere or was granted goes first. A missing role is fine.
pub async fn drop_owner_role(admin: &impl ConnectionTrait, login: &str) -> Result<()> {
    let owner = owner_role(login);
    admin
        .execute_unprepared(&format!(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {}) THEN EXECUTE {}; END IF; END $$",
            literal(&owner),
            literal(&format!("DROP OWNED BY {}", ident(&owner)))
        ))
        .await?;
    admin
        .execute_unprepared(&format!("DROP ROLE IF EXISTS {}", ident(&owner)))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_names_fit_and_stay_apart() {
        assert_eq!(owner_role("nusa_tenant_pt_maju"), "nusa_tenant_pt_maju_owner");
        let long_a = format!("nusa_tenant_{}", "a".repeat(50));
        let long_b = format!("nusa_tenant_{}b", "a".repeat(49));
        for login in [&long_a, &long_b] {
            let owner = owner_role(login);
            assert!(owner.len() <= 63, "{owner}");
            assert!(owner.ends_with("_owner"));
            assert_ne!(&owner, login);
        }
        assert_ne!(owner_role(&long_a), owner_role(&long_b));
        assert_eq!(owner_role(&long_a), owner_role(&long_a), "the same name every time");
    }

    #[test]
    fn the_login_role_gets_no_more_than_the_service_needs() {
        let all = canonical_statements("nusa_journal_pt_a", "nusa_tenant_pt_a", Access::ReadWrite).join(";\n");
        assert!(all.contains(r#"ALTER DATABASE "nusa_journal_pt_a" OWNER TO "nusa_tenant_pt_a_owner""#));
        assert!(all.contains(r#"REASSIGN OWNED BY "nusa_tenant_pt_a" TO "nusa_tenant_pt_a_owner""#));
        assert!(!all.contains("TRUNCATE"));
        assert!(!all.contains("GRANT ALL"));
        assert!(!all.contains("journal_sequence"), "the counter is only read");
        assert!(!all.contains("GRANT CREATE") && !all.contains("TEMP"));
        let grants: Vec<&str> = all
            .lines()
            .filter(|l| l.contains("GRANT ") && !l.contains("REVOKE"))
            .collect();
        assert!(
            grants.iter().all(|g| !g.contains(r#"TO "nusa_tenant_pt_a_owner""#)),
            "the owner needs no grants: it owns"
        );
        assert!(
            all.starts_with("SET LOCAL lock_timeout = '30s';\nSELECT pg_advisory_xact_lock("),
            "bounded before the first wait"
        );
        let read_only = canonical_statements("nusa_journal_pt_a", "nusa_tenant_pt_a", Access::ReadOnly).join(";\n");
        assert!(!read_only.contains("INSERT, UPDATE") || read_only.contains("REVOKE INSERT, UPDATE, DELETE"));
        assert!(!read_only.contains("GRANT INSERT") && !read_only.contains("GRANT UPDATE"));
    }

    #[test]
    fn the_login_role_calls_only_the_listed_functions_and_only_while_it_may_write() {
        let writable = write_statements("nusa_tenant_pt_a", Access::ReadWrite);
        let granted: Vec<&String> = writable.iter().filter(|s| s.contains("EXECUTE ON FUNCTION")).collect();
        assert_eq!(granted.len(), CALLS.len());
        for (statement, function) in granted.iter().zip(CALLS) {
            assert!(
                statement.contains(&format!(
                    r#"GRANT EXECUTE ON FUNCTION public.{function} TO "nusa_tenant_pt_a""#
                )),
                "{statement}"
            );
            // Only where the function exists (a tenant not migrated yet has none).
            assert!(
                statement.contains(&format!("to_regprocedure('public.{function}') IS NOT NULL")),
                "{statement}"
            );
        }
        assert!(CALLS.iter().all(|f| f.starts_with("nusa_") && f.ends_with(')')));
        let paused = write_statements("nusa_tenant_pt_a", Access::ReadOnly).join(";\n");
        assert!(!paused.contains("GRANT "), "{paused}");
        for function in CALLS {
            assert!(
                paused.contains(&format!(
                    r#"REVOKE EXECUTE ON FUNCTION public.{function} FROM "nusa_tenant_pt_a""#
                )),
                "a paused tenant cannot close a year either: {paused}"
            );
        }
        // The canonical step revokes every function first, then grants only these.
        let all = canonical_statements("nusa_journal_pt_a", "nusa_tenant_pt_a", Access::ReadWrite);
        let revoke_all = all.iter().position(|s| s.starts_with("REVOKE ALL ON ALL FUNCTIONS"));
        let first_grant = all.iter().position(|s| s.contains("GRANT EXECUTE ON FUNCTION"));
        assert!(revoke_all.is_some() && revoke_all < first_grant);
        assert_eq!(
            all.iter().filter(|s| s.contains("EXECUTE ON FUNCTION public.")).count(),
            CALLS.len()
        );
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(literal("it's"), "'it''s'");
    }
}
