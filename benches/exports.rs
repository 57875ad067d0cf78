//! Exports benchmark (issue 14): a general ledger of `--lines` posted lines, and the
//! journal holding them, exported as CSV by the real `nusa-journal` binary (release
//! build, its own process, so `/proc` measures the server alone): MB/s, lines/s and the
//! server's RSS (idle, peak while streaming); beside a floor of the same rows written by
//! PostgreSQL itself (`psql` running `COPY (SELECT ...) TO STDOUT WITH CSV`).
//!
//! Run: `cargo bench --bench exports -- --lines 1000000` (options `--iterations 3`;
//! `--explain` prints the plan of a journal chunk from the middle of the file).
//! Starts its own PostgreSQL cluster (fsync on), provisions one tenant, bulk-loads
//! `--lines` posted lines on one account (entries of two lines, a debit and a credit,
//! dated over 2024-2026) with the triggers off, rebuilds the totals, then starts the
//! binary on that registry.
// A benchmark harness, like a test, may stop at the first failed step.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use local_postgres::{ClusterOptions, LocalCluster, PgBinaries};
use nusa_journal::config::{ApiLimits, ServiceConfig, TenancyLimits, DEFAULT_ROLE_PREFIX};
use nusa_journal::embedded::ensure_database;
use nusa_journal::services::Services;
use nusa_journal::tenancy::provision::NewTenant;
use nusa_journal::tenancy::sealing::{MasterKey, Sealer};
use nusa_journal::tenancy::slug::TenantSlug;
use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncBufReadExt, BufReader};

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// The bulk load of `tests/it/exports.rs`: `lines` posted lines on `account`, in
/// entries of two, numbered per year, ordered ids (a fast load), triggers off.
fn bulk_load_sql(account: &str, entries: u64, first: u64, last: u64) -> String {
    format!(
        r#"SET session_replication_role = replica;
           CREATE TEMP TABLE bulk AS
             SELECT g, ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS id,
                    DATE '2024-01-01' + ((g - 1) * 1096 / {entries})::int AS day
               FROM generate_series({first}::bigint, {last}::bigint) g;
           INSERT INTO journal_entry (id, number, fiscal_year, sequence, date, description, status, posted_at, kind)
             SELECT id, 'JE/' || extract(year FROM day) || '/' || lpad(g::text, 7, '0'), extract(year FROM day)::int, g,
                    day, 'Penjualan tunai ' || g, 'POSTED', now(), 'REGULAR'
               FROM bulk;
           INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit, memo, entry_date)
             SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(b.g * 2 + s.n), 12, '0'))::uuid, b.id, s.n,
                    '{account}'::uuid,
                    CASE s.n WHEN 1 THEN ((b.g % 997) + 1) * 1000.25 ELSE 0 END,
                    CASE s.n WHEN 2 THEN ((b.g % 991) + 1) * 1000.50 ELSE 0 END,
                    CASE s.n WHEN 1 THEN 'kasir ' || (b.g % 7) END, b.day
               FROM bulk b, (VALUES (1), (2)) s(n);
           DROP TABLE bulk;
           SET session_replication_role = DEFAULT;"#
    )
}

/// Streams `url` once: (bytes, lines, seconds, peak RSS of `pid` in KiB).
async fn stream(client: &reqwest::Client, url: &str, token: &str, pid: u32) -> (u64, u64, f64, u64) {
    let started = Instant::now();
    let mut response = client.get(url).bearer_auth(token).send().await.expect("export");
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{url}");
    let (mut bytes, mut lines, mut peak) = (0u64, 0u64, rss_kib(pid));
    let mut last_sample = Instant::now();
    while let Some(chunk) = response.chunk().await.expect("piece") {
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if last_sample.elapsed() > Duration::from_millis(10) {
            peak = peak.max(rss_kib(pid));
            last_sample = Instant::now();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    (bytes, lines, seconds, peak.max(rss_kib(pid)))
}

/// `psql` writing `sql` as CSV to its stdout: (bytes, seconds).
fn copy_floor(cluster: &LocalCluster, database: &str, sql: &str) -> (u64, f64) {
    let started = Instant::now();
    let output = std::process::Command::new(PgBinaries::locate().expect("binaries").tool("psql"))
        .env("PGPASSWORD", cluster.superuser_password().expose_secret())
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-p",
            &cluster.port().to_string(),
        ])
        .args(["-d", database, "-c", &format!("COPY ({sql}) TO STDOUT WITH CSV HEADER")])
        .output()
        .expect("psql");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (output.stdout.len() as u64, started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let lines = support::arg("--lines", 1_000_000);
    let iterations = support::arg("--iterations", 3);
    let dir = tempfile::Builder::new().prefix("nusa-bench-").tempdir().expect("dir");
    let cluster = LocalCluster::start_or_reuse(&ClusterOptions {
        root: dir.path().to_path_buf(),
        durable: true,
    })
    .expect("cluster");
    let registry_db = format!("bench_registry_{}", uuid::Uuid::new_v4().simple());
    ensure_database(&cluster.superuser_url("postgres"), &registry_db)
        .await
        .expect("registry db");
    let master_key = MasterKey::generate_base64();
    let config = ServiceConfig {
        registry_url: cluster.superuser_url(&registry_db),
        tenant_admin_url: cluster.superuser_url("postgres"),
        tenant_db_host: "127.0.0.1".into(),
        tenant_db_port: cluster.port(),
        tenant_role_prefix: DEFAULT_ROLE_PREFIX.into(),
        sealer: Sealer::new(MasterKey::from_base64(&master_key).expect("key"), vec![]),
        admin_token: SecretString::from(ADMIN_TOKEN),
        limits: TenancyLimits::default(),
        bind_addr: "127.0.0.1:0".parse().expect("addr"),
        admin_bind_addr: None,
        use_template: true,
        api: ApiLimits::default(),
    };
    let services = Services::connect(&config).await.expect("services");
    let tenant = services
        .lifecycle
        .create_tenant(NewTenant::new(
            TenantSlug::parse("pt-ekspor").expect("slug"),
            "PT Ekspor",
        ))
        .await
        .expect("tenant");
    let token = tenant.token.expose_secret().to_owned();
    let db_name = tenant.tenant.db_name.clone();
    let superuser = nusa_journal::tenancy::registry::connect_pool(&cluster.superuser_url(&db_name), "bench", 2)
        .await
        .expect("superuser");
    let kas: uuid::Uuid = superuser
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT id FROM account WHERE code = '1-1101'",
        ))
        .await
        .expect("kas")
        .expect("row")
        .try_get("", "id")
        .expect("id");

    let loading = Instant::now();
    let entries = lines / 2;
    let mut first = 1;
    while first <= entries {
        let last = (first + 250_000 - 1).min(entries);
        superuser
            .execute_unprepared(&bulk_load_sql(&kas.to_string(), entries, first, last))
            .await
            .expect("bulk load");
        first = last + 1;
    }
    nusa_journal::ledger::balances::rebuild(&superuser)
        .await
        .expect("rebuild");
    for table in [
        "journal_entry",
        "journal_line",
        "account_day_total",
        "account_month_total",
    ] {
        superuser
            .execute_unprepared(&format!("VACUUM ANALYZE {table}"))
            .await
            .expect("vacuum");
    }
    eprintln!("loaded {lines} lines in {:.0?}", loading.elapsed());
    if std::env::args().any(|a| a == "--explain") {
        // The plan of a journal chunk in the middle of the file (as `lines_in_journal_order` asks).
        let plan = superuser
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    r#"EXPLAIN (ANALYZE, BUFFERS) SELECT "journal_entry"."id", "journal_entry"."number", "journal_line"."line_no", "journal_line"."debit"
                         FROM "journal_line" INNER JOIN "journal_entry" ON "journal_entry"."id" = "journal_line"."entry_id"
                        WHERE "journal_entry"."status" <> 'DRAFT'
                          AND ("journal_entry"."date", "journal_entry"."created_at", "journal_entry"."id")
                              >= (SELECT date, created_at, id FROM journal_entry WHERE sequence = {mid})
                          AND (("journal_entry"."date", "journal_entry"."created_at", "journal_entry"."id")
                              > (SELECT date, created_at, id FROM journal_entry WHERE sequence = {mid}) OR "journal_line"."line_no" > 1)
                        ORDER BY "journal_entry"."date", "journal_entry"."created_at", "journal_entry"."id", "journal_line"."line_no"
                        LIMIT 5000"#,
                    mid = entries / 2
                ),
            ))
            .await
            .expect("explain");
        for row in plan {
            eprintln!("{}", row.try_get::<String>("", "QUERY PLAN").expect("plan"));
        }
    }

    // The release binary beside this bench, on the same registry.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_nusa-journal"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REGISTRY_DATABASE_URL", config.registry_url.expose_secret())
        .env("TENANT_DB_ADMIN_URL", config.tenant_admin_url.expose_secret())
        .env("NUSA_MASTER_KEY", &master_key)
        .env("NUSA_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn nusa-journal");
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut base = None;
    while let Some(line) = out.next_line().await.expect("stdout") {
        if let Some(rest) = line.strip_prefix("Nusa Journal listening on ") {
            base = Some(rest.trim().to_owned());
            break;
        }
    }
    let base = base.expect("the server's address");
    tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
    let pid = child.id().expect("pid");
    let client = reqwest::Client::new();
    let ledger_url = format!("{base}/pt-ekspor/exports/general-ledger.csv?accountId={kas}");
    let journal_url = format!("{base}/pt-ekspor/exports/journal.csv");
    // Warm: the pool, PostgreSQL's buffers.
    stream(&client, &format!("{base}/pt-ekspor/exports/accounts.csv"), &token, pid).await;
    let idle = rss_kib(pid);

    let mut results = Vec::new();
    for (name, url) in [("general ledger", &ledger_url), ("journal", &journal_url)] {
        stream(&client, url, &token, pid).await;
        let mut best: Option<(u64, u64, f64, u64)> = None;
        let mut peak = 0;
        for _ in 0..iterations {
            let run = stream(&client, url, &token, pid).await;
            peak = peak.max(run.3);
            if best.is_none_or(|b| run.2 < b.2) {
                best = Some(run);
            }
        }
        let (bytes, lines_out, seconds, _) = best.expect("a run");
        results.push((name, bytes, lines_out, seconds, peak));
    }

    let ledger_sql = format!(
        "SELECT l.entry_date, e.number, e.description, e.reference, l.debit, l.credit,
                sum(l.debit - l.credit) OVER (ORDER BY l.entry_date, e.sequence, l.entry_id, l.line_no) AS running_balance,
                l.memo
           FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id
          WHERE l.account_id = '{kas}' AND e.status <> 'DRAFT'
          ORDER BY l.entry_date, e.sequence, l.entry_id, l.line_no"
    );
    let journal_sql = "SELECT e.number, e.date, e.description, e.reference, a.code, l.debit, l.credit, l.memo
           FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id JOIN account a ON a.id = l.account_id
          WHERE e.status <> 'DRAFT'
          ORDER BY e.date, e.created_at, e.id, l.line_no";
    copy_floor(&cluster, &db_name, &ledger_sql);
    let floors = [
        ("general ledger", copy_floor(&cluster, &db_name, &ledger_sql)),
        ("journal", copy_floor(&cluster, &db_name, journal_sql)),
    ];
    let _ = child.start_kill();

    let mb = |bytes: u64| bytes as f64 / 1_000_000.0;
    println!("\n## Exports at {lines} posted lines (release binary, best of {iterations})\n");
    println!("Server RSS idle {:.0} MiB.\n", idle as f64 / 1024.0);
    println!("| export | size | time | MB/s | lines/s | server RSS peak (over idle) |\n|---|---|---|---|---|---|");
    for (name, bytes, lines_out, seconds, peak) in &results {
        println!(
            "| `{name}` | {:.1} MB | {seconds:.2} s | {:.1} | {:.0} | {:.0} MiB (+{:.0} MiB) |",
            mb(*bytes),
            mb(*bytes) / seconds,
            *lines_out as f64 / seconds,
            *peak as f64 / 1024.0,
            peak.saturating_sub(idle) as f64 / 1024.0
        );
    }
    for (name, (bytes, seconds)) in floors {
        println!(
            "| floor: `psql` `COPY ({name} rows) TO STDOUT WITH CSV` | {:.1} MB | {seconds:.2} s | {:.1} | {:.0} | |",
            mb(bytes),
            mb(bytes) / seconds,
            lines as f64 / seconds
        );
    }
}
