//! Reports benchmark: what a balance, a trial balance and the statements cost on a big
//! ledger, read from the totals kept at posting, side by side with the same reads done
//! the old way (summing every posted line) and with a `pgbench` floor running the
//! totals statement; and what keeping the totals costs posting.
//!
//! Run: `cargo bench --bench reports -- --lines 1000000` (and `--lines 10000000`;
//! options `--iterations 200 --seconds 8`). Starts its own PostgreSQL cluster (fsync
//! on) and the server in this process; bulk-loads one tenant with `--lines` posted lines
//! (entries of two lines, dated evenly over 2024-2026, over 40 accounts) with the
//! triggers off, then rebuilds the totals (`verify books --repair`'s rebuild).
//!   r. each report query, `--iterations` times one after another: p50 and p99;
//!   n. the same balances summed from the lines (the statement every balance used before);
//!   f. `pgbench` (1 client, prepared) running the totals statement of a trial balance;
//!   c. posting (`createJournalEntry(post: true)`, 2 lines, concurrency 16) with the
//!      totals trigger, then with it disabled: the cost of keeping the totals.
// A benchmark harness, like a test, may stop at the first failed step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// The same allocator as the `nusa-journal` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::time::{Duration, Instant};

use local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use nusa_journal::config::TenancyLimits;
use nusa_journal::startup::Application;
use nusa_journal::tenancy::ownership;
use nusa_journal::tenancy::provision::NewTenant;
use nusa_journal::tenancy::slug::TenantSlug;
use sea_orm::ConnectionTrait;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn graphql(client: &reqwest::Client, url: &str, token: &str, query: &str) -> Value {
    let body: Value = client
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert!(body["errors"].is_null(), "{query}: {body}");
    body
}

/// Runs `query` `iterations` times one after another: (p50, p99).
async fn measure(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    query: &str,
    iterations: u64,
) -> (Duration, Duration) {
    // Warm: the parsed-document cache, the pool, PostgreSQL's buffers.
    for _ in 0..3 {
        graphql(client, url, token, query).await;
    }
    let mut times = Vec::with_capacity(iterations as usize);
    for _ in 0..iterations {
        let t = Instant::now();
        graphql(client, url, token, query).await;
        times.push(t.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// Runs a SQL statement `iterations` times over `db`: (p50, p99).
async fn measure_sql(db: &sea_orm::DatabaseConnection, sql: &str, iterations: u64) -> (Duration, Duration) {
    db.execute_unprepared(sql).await.expect("warm");
    let mut times = Vec::with_capacity(iterations as usize);
    for _ in 0..iterations {
        let t = Instant::now();
        db.execute_unprepared(sql).await.expect("sql");
        times.push(t.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

/// `pgbench` with one client running `script` for `seconds`: mean latency.
fn pgbench_latency(cluster: &LocalCluster, database: &str, script: &str, seconds: u64) -> Duration {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("script.sql");
    std::fs::write(&path, script).expect("script");
    let output = std::process::Command::new(PgBinaries::locate().expect("binaries").tool("pgbench"))
        .env("PGPASSWORD", cluster.superuser_password().expose_secret())
        .args(["-n", "-M", "prepared", "-h", "127.0.0.1", "-U", "postgres", "-c", "1"])
        .args(["-p", &cluster.port().to_string(), "-T", &seconds.to_string()])
        .arg("-f")
        .arg(&path)
        .arg(database)
        .output()
        .expect("pgbench");
    let text = String::from_utf8_lossy(&output.stdout);
    let tps: f64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or_else(|| panic!("pgbench failed: {text}{}", String::from_utf8_lossy(&output.stderr)));
    Duration::from_secs_f64(1.0 / tps)
}

/// Posts two-line entries from 16 tasks for `seconds`: entries per second.
async fn posting_rate(client: &reqwest::Client, url: &str, token: &str, kas: &str, modal: &str, seconds: u64) -> f64 {
    let started = Instant::now();
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for worker in 0..16u64 {
        let (client, url, token, kas, modal, count) = (
            client.clone(),
            url.to_owned(),
            token.to_owned(),
            kas.to_owned(),
            modal.to_owned(),
            count.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = worker * 1_000_000;
            while started.elapsed() < Duration::from_secs(seconds) {
                let amount = format!("{}.{:02}", 1 + i % 1000, i % 100);
                let query = format!(
                    r#"mutation {{ createJournalEntry(input: {{ date: "2026-06-01", description: "bench", post: true,
                        lines: [{{ accountId: "{kas}", debit: "{amount}" }}, {{ accountId: "{modal}", credit: "{amount}" }}] }}) {{ number }} }}"#
                );
                graphql(&client, &url, &token, &query).await;
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    for task in tasks {
        task.await.expect("poster");
    }
    count.load(std::sync::atomic::Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The bulk load: `lines` posted lines in entries of two, dated evenly over 2024-2026,
/// numbered per fiscal year; triggers off (as an operator's bulk load would be).
fn bulk_load_sql(lines: u64, from_entry: u64, to_entry: u64) -> String {
    let entries = lines / 2;
    format!(
        r#"SET session_replication_role = replica;
           CREATE TEMP TABLE accounts AS
             SELECT row_number() OVER (ORDER BY code) - 1 AS n, id FROM account WHERE is_postable LIMIT 40;
           CREATE TEMP TABLE bulk AS
             SELECT g, gen_random_uuid() AS id,
                    DATE '2024-01-01' + ((g - 1)::bigint * 1096 / {entries})::int AS day
               FROM generate_series({from_entry}, {to_entry}) g;
           INSERT INTO journal_entry (id, number, fiscal_year, sequence, date, description, status, posted_at, kind)
             SELECT id, 'JE/B/' || g, extract(year FROM day)::int, 100000000 + g, day, 'bulk ' || g, 'POSTED', now(), 'REGULAR'
               FROM bulk;
           INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit, entry_date)
             SELECT gen_random_uuid(), b.id, s.n,
                    (SELECT a.id FROM accounts a WHERE a.n = (b.g * 7 + s.n * 13) % 40),
                    CASE s.n WHEN 1 THEN ((b.g % 997) + 1)::numeric ELSE 0 END,
                    CASE s.n WHEN 2 THEN ((b.g % 997) + 1)::numeric ELSE 0 END,
                    b.day
               FROM bulk b, (VALUES (1), (2)) s(n);
           DROP TABLE bulk; DROP TABLE accounts;
           SET session_replication_role = DEFAULT;"#
    )
}

#[tokio::main]
async fn main() {
    let lines = support::arg("--lines", 1_000_000);
    let iterations = support::arg("--iterations", 200);
    let seconds = support::arg("--seconds", 8);
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
    let limits = TenancyLimits {
        max_in_flight: 4096,
        ..TenancyLimits::default()
    };
    let config = support::service_config(&cluster, limits, true).await;
    let app = Application::build(config).await.expect("application");
    let services = app.services().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let tenant = services
        .lifecycle
        .create_tenant(NewTenant::new(TenantSlug::parse("pt-besar").expect("slug"), "PT Besar"))
        .await
        .expect("tenant");
    let token = tenant.token.expose_secret().to_owned();
    let url = format!("{base}/pt-besar/graphql");
    let db_name = tenant.tenant.db_name.clone();
    let superuser = nusa_journal::tenancy::registry::connect_pool(&cluster.superuser_url(&db_name), "bench", 2)
        .await
        .expect("superuser");

    let loading = Instant::now();
    let chunk = 500_000u64;
    let entries = lines / 2;
    let mut first = 1;
    while first <= entries {
        let last = (first + chunk - 1).min(entries);
        superuser
            .execute_unprepared(&bulk_load_sql(lines, first, last))
            .await
            .expect("bulk load");
        eprintln!("loaded {} of {} lines ({:.0?})", last * 2, lines, loading.elapsed());
        first = last + 1;
    }
    superuser
        .execute_unprepared(
            "INSERT INTO journal_sequence (fiscal_year, last_number)
               SELECT fiscal_year, max(sequence) FROM journal_entry GROUP BY fiscal_year
             ON CONFLICT (fiscal_year) DO UPDATE SET last_number = EXCLUDED.last_number;",
        )
        .await
        .expect("sequence");
    for table in ["journal_entry", "journal_line"] {
        superuser
            .execute_unprepared(&format!("VACUUM ANALYZE {table}"))
            .await
            .expect("vacuum");
    }
    let owner = ownership::owner_connection(
        &cluster.superuser_url("postgres"),
        &db_name,
        &ownership::owner_role(&tenant.tenant.db_username),
        "bench-owner",
    )
    .await
    .expect("owner");
    let rebuilding = Instant::now();
    nusa_journal::ledger::balances::rebuild(&owner).await.expect("rebuild");
    let rebuilt_in = rebuilding.elapsed();
    for table in ["account_day_total", "account_month_total"] {
        superuser
            .execute_unprepared(&format!("VACUUM ANALYZE {table}"))
            .await
            .expect("vacuum");
    }
    let loaded_in = loading.elapsed();
    let sizes = superuser
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT (SELECT count(*) FROM account_day_total) AS days, (SELECT count(*) FROM account_month_total) AS months,
                    pg_size_pretty(pg_database_size(current_database())) AS size",
        ))
        .await
        .expect("sizes")
        .expect("row");
    let (days, months, size): (i64, i64, String) = (
        sizes.try_get("", "days").expect("days"),
        sizes.try_get("", "months").expect("months"),
        sizes.try_get("", "size").expect("size"),
    );

    let queries: &[(&str, &str)] = &[
        (
            "trialBalance(asOf: 2026-06-15)",
            r#"{ trialBalance(asOf: "2026-06-15") { totalDebit totalCredit rows { account { code } debit credit } } }"#,
        ),
        (
            "trialBalance (today)",
            r#"{ trialBalance { totalDebit totalCredit rows { account { code } debit credit } } }"#,
        ),
        (
            "balanceSheet(asOf: 2026-06-15, compareTo: 2 dates)",
            r#"{ balanceSheet(asOf: "2026-06-15", compareTo: ["2025-12-31", "2024-12-31"]) { title columns { label } rows { kind label amounts } } }"#,
        ),
        (
            "balanceSheet (today)",
            r#"{ balanceSheet { title rows { kind label amounts } } }"#,
        ),
        (
            "incomeStatement(2026, MONTH: 12 columns)",
            r#"{ incomeStatement(from: "2026-01-01", to: "2026-12-31", periodicity: MONTH) { columns { label } rows { kind label amounts } } }"#,
        ),
        (
            "incomeStatement (this year to today)",
            r#"{ incomeStatement(from: "2026-01-01", to: "2026-11-29") { rows { kind label amounts } } }"#,
        ),
        (
            "account { balance(asOf: 2026-06-15) }",
            r#"{ account(code: "1-1101") { balance(asOf: "2026-06-15") } }"#,
        ),
        (
            "account { balance } (today)",
            r#"{ account(code: "1-1101") { balance } }"#,
        ),
        (
            "accounts(first: 100) { balance(asOf: 2026-06-15) }",
            r#"{ accounts(first: 100) { nodes { code balance(asOf: "2026-06-15") } } }"#,
        ),
        (
            "accounts(first: 100) { balance } (today)",
            r#"{ accounts(first: 100) { nodes { code balance } } }"#,
        ),
    ];
    let mut results = Vec::new();
    for (name, query) in queries {
        results.push((*name, measure(&client, &url, &token, query, iterations).await));
    }

    // n: what every balance read before the totals (`posted_totals` over the lines).
    let naive_sql = "SELECT l.account_id, sum(l.debit), sum(l.credit) FROM journal_line l
                       JOIN journal_entry e ON e.id = l.entry_id
                      WHERE e.status <> 'DRAFT' AND e.date <= DATE '2026-06-15' GROUP BY l.account_id";
    let naive = measure_sql(&superuser, naive_sql, (iterations / 20).max(5)).await;
    // f: the statement a trial balance as of 2026-06-15 sends (balances::between).
    let totals_sql = "SELECT account_id, sum(debit), sum(credit), sum(closing_debit), sum(closing_credit) FROM (
         SELECT account_id, debit, credit, closing_debit, closing_credit FROM account_month_total
          WHERE month >= DATE '0001-01-01' AND month < DATE '2026-06-01'
         UNION ALL SELECT account_id, debit, credit, closing_debit, closing_credit FROM account_day_total
          WHERE day BETWEEN DATE '2026-06-01' AND DATE '2026-06-15'
         UNION ALL SELECT account_id, debit, credit, closing_debit, closing_credit FROM account_day_total
          WHERE day BETWEEN DATE '9999-12-31' AND DATE '0001-01-01') t GROUP BY account_id;";
    let floor = pgbench_latency(&cluster, &db_name, totals_sql, seconds);

    // c: posting with the totals kept, then without (trigger disabled on this bench copy).
    let ids = graphql(
        &client,
        &url,
        &token,
        r#"{ kas: account(code: "1-1101") { id } modal: account(code: "3-1001") { id } }"#,
    )
    .await;
    let (kas, modal) = (
        ids["data"]["kas"]["id"].as_str().expect("kas").to_owned(),
        ids["data"]["modal"]["id"].as_str().expect("modal").to_owned(),
    );
    let with_totals = posting_rate(&client, &url, &token, &kas, &modal, seconds).await;
    superuser
        .execute_unprepared("ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_totals")
        .await
        .expect("disable");
    let without_totals = posting_rate(&client, &url, &token, &kas, &modal, seconds).await;
    superuser
        .execute_unprepared("ALTER TABLE journal_entry ENABLE TRIGGER journal_entry_totals")
        .await
        .expect("enable");
    let with_totals_again = posting_rate(&client, &url, &token, &kas, &modal, seconds).await;

    println!("\n## Reports at {lines} posted lines ({iterations} requests each, one at a time)\n");
    println!(
        "(bulk load and rebuild {loaded_in:.0?}, of which the rebuild of the totals {rebuilt_in:.1?}; \
         {days} day totals, {months} month totals; database {size})\n"
    );
    println!("| query | p50 | p99 |\n|---|---|---|");
    for (name, (p50, p99)) in &results {
        println!("| `{name}` | {} | {} |", ms(*p50), ms(*p99));
    }
    println!(
        "| n. the old way: every posted line summed up to 2026-06-15 (SQL only, no HTTP) | {} | {} |",
        ms(naive.0),
        ms(naive.1)
    );
    println!(
        "| f. pgbench floor: the totals statement of `trialBalance(asOf: 2026-06-15)`, 1 client | {} (mean) | |",
        ms(floor)
    );
    println!(
        "\n| c. posting, 2 lines, concurrency 16 | entries/s |\n|---|---|\n| with the totals trigger | {with_totals:.0} |\n| trigger disabled | {without_totals:.0} |\n| with the trigger again | {with_totals_again:.0} |"
    );
}
