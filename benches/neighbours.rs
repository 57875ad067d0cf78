//! Noisy-neighbour benchmark: one tenant floods, another keeps working.
//!
//! Run: `cargo bench --bench neighbours` (options: `-- --seconds 15 --clients 48`).
//! Starts its own PostgreSQL cluster (fsync on) and, in this process, a server with the
//! default limits (pool 5 per tenant, `TENANT_MAX_IN_FLIGHT` 10). The flooding tenant
//! has 200,000 posted lines (40 entries of 5,000, drafts written in SQL, posted through
//! the API); `--clients` clients ask it for a trial balance and a general-ledger page
//! (each over every line) without pause, pausing 50 ms after a 429. The quiet tenant's
//! one client asks for `company { name }` every 20 ms. Then the same with the cap lifted
//! (a second instance on the same registry, `TENANT_MAX_IN_FLIGHT` 4096). Prints the
//! quiet tenant's p50/p99 and failures, and the flooding tenant's reports/s and 429s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// The same allocator as the `nusa-journal` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_postgres::{ClusterOptions, LocalCluster};
use nusa_journal::config::{ServiceConfig, TenancyLimits};
use nusa_journal::startup::Application;
use nusa_journal::tenancy::provision::NewTenant;
use nusa_journal::tenancy::slug::TenantSlug;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use secrecy::ExposeSecret;
use serde_json::{json, Value};

const REPORT: &str =
    "query($a: ID!) { trialBalance { totalDebit } generalLedger(accountId: $a, first: 5) { totalCount } }";
const COMPANY: &str = "{ company { name } }";

async fn post(client: &reqwest::Client, url: &str, token: &str, query: &str, variables: Value) -> (u16, Value) {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn start(config: ServiceConfig) -> String {
    let app = Application::build(config).await.expect("application");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    base
}

struct Outcome {
    quiet: Vec<Duration>,
    quiet_failures: u64,
    reports: u64,
    limited: u64,
    flood_failures: u64,
    elapsed: Duration,
}

async fn flood(
    client: &reqwest::Client,
    base: &str,
    noisy: &(String, String),
    quiet: &(String, String),
    kas: &str,
    clients: u64,
    duration: Duration,
) -> Outcome {
    let started = Instant::now();
    let counters = Arc::new([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)]);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, counters) = (client.clone(), counters.clone());
            let url = format!("{base}/{}/graphql", noisy.0);
            let (token, kas) = (noisy.1.clone(), kas.to_owned());
            tokio::spawn(async move {
                while started.elapsed() < duration {
                    let (status, body) = post(&client, &url, &token, REPORT, json!({ "a": kas })).await;
                    let slot = match status {
                        200 if body["errors"].is_null() => 0,
                        429 => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            1
                        }
                        _ => 2,
                    };
                    counters[slot].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let url = format!("{base}/{}/graphql", quiet.0);
    let (mut latencies, mut failures) = (Vec::new(), 0);
    while started.elapsed() < duration {
        let sent = Instant::now();
        let (status, body) = post(client, &url, &quiet.1, COMPANY, json!({})).await;
        latencies.push(sent.elapsed());
        if status != 200 || !body["errors"].is_null() {
            failures += 1;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for task in tasks {
        task.await.expect("client");
    }
    latencies.sort();
    Outcome {
        quiet: latencies,
        quiet_failures: failures,
        reports: counters[0].load(Ordering::Relaxed),
        limited: counters[1].load(Ordering::Relaxed),
        flood_failures: counters[2].load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

#[tokio::main]
async fn main() {
    let seconds = support::arg("--seconds", 15);
    let clients = support::arg("--clients", 48);
    let duration = Duration::from_secs(seconds);
    let dir = tempfile::Builder::new().prefix("nusa-bench-").tempdir().expect("dir");
    let cluster = LocalCluster::start_or_reuse(&ClusterOptions {
        root: dir.path().to_path_buf(),
        durable: true,
    })
    .expect("cluster");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(128)
        .build()
        .expect("client");
    let config = support::service_config(&cluster, TenancyLimits::default(), true).await;
    let capped = Application::build(config.clone()).await.expect("application");
    let services = capped.services().clone();
    let capped_base = format!("http://127.0.0.1:{}", capped.port());
    tokio::spawn(capped.run_until_stopped(std::future::pending()));
    let mut tenants = Vec::new();
    for slug in ["pt-noisy", "pt-quiet"] {
        let created = services
            .lifecycle
            .create_tenant(NewTenant::new(TenantSlug::parse(slug).expect("slug"), "PT Bench"))
            .await
            .expect("tenant");
        tenants.push((slug.to_owned(), created.token.expose_secret().to_owned(), created));
    }
    let noisy = (tenants[0].0.clone(), tenants[0].1.clone());
    let quiet = (tenants[1].0.clone(), tenants[1].1.clone());
    let noisy_url = format!("{capped_base}/{}/graphql", noisy.0);

    let seeding = Instant::now();
    let (_, ids) = post(
        &client,
        &noisy_url,
        &noisy.1,
        "{ kas: account(code: \"1-1101\") { id } modal: account(code: \"3-1001\") { id } }",
        json!({}),
    )
    .await;
    let (kas, modal) = (
        ids["data"]["kas"]["id"].as_str().expect("kas").to_owned(),
        ids["data"]["modal"]["id"].as_str().expect("modal").to_owned(),
    );
    let db = nusa_journal::tenancy::registry::connect_pool(
        &cluster.superuser_url(&tenants[0].2.tenant.db_name),
        "bench-seed",
        1,
    )
    .await
    .expect("tenant database");
    db.execute_unprepared(&format!(
        r#"SET session_replication_role = replica;
           CREATE TEMP TABLE bulk AS SELECT gen_random_uuid() AS id, g FROM generate_series(1, 40) g;
           INSERT INTO journal_entry (id, date, description, status)
             SELECT id, DATE '2026-01-01' + g, 'bulk ' || g, 'DRAFT' FROM bulk;
           INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit, memo)
             SELECT gen_random_uuid(), b.id, n,
                    CASE WHEN n % 2 = 0 THEN '{kas}'::uuid ELSE '{modal}'::uuid END,
                    CASE WHEN n % 2 = 0 THEN 1.25 ELSE 0 END,
                    CASE WHEN n % 2 = 1 THEN 1.25 ELSE 0 END, 'line ' || n
               FROM bulk b, generate_series(1, 5000) n;
           SET session_replication_role = DEFAULT;
           ANALYZE journal_entry; ANALYZE journal_line;"#
    ))
    .await
    .expect("drafts");
    let drafts = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id::text AS id FROM journal_entry WHERE status = 'DRAFT' ORDER BY date",
        ))
        .await
        .expect("drafts");
    for row in drafts {
        let id: String = row.try_get("", "id").expect("id");
        let (status, body) = post(
            &client,
            &noisy_url,
            &noisy.1,
            "mutation($id: ID!) { postJournalEntry(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
        assert_eq!(
            (status, &body["data"]["postJournalEntry"]["status"]),
            (200, &json!("POSTED")),
            "{body}"
        );
    }
    println!("seeded 200,000 posted lines in {:.1?}", seeding.elapsed());
    // Both tenants warm (pools open) before each run.
    post(&client, &noisy_url, &noisy.1, REPORT, json!({ "a": kas })).await;
    post(
        &client,
        &format!("{capped_base}/{}/graphql", quiet.0),
        &quiet.1,
        COMPANY,
        json!({}),
    )
    .await;
    let with_cap = flood(&client, &capped_base, &noisy, &quiet, &kas, clients, duration).await;

    let mut uncapped_config = config;
    uncapped_config.limits.max_in_flight = 4096;
    let uncapped_base = start(uncapped_config).await;
    post(
        &client,
        &format!("{uncapped_base}/{}/graphql", noisy.0),
        &noisy.1,
        REPORT,
        json!({ "a": kas }),
    )
    .await;
    post(
        &client,
        &format!("{uncapped_base}/{}/graphql", quiet.0),
        &quiet.1,
        COMPANY,
        json!({}),
    )
    .await;
    let without_cap = flood(&client, &uncapped_base, &noisy, &quiet, &kas, clients, duration).await;

    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let pct = |o: &Outcome, p: f64| o.quiet[((o.quiet.len() - 1) as f64 * p).round() as usize];
    println!("\n## Noisy neighbour ({seconds} s, {clients} flooding clients)\n");
    println!("| per-tenant cap | quiet p50 | quiet p99 | quiet requests (failed) | flooding reports/s | flooding 429s | flooding other errors |");
    println!("|---|---|---|---|---|---|---|");
    for (label, o) in [
        ("`TENANT_MAX_IN_FLIGHT` 10 (default)", &with_cap),
        ("none (4096)", &without_cap),
    ] {
        println!(
            "| {label} | {} | {} | {} ({}) | {:.2} | {} | {} |",
            ms(pct(o, 0.5)),
            ms(pct(o, 0.99)),
            o.quiet.len(),
            o.quiet_failures,
            o.reports as f64 / o.elapsed.as_secs_f64(),
            o.limited,
            o.flood_failures
        );
    }
}
