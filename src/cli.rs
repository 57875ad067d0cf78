//! The `nusa-journal` command line: one binary for serving and for operators.

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::embedded::{ensure_demo_tenant, prepare, DEMO_SLUG};
use crate::entities::registry::tenants::TenantStatus;
use crate::services::Services;
use crate::startup::{shutdown_signal, Application};
use crate::tenancy::provision::NewTenant;
use crate::tenancy::registry::Registry;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::Scope;

#[derive(Debug, Parser)]
#[command(
    name = "nusa-journal",
    version,
    about = "Multi-tenant double-entry bookkeeping, served as GraphQL"
)]
pub struct Cli {
    /// What to do; `serve` when left out.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (applies pending registry migrations first).
    Serve,
    /// Apply database migrations.
    Migrate {
        #[command(subcommand)]
        target: MigrateTarget,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        action: TenantCommand,
    },
    /// Check what the service keeps against what it is kept from.
    Verify {
        #[command(subcommand)]
        target: VerifyTarget,
    },
    /// Print the GraphQL schema (SDL) of the tenant API, or of the admin API.
    Schema {
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum MigrateTarget {
    /// Apply pending registry migrations.
    Registry,
    /// Apply pending tenant migrations to every active or suspended tenant.
    Tenants {
        /// Tenants migrated at the same time.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Show what would be migrated, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum VerifyTarget {
    /// Recompute every tenant's per-account totals from its posted lines and report any
    /// difference (exit status 1 if one remains).
    Books {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Rebuild differing totals from the lines (after a restore or a bulk load made
        /// with triggers off).
        #[arg(long)]
        repair: bool,
        /// Tenants checked at the same time.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Provision a tenant: role, database, schema; prints its first API token.
    Create {
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "IDR")]
        currency: String,
        #[arg(long, default_value_t = 1)]
        fiscal_year_start_month: i32,
        /// Chart-of-accounts template: id-sak-emkm, generic or empty.
        #[arg(long, default_value = crate::ledger::coa::DEFAULT_TEMPLATE)]
        coa: String,
    },
    /// Suspend a tenant: its requests get 403 and its pools close on every instance.
    Suspend {
        slug: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Activate a suspended tenant.
    Activate { slug: String },
    /// List tenants: slug, name, status, schema version, created.
    List {
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
    },
    /// Show one tenant and its events.
    Show { slug: String },
    /// Soft delete: DELETED, tokens revoked, pools closed, data kept.
    Delete { slug: String },
    /// Drop the database and role of a DELETED tenant (needs a backup taken after the delete, or --force;
    /// books with posted entries from the last 10 years need --force and --reason).
    Purge {
        slug: String,
        #[arg(long)]
        force: bool,
        /// Why books still within the 10-year retention period may go (recorded).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Dump the tenant's database (pg_dump custom format).
    Backup {
        slug: String,
        #[arg(long, value_parser = absolute_path_arg)]
        out: std::path::PathBuf,
    },
    /// Restore a backup into a fresh database and switch the tenant to it.
    Restore {
        slug: String,
        #[arg(long, value_parser = absolute_path_arg)]
        from: std::path::PathBuf,
        /// Restore a backup of another tenant into this one (refused otherwise).
        #[arg(long)]
        allow_other_tenant: bool,
    },
    /// Import a chart of accounts or journal entries from a CSV file (API.md formats):
    /// a dry run that lists every error unless --commit; exits non-zero on errors.
    Import {
        #[arg(value_enum)]
        what: ImportKind,
        slug: String,
        #[arg(value_parser = absolute_path_arg)]
        file: std::path::PathBuf,
        /// Write (all or nothing); without it only check.
        #[arg(long)]
        commit: bool,
        /// Post the entries (else they stay drafts); entries only.
        #[arg(long)]
        post: bool,
        /// The same file with the same key imports once; entries only.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Manage a tenant's API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and stored only as a hash.
    Create {
        slug: String,
        #[arg(long)]
        name: String,
        /// Repeat for several scopes; default: read and write.
        #[arg(long = "scope", value_enum)]
        scopes: Vec<ScopeArg>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ImportKind {
    Accounts,
    Entries,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StatusArg {
    Provisioning,
    Active,
    Suspended,
    Deleted,
}

impl From<StatusArg> for TenantStatus {
    fn from(arg: StatusArg) -> Self {
        match arg {
            StatusArg::Provisioning => TenantStatus::Provisioning,
            StatusArg::Active => TenantStatus::Active,
            StatusArg::Suspended => TenantStatus::Suspended,
            StatusArg::Deleted => TenantStatus::Deleted,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ScopeArg {
    Read,
    Write,
}

impl From<ScopeArg> for Scope {
    fn from(arg: ScopeArg) -> Self {
        match arg {
            ScopeArg::Read => Scope::Read,
            ScopeArg::Write => Scope::Write,
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema { admin } => {
            let sdl = if admin {
                crate::graphql::admin::schema_for_sdl().sdl()
            } else {
                crate::graphql::tenant::schema().sdl()
            };
            print!("{sdl}");
            Ok(())
        }
        Command::Serve => serve().await,
        Command::Migrate {
            target:
                MigrateTarget::Tenants {
                    concurrency,
                    tenant,
                    dry_run,
                },
        } => migrate_tenants(concurrency, tenant, dry_run).await,
        Command::Migrate {
            target: MigrateTarget::Registry,
        } => {
            let prepared = prepare(&Settings::from_env()?).await?;
            Registry::connect(&prepared.config.registry_url)
                .await?
                .migrate()
                .await?;
            println!("registry migrations applied");
            Ok(())
        }
        Command::Tenant { action } => tenant_command(action).await,
        Command::Verify {
            target:
                VerifyTarget::Books {
                    tenant,
                    repair,
                    concurrency,
                },
        } => verify_books(tenant, repair, concurrency).await,
    }
}

async fn verify_books(tenant: Option<String>, repair: bool, concurrency: usize) -> anyhow::Result<()> {
    let prepared = prepare(&Settings::from_env()?).await?;
    let services = Services::connect(&prepared.config).await?;
    let only = tenant.as_deref().map(parse_slug).transpose()?;
    let reports = crate::tenancy::books_check::check_fleet(
        &services.registry,
        services.lifecycle.provisioner().admin_url(),
        only.as_ref(),
        repair,
        concurrency,
        |report| println!("{report}"),
    )
    .await?;
    let wrong = reports.iter().filter(|r| !r.is_ok()).count();
    println!(
        "{} tenants checked, {} consistent or repaired, {wrong} with differences or failures",
        reports.len(),
        reports.len() - wrong
    );
    if wrong > 0 {
        anyhow::bail!("{wrong} tenants' totals do not equal their lines");
    }
    Ok(())
}

async fn tenant_command(action: TenantCommand) -> anyhow::Result<()> {
    let prepared = prepare(&Settings::from_env()?).await?;
    let services = Services::connect(&prepared.config).await?;
    let lifecycle = &services.lifecycle;
    match action {
        TenantCommand::Create {
            slug,
            name,
            currency,
            fiscal_year_start_month,
            coa,
        } => {
            let new = NewTenant {
                slug: parse_slug(&slug)?,
                name,
                base_currency: currency,
                fiscal_year_start_month,
                coa_template: coa,
            };
            let provisioned = lifecycle.create_tenant(new).await?;
            println!(
                "created tenant {} ({})",
                provisioned.tenant.slug, provisioned.tenant.name
            );
            println!("API token (shown once): {}", provisioned.token.expose_secret());
        }
        TenantCommand::Suspend { slug, reason } => {
            let tenant = lifecycle.suspend(&parse_slug(&slug)?, reason).await?;
            println!("suspended {}", tenant.slug);
        }
        TenantCommand::Activate { slug } => {
            let tenant = lifecycle.activate(&parse_slug(&slug)?).await?;
            println!("activated {}", tenant.slug);
        }
        TenantCommand::List { status } => {
            let rows = services
                .registry
                .tenants(status.map(TenantStatus::from), None, None)
                .await?;
            println!(
                "{:<32} {:<30} {:<13} {:<40} CREATED",
                "SLUG", "NAME", "STATUS", "SCHEMA"
            );
            for t in rows {
                println!(
                    "{:<32} {:<30} {:<13} {:<40} {}",
                    t.slug,
                    truncate(&t.name, 30),
                    format!("{:?}", t.status).to_uppercase(),
                    t.schema_version.unwrap_or_else(|| "-".into()),
                    t.created_at.format("%Y-%m-%d %H:%M")
                );
            }
        }
        TenantCommand::Show { slug } => {
            let slug = parse_slug(&slug)?;
            let t = services
                .registry
                .tenant_by_slug(&slug)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no tenant '{slug}'"))?;
            println!("slug:            {}", t.slug);
            println!("name:            {}", t.name);
            println!(
                "status:          {:?}{}",
                t.status,
                t.status_reason.map(|r| format!(" ({r})")).unwrap_or_default()
            );
            println!("database:        {} on {}:{}", t.db_name, t.db_host, t.db_port);
            println!("schema version:  {}", t.schema_version.unwrap_or_else(|| "-".into()));
            println!(
                "last migration:  {}",
                t.last_migration_result.unwrap_or_else(|| "-".into())
            );
            println!("created:         {}", t.created_at);
            println!("events:");
            for e in services.registry.events(slug.as_str()).await? {
                println!(
                    "  {}  {:<24} {}",
                    e.created_at.format("%Y-%m-%d %H:%M:%S"),
                    e.kind,
                    e.detail.unwrap_or_default()
                );
            }
        }
        TenantCommand::Delete { slug } => {
            let tenant = lifecycle.delete(&parse_slug(&slug)?).await?;
            println!("deleted {} (data kept; `tenant purge` drops it)", tenant.slug);
        }
        TenantCommand::Purge { slug, force, reason } => {
            lifecycle.purge(&parse_slug(&slug)?, force, reason.as_deref()).await?;
            println!("purged {slug}");
        }
        TenantCommand::Backup { slug, out } => {
            lifecycle.backup(&parse_slug(&slug)?, &out).await?;
            println!("backed up {slug} to {}", out.display());
        }
        TenantCommand::Restore {
            slug,
            from,
            allow_other_tenant,
        } => {
            let tenant = lifecycle
                .restore(&parse_slug(&slug)?, &from, allow_other_tenant)
                .await?;
            println!("restored {slug} from {} into {}", from.display(), tenant.db_name);
        }
        TenantCommand::Import {
            what,
            slug,
            file,
            commit,
            post,
            idempotency_key,
        } => {
            let options = crate::books_csv::import::entries::EntryImport {
                post,
                dry_run: !commit,
                idempotency_key,
                time_limit: None,
            };
            import_file(&services, &parse_slug(&slug)?, what, &file, options).await?;
        }
        TenantCommand::Token {
            action: TokenCommand::Create { slug, name, scopes },
        } => {
            let scopes: Vec<Scope> = if scopes.is_empty() {
                vec![Scope::Read, Scope::Write]
            } else {
                scopes.into_iter().map(Scope::from).collect()
            };
            let (row, token) = lifecycle.create_token(&parse_slug(&slug)?, &name, &scopes).await?;
            let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            println!(
                "created token {} ({}) for {slug}, scopes {}",
                row.id,
                row.name,
                names.join(",")
            );
            println!("token (shown once): {}", token.expose_secret());
        }
    }
    Ok(())
}

/// `tenant import`: the tenant's database through its pool, as the service itself
/// (actor "system"); every error printed, then a summary; an error exit if any.
async fn import_file(
    services: &Services,
    slug: &TenantSlug,
    what: ImportKind,
    file: &std::path::Path,
    options: crate::books_csv::import::entries::EntryImport,
) -> anyhow::Result<()> {
    use crate::books_csv::import;
    let tenant = services
        .registry
        .tenant_by_slug(slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant '{slug}'"))?;
    if tenant.status != TenantStatus::Active {
        anyhow::bail!(
            "tenant '{slug}' is {:?}: only an active tenant takes an import",
            tenant.status
        );
    }
    if tenant.writes_paused && !options.dry_run {
        anyhow::bail!("tenant '{slug}' has its writes paused (a restore or a move); try again later");
    }
    let csv = std::fs::read(file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
    let lease = services.connections.get(&tenant).await?;
    let actor = crate::ledger::actor::Actor::system();
    let dry_run = options.dry_run;
    let result = match what {
        ImportKind::Accounts => import::accounts::import(&lease.conn, csv, dry_run, &actor).await?,
        ImportKind::Entries => import::entries::import(&lease.conn, csv, options, &actor).await?,
    };
    for error in &result.errors {
        println!(
            "row {}, column {}: {} {}",
            error.row,
            error.column.unwrap_or("-"),
            error.code,
            error.message
        );
    }
    let verb = if dry_run { "would create" } else { "created" };
    println!(
        "{} rows read; {verb} {} accounts and {} entries; {} errors{}",
        result.rows_read,
        result.accounts_created,
        result.entries_created,
        result.errors.len(),
        if dry_run {
            " (dry run: nothing written; --commit writes)"
        } else {
            ""
        }
    );
    if !result.errors.is_empty() {
        anyhow::bail!("the file has errors: nothing was written");
    }
    Ok(())
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_owned()
    } else {
        text.chars().take(width - 1).chain(std::iter::once('…')).collect()
    }
}

/// `migrate tenants`: a progress bar on a terminal, plain lines otherwise; one line per
/// tenant and a summary; an error (non-zero exit) if any tenant failed.
async fn migrate_tenants(concurrency: usize, tenant: Option<String>, dry_run: bool) -> anyhow::Result<()> {
    use std::io::IsTerminal;

    use crate::tenancy::fleet::{self, MigrateOptions, Summary};

    let prepared = prepare(&Settings::from_env()?).await?;
    let services = Services::connect(&prepared.config).await?;
    let only = tenant.as_deref().map(parse_slug).transpose()?;
    let total = fleet::tenants_to_consider(&services.registry, only.as_ref())
        .await?
        .len();
    let bar = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} tenants {elapsed_precise} eta {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let options = MigrateOptions {
        concurrency,
        only,
        dry_run,
        lock_wait: prepared.config.limits.migrate_lock_wait,
    };
    let outcomes = fleet::migrate_tenants(
        &services.registry,
        services.lifecycle.provisioner().admin_url(),
        &options,
        |outcome| match &bar {
            Some(bar) => {
                bar.println(outcome.to_string());
                bar.inc(1);
            }
            None => println!("{outcome}"),
        },
    )
    .await?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = Summary::of(&outcomes);
    println!("{summary}");
    if summary.failed > 0 {
        anyhow::bail!("{} tenant(s) failed to migrate", summary.failed);
    }
    Ok(())
}

/// `--out` / `--from`: absolute from the moment they are parsed.
fn absolute_path_arg(raw: &str) -> Result<std::path::PathBuf, String> {
    crate::config::absolute_path(raw).map_err(|e| format!("{e:#}"))
}

fn parse_slug(raw: &str) -> anyhow::Result<TenantSlug> {
    TenantSlug::parse(raw).map_err(|why| anyhow::anyhow!("invalid tenant slug '{raw}': {why}"))
}

async fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let prepared = prepare(&settings).await?;
    let app = Application::build(prepared.config.clone()).await?;
    let base = format!("http://{}:{}", prepared.config.bind_addr.ip(), app.port());
    if let Some(paths) = &prepared.embedded {
        let data_dir = &paths.data_dir;
        crate::embedded::migrate_local_tenants(app.services(), prepared.config.limits.migrate_lock_wait).await?;
        let token = ensure_demo_tenant(app.services(), data_dir).await?;
        println!("Nusa Journal listening on {base}");
        println!("  embedded PostgreSQL cluster in {}", paths.cluster_dir.display());
        println!(
            "  master key, admin token and demo token in {} (mode 0600)",
            data_dir.display()
        );
        println!("  demo company GraphiQL: {base}/{DEMO_SLUG}/graphql");
        println!("  demo token: {}", token.expose_secret());
        println!("  (send it as the header  Authorization: Bearer <token>)");
        println!(
            "  admin GraphiQL: {base}/admin/graphql  (admin token in {})",
            data_dir.join("admin-token").display()
        );
    }
    if prepared.embedded.is_none() {
        println!("Nusa Journal listening on {base}");
    }
    if let (Some(addr), Some(port)) = (prepared.config.admin_bind_addr, app.admin_port()) {
        println!("  admin API and metrics on http://{}:{port}", addr.ip());
    }
    app.run_until_stopped(shutdown_signal()).await?;
    drop(prepared.cluster);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }
}
