//! Fleet benchmark: provisioning time per tenant (with and without the template
//! database) and `migrate tenants` over many tenants at two concurrency levels.
//!
//! Run: `cargo bench --bench fleet` (options: `-- --tenants 200 --provision 20`).
//! Starts its own PostgreSQL cluster (fsync on, like production) in a temp folder.
// A benchmark harness, like a test, may stop at the first failed step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use local_postgres::{ClusterOptions, LocalCluster};
use migration::MigratorTrait;
use nusa_journal::config::TenancyLimits;
use nusa_journal::services::Services;
use nusa_journal::tenancy::fleet::{migrate_tenants, MigrateOptions, Summary};
use nusa_journal::tenancy::ownership;
use nusa_journal::tenancy::provision::NewTenant;
use nusa_journal::tenancy::slug::TenantSlug;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn services(cluster: &LocalCluster, use_template: bool) -> Services {
    let config = support::service_config(cluster, TenancyLimits::default(), use_template).await;
    Services::connect(&config).await.expect("services")
}

async fn provision(services: &Services, prefix: &str, count: usize) -> Vec<Duration> {
    let mut times = Vec::new();
    for i in 0..count {
        let slug = TenantSlug::parse(&format!("{prefix}-{i}")).expect("slug");
        let started = Instant::now();
        services
            .lifecycle
            .create_tenant(NewTenant::new(slug, "PT Bench"))
            .await
            .expect("provision");
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// Makes every tenant one migration behind, as after deploying a binary with a new one.
async fn roll_back_one(services: &Services) {
    for tenant in services.registry.tenants(None, None, None).await.expect("tenants") {
        // As the tenant's owner role: the login role may change no schema.
        let db = ownership::owner_connection(
            services.lifecycle.provisioner().admin_url(),
            &tenant.db_name,
            &ownership::owner_role(&tenant.db_username),
            "bench",
        )
        .await
        .expect("connect");
        migration::Migrator::down(&db, Some(1)).await.expect("down");
        db.close().await.ok();
    }
    services
        .registry
        .db()
        .execute_raw(Statement::from_string(
            DbBackend::Postgres,
            "UPDATE tenants SET schema_version = NULL, last_migration_result = NULL",
        ))
        .await
        .expect("registry");
}

#[tokio::main]
async fn main() {
    let provision_count = support::arg("--provision", 20) as usize;
    let fleet_size = support::arg("--tenants", 200) as usize;
    let dir = tempfile::Builder::new().prefix("nusa-bench-").tempdir().expect("dir");
    let cluster = LocalCluster::start_or_reuse(&ClusterOptions {
        root: dir.path().to_path_buf(),
        durable: true,
    })
    .expect("cluster");

    println!("## Provisioning ({provision_count} tenants each, sequential)\n");
    println!("| mode | p50 | p95 | max |\n|---|---|---|---|");
    let with_template = services(&cluster, true).await;
    // The first create builds the template; it is reported apart.
    let warm = Instant::now();
    with_template
        .lifecycle
        .create_tenant(NewTenant::new(TenantSlug::parse("warm-up").expect("slug"), "PT Warm"))
        .await
        .expect("warm");
    let first = warm.elapsed();
    let times = provision(&with_template, "tpl", provision_count).await;
    println!(
        "| template | {:.0?} | {:.0?} | {:.0?} |",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times[times.len() - 1]
    );
    let plain = services(&cluster, false).await;
    let times = provision(&plain, "plain", provision_count).await;
    println!(
        "| migrations | {:.0?} | {:.0?} | {:.0?} |",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times[times.len() - 1]
    );
    println!("\n(first create with the template, including building it: {first:.0?})\n");

    println!("## migrate tenants ({fleet_size} tenants, one pending migration)\n");
    let fleet = services(&cluster, true).await;
    provision(&fleet, "fleet", fleet_size).await;
    println!("| concurrency | wall time | per tenant | result |\n|---|---|---|---|");
    for concurrency in [1, 4] {
        roll_back_one(&fleet).await;
        let options = MigrateOptions {
            concurrency,
            only: None,
            dry_run: false,
            lock_wait: nusa_journal::tenancy::fleet::DEFAULT_LOCK_WAIT,
        };
        let started = Instant::now();
        let outcomes = migrate_tenants(
            &fleet.registry,
            fleet.lifecycle.provisioner().admin_url(),
            &options,
            |_| {},
        )
        .await
        .expect("migrate");
        let took = started.elapsed();
        println!(
            "| {concurrency} | {took:.2?} | {:.1?} | {} |",
            took / fleet_size as u32,
            Summary::of(&outcomes)
        );
    }
}
