//! Imports benchmark (issue 14): an entries file of `--lines` lines (default 100,000:
//! entries of two lines over eight accounts, dated through 2026) through the upload route
//! `POST /{tenant}/imports/entries.csv`, in rows per second, against floors that do the
//! same work in PostgreSQL alone.
//!
//! Run: `cargo bench --bench imports -- --lines 100000` (option `--runs 3`: dry runs
//! repeated, the median kept). Starts its own PostgreSQL cluster (fsync on) and the
//! server in this process.
//!   d. dry run: upload, parse, every check against the chart; nothing written;
//!   c. commit as drafts (`dryRun=false`), into a fresh tenant;
//!   p. commit and post (`dryRun=false&post=true`), into a fresh tenant;
//!   f1. floor: `psql \copy` of the same file into a staging table (CSV parsed by PostgreSQL);
//!   f2. floor: from that table, the same entries and lines inserted set-based
//!       (`INSERT … SELECT`, drafts, the ledger's triggers on), one transaction.
// A benchmark harness, like a test, may stop at the first failed step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

/// The same allocator as the `nusa-journal` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::time::{Duration, Instant};

use local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use nusa_journal::config::TenancyLimits;
use nusa_journal::services::Services;
use nusa_journal::startup::Application;
use nusa_journal::tenancy::provision::NewTenant;
use nusa_journal::tenancy::slug::TenantSlug;
use sea_orm::ConnectionTrait;
use secrecy::ExposeSecret;
use serde_json::Value;

const ACCOUNTS: [&str; 8] = [
    "1-1101", "1-1102", "1-1103", "1-1201", "4-1001", "5-1001", "6-1001", "2-1101",
];

/// `lines` lines in entries of two, dated through 2026.
fn entries_file(lines: u64) -> Vec<u8> {
    let mut file = Vec::with_capacity(lines as usize * 80);
    writeln!(file, "entry,date,description,reference,account_code,debit,credit,memo").unwrap();
    for n in 0..lines / 2 {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(n % 365);
        let amount = format!("{}.{:02}", 1000 + n % 99_000, n % 100);
        let (debit, credit) = (ACCOUNTS[(n % 8) as usize], ACCOUNTS[((n + 3) % 8) as usize]);
        writeln!(
            file,
            "E{n},{day},Penjualan harian {n},INV-{n},{debit},{amount},,kasir {}",
            n % 7
        )
        .unwrap();
        writeln!(file, "E{n},,,,{credit},,{amount},").unwrap();
    }
    file
}

async fn tenant(services: &Services, slug: &str) -> (String, String) {
    let made = services
        .lifecycle
        .create_tenant(NewTenant::new(TenantSlug::parse(slug).expect("slug"), "PT Impor"))
        .await
        .expect("tenant");
    (made.token.expose_secret().to_owned(), made.tenant.db_name)
}

/// One upload: (time, answer).
async fn upload(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    token: &str,
    query: &str,
    file: &[u8],
) -> (Duration, Value) {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/{slug}/imports/entries.csv?{query}"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(file.to_vec())
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    let took = started.elapsed();
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body["errors"], serde_json::json!([]), "{body}");
    (took, body)
}

fn rate(rows: u64, took: Duration) -> String {
    format!("{:.0}", rows as f64 / took.as_secs_f64())
}

/// The largest resident set this process had, from `/proc/self/status` (kB).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let lines = support::arg("--lines", 100_000);
    let runs = support::arg("--runs", 3).max(1);
    let dir = tempfile::Builder::new().prefix("nusa-bench-").tempdir().expect("dir");
    let cluster = LocalCluster::start_or_reuse(&ClusterOptions {
        root: dir.path().to_path_buf(),
        durable: true,
    })
    .expect("cluster");
    let client = reqwest::Client::new();
    let config = support::service_config(&cluster, TenancyLimits::default(), true).await;
    let app = Application::build(config).await.expect("application");
    let services = app.services().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let file = entries_file(lines);
    let megabytes = file.len() as f64 / 1e6;
    let rss_before = peak_rss_kb();

    // d: dry runs on one tenant, the median kept.
    let (token, _) = tenant(&services, "pt-kering").await;
    let mut dry = Vec::new();
    for _ in 0..runs {
        let (took, body) = upload(&client, &base, "pt-kering", &token, "", &file).await;
        assert_eq!(body["rowsRead"], lines, "{body}");
        dry.push(took);
    }
    dry.sort();
    let dry = dry[dry.len() / 2];
    let rss_after_dry = peak_rss_kb();

    // c and p: each into a fresh tenant.
    let (token, drafts_db) = tenant(&services, "pt-draf").await;
    let (drafts, body) = upload(&client, &base, "pt-draf", &token, "dryRun=false", &file).await;
    assert_eq!(body["entriesCreated"], lines / 2, "{body}");
    let (token, _) = tenant(&services, "pt-posting").await;
    let (posted, body) = upload(&client, &base, "pt-posting", &token, "dryRun=false&post=true", &file).await;
    assert_eq!(body["entriesCreated"], lines / 2, "{body}");

    // f1 and f2: the same rows by PostgreSQL alone, in a fresh tenant's database.
    let (_, floor_db) = tenant(&services, "pt-lantai").await;
    let csv_path = dir.path().join("entries.csv");
    std::fs::write(&csv_path, &file).expect("file");
    let superuser = nusa_journal::tenancy::registry::connect_pool(&cluster.superuser_url(&floor_db), "bench", 1)
        .await
        .expect("superuser");
    superuser
        .execute_unprepared(
            "CREATE TABLE staged (entry text, date date, description text, reference text,
                                  account_code text, debit numeric(20,2), credit numeric(20,2), memo text)",
        )
        .await
        .expect("staging table");
    let copying = Instant::now();
    let output = std::process::Command::new(PgBinaries::locate().expect("binaries").tool("psql"))
        .env("PGPASSWORD", cluster.superuser_password().expose_secret())
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
        .args(["-p", &cluster.port().to_string(), "-d", &floor_db, "-c"])
        .arg(format!(
            "\\copy staged FROM '{}' WITH (FORMAT csv, HEADER)",
            csv_path.display()
        ))
        .output()
        .expect("psql");
    let copied = copying.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let inserting = Instant::now();
    superuser
        .execute_unprepared(
            "BEGIN;
             CREATE TEMP TABLE heads AS
               SELECT entry, gen_random_uuid() AS id, date, description, reference
                 FROM staged WHERE date IS NOT NULL;
             INSERT INTO journal_entry (id, date, description, reference, status, kind, created_by_name)
               SELECT id, date, description, NULLIF(reference, ''), 'DRAFT', 'REGULAR', 'floor' FROM heads;
             INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit, memo)
               SELECT gen_random_uuid(), h.id, row_number() OVER (PARTITION BY s.entry), a.id,
                      coalesce(s.debit, 0), coalesce(s.credit, 0), NULLIF(s.memo, '')
                 FROM staged s JOIN heads h USING (entry) JOIN account a ON a.code = s.account_code;
             COMMIT;",
        )
        .await
        .expect("set-based insert");
    let inserted = inserting.elapsed();
    let drafts_rows = count_lines(&cluster, &drafts_db).await;
    assert_eq!(drafts_rows, lines as i64);

    println!(
        "\n## Imports: {lines} entry lines ({megabytes:.1} MB, {} entries of two lines)\n",
        lines / 2
    );
    println!("| step | time | rows/s |\n|---|---|---|");
    println!(
        "| d. dry run through the upload route (median of {runs}) | {dry:.2?} | {} |",
        rate(lines, dry)
    );
    println!("| c. commit as drafts | {drafts:.2?} | {} |", rate(lines, drafts));
    println!("| p. commit and post | {posted:.2?} | {} |", rate(lines, posted));
    println!(
        "| f1. floor: `psql \\copy` of the file into a staging table | {copied:.2?} | {} |",
        rate(lines, copied)
    );
    println!(
        "| f2. floor: the same drafts inserted set-based from the staging table (triggers on) | {inserted:.2?} | {} |",
        rate(lines, inserted)
    );
    println!(
        "\n(peak RSS of the process holding cluster client, server and the file: {} MB before, {} MB after the dry runs)",
        rss_before / 1024,
        rss_after_dry / 1024
    );
}

async fn count_lines(cluster: &LocalCluster, db: &str) -> i64 {
    let conn = nusa_journal::tenancy::registry::connect_pool(&cluster.superuser_url(db), "bench", 1)
        .await
        .expect("superuser");
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM journal_line",
        ))
        .await
        .expect("count")
        .expect("row");
    row.try_get("", "n").expect("n")
}
