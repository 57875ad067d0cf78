//! Service benchmark: the HTTP/GraphQL service against the raw-SQL floor, in one run.
//!
//! Run: `cargo bench --bench service` (options: `-- --seconds 10 --tenants 1000`).
//! Starts its own PostgreSQL cluster (fsync on) and the server in this process, then:
//!   a. warm: one tenant, the `accounts` query, concurrency 32: requests/s, p50, p99;
//!   b. many tenants: `--tenants` tenants, capacity 50, pool max 2, a random tenant per
//!      request: requests/s, p99, errors, evictions/s, highest tenant connections seen
//!      in pg_stat_activity (must stay <= 100);
//!   c. posting: `createJournalEntry(post: true)` with two lines, concurrency 16: entries/s;
//!   d. the same reads and writes as plain SQL through `pgbench` against the same server,
//!      and our rate as a share of that floor.
//! The load generator runs in this process and shares the 2 cores with the server and
//! PostgreSQL, as pgbench does for the floor.
// A benchmark harness, like a test, may stop at the first failed step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// The same allocator as the `nusa-journal` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use nusa_journal::config::TenancyLimits;
use nusa_journal::startup::Application;
use nusa_journal::tenancy::provision::NewTenant;
use nusa_journal::tenancy::slug::TenantSlug;
use rand::Rng;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

struct Run {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i]
    }
}

/// Runs `request` from `concurrency` tasks for `duration`; `request` says if it succeeded.
async fn drive<F, Fut>(concurrency: usize, duration: Duration, request: F) -> Run
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut i) = (Vec::new(), 0u64, worker as u64 * 1_000_000);
            while started.elapsed() < duration {
                let t = Instant::now();
                if !request(i).await {
                    errors += 1;
                }
                latencies.push(t.elapsed());
                i += 1;
            }
            (latencies, errors)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (l, e) = task.await.expect("worker");
        latencies.extend(l);
        errors += e;
    }
    latencies.sort();
    Run {
        requests: latencies.len() as u64,
        errors,
        elapsed: started.elapsed(),
        latencies,
    }
}

async fn app(cluster: &LocalCluster, capacity: usize, pool_max: u32) -> Application {
    let limits = TenancyLimits {
        cache_capacity: capacity,
        pool_max_connections: pool_max,
        // These scenarios measure throughput at a concurrency above the per-tenant cap
        // (`benches/neighbours.rs` measures the cap).
        max_in_flight: 4096,
        ..TenancyLimits::default()
    };
    let config = support::service_config(cluster, limits, true).await;
    Application::build(config).await.expect("application")
}

async fn graphql(client: &reqwest::Client, url: &str, token: &str, query: &str, variables: Value) -> bool {
    match client
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
    {
        // Checking the bytes, not parsing them: the load generator shares the CPU.
        Ok(response) if response.status().is_success() => response
            .bytes()
            .await
            .map(|body| !body.windows(9).any(|w| w == b"\"errors\":"))
            .unwrap_or(false),
        _ => false,
    }
}

/// `pgbench` with a script against `database`; returns transactions per second.
fn pgbench(cluster: &LocalCluster, database: &str, script: &str, clients: u32, seconds: u64) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("script.sql");
    std::fs::write(&path, script).expect("script");
    let output = std::process::Command::new(PgBinaries::locate().expect("binaries").tool("pgbench"))
        .env("PGPASSWORD", cluster.superuser_password().expose_secret())
        .args(["-n", "-M", "prepared", "-j", "2", "-h", "127.0.0.1", "-U", "postgres"])
        .args([
            "-p",
            &cluster.port().to_string(),
            "-c",
            &clients.to_string(),
            "-T",
            &seconds.to_string(),
        ])
        .arg("-f")
        .arg(&path)
        .arg(database)
        .output()
        .expect("pgbench");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("pgbench failed: {text}{}", String::from_utf8_lossy(&output.stderr)))
}

/// Scenario a again with `wrk` (when installed: `apt-get install wrk`), a load generator
/// in C whose CPU cost is closer to pgbench's: (requests/s, p50 ms, p99 ms, non-2xx).
fn wrk(url: &str, token: &str, query: &str, connections: u32, seconds: u64) -> Option<(f64, f64, f64, u64)> {
    let dir = tempfile::tempdir().ok()?;
    let script = dir.path().join("post.lua");
    let body = serde_json::to_string(&json!({ "query": query })).ok()?;
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n",
            serde_json::to_string(&body).ok()?
        ),
    )
    .ok()?;
    let output = std::process::Command::new("wrk")
        .args([
            "-t",
            "2",
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let number = |prefix: &str| {
        text.lines().find_map(|l| {
            l.trim()
                .strip_prefix(prefix)
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        })
    };
    let millis = |value: String| -> Option<f64> {
        if let Some(ms) = value.strip_suffix("ms") {
            ms.parse().ok()
        } else if let Some(us) = value.strip_suffix("us") {
            us.parse::<f64>().ok().map(|u| u / 1000.0)
        } else {
            value
                .strip_suffix('s')
                .and_then(|s| s.parse::<f64>().ok())
                .map(|s| s * 1000.0)
        }
    };
    let rate: f64 = number("Requests/sec:")?.parse().ok()?;
    let p50 = millis(number("50%")?)?;
    let p99 = millis(number("99%")?)?;
    let non_2xx = number("Non-2xx or 3xx responses:")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Some((rate, p50, p99, non_2xx))
}

const ACCOUNTS: &str = "{ accounts(first: 50) { totalCount nodes { id code name } } }";
const POST: &str = "mutation($input: CreateJournalEntryInput!) { createJournalEntry(input: $input) { id number } }";

/// What the service sends for `ACCOUNTS`: a first page with its total in one statement.
const ACCOUNTS_SQL: &str = "SELECT id, code, name, type, normal_balance, parent_id, is_postable, is_archived, description, created_at, updated_at,
       (SELECT count(*) FROM account WHERE is_archived = false) AS page_total_count
  FROM account WHERE is_archived = false ORDER BY code LIMIT 51;
";

/// The writes and checks of posting a two-line entry, as plain SQL (the database
/// numbers it: trigger `journal_entry_number`).
const POST_SQL: &str = "\\set amount random(1, 100000000)
BEGIN;
SELECT id, is_postable, is_archived FROM account WHERE code IN ('1-1101', '3-1001') ORDER BY id FOR SHARE;
INSERT INTO journal_entry (id, date, description, status) VALUES (gen_random_uuid(), DATE '2026-06-01', 'bench', 'DRAFT') RETURNING id AS entry \\gset
INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES
  (gen_random_uuid(), :entry, 1, (SELECT id FROM account WHERE code = '1-1101'), :amount, 0),
  (gen_random_uuid(), :entry, 2, (SELECT id FROM account WHERE code = '3-1001'), 0, :amount);
SELECT account_id, debit, credit FROM journal_line WHERE entry_id = :entry ORDER BY line_no;
SELECT id, is_postable, is_archived FROM account WHERE code IN ('1-1101', '3-1001') ORDER BY id FOR SHARE;
SELECT lock_date, fiscal_year_start_month FROM company FOR SHARE;
UPDATE journal_entry SET status = 'POSTED' WHERE id = :entry RETURNING number;
COMMIT;
";

#[tokio::main]
async fn main() {
    let seconds = support::arg("--seconds", 10);
    let tenant_count = support::arg("--tenants", 1000);
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::Builder::new().prefix("nusa-bench-").tempdir().expect("dir");
    let cluster = LocalCluster::start_or_reuse(&ClusterOptions {
        root: dir.path().to_path_buf(),
        durable: true,
    })
    .expect("cluster");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");

    // a and c: one warm tenant on an instance with room to spare.
    let warm_app = app(&cluster, 100, 8).await;
    let services = warm_app.services().clone();
    let base = format!("http://127.0.0.1:{}", warm_app.port());
    tokio::spawn(warm_app.run_until_stopped(std::future::pending()));
    let tenant = services
        .lifecycle
        .create_tenant(NewTenant::new(TenantSlug::parse("pt-bench").expect("slug"), "PT Bench"))
        .await
        .expect("tenant");
    let token = tenant.token.expose_secret().to_owned();
    let url = format!("{base}/pt-bench/graphql");
    let warm = {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        drive(32, duration, move |_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            async move { graphql(&client, &url, &token, ACCOUNTS, json!({})).await }
        })
        .await
    };
    let ids: Value = {
        let response = client
            .post(&url)
            .bearer_auth(&token)
            .json(&json!({ "query": "{ kas: account(code: \"1-1101\") { id } modal: account(code: \"3-1001\") { id } }" }))
            .send()
            .await
            .expect("ids");
        response.json().await.expect("json")
    };
    let (kas, modal) = (ids["data"]["kas"]["id"].clone(), ids["data"]["modal"]["id"].clone());
    let posting = {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        drive(16, duration, move |i| {
            let (client, url, token, kas, modal) =
                (client.clone(), url.clone(), token.clone(), kas.clone(), modal.clone());
            async move {
                let amount = format!("{}.{:02}", 1 + i % 1000, i % 100);
                let input = json!({ "date": "2026-06-01", "description": "bench", "post": true,
                    "lines": [{ "accountId": kas, "debit": amount }, { "accountId": modal, "credit": amount }] });
                graphql(&client, &url, &token, POST, json!({ "input": input })).await
            }
        })
        .await
    };

    let warm_wrk = wrk(&url, &token, ACCOUNTS, 32, seconds);

    // d: the floor, on the same tenant database and server.
    let floor_reads = pgbench(&cluster, &tenant.tenant.db_name, ACCOUNTS_SQL, 8, seconds);
    let floor_posts = pgbench(&cluster, &tenant.tenant.db_name, POST_SQL, 8, seconds);

    // b: many tenants through a small cache.
    let many_app = app(&cluster, 50, 2).await;
    let many_services = many_app.services().clone();
    let many_base = format!("http://127.0.0.1:{}", many_app.port());
    tokio::spawn(many_app.run_until_stopped(std::future::pending()));
    let provisioning = Instant::now();
    let mut tenants = Vec::new();
    for i in 0..tenant_count {
        let slug = TenantSlug::parse(&format!("pt-many-{i}")).expect("slug");
        let mut new = NewTenant::new(slug.clone(), "PT Banyak");
        new.coa_template = "generic".into();
        let created = many_services.lifecycle.create_tenant(new).await.expect("tenant");
        tenants.push((slug.to_string(), created.token.expose_secret().to_owned()));
    }
    let provisioned_in = provisioning.elapsed();
    let evictions_before = many_services.connections.stats.evictions.get();
    let highest = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (registry, highest, stop) = (many_services.registry.clone(), highest.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let row = registry
                    .db()
                    .query_one_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT count(*)::bigint AS n FROM pg_stat_activity WHERE application_name LIKE 'nusa-journal:pt-many-%'",
                    ))
                    .await;
                if let Ok(Some(row)) = row {
                    highest.fetch_max(row.try_get::<i64>("", "n").unwrap_or(0), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let tenants = Arc::new(tenants);
    let many = {
        let (client, tenants) = (client.clone(), tenants.clone());
        drive(32, duration, move |_| {
            let (client, tenants, base) = (client.clone(), tenants.clone(), many_base.clone());
            async move {
                let (slug, token) = &tenants[rand::thread_rng().gen_range(0..tenants.len())];
                graphql(&client, &format!("{base}/{slug}/graphql"), token, ACCOUNTS, json!({})).await
            }
        })
        .await
    };
    stop.store(true, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let evictions = many_services.connections.stats.evictions.get() - evictions_before;

    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!("\n## Results ({seconds} s per scenario)\n");
    println!("| scenario | rate | p50 | p99 | errors | notes |\n|---|---|---|---|---|---|");
    println!(
        "| a. warm `accounts`, 1 tenant, concurrency 32 (pool 8) | {:.0} req/s | {} | {} | {} | floor {:.0} tx/s = **{:.0}%** |",
        warm.rate(), ms(warm.percentile(0.5)), ms(warm.percentile(0.99)), warm.errors, floor_reads, 100.0 * warm.rate() / floor_reads
    );
    if let Some((rate, p50, p99, non_2xx)) = warm_wrk {
        println!(
            "| a'. the same, load from `wrk` (C, 2 threads, 32 connections) | {rate:.0} req/s | {p50:.1} ms | {p99:.1} ms | {non_2xx} | floor {floor_reads:.0} tx/s = **{:.0}%** |",
            100.0 * rate / floor_reads
        );
    }
    println!(
        "| b. {tenant_count} tenants, capacity 50, pool max 2, random tenant, concurrency 32 | {:.0} req/s | {} | {} | {} | {:.1} evictions/s, highest tenant connections {} (bound 100) |",
        many.rate(), ms(many.percentile(0.5)), ms(many.percentile(0.99)), many.errors,
        evictions as f64 / many.elapsed.as_secs_f64(), highest.load(Ordering::Relaxed)
    );
    println!(
        "| c. `createJournalEntry(post: true)`, 2 lines, concurrency 16 | {:.0} entries/s | {} | {} | {} | floor {:.0} tx/s = **{:.0}%** |",
        posting.rate(), ms(posting.percentile(0.5)), ms(posting.percentile(0.99)), posting.errors, floor_posts, 100.0 * posting.rate() / floor_posts
    );
    println!("| d. pgbench floor, 8 clients, prepared | reads {floor_reads:.0} tx/s, posts {floor_posts:.0} tx/s | | | | same server, same tenant database |");
    println!("\n(provisioned {tenant_count} tenants for b in {provisioned_in:.1?})");
}
