//! Settings, read from the environment once at start and validated with clear errors.
//!
//! [`Settings`] is what the environment says (much of it optional); [`ServiceConfig`]
//! is the complete configuration a running service needs, produced by
//! [`crate::embedded::prepare`] (which fills the gaps from the embedded default) or
//! built directly by tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{anyhow, Context};
use secrecy::{ExposeSecret, SecretString};

use crate::tenancy::sealing::{MasterKey, Sealer};

/// The environment as given. Only `config.rs` reads environment variables.
#[derive(Debug)]
pub struct Settings {
    /// `REGISTRY_DATABASE_URL`; unset means the embedded local cluster.
    pub registry_database_url: Option<SecretString>,
    /// `TENANT_DB_HOST` / `TENANT_DB_PORT`: where tenant databases are created.
    pub tenant_db_host: Option<String>,
    pub tenant_db_port: Option<u16>,
    /// `TENANT_DB_ADMIN_URL`: a role allowed to create roles and databases.
    pub tenant_db_admin_url: Option<SecretString>,
    /// `TENANT_DB_USERNAME_PREFIX`.
    pub tenant_role_prefix: String,
    /// `NUSA_MASTER_KEY` and `NUSA_OLD_MASTER_KEYS` (comma-separated), base64 32-byte keys.
    pub master_key: Option<SecretString>,
    pub old_master_keys: Option<SecretString>,
    /// `NUSA_ADMIN_TOKEN`: bearer token of the admin API.
    pub admin_token: Option<SecretString>,
    /// `NUSA_DATA_DIR`: the embedded default's folder, made absolute here (default
    /// `./.nusa` of the working directory at start), so no later `current_dir` of a
    /// child process changes what it means.
    pub data_dir: PathBuf,
    pub limits: TenancyLimits,
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `ADMIN_BIND_ADDR`: when set, `/admin/graphql` and `/metrics` are served only there.
    pub admin_bind_addr: Option<SocketAddr>,
    /// `TENANT_TEMPLATE`: `on` (default) or `off`.
    pub use_template: bool,
    pub api: ApiLimits,
}

/// Bounds of the tenant connection manager.
#[derive(Debug, Clone)]
pub struct TenancyLimits {
    /// `TENANT_CACHE_CAPACITY`: tenants with an open pool.
    pub cache_capacity: usize,
    /// `TENANT_POOL_MAX_CONNECTIONS`: connections per tenant pool.
    pub pool_max_connections: u32,
    /// `TENANT_STATEMENT_TIMEOUT_MS`: `statement_timeout` of every tenant connection.
    pub statement_timeout: Duration,
    /// `TENANT_CONNECT_TIMEOUT_MS`: how long opening a tenant connection may take.
    pub connect_timeout: Duration,
    /// `REGISTRY_CACHE_TTL_MS`: how long a cached registry row is trusted.
    pub registry_cache_ttl: Duration,
    /// `OPERATION_LEASE_MS`: how long a long operation (provisioning, restore) stays its
    /// instance's without a heartbeat; after that any instance rolls it back.
    pub operation_lease: Duration,
    /// `MIGRATE_LOCK_WAIT_MS`: how long `migrate tenants` waits for a tenant database's
    /// schema lock (held by another runner, or by anyone holding its advisory key)
    /// before that tenant counts as failed.
    pub migrate_lock_wait: Duration,
    /// `TENANT_MAX_IN_FLIGHT`: requests one tenant may have in flight on this instance;
    /// beyond it 429 `RATE_LIMITED`. Default twice `TENANT_POOL_MAX_CONNECTIONS`: a
    /// queue as long as the pool, so one tenant cannot take every worker and socket.
    pub max_in_flight: usize,
}

impl Default for TenancyLimits {
    fn default() -> Self {
        TenancyLimits {
            cache_capacity: 100,
            pool_max_connections: 5,
            statement_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            registry_cache_ttl: Duration::from_secs(5),
            operation_lease: crate::tenancy::operations::DEFAULT_LEASE,
            migrate_lock_wait: crate::tenancy::fleet::DEFAULT_LOCK_WAIT,
            max_in_flight: 10,
        }
    }
}

/// Limits on what one HTTP/GraphQL request may ask for (abuse protection), and which
/// browser origins may ask.
#[derive(Debug, Clone)]
pub struct ApiLimits {
    /// `GRAPHQL_MAX_DEPTH`: deepest selection nesting.
    pub max_depth: usize,
    /// `GRAPHQL_MAX_COMPLEXITY`: summed field costs (lists cost `first` x their children).
    pub max_complexity: usize,
    /// `GRAPHQL_MAX_DIRECTIVES`: directives on one field.
    pub max_directives: usize,
    /// `GRAPHQL_MAX_RECURSIVE_DEPTH`: nesting the parser and validator will follow.
    pub max_recursive_depth: usize,
    /// `GRAPHQL_MAX_PAGE_SIZE`: cap on `first` of every connection.
    pub max_page_size: i32,
    /// `GRAPHQL_MAX_BATCH`: operations in one batched request.
    pub max_batch: usize,
    /// `GRAPHQL_DOCUMENT_CACHE`: parsed documents kept by their text (0 turns it off).
    pub document_cache_entries: usize,
    /// `MAX_BODY_BYTES`: largest request body.
    pub max_body_bytes: usize,
    /// `GRAPHQL_MAX_RESOLVED_VALUES`: values the queries of one request (a whole batch)
    /// may resolve before they answer `RESULT_TOO_LARGE`.
    pub max_resolved_values: u64,
    /// `MAX_RESPONSE_BYTES`: about how many bytes of JSON the queries of one request may
    /// answer before they answer `RESULT_TOO_LARGE`.
    pub max_response_bytes: u64,
    /// `REQUEST_TIMEOUT_MS`: longest a GraphQL request may run.
    pub request_timeout: Duration,
    /// `SHUTDOWN_GRACE_MS`: how long in-flight requests may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// `METRICS_TENANT_LABELS`: tenants that get their own metrics label (the first N
    /// seen); the rest share `tenant="other"`. 0 turns per-tenant labels off.
    pub metrics_tenant_labels: usize,
    /// `CORS_ALLOWED_ORIGINS`: browser origins (exact, comma-separated, such as
    /// `https://books.example.com`) whose pages may call the API. Empty: no CORS headers.
    pub cors_allowed_origins: Vec<String>,
    /// `HTTP_HEADER_READ_TIMEOUT_MS`: time a client has to send a request's complete
    /// headers (HTTP/1.1), from the connection's start or the end of the previous
    /// response; a slow-header ("slowloris") connection is closed after it.
    pub header_read_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT_MS`: a connection with no request in flight and no bytes
    /// moving for this long is closed (a kept-alive connection between requests).
    pub idle_timeout: Duration,
    /// `IMPORT_MAX_BYTES`: largest CSV body of `POST /{tenant}/imports/...` (413 beyond).
    pub import_max_bytes: usize,
    /// `IMPORT_READ_TIMEOUT_MS`: time a client has to send an import's whole body (a
    /// slow upload holds an import place and memory).
    pub import_read_timeout: Duration,
    /// `IMPORT_MAX_CONCURRENT`: uploads read or imported at once on this instance (each
    /// may hold `IMPORT_MAX_BYTES` in memory); beyond it, and beyond one per tenant,
    /// 429 `RATE_LIMITED`.
    pub import_max_concurrent: usize,
    /// `IMPORT_TIME_LIMIT_MS`: longest an uploaded entries import runs before it stops
    /// writing (504 `TIMEOUT`, nothing written).
    pub import_time_limit: Duration,
    /// CSV exports (`/{tenant}/exports/...`), each of which holds one of its tenant's
    /// connections while it streams.
    pub exports: ExportLimits,
}

/// Bounds of CSV exports: an export holds a tenant connection (one snapshot) for as long
/// as it streams, so a slow or stalled client must not hold it long, nor many at once.
#[derive(Debug, Clone)]
pub struct ExportLimits {
    /// `EXPORT_MAX_PER_TENANT`: exports one tenant may run at once on this instance
    /// (beyond it 429 `RATE_LIMITED`); keep it below `TENANT_POOL_MAX_CONNECTIONS`.
    pub max_per_tenant: usize,
    /// `EXPORT_TIMEOUT_MS`: longest an export may stream; past it the transfer is cut.
    pub timeout: Duration,
    /// `EXPORT_STALL_TIMEOUT_MS`: longest the next piece (5,000 rows) may wait for the
    /// client to take the previous one; past it the transfer is cut and the connection
    /// released (a client must keep up at least that rate).
    pub stall_timeout: Duration,
}

impl Default for ExportLimits {
    fn default() -> Self {
        ExportLimits {
            max_per_tenant: 2,
            timeout: Duration::from_secs(15 * 60),
            stall_timeout: Duration::from_secs(30),
        }
    }
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            max_depth: 16,
            max_complexity: 20_000,
            max_directives: 8,
            max_recursive_depth: 32,
            max_page_size: 200,
            max_batch: 10,
            document_cache_entries: 256,
            max_body_bytes: 1024 * 1024,
            max_resolved_values: 100_000,
            max_response_bytes: 8 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            metrics_tenant_labels: 100,
            cors_allowed_origins: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            import_max_bytes: 50 * 1024 * 1024,
            import_read_timeout: Duration::from_secs(120),
            import_max_concurrent: 2,
            import_time_limit: Duration::from_secs(600),
            exports: ExportLimits::default(),
        }
    }
}

impl ApiLimits {
    fn from_env() -> anyhow::Result<Self> {
        let d = ApiLimits::default();
        Ok(ApiLimits {
            max_depth: parse_var("GRAPHQL_MAX_DEPTH")?.unwrap_or(d.max_depth),
            max_complexity: parse_var("GRAPHQL_MAX_COMPLEXITY")?.unwrap_or(d.max_complexity),
            max_directives: parse_var("GRAPHQL_MAX_DIRECTIVES")?.unwrap_or(d.max_directives),
            max_recursive_depth: parse_var("GRAPHQL_MAX_RECURSIVE_DEPTH")?.unwrap_or(d.max_recursive_depth),
            max_page_size: parse_var("GRAPHQL_MAX_PAGE_SIZE")?.unwrap_or(d.max_page_size),
            max_batch: parse_var("GRAPHQL_MAX_BATCH")?.unwrap_or(d.max_batch),
            document_cache_entries: parse_var("GRAPHQL_DOCUMENT_CACHE")?.unwrap_or(d.document_cache_entries),
            max_body_bytes: parse_var("MAX_BODY_BYTES")?.unwrap_or(d.max_body_bytes),
            max_resolved_values: parse_var("GRAPHQL_MAX_RESOLVED_VALUES")?.unwrap_or(d.max_resolved_values),
            max_response_bytes: parse_var("MAX_RESPONSE_BYTES")?.unwrap_or(d.max_response_bytes),
            request_timeout: parse_var("REQUEST_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.request_timeout),
            shutdown_grace: parse_var("SHUTDOWN_GRACE_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.shutdown_grace),
            metrics_tenant_labels: parse_var("METRICS_TENANT_LABELS")?.unwrap_or(d.metrics_tenant_labels),
            cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                .map(|list| parse_origins(&list))
                .transpose()
                .context("CORS_ALLOWED_ORIGINS")?
                .unwrap_or(d.cors_allowed_origins),
            header_read_timeout: parse_var("HTTP_HEADER_READ_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.header_read_timeout),
            idle_timeout: parse_var("HTTP_IDLE_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.idle_timeout),
            import_max_bytes: parse_var("IMPORT_MAX_BYTES")?.unwrap_or(d.import_max_bytes),
            import_read_timeout: parse_var("IMPORT_READ_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.import_read_timeout),
            import_max_concurrent: parse_var("IMPORT_MAX_CONCURRENT")?.unwrap_or(d.import_max_concurrent),
            import_time_limit: parse_var("IMPORT_TIME_LIMIT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(d.import_time_limit),
            exports: ExportLimits {
                max_per_tenant: match parse_var("EXPORT_MAX_PER_TENANT")? {
                    Some(0) => return Err(anyhow!("EXPORT_MAX_PER_TENANT must be at least 1")),
                    given => given.unwrap_or(d.exports.max_per_tenant),
                },
                timeout: parse_var("EXPORT_TIMEOUT_MS")?
                    .map(Duration::from_millis)
                    .unwrap_or(d.exports.timeout),
                stall_timeout: parse_var("EXPORT_STALL_TIMEOUT_MS")?
                    .map(Duration::from_millis)
                    .unwrap_or(d.exports.stall_timeout),
            },
        })
    }
}

/// Comma-separated exact origins (`scheme://host[:port]`, as a browser sends them in
/// `Origin`): no wildcard, path or trailing slash, which would never match.
fn parse_origins(list: &str) -> anyhow::Result<Vec<String>> {
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let parsed = url::Url::parse(origin).map_err(|e| anyhow!("{origin:?} is not an origin: {e}"))?;
            let exact = parsed.origin().ascii_serialization();
            if !matches!(parsed.scheme(), "http" | "https") || exact != origin {
                return Err(anyhow!(
                    "{origin:?} is not an exact origin: write it as a browser sends it, such as \
                     https://books.example.com (http or https, no path, no trailing slash, no wildcard)"
                ));
            }
            Ok(exact)
        })
        .collect()
}

/// Everything a running service needs, with no gaps.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub registry_url: SecretString,
    pub tenant_admin_url: SecretString,
    pub tenant_db_host: String,
    pub tenant_db_port: u16,
    pub tenant_role_prefix: String,
    pub sealer: Sealer,
    pub admin_token: SecretString,
    pub limits: TenancyLimits,
    pub bind_addr: SocketAddr,
    /// A second listener for `/admin/graphql` and `/metrics` (then not on `bind_addr`).
    pub admin_bind_addr: Option<SocketAddr>,
    /// Copy new tenant databases from a template database (`TENANT_TEMPLATE=off` disables).
    pub use_template: bool,
    pub api: ApiLimits,
}

pub const DEFAULT_ROLE_PREFIX: &str = "nusa_tenant_";

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let defaults = TenancyLimits::default();
        let limits = TenancyLimits {
            cache_capacity: parse_var("TENANT_CACHE_CAPACITY")?.unwrap_or(defaults.cache_capacity),
            pool_max_connections: parse_var("TENANT_POOL_MAX_CONNECTIONS")?.unwrap_or(defaults.pool_max_connections),
            statement_timeout: parse_var("TENANT_STATEMENT_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(defaults.statement_timeout),
            connect_timeout: parse_var("TENANT_CONNECT_TIMEOUT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(defaults.connect_timeout),
            registry_cache_ttl: parse_var("REGISTRY_CACHE_TTL_MS")?
                .map(Duration::from_millis)
                .unwrap_or(defaults.registry_cache_ttl),
            operation_lease: parse_var("OPERATION_LEASE_MS")?
                .map(Duration::from_millis)
                .unwrap_or(defaults.operation_lease),
            migrate_lock_wait: parse_var("MIGRATE_LOCK_WAIT_MS")?
                .map(Duration::from_millis)
                .unwrap_or(defaults.migrate_lock_wait),
            max_in_flight: 0,
        };
        if limits.operation_lease < Duration::from_millis(300) {
            return Err(anyhow!("OPERATION_LEASE_MS must be at least 300"));
        }
        let pool_max = limits.pool_max_connections;
        let limits = TenancyLimits {
            max_in_flight: parse_var("TENANT_MAX_IN_FLIGHT")?.unwrap_or(2 * pool_max as usize),
            ..limits
        };
        if limits.max_in_flight == 0 {
            return Err(anyhow!("TENANT_MAX_IN_FLIGHT must be at least 1"));
        }
        if limits.cache_capacity == 0 || limits.pool_max_connections == 0 {
            return Err(anyhow!(
                "TENANT_CACHE_CAPACITY and TENANT_POOL_MAX_CONNECTIONS must be at least 1"
            ));
        }
        let prefix = var("TENANT_DB_USERNAME_PREFIX").unwrap_or_else(|| DEFAULT_ROLE_PREFIX.to_owned());
        validate_role_prefix(&prefix)?;
        Ok(Settings {
            registry_database_url: var("REGISTRY_DATABASE_URL").map(SecretString::from),
            tenant_db_host: var("TENANT_DB_HOST"),
            tenant_db_port: parse_var("TENANT_DB_PORT")?,
            tenant_db_admin_url: var("TENANT_DB_ADMIN_URL").map(SecretString::from),
            tenant_role_prefix: prefix,
            master_key: var("NUSA_MASTER_KEY").map(SecretString::from),
            old_master_keys: var("NUSA_OLD_MASTER_KEYS").map(SecretString::from),
            admin_token: var("NUSA_ADMIN_TOKEN").map(SecretString::from),
            data_dir: absolute_path(&var("NUSA_DATA_DIR").unwrap_or_else(|| ".nusa".to_owned()))
                .context("NUSA_DATA_DIR")?,
            limits,
            bind_addr: parse_var("BIND_ADDR")?.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            admin_bind_addr: parse_var("ADMIN_BIND_ADDR")?,
            api: ApiLimits::from_env()?,
            use_template: match var("TENANT_TEMPLATE").as_deref() {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => return Err(anyhow!("TENANT_TEMPLATE={other:?}: use on or off")),
            },
        })
    }

    /// Completes the settings against a known registry URL (given, or the embedded cluster's).
    pub fn complete(
        &self,
        registry_url: SecretString,
        master_key: &SecretString,
        admin_token: SecretString,
    ) -> anyhow::Result<ServiceConfig> {
        let parsed = url::Url::parse(registry_url.expose_secret())
            .map_err(|_| anyhow!("REGISTRY_DATABASE_URL is not a valid postgres:// URL"))?;
        let sealer = build_sealer(master_key, self.old_master_keys.as_ref())?;
        if admin_token.expose_secret().len() < 16 {
            return Err(anyhow!("NUSA_ADMIN_TOKEN must be at least 16 characters"));
        }
        Ok(ServiceConfig {
            tenant_db_host: self
                .tenant_db_host
                .clone()
                .or_else(|| parsed.host_str().map(str::to_owned))
                .unwrap_or_else(|| "127.0.0.1".into()),
            tenant_db_port: self.tenant_db_port.or(parsed.port()).unwrap_or(5432),
            tenant_admin_url: self.tenant_db_admin_url.clone().unwrap_or_else(|| registry_url.clone()),
            registry_url,
            tenant_role_prefix: self.tenant_role_prefix.clone(),
            sealer,
            admin_token,
            limits: self.limits.clone(),
            bind_addr: self.bind_addr,
            admin_bind_addr: self.admin_bind_addr,
            use_template: self.use_template,
            api: self.api.clone(),
        })
    }
}

/// Builds the sealer from the current key and the comma-separated old keys.
pub fn build_sealer(master_key: &SecretString, old_keys: Option<&SecretString>) -> anyhow::Result<Sealer> {
    let current = MasterKey::from_base64(master_key.expose_secret()).context("NUSA_MASTER_KEY")?;
    let old = old_keys
        .map(|keys| {
            keys.expose_secret()
                .split(',')
                .filter(|k| !k.trim().is_empty())
                .map(MasterKey::from_base64)
                .collect()
        })
        .transpose()
        .context("NUSA_OLD_MASTER_KEYS")?
        .unwrap_or_default();
    Ok(Sealer::new(current, old))
}

/// A role prefix goes into DDL: it must be a plain lower-case identifier start.
fn validate_role_prefix(prefix: &str) -> anyhow::Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 12
        && prefix.starts_with(|c: char| c.is_ascii_lowercase())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "TENANT_DB_USERNAME_PREFIX must be 1 to 12 characters of a-z, 0-9 and _, starting with a letter"
        ))
    }
}

/// `raw` as an absolute path, against the working directory at this moment. Every path
/// from configuration or the command line goes through here once, when it is read.
pub fn absolute_path(raw: &str) -> anyhow::Result<PathBuf> {
    if raw.trim().is_empty() {
        return Err(anyhow!("a path must not be empty"));
    }
    std::path::absolute(raw).with_context(|| format!("cannot make {raw:?} an absolute path"))
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_var<T: FromStr>(name: &str) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    var(name)
        .map(|raw| {
            raw.trim()
                .parse::<T>()
                .map_err(|e| anyhow!("{name}={raw:?} is invalid: {e}"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_made_absolute_against_the_working_directory() {
        let cwd = std::env::current_dir().expect("cwd");
        assert_eq!(absolute_path(".nusa").expect("path"), cwd.join(".nusa"));
        assert_eq!(
            absolute_path("backups/a.dump").expect("path"),
            cwd.join("backups/a.dump")
        );
        assert_eq!(absolute_path("/srv/nusa").expect("path"), PathBuf::from("/srv/nusa"));
        assert!(absolute_path("").is_err());
    }

    #[test]
    fn cors_origins_are_exact() {
        assert_eq!(
            parse_origins(" https://books.example.com, http://localhost:5173 ,").expect("origins"),
            vec!["https://books.example.com", "http://localhost:5173"]
        );
        for bad in [
            "*",
            "https://books.example.com/",
            "https://a.example.com/app",
            "books.example.com",
            "null",
        ] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn role_prefix_rules() {
        assert!(validate_role_prefix("nusa_tenant_").is_ok());
        assert!(validate_role_prefix("t1_").is_ok());
        for bad in ["", "Nusa", "1abc", "a\"b", "nusa-tenant", "much_too_long_prefix_"] {
            assert!(validate_role_prefix(bad).is_err(), "{bad}");
        }
    }
}
