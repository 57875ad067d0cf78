//! Balances kept at posting: the per-account totals the database maintains equal the
//! totals recomputed from the lines after every kind of change, under concurrency, after
//! the migration that fills them, and `verify books` finds and repairs a difference.

use crate::common;

use std::collections::HashMap;
use std::str::FromStr;

use common::{error_code, TestApp, TestTenant};
use nusa_journal::ledger::balances;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

const CREATE: &str =
    "mutation($input: CreateJournalEntryInput!) { createJournalEntry(input: $input) { id number status date } }";

/// Postable accounts of the `id-sak-emkm` chart used by these tests.
const CODES: &[&str] = &[
    "1-1101", "1-1103", "1-1201", "2-1101", "3-1001", "4-1001", "6-2001", "6-2002",
];

struct Books {
    app: TestApp,
    tenant: TestTenant,
    ids: HashMap<String, String>,
    db: sea_orm::DatabaseConnection,
}

impl Books {
    async fn new(prefix: &str) -> Books {
        let app = TestApp::spawn().await;
        let tenant = app.create_tenant(prefix, "PT Saldo Terjaga").await;
        let row = common::tenant_row(&app, &tenant.slug).await.expect("row");
        let db = common::superuser(&row.db_name).await;
        let mut books = Books {
            app,
            tenant,
            ids: HashMap::new(),
            db,
        };
        for code in CODES {
            let data = books
                .ok("query($c: String) { account(code: $c) { id } }", json!({ "c": code }))
                .await;
            let id = data["account"]["id"].as_str().expect("account").to_owned();
            books.ids.insert((*code).to_owned(), id);
        }
        books
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .app
            .tenant(&self.tenant.slug, Some(&self.tenant.token), query, variables)
            .await;
        assert!(
            status == StatusCode::OK || status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::CONFLICT,
            "{status}: {body}"
        );
        body
    }

    async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    fn id(&self, code: &str) -> &str {
        &self.ids[code]
    }

    /// A draft of 5.00 from `debit` to `credit` (account ids): its id.
    async fn draft(&self, date: &str, debit: &str, credit: &str) -> String {
        let data = self
            .ok(
                CREATE,
                json!({ "input": { "date": date, "description": "draf",
                    "lines": [line(debit, Decimal::new(5, 0), Decimal::ZERO), line(credit, Decimal::ZERO, Decimal::new(5, 0))] } }),
            )
            .await;
        data["createJournalEntry"]["id"].as_str().expect("id").to_owned()
    }

    /// The kept totals equal the lines (`verify books` finds nothing).
    async fn assert_consistent(&self, after: &str) {
        let differences = balances::verify(&self.db).await.expect("verify");
        assert!(differences.is_empty(), "after {after}: {differences:?}");
    }

    /// An account's balance recomputed here from the lines (not from the kept totals),
    /// signed in its normal direction.
    async fn balance_from_lines(&self, code: &str, as_of: &str) -> Decimal {
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                r#"SELECT (coalesce(sum(l.debit - l.credit), 0)
                           * CASE a.normal_balance WHEN 'DEBIT' THEN 1 ELSE -1 END)::text AS net
                     FROM account a
                     LEFT JOIN journal_line l ON l.account_id = a.id
                          AND EXISTS (SELECT 1 FROM journal_entry e
                                       WHERE e.id = l.entry_id AND e.status <> 'DRAFT' AND e.date <= $2::date)
                    WHERE a.code = $1 GROUP BY a.normal_balance"#,
                [code.into(), as_of.into()],
            ))
            .await
            .expect("balance from lines")
            .expect("row");
        Decimal::from_str(&row.try_get::<String>("", "net").expect("net")).expect("decimal")
    }
}

fn line(id: &str, debit: Decimal, credit: Decimal) -> Value {
    json!({ "accountId": id, "debit": debit.to_string(), "credit": credit.to_string() })
}

fn random_date(rng: &mut StdRng) -> chrono::NaiveDate {
    let start = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    start + chrono::Days::new(rng.gen_range(0..730))
}

/// A random date in 2026 (once 2025 is closed).
fn random_2026_date(rng: &mut StdRng) -> chrono::NaiveDate {
    let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    start + chrono::Days::new(rng.gen_range(0..365))
}

fn random_amount(rng: &mut StdRng) -> Decimal {
    Decimal::new(rng.gen_range(1..=10_000_000), 2)
}

/// Two to four lines over distinct random accounts, balanced.
fn random_lines(books: &Books, rng: &mut StdRng) -> Vec<Value> {
    random_lines_avoiding(books, rng, &[])
}

/// Like [`random_lines`], leaving out the `archived` accounts.
fn random_lines_avoiding(books: &Books, rng: &mut StdRng, archived: &[&str]) -> Vec<Value> {
    let mut codes: Vec<&str> = CODES.iter().copied().filter(|c| !archived.contains(c)).collect();
    let count = rng.gen_range(2..=4.min(codes.len()));
    let mut chosen = Vec::new();
    for _ in 0..count {
        let i = rng.gen_range(0..codes.len());
        chosen.push(codes.remove(i));
    }
    let mut lines = Vec::new();
    let mut debits = Decimal::ZERO;
    for code in &chosen[..count - 1] {
        let amount = random_amount(rng);
        debits += amount;
        lines.push(line(books.id(code), amount, Decimal::ZERO));
    }
    lines.push(line(books.id(chosen[count - 1]), Decimal::ZERO, debits));
    lines
}

#[tokio::test]
async fn kept_totals_equal_the_lines_after_every_step_of_a_random_history() {
    let books = Books::new("kept-totals").await;
    let seed: u64 = std::env::var("BALANCES_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("BALANCES_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut posted: Vec<(String, chrono::NaiveDate)> = Vec::new();
    let mut drafts: Vec<String> = Vec::new();
    let mut archived: Vec<&str> = Vec::new();
    let mut closed_2025 = false;
    for step in 0..70 {
        let what = match rng.gen_range(0..13) {
            0..=4 => {
                let date = if closed_2025 {
                    random_2026_date(&mut rng)
                } else {
                    random_date(&mut rng)
                };
                let lines = random_lines_avoiding(&books, &mut rng, &archived);
                let data = books
                    .ok(CREATE, json!({ "input": { "date": date.to_string(), "description": "acak", "lines": lines, "post": true } }))
                    .await;
                posted.push((data["createJournalEntry"]["id"].as_str().expect("id").to_owned(), date));
                "post"
            }
            5 | 6 => {
                let date = random_date(&mut rng);
                let lines = random_lines_avoiding(&books, &mut rng, &archived);
                let data = books
                    .ok(
                        CREATE,
                        json!({ "input": { "date": date.to_string(), "description": "draf", "lines": lines } }),
                    )
                    .await;
                drafts.push(data["createJournalEntry"]["id"].as_str().expect("id").to_owned());
                "draft"
            }
            7 if !drafts.is_empty() => {
                let id = drafts.remove(rng.gen_range(0..drafts.len()));
                let body = books
                    .gql(
                        "mutation($id: ID!) { postJournalEntry(id: $id) { id date } }",
                        json!({ "id": id }),
                    )
                    .await;
                if !body["errors"].is_null() {
                    // A draft written before one of its accounts was archived, or dated
                    // in the closed year.
                    let code = error_code(&body);
                    assert!(
                        code == "BAD_USER_INPUT" || (closed_2025 && code == "FISCAL_YEAR_CLOSED"),
                        "{body}"
                    );
                    continue;
                }
                let data = body["data"].clone();
                let date = chrono::NaiveDate::from_str(data["postJournalEntry"]["date"].as_str().expect("date"))
                    .expect("date");
                posted.push((id, date));
                "post a draft"
            }
            10 => {
                // Archive needs a zero balance over every posted entry.
                let code = CODES[rng.gen_range(0..CODES.len())];
                if archived.contains(&code) {
                    continue;
                }
                let zero = books.balance_from_lines(code, "9999-12-31").await.is_zero();
                let body = books
                    .gql(
                        "mutation($id: ID!) { archiveAccount(id: $id) { isArchived } }",
                        json!({ "id": books.id(code) }),
                    )
                    .await;
                if zero {
                    assert_eq!(body["data"]["archiveAccount"]["isArchived"], true, "{body}");
                    archived.push(code);
                } else {
                    assert_eq!(error_code(&body), "CONFLICT", "{body}");
                }
                "archive"
            }
            12 => {
                // Close 2025 (into Laba Ditahan, the template's RETAINED_EARNINGS) or reopen it.
                if closed_2025 {
                    books
                        .ok(
                            r#"mutation { reopenFiscalYear(label: "2025", reason: "koreksi acak") { status } }"#,
                            json!({}),
                        )
                        .await;
                    closed_2025 = false;
                    "reopen 2025"
                } else {
                    let body = books
                        .gql(r#"mutation { closeFiscalYear(label: "2025") { status } }"#, json!({}))
                        .await;
                    if body["errors"].is_null() {
                        closed_2025 = true;
                        // Revenue and expense start 2026 at zero.
                        for code in ["4-1001", "6-2001", "6-2002"] {
                            assert!(books.balance_from_lines(code, "2025-12-31").await.is_zero(), "{code}");
                        }
                        "close 2025"
                    } else {
                        // An archived revenue or expense account still holding a 2025 balance.
                        assert_eq!(error_code(&body), "CONFLICT", "{body}");
                        continue;
                    }
                }
            }
            11 if !archived.is_empty() => {
                let code = archived.remove(rng.gen_range(0..archived.len()));
                books
                    .ok(
                        "mutation($id: ID!) { unarchiveAccount(id: $id) { isArchived } }",
                        json!({ "id": books.id(code) }),
                    )
                    .await;
                "unarchive"
            }
            _ if !posted.is_empty() => {
                let (id, date) = posted.remove(rng.gen_range(0..posted.len()));
                let when = date + chrono::Days::new(rng.gen_range(0..60));
                let body = books
                    .gql(
                        "mutation($id: ID!, $d: Date) { reverseJournalEntry(id: $id, date: $d) { id } }",
                        json!({ "id": id, "d": when.to_string() }),
                    )
                    .await;
                if !body["errors"].is_null() {
                    assert!(closed_2025 && error_code(&body) == "FISCAL_YEAR_CLOSED", "{body}");
                    posted.push((id, date));
                    continue;
                }
                assert!(body["data"]["reverseJournalEntry"]["id"].is_string());
                "reverse"
            }
            _ => continue,
        };
        let after = format!("step {step} ({what}), seed {seed}");
        books.assert_consistent(&after).await;
        // The balances the API reads from the totals equal the lines, at a random date
        // (a partial month as a rule) and at the end of time.
        let as_of = random_date(&mut rng).to_string();
        for date in [as_of.as_str(), "9999-12-31"] {
            let data = books
                .ok(
                    "query($d: Date) { trialBalance(asOf: $d) { totalDebit totalCredit } accounts(first: 50) { nodes { code balance(asOf: $d) } } }",
                    json!({ "d": date }),
                )
                .await;
            assert_eq!(
                data["trialBalance"]["totalDebit"], data["trialBalance"]["totalCredit"],
                "{after}"
            );
            for node in data["accounts"]["nodes"].as_array().expect("nodes") {
                let code = node["code"].as_str().expect("code");
                if !CODES.contains(&code) {
                    continue;
                }
                let api = Decimal::from_str(node["balance"].as_str().expect("balance")).expect("decimal");
                assert_eq!(
                    api,
                    books.balance_from_lines(code, date).await,
                    "{code} at {date}, {after}"
                );
            }
        }
    }
}

#[tokio::test]
async fn concurrent_posting_over_the_same_accounts_in_any_order_never_deadlocks() {
    let books = std::sync::Arc::new(Books::new("no-deadlock").await);
    let mut tasks = Vec::new();
    for worker in 0..6u64 {
        let books = books.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(worker);
            for _ in 0..12 {
                // Both fiscal years, the same few days: the same total rows, touched by
                // entries whose lines name the accounts in every order.
                let date = if rng.gen_bool(0.5) { "2025-12-31" } else { "2026-01-01" };
                let mut lines = random_lines(&books, &mut rng);
                if rng.gen_bool(0.5) {
                    lines.reverse();
                }
                let body = books
                    .gql(
                        CREATE,
                        json!({ "input": { "date": date, "description": "paralel", "lines": lines, "post": true } }),
                    )
                    .await;
                assert!(body["errors"].is_null(), "{}: {body}", error_code(&body));
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker");
    }
    books.assert_consistent("72 concurrent postings").await;
}

#[tokio::test]
async fn verify_books_finds_and_repairs_totals_a_bulk_load_left_behind() {
    let books = Books::new("verify-books").await;
    let (kas, modal) = (books.id("1-1101").to_owned(), books.id("3-1001").to_owned());
    books
        .ok(CREATE, json!({ "input": { "date": "2026-03-10", "description": "setoran", "post": true,
            "lines": [line(&kas, Decimal::new(100, 0), Decimal::ZERO), line(&modal, Decimal::ZERO, Decimal::new(100, 0))] } }))
        .await;
    // A bulk load made with the triggers off (as an operator might): posted entries whose
    // lines never reached the totals.
    books
        .db
        .execute_unprepared(&format!(
            r#"SET session_replication_role = replica;
               CREATE TEMP TABLE bulk AS SELECT gen_random_uuid() AS id, g FROM generate_series(1, 30) g;
               INSERT INTO journal_entry (id, number, fiscal_year, sequence, date, description, status, posted_at)
                 SELECT id, 'JE/2026/B' || g, 2026, 1000 + g, DATE '2026-04-01' + g, 'bulk ' || g, 'POSTED', now() FROM bulk;
               INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit, entry_date)
                 SELECT gen_random_uuid(), b.id, n, CASE n WHEN 1 THEN '{kas}'::uuid ELSE '{modal}'::uuid END,
                        CASE n WHEN 1 THEN 2.50 ELSE 0 END, CASE n WHEN 2 THEN 2.50 ELSE 0 END, DATE '2026-04-01' + b.g
                   FROM bulk b, generate_series(1, 2) n;
               SET session_replication_role = DEFAULT;"#
        ))
        .await
        .expect("bulk load");
    let check = r#"query($s: String!) { verifyBooks(slug: $s) { consistent differences report } }"#;
    let (status, body) = books.app.admin(check, json!({ "s": books.tenant.slug })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["verifyBooks"]["consistent"], false, "{body}");
    // 30 days and 2 months (April, May) for each of the two accounts.
    assert_eq!(body["data"]["verifyBooks"]["differences"], 2 * 30 + 2 * 2, "{body}");

    let envs = books.app.process_env();
    let slug = books.tenant.slug.as_str();
    let (ok, out, _) = common::run_cli(&["verify", "books", "--tenant", slug], &envs).await;
    assert!(!ok, "differences exit non-zero: {out}");
    assert!(out.contains("64 totals differ from the lines"), "{out}");
    let (ok, out, err) = common::run_cli(&["verify", "books", "--tenant", slug, "--repair"], &envs).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("64 totals differed; rebuilt from the lines"), "{out}");
    // Every tenant of the registry, after the repair: all consistent.
    let (ok, out, err) = common::run_cli(&["verify", "books"], &envs).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("{slug}: totals equal the lines")), "{out}");

    let (_, body) = books.app.admin(check, json!({ "s": books.tenant.slug })).await;
    assert_eq!(body["data"]["verifyBooks"]["consistent"], true, "{body}");
    let data = books
        .ok(
            r#"query { account(code: "1-1101") { balance(asOf: "2026-12-31") } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["account"]["balance"], "175.00", "100 + 30 x 2.50");
}

#[tokio::test]
async fn the_migration_fills_the_totals_of_existing_books() {
    use migration::MigratorTrait;
    let books = Books::new("filled-totals").await;
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..25 {
        let date = random_date(&mut rng);
        let lines = random_lines(&books, &mut rng);
        books
            .ok(
                CREATE,
                json!({ "input": { "date": date.to_string(), "description": "lama", "lines": lines, "post": true } }),
            )
            .await;
    }
    let before = books
        .ok(
            r#"query { trialBalance(asOf: "9999-12-31") { rows { account { code } debit credit } } }"#,
            json!({}),
        )
        .await;
    // Back to the schema before the totals existed, then forward again: the migration
    // fills them from the lines.
    let names: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let position = names
        .iter()
        .position(|n| n == "m20261201_000001_balances_at_scale")
        .expect("migration");
    let row = common::tenant_row(&books.app, &books.tenant.slug).await.expect("row");
    let owner = nusa_journal::tenancy::ownership::owner_connection(
        &common::server().url("postgres"),
        &row.db_name,
        &nusa_journal::tenancy::ownership::owner_role(&row.db_username),
        "test-owner",
    )
    .await
    .expect("owner");
    migration::Migrator::down(&owner, Some((names.len() - position) as u32))
        .await
        .expect("down");
    let gone = books
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT to_regclass('account_day_total') IS NULL AS gone",
        ))
        .await
        .expect("query")
        .expect("row");
    assert!(gone.try_get::<bool>("", "gone").expect("gone"));
    migration::Migrator::up(&owner, None).await.expect("up");
    // The grants on what the migrations created (as `migrate tenants` does).
    nusa_journal::tenancy::ownership::apply(
        &common::server().url("postgres"),
        &row.db_name,
        &row.db_username,
        nusa_journal::tenancy::ownership::Access::ReadWrite,
    )
    .await
    .expect("ownership");
    books.assert_consistent("the migration's fill").await;
    let after = books
        .ok(
            r#"query { trialBalance(asOf: "9999-12-31") { rows { account { code } debit credit } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(before, after);
}

#[tokio::test]
async fn the_login_role_cannot_post_from_a_stale_snapshot_move_a_date_while_posting_or_misplace_a_role() {
    use nusa_journal::tenancy::credentials::{single_connection, unseal};
    let books = Books::new("hardened").await;
    let row = common::tenant_row(&books.app, &books.tenant.slug).await.expect("row");
    let password = unseal(books.app.services.lifecycle.sealer(), &row).expect("unseal");
    let login = single_connection(&row, &password, "test-login-role")
        .await
        .expect("login role");
    let (kas, modal) = (books.id("1-1101").to_owned(), books.id("3-1001").to_owned());
    let refused = |result: Result<sea_orm::ExecResult, sea_orm::DbErr>| {
        nusa_journal::error::sqlstate(&result.expect_err("refused")).unwrap_or_default()
    };
    // A snapshot older than the statement: refused whatever it would see.
    let first = books.draft("2026-02-10", &kas, &modal).await;
    let code = refused(
        login
            .execute_unprepared(&format!(
                "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1;
                 UPDATE journal_entry SET status = 'POSTED' WHERE id = '{first}'; COMMIT;"
            ))
            .await,
    );
    assert_eq!(code, migration::sqlstate::POSTING_BYPASSED);
    let _ = login.execute_unprepared("ROLLBACK").await;
    // A new date on the way to POSTED: the lines would keep the old one.
    let second = books.draft("2026-01-10", &kas, &modal).await;
    let code = refused(
        login
            .execute_unprepared(&format!(
                "UPDATE journal_entry SET status = 'POSTED', date = '2026-03-31' WHERE id = '{second}'"
            ))
            .await,
    );
    assert_eq!(code, migration::sqlstate::POSTING_BYPASSED);
    // Cash placed among revenue.
    let code = refused(
        login
            .execute_unprepared("UPDATE account SET role = 'REVENUE' WHERE code = '1-1101'")
            .await,
    );
    assert_eq!(code, migration::sqlstate::ROLE_MISFIT);
    // The service posts both drafts as ever (READ COMMITTED, dates kept).
    for id in [first, second] {
        books
            .ok(
                "mutation($id: ID!) { postJournalEntry(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await;
    }
    books.assert_consistent("posting after the refusals").await;
}
