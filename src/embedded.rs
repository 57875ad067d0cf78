//! The embedded default: with no `REGISTRY_DATABASE_URL`, the service runs on a
//! PostgreSQL cluster of its own, with a master key and admin token generated once and
//! kept in the data folder (default `./.nusa`, made absolute when the settings are
//! read; mode 0600), and a demo tenant `pt-demo` provisioned on the first run.
//!
//! The cluster lives in `<data folder>/postgres`, except when we are root and the
//! `postgres` user (which runs the server) cannot reach the data folder, as for a clone
//! under `/root`: then it goes to the root-owned `/var/lib/nusa-journal/<id>` (not
//! the postgres user's home: that user could swap folders there for links to files
//! root then writes), and the file `postgres-location` in the data
//! folder records where, so the next run from the same folder finds the same cluster.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::{ExposeSecret, SecretString};

use crate::config::{ServiceConfig, Settings};
use crate::services::Services;
use crate::tenancy::provision::NewTenant;
use crate::tenancy::registry::connect_pool;
use crate::tenancy::sealing::MasterKey;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::Scope;
use local_postgres::{self, write_private, ClusterOptions, LocalCluster};

/// The registry database inside the embedded cluster.
const REGISTRY_DB: &str = "nusa_registry";
pub const DEMO_SLUG: &str = "pt-demo";
pub const DEMO_NAME: &str = "PT Demo Nusantara";

/// A complete configuration, and the local cluster when we run on the embedded default.
pub struct Prepared {
    pub config: ServiceConfig,
    /// Stops the cluster (if this process started it) when dropped.
    pub cluster: Option<LocalCluster>,
    /// Where the embedded default keeps its files, when running on it.
    pub embedded: Option<EmbeddedPaths>,
}

/// The folders of the embedded default (both absolute).
#[derive(Debug, Clone)]
pub struct EmbeddedPaths {
    /// Master key, admin token and demo token (0600), and `postgres-location`.
    pub data_dir: PathBuf,
    /// The PostgreSQL cluster's folder (`pgdata/`, its log, its superuser password).
    pub cluster_dir: PathBuf,
}

/// In the data folder: the absolute path of the cluster's folder, when it is not
/// `<data folder>/postgres`.
const CLUSTER_LOCATION_FILE: &str = "postgres-location";

/// Turns settings into a complete configuration, starting the embedded cluster if needed.
pub async fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    if let Some(url) = &settings.registry_database_url {
        let master_key = settings
            .master_key
            .clone()
            .ok_or_else(|| anyhow!("NUSA_MASTER_KEY is required when REGISTRY_DATABASE_URL is set"))?;
        let admin_token = settings
            .admin_token
            .clone()
            .ok_or_else(|| anyhow!("NUSA_ADMIN_TOKEN is required when REGISTRY_DATABASE_URL is set"))?;
        let config = settings.complete(url.clone(), &master_key, admin_token)?;
        return Ok(Prepared {
            config,
            cluster: None,
            embedded: None,
        });
    }

    let data_dir = settings.data_dir.clone();
    fs::create_dir_all(&data_dir).with_context(|| format!("creating the data folder {}", data_dir.display()))?;
    let cluster_dir = cluster_dir(&data_dir)?;
    restrict_data_dir(&data_dir, cluster_dir.starts_with(&data_dir))?;
    let options = ClusterOptions {
        root: cluster_dir.clone(),
        durable: true,
    };
    let cluster = tokio::task::spawn_blocking(move || LocalCluster::start_or_reuse(&options)).await??;
    ensure_database(&cluster.superuser_url("postgres"), REGISTRY_DB).await?;
    let master_key = match &settings.master_key {
        Some(key) => key.clone(),
        None => read_or_create_secret(&data_dir.join("master.key"), MasterKey::generate_base64)?,
    };
    let admin_token = match &settings.admin_token {
        Some(token) => token.clone(),
        None => read_or_create_secret(&data_dir.join("admin-token"), || {
            crate::tenancy::tokens::generate_token()
                .expose_secret()
                .replacen("nj_", "nja_", 1)
        })?,
    };
    let config = settings.complete(cluster.superuser_url(REGISTRY_DB), &master_key, admin_token)?;
    if let Some(old_port) = cluster.moved_from_port() {
        repoint_tenants(&config, old_port, cluster.port()).await?;
    }
    Ok(Prepared {
        config,
        cluster: Some(cluster),
        embedded: Some(EmbeddedPaths { data_dir, cluster_dir }),
    })
}

/// Where the cluster of `data_dir` lives: where an earlier run recorded it, else
/// `<data_dir>/postgres` when the server can reach it, else a new folder under the
/// `postgres` user's home (recorded for the next run).
fn cluster_dir(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let location_file = data_dir.join(CLUSTER_LOCATION_FILE);
    if let Some(recorded) = read_private(&location_file)? {
        let recorded = PathBuf::from(recorded.expose_secret());
        return trusted_cluster_location(&recorded).with_context(|| {
            format!(
                "{} names {}; remove it to let the service choose again",
                location_file.display(),
                recorded.display()
            )
        });
    }
    let in_place = data_dir.join("postgres");
    if in_place.join("pgdata").exists() || local_postgres::server_can_reach(&in_place)? {
        return Ok(in_place);
    }
    let elsewhere = local_postgres::server_user_clusters_dir()?.join(uuid::Uuid::new_v4().simple().to_string());
    write_private(&location_file, &elsewhere.to_string_lossy())?;
    tracing::info!(
        data_dir = %data_dir.display(),
        cluster = %elsewhere.display(),
        "the postgres user cannot reach the data folder: the cluster goes to /var/lib/nusa-journal"
    );
    Ok(elsewhere)
}

/// A recorded cluster folder is used only if it is one we would have chosen: a folder
/// named by 32 hex digits right under the clusters folder, not a link, owned by us.
/// (Root acts on that folder: it must never be one that someone else picked.)
fn trusted_cluster_location(recorded: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let clusters = PathBuf::from(local_postgres::SERVER_USER_CLUSTERS_DIR);
    let named_like_ours = recorded.parent() == Some(clusters.as_path())
        && recorded
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()));
    if !named_like_ours {
        anyhow::bail!(
            "not a cluster folder this service makes ({}/<32 hex digits>)",
            clusters.display()
        );
    }
    match fs::symlink_metadata(recorded) {
        Ok(meta) if !meta.is_dir() || meta.uid() != nix::unistd::Uid::effective().as_raw() => {
            anyhow::bail!("not a folder owned by this user")
        }
        _ => Ok(recorded.to_path_buf()),
    }
}

/// The data folder holds secrets: only its owner may list it. When we are root and the
/// cluster is inside it, the `postgres` user must still pass through, hence 0711.
fn restrict_data_dir(data_dir: &Path, holds_cluster: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if holds_cluster && nix::unistd::Uid::effective().is_root() {
        0o711
    } else {
        0o700
    };
    fs::set_permissions(data_dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", data_dir.display()))
}

/// The cluster came up on another port than last time (the old one was taken):
/// tenant rows that named the old port are pointed at the new one.
async fn repoint_tenants(config: &ServiceConfig, old_port: u16, new_port: u16) -> anyhow::Result<()> {
    let registry = crate::tenancy::registry::Registry::connect(&config.registry_url).await?;
    registry.migrate().await?;
    registry.repoint_port("127.0.0.1", old_port, new_port).await?;
    tracing::info!(
        old_port,
        new_port,
        "embedded PostgreSQL moved to another port; tenant rows updated"
    );
    Ok(())
}

/// Creates database `name` if it does not exist.
pub async fn ensure_database(admin_url: &SecretString, name: &str) -> anyhow::Result<()> {
    let admin = connect_pool(admin_url, "nusa-journal-setup", 1).await?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [name.into()],
        ))
        .await?
        .is_some();
    if !exists {
        // `name` is one of our constants or a test's generated [a-z0-9_] name.
        admin
            .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
            .await?;
    }
    admin.close().await?;
    Ok(())
}

fn read_or_create_secret(path: &Path, generate: impl FnOnce() -> String) -> anyhow::Result<SecretString> {
    if let Some(existing) = read_private(path)? {
        return Ok(existing);
    }
    let value = generate();
    write_private(path, &value)?;
    Ok(SecretString::from(value))
}

/// Brings every tenant of the embedded cluster to this binary's schema before serving.
/// On a real deployment that is an operator's step (`migrate tenants`); on one's own
/// machine, after pulling a new version, nobody should have to know it.
pub async fn migrate_local_tenants(services: &Services, lock_wait: std::time::Duration) -> anyhow::Result<()> {
    use crate::tenancy::fleet::{self, MigrateOptions, Summary};
    let options = MigrateOptions {
        concurrency: 2,
        only: None,
        dry_run: false,
        lock_wait,
    };
    let outcomes = fleet::migrate_tenants(
        &services.registry,
        services.lifecycle.provisioner().admin_url(),
        &options,
        |outcome| tracing::info!(%outcome, "embedded tenant migration"),
    )
    .await?;
    let summary = Summary::of(&outcomes);
    if summary.failed > 0 {
        tracing::warn!(%summary, "some embedded tenants could not be migrated; they answer 503 until they are");
    }
    Ok(())
}

/// A secret file of ours: `None` when absent; an error when it is a link, belongs to
/// someone else or others may read or write it (someone else could have chosen it).
fn read_private(path: &Path) -> anyhow::Result<Option<SecretString>> {
    use std::os::unix::fs::MetadataExt;
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    if !meta.is_file() || meta.uid() != nix::unistd::Uid::effective().as_raw() || meta.mode() & 0o077 != 0 {
        anyhow::bail!(
            "{} must be a file of this user with mode 0600; it is not, so it is not trusted \
             (fix its owner and mode, or remove it to have a new one made)",
            path.display()
        );
    }
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(SecretString::from(text.trim().to_owned())))
}

/// Provisions `pt-demo` on the first run and returns a working token for it. The
/// token is kept in the data folder (0600) so later runs can print it again; one the
/// registry no longer knows (a new cluster, a revoked token) is replaced.
pub async fn ensure_demo_tenant(services: &Services, data_dir: &Path) -> anyhow::Result<SecretString> {
    let token_file = data_dir.join("demo-token");
    if let Some(token) = read_private(&token_file)? {
        let known = services.registry.token_by_secret(&token).await?;
        if known.is_some_and(|row| row.revoked_at.is_none()) {
            return Ok(token);
        }
        tracing::info!("the saved demo token is not valid here any more: making a new one");
    }
    let slug = TenantSlug::parse(DEMO_SLUG).map_err(|e| anyhow!(e))?;
    let token = match services.registry.tenant_by_slug(&slug).await? {
        None => {
            tracing::info!("first run: provisioning the demo tenant {DEMO_SLUG}");
            let provisioned = services
                .lifecycle
                .create_tenant(NewTenant::new(slug, DEMO_NAME))
                .await?;
            seed_demo_books(services, &provisioned.tenant).await?;
            provisioned.token
        }
        Some(_) => {
            let (_, token) = services
                .lifecycle
                .create_token(&slug, "demo", &[Scope::Read, Scope::Write])
                .await?;
            token
        }
    };
    write_private(&token_file, token.expose_secret())?;
    Ok(token)
}

/// A few realistic posted entries for the demo company, so the trial balance shows a
/// balanced book on the first run: capital paid in, a purchase on credit, a cash sale
/// with PPN (and its cost of goods sold), salaries with PPh 21 withheld.
async fn seed_demo_books(
    services: &Services,
    tenant: &crate::entities::registry::tenants::Model,
) -> anyhow::Result<()> {
    use crate::ledger::journal::{create, NewEntry};
    use crate::ledger::posting::RawLine;

    let password = crate::tenancy::credentials::unseal(services.lifecycle.sealer(), tenant)?;
    let db = crate::tenancy::credentials::single_connection(tenant, &password, "nusa-journal-demo").await?;
    let year = chrono::Utc::now().date_naive().format("%Y").to_string();
    let line = |code: &str, debit: &str, credit: &str| RawLine {
        account_code: Some(code.into()),
        debit: debit.into(),
        credit: credit.into(),
        ..RawLine::default()
    };
    let entries = [
        (
            "01-02",
            "Setoran modal awal pemilik",
            "BS-001",
            vec![line("1-1103", "500000000", "0"), line("3-1001", "0", "500000000")],
        ),
        (
            "01-10",
            "Pembelian persediaan secara kredit dari PT Sumber Makmur",
            "INV-SM-0192",
            vec![
                line("1-1301", "100000000", "0"),
                line("1-1403", "11000000", "0"),
                line("2-1101", "0", "111000000"),
            ],
        ),
        (
            "01-15",
            "Penjualan tunai dengan PPN 11%",
            "FJ-0001",
            vec![
                line("1-1101", "55500000", "0"),
                line("4-1001", "0", "50000000"),
                line("2-1201", "0", "5500000"),
            ],
        ),
        (
            "01-15",
            "Harga pokok penjualan FJ-0001",
            "FJ-0001",
            vec![line("5-1001", "30000000", "0"), line("1-1301", "0", "30000000")],
        ),
        (
            "01-31",
            "Gaji karyawan Januari, PPh 21 dipotong",
            "GJ-2026-01",
            vec![
                line("6-2001", "20000000", "0"),
                line("1-1103", "0", "18000000"),
                line("2-1202", "0", "2000000"),
            ],
        ),
    ];
    for (day, description, reference, lines) in entries {
        let date = chrono::NaiveDate::parse_from_str(&format!("{year}-{day}"), "%Y-%m-%d")?;
        let entry = NewEntry {
            date,
            description: description.into(),
            reference: Some(reference.into()),
            lines,
            post: true,
            idempotency_key: None,
            source_number: None,
        };
        create(&db, entry, &crate::ledger::actor::Actor::system()).await?;
    }
    db.close().await?;
    Ok(())
}
