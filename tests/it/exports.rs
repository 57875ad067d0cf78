//! CSV exports (issue 14, point 4): every report exports and reads back with the numbers
//! its GraphQL query gives; text cells are neutralised, amounts plain; `sep=;`; bad
//! parameters and callers are refused before any byte; signed links download without a
//! header and stop working when tampered with, expired or their token revoked; an error
//! or a stalled client mid-stream aborts the transfer and frees the connection; a
//! 1,000,000-line general ledger streams in bounded memory.
//!
//! (The export -> import round trip needs the importer, written in parallel: it joins
//! these tests when both are merged.)

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use common::{error_code, TestApp, TestTenant};
use nusa_journal::books_csv::export::Report;
use nusa_journal::books_csv::format::{ACCOUNT_COLUMNS, ENTRY_COLUMNS};
use nusa_journal::books_csv::links::ExportLinks;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

const CREATE: &str =
    "mutation($input: CreateJournalEntryInput!) { createJournalEntry(input: $input) { id number status } }";
const LINK: &str = "mutation($p: String!) { createExportLink(path: $p) }";

struct Books {
    app: TestApp,
    tenant: TestTenant,
    ids: HashMap<String, String>,
}

impl Books {
    async fn new(prefix: &str) -> Books {
        Self::on(TestApp::spawn().await, prefix).await
    }

    async fn on(app: TestApp, prefix: &str) -> Books {
        let tenant = app.create_tenant(prefix, "PT Ekspor Data").await;
        let mut books = Books {
            app,
            tenant,
            ids: HashMap::new(),
        };
        for code in ["1-1101", "1-1103", "3-1001", "4-1001", "6-2001"] {
            let data = books
                .ok("query($c: String) { account(code: $c) { id } }", json!({ "c": code }))
                .await;
            books
                .ids
                .insert(code.to_owned(), data["account"]["id"].as_str().expect("id").to_owned());
        }
        books
    }

    fn id(&self, code: &str) -> &str {
        &self.ids[code]
    }

    async fn ok(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .app
            .tenant(&self.tenant.slug, Some(&self.tenant.token), query, variables)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["errors"].is_null(), "{query}: {body}");
        body["data"].clone()
    }

    /// Creates (and posts) an entry of two lines; its id.
    async fn entry(
        &self,
        date: &str,
        description: &str,
        debit: &str,
        credit: &str,
        amount: &str,
        post: bool,
    ) -> String {
        let data = self
            .ok(
                CREATE,
                json!({ "input": { "date": date, "description": description, "post": post, "reference": "REF-1",
                    "lines": [
                        { "accountId": self.id(debit), "debit": amount, "memo": "+62 812 555" },
                        { "accountId": self.id(credit), "credit": amount }
                    ] } }),
            )
            .await;
        data["createJournalEntry"]["id"].as_str().expect("id").to_owned()
    }

    /// The small books every export test reads: three posted entries (one with a
    /// formula for a description, one with a comma and quotes), one of them reversed,
    /// and a draft.
    async fn with_entries(prefix: &str) -> Books {
        let books = Books::new(prefix).await;
        books
            .entry("2026-01-05", "Setoran modal", "1-1101", "3-1001", "10000000.00", true)
            .await;
        books
            .entry("2026-02-10", "=SUM(A1:A9)", "1-1101", "4-1001", "2500000.50", true)
            .await;
        let rent = books
            .entry(
                "2026-03-15",
                "Sewa, kantor \"pusat\"",
                "6-2001",
                "1-1101",
                "750000.25",
                true,
            )
            .await;
        books
            .ok(
                "mutation($id: ID!) { reverseJournalEntry(id: $id, date: \"2026-03-20\") { id } }",
                json!({ "id": rent }),
            )
            .await;
        books
            .entry("2026-03-16", "Sewa lagi", "6-2001", "1-1101", "600000.00", true)
            .await;
        books
            .entry("2026-04-01", "draf", "1-1101", "4-1001", "1.00", false)
            .await;
        books
    }

    async fn export(&self, path_and_query: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        get(&self.app, &self.tenant.slug, Some(&self.tenant.token), path_and_query).await
    }

    /// An export that must succeed: its header row and records.
    async fn csv(&self, path_and_query: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let (status, headers, body) = self.export(path_and_query).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{path_and_query}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        let delimiter = if path_and_query.contains("sep=%3B") { b';' } else { b',' };
        records(&body, delimiter)
    }
}

/// `GET /{slug}/{path_and_query}` with the token, if any.
async fn get(app: &TestApp, slug: &str, token: Option<&str>, path_and_query: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = app.client.get(format!("{}/{slug}/{path_and_query}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("export request");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.expect("export body").to_vec())
}

/// The header and records of a CSV file that starts with a BOM.
fn records(body: &[u8], delimiter: u8) -> (Vec<String>, Vec<Vec<String>>) {
    let body = body.strip_prefix("\u{feff}".as_bytes()).expect("a BOM first");
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(body);
    let header = reader.headers().expect("header").iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn s(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_default()
}

#[tokio::test]
async fn every_report_exports_and_reads_back_with_the_numbers_graphql_gives() {
    let books = Books::with_entries("export-all").await;
    let slug = books.tenant.slug.clone();

    // Accounts: the import's columns, the whole chart (archived accounts too).
    let (header, rows) = books.csv("exports/accounts.csv").await;
    assert_eq!(header, ACCOUNT_COLUMNS);
    let chart = books
        .ok(
            "{ accounts(filter: { includeArchived: true }, first: 200) { totalCount nodes { code name type parent { code } isPostable normalBalance role description } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        rows.len() as u64,
        chart["accounts"]["totalCount"].as_u64().expect("count")
    );
    let kas = chart["accounts"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|a| a["code"] == "1-1101")
        .expect("kas");
    let kas_row = rows.iter().find(|r| r[0] == "1-1101").expect("kas row");
    assert_eq!(kas_row[1], s(&kas["name"]));
    assert_eq!(kas_row[2], "ASSET");
    assert_eq!(kas_row[3], s(&kas["parent"]["code"]));
    assert_eq!(kas_row[4], "true");
    assert_eq!(kas_row[5], "DEBIT");
    assert_eq!(kas_row[6], s(&kas["role"]));

    // Journal: by default every posted entry (a reversed one and its reversal too), one
    // row per line, in journal order; text neutralised, amounts plain.
    let (header, rows) = books.csv("exports/journal.csv").await;
    assert_eq!(header, ENTRY_COLUMNS);
    let journal = books
        .ok(
            "{ journalEntries(first: 200) { nodes { number status date description reference lines { account { code } debit credit memo } } } }",
            json!({}),
        )
        .await;
    let mut expected = Vec::new();
    for entry in journal["journalEntries"]["nodes"].as_array().expect("entries") {
        if entry["status"] == "DRAFT" {
            continue;
        }
        for line in entry["lines"].as_array().expect("lines") {
            let description = s(&entry["description"]);
            let memo = s(&line["memo"]);
            expected.push(vec![
                s(&entry["number"]),
                s(&entry["date"]),
                if description.starts_with('=') {
                    format!("'{description}")
                } else {
                    description
                },
                s(&entry["reference"]),
                s(&line["account"]["code"]),
                s(&line["debit"]),
                s(&line["credit"]),
                if memo.starts_with('+') {
                    format!("'{memo}")
                } else {
                    memo
                },
            ]);
        }
    }
    assert_eq!(expected.len(), 10, "five posted entries of two lines");
    assert_eq!(rows, expected);
    assert!(
        rows.iter().any(|r| r[2] == "'=SUM(A1:A9)"),
        "a formula comes out neutralised"
    );
    assert!(
        rows.iter().any(|r| r[2] == "Sewa, kantor \"pusat\""),
        "quoted, and read back"
    );
    assert!(rows.iter().any(|r| r[5] == "2500000.50"));
    let (_, drafts) = books.csv("exports/journal.csv?status=DRAFT").await;
    assert_eq!(drafts.len(), 2);
    assert!(
        uuid::Uuid::parse_str(&drafts[0][0]).is_ok(),
        "a draft's entry is its id"
    );
    let revenue = format!("exports/journal.csv?status=POSTED&accountId={}", books.id("4-1001"));
    let (_, only_posted) = books.csv(&revenue).await;
    assert_eq!(only_posted.len(), 2, "the one posted entry on revenue");

    // Trial balance, with and without movements.
    let graphql = books
        .ok(
            r#"{ trialBalance(asOf: "2026-12-31", from: "2026-02-01") { rows { account { code name } debit credit openingBalance movementDebit movementCredit closingBalance } } }"#,
            json!({}),
        )
        .await;
    let expected: Vec<Vec<String>> = graphql["trialBalance"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            vec![
                s(&r["account"]["code"]),
                s(&r["account"]["name"]),
                String::new(),
                s(&r["debit"]),
                s(&r["credit"]),
                s(&r["openingBalance"]),
                s(&r["movementDebit"]),
                s(&r["movementCredit"]),
                s(&r["closingBalance"]),
            ]
        })
        .collect();
    let (status, headers, body) = books
        .export("exports/trial-balance.csv?asOf=2026-12-31&from=2026-02-01")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{slug}-trial-balance-2026-02-01_2026-12-31.csv\"").as_str()
    );
    let (header, mut rows) = records(&body, b',');
    assert_eq!(
        header,
        [
            "code",
            "name",
            "type",
            "debit",
            "credit",
            "opening_balance",
            "movement_debit",
            "movement_credit",
            "closing_balance"
        ]
    );
    for row in &mut rows {
        row[2] = String::new();
    }
    assert_eq!(rows, expected);
    assert!(!rows.is_empty());

    // `sep=;`: semicolons, and amounts with a decimal comma.
    let (header, rows) = books.csv("exports/trial-balance.csv?asOf=2026-12-31&sep=%3B").await;
    assert_eq!(header, ["code", "name", "type", "debit", "credit"]);
    let kas = rows.iter().find(|r| r[0] == "1-1101").expect("kas");
    // 10,000,000.00 + 2,500,000.50 - 750,000.25 + 750,000.25 - 600,000.00
    assert_eq!(kas[3], "11900000,50");
    assert_eq!(kas[4], "0,00");

    // General ledger: the opening balance, then every line with its running balance.
    let query = format!(
        r#"{{ generalLedger(accountId: "{}", from: "2026-02-01", to: "2026-12-31", first: 200) {{
            openingBalance nodes {{ date debit credit runningBalance memo entry {{ number description reference }} }} }} }}"#,
        books.id("1-1101")
    );
    let ledger = books.ok(&query, json!({})).await;
    let (status, headers, body) = books
        .export(&format!(
            "exports/general-ledger.csv?accountId={}&from=2026-02-01&to=2026-12-31",
            books.id("1-1101")
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{slug}-general-ledger-1-1101-2026-02-01_2026-12-31.csv\"").as_str()
    );
    let (header, rows) = records(&body, b',');
    assert_eq!(
        header,
        [
            "date",
            "entry",
            "description",
            "reference",
            "debit",
            "credit",
            "running_balance",
            "memo"
        ]
    );
    assert_eq!(rows[0][2], "Saldo awal");
    assert_eq!(rows[0][6], s(&ledger["generalLedger"]["openingBalance"]));
    assert_eq!(rows[0][6], "10000000.00");
    let expected: Vec<Vec<String>> = ledger["generalLedger"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            let description = s(&n["entry"]["description"]);
            let memo = s(&n["memo"]);
            vec![
                s(&n["date"]),
                s(&n["entry"]["number"]),
                if description.starts_with('=') {
                    format!("'{description}")
                } else {
                    description
                },
                s(&n["entry"]["reference"]),
                s(&n["debit"]),
                s(&n["credit"]),
                s(&n["runningBalance"]),
                if memo.starts_with('+') {
                    format!("'{memo}")
                } else {
                    memo
                },
            ]
        })
        .collect();
    assert_eq!(rows[1..], expected[..]);
    assert_eq!(rows.last().expect("last")[6], "11900000.50");

    // Balance sheet and income statement: the same rows and amounts, in the asked language.
    let sheet = books
        .ok(
            r#"{ balanceSheet(asOf: "2026-12-31", compareTo: ["2026-01-31"]) { columns { label } rows { kind depth label account { code } amounts } } }"#,
            json!({}),
        )
        .await;
    let (header, rows) = books
        .csv("exports/balance-sheet.csv?asOf=2026-12-31&compareTo=2026-01-31")
        .await;
    let labels: Vec<String> = sheet["balanceSheet"]["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| s(&c["label"]))
        .collect();
    assert_eq!(header[..4], ["kind", "depth", "code", "label"]);
    assert_eq!(header[4..], labels[..]);
    let statement_rows = |statement: &Value| -> Vec<Vec<String>> {
        statement["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                let mut row = vec![
                    s(&r["kind"]),
                    r["depth"].to_string(),
                    s(&r["account"]["code"]),
                    s(&r["label"]),
                ];
                row.extend(r["amounts"].as_array().expect("amounts").iter().map(s));
                row
            })
            .collect()
    };
    assert_eq!(rows, statement_rows(&sheet["balanceSheet"]));
    let income = books
        .ok(
            r#"{ incomeStatement(from: "2026-01-01", to: "2026-12-31", periodicity: QUARTER) { columns { label } rows { kind depth label account { code } amounts } } }"#,
            json!({}),
        )
        .await;
    let (status, headers, body) = books
        .export("exports/income-statement.csv?from=2026-01-01&to=2026-12-31&periodicity=QUARTER")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        format!("attachment; filename=\"{slug}-income-statement-2026-01-01_2026-12-31.csv\"").as_str()
    );
    let (header, rows) = records(&body, b',');
    assert_eq!(header.len(), 4 + 4, "four quarters");
    assert_eq!(rows, statement_rows(&income["incomeStatement"]));
    let (_, english) = books
        .csv("exports/income-statement.csv?from=2026-01-01&to=2026-12-31&language=en")
        .await;
    assert!(english.iter().any(|r| r[0] == "TOTAL"));
    assert_ne!(
        english.last().expect("net income")[3],
        rows.last().expect("laba bersih")[3]
    );
}

#[tokio::test]
async fn bad_parameters_and_callers_are_refused_before_any_byte() {
    let books = Books::new("export-refusals").await;
    let other = books.app.create_tenant("export-other", "PT Lain").await;
    let kas = books.id("1-1101").to_owned();
    for (path, field) in [
        ("exports/trial-balance.csv?asOf=31-12-2026", "asOf"),
        ("exports/trial-balance.csv?asOf=2026-01-01&from=2026-02-01", "from"),
        ("exports/trial-balance.csv?accountId=x", "accountId"),
        ("exports/general-ledger.csv", "accountId"),
        ("exports/general-ledger.csv?accountId=nope", "accountId"),
        ("exports/journal.csv?status=VOID", "status"),
        ("exports/journal.csv?from=2026-01-01&from=2026-02-01", "from"),
        ("exports/accounts.csv?sep=%7C", "sep"),
        ("exports/income-statement.csv?from=2026-01-01", "to"),
        (
            "exports/income-statement.csv?from=2026-01-01&to=2026-12-31&periodicity=WEEK",
            "periodicity",
        ),
        (
            "exports/balance-sheet.csv?compareTo=2025-01-01,2024-01-01,2023-01-01,2022-01-01,2021-01-01",
            "compareTo",
        ),
    ] {
        let (status, headers, body) = books.export(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(headers["content-type"], "application/json", "{path}");
        let body: Value = serde_json::from_slice(&body).expect("JSON error");
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{path}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{path}: {body}");
    }
    let (status, _, body) = books
        .export(&format!(
            "exports/general-ledger.csv?accountId={}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&serde_json::from_slice(&body).expect("json")), "NOT_FOUND");
    let (status, _, _) = books.export("exports/secrets.csv").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // HTTP/1.0 cannot tell a cut transfer from a complete one: refused.
    let old = books
        .app
        .client
        .get(format!("{}/{}/exports/accounts.csv", books.app.base, books.tenant.slug))
        .version(reqwest::Version::HTTP_10)
        .bearer_auth(&books.tenant.token)
        .send()
        .await
        .expect("HTTP/1.0 request");
    assert_eq!(old.status(), StatusCode::HTTP_VERSION_NOT_SUPPORTED);

    // Callers: none, another tenant's, a write-only token; a READ token is enough.
    let path = format!("exports/general-ledger.csv?accountId={kas}");
    for token in [None, Some(other.token.as_str()), Some("nj_garbage")] {
        let (status, _, body) = get(&books.app, &books.tenant.slug, token, &path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            error_code(&serde_json::from_slice(&body).expect("json")),
            "UNAUTHENTICATED"
        );
    }
    let token = |scopes: &'static str| {
        let books = &books;
        async move {
            let (status, body) = books
                .app
                .admin(
                    &format!("mutation($s: String!) {{ createApiToken(slug: $s, name: \"t\", scopes: {scopes}) {{ token }} }}"),
                    json!({ "s": books.tenant.slug }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            s(&body["data"]["createApiToken"]["token"])
        }
    };
    let write_only = token("[WRITE]").await;
    let (status, _, body) = get(&books.app, &books.tenant.slug, Some(&write_only), &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(error_code(&serde_json::from_slice(&body).expect("json")), "FORBIDDEN");
    let read_only = token("[READ]").await;
    let (status, _, body) = get(&books.app, &books.tenant.slug, Some(&read_only), &path).await;
    assert_eq!(status, StatusCode::OK);
    let (_, rows) = records(&body, b',');
    assert_eq!(rows.len(), 1, "the opening balance alone");
}

#[tokio::test]
async fn export_links_download_without_a_header_and_stop_working_when_they_should() {
    let books = Books::with_entries("export-links").await;
    let read_only = {
        let (status, body) = books
            .app
            .admin(
                "mutation($s: String!) { createApiToken(slug: $s, name: \"browser\", scopes: [READ]) { apiToken { id } token } }",
                json!({ "s": books.tenant.slug }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (
            s(&body["data"]["createApiToken"]["apiToken"]["id"]),
            s(&body["data"]["createApiToken"]["token"]),
        )
    };
    let link_of = |token: String, path: &'static str| {
        let books = &books;
        async move {
            books
                .app
                .tenant(&books.tenant.slug, Some(&token), LINK, json!({ "p": path }))
                .await
        }
    };
    // A READ token may make a link (the one mutation it may run).
    let (status, body) = link_of(read_only.1.clone(), "exports/trial-balance.csv?asOf=2026-12-31").await;
    assert_eq!(status, StatusCode::OK);
    let link = s(&body["data"]["createExportLink"]);
    assert!(
        link.starts_with(&format!(
            "/{}/exports/trial-balance.csv?asOf=2026-12-31&expires=",
            books.tenant.slug
        )),
        "{body}"
    );
    let download = |url: String| {
        let books = &books;
        async move {
            let response = books
                .app
                .client
                .get(format!("{}{url}", books.app.base))
                .send()
                .await
                .expect("download");
            (response.status(), response.bytes().await.expect("body").to_vec())
        }
    };
    let (status, body) = download(link.clone()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let (_, rows) = records(&body, b',');
    assert_eq!(rows, books.csv("exports/trial-balance.csv?asOf=2026-12-31").await.1);

    // Tampered: another date, another report, the signature changed.
    for tampered in [
        link.replace("asOf=2026-12-31", "asOf=2025-12-31"),
        link.replace("trial-balance.csv", "balance-sheet.csv"),
        link.replace("&sig=", "&sig=A"),
        link.replace("asOf=2026-12-31&", "asOf=2026-12-31&sep=%3B&"),
    ] {
        let (status, body) = download(tampered.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{tampered}");
        assert_eq!(
            error_code(&serde_json::from_slice(&body).expect("json")),
            "UNAUTHENTICATED"
        );
    }
    // Expired: signed as this service signs, five minutes ago.
    let links = ExportLinks::new(&books.app.config.sealer);
    let expired = links.sign(
        &books.tenant.slug,
        Report::TrialBalance,
        &[("asOf".into(), "2026-12-31".into())],
        uuid::Uuid::parse_str(&read_only.0).expect("token id"),
        chrono::Utc::now() - chrono::Duration::minutes(5),
    );
    let (status, body) = download(expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(String::from_utf8_lossy(&body).contains("expired"));
    // Only exports can be linked.
    for path in [
        "graphql?query={company{name}}",
        "exports/../graphql",
        "admin/graphql",
        "exports/accounts.csv?asOf=x",
    ] {
        let (status, body) = books
            .app
            .tenant(
                &books.tenant.slug,
                Some(&books.tenant.token),
                LINK,
                json!({ "p": path }),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{path}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "path");
    }
    // Revoked: the link made by the token stops working with it.
    let (_, body) = link_of(read_only.1.clone(), "exports/accounts.csv").await;
    let accounts_link = s(&body["data"]["createExportLink"]);
    assert_eq!(download(accounts_link.clone()).await.0, StatusCode::OK);
    let (status, body) = books
        .app
        .admin(
            "mutation($id: ID!) { revokeApiToken(id: $id) { revokedAt } }",
            json!({ "id": read_only.0 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = download(accounts_link).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_code(&serde_json::from_slice(&body).expect("json")),
        "UNAUTHENTICATED"
    );
}

/// Posted lines loaded by SQL with the triggers off (two lines per entry, both on
/// `account`: a debit and a credit of the same amount), then the totals rebuilt.
async fn bulk_ledger(app: &TestApp, slug: &str, account: &str, lines: u64) {
    let row = common::tenant_row(app, slug).await.expect("row");
    let db = common::superuser(&row.db_name).await;
    let entries = lines / 2;
    let chunk = 250_000u64;
    let mut first = 1;
    while first <= entries {
        let last = (first + chunk - 1).min(entries);
        db.execute_unprepared(&format!(
            r#"SET session_replication_role = replica;
               CREATE TEMP TABLE bulk AS
                 SELECT g, ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS id,
                        DATE '2024-01-01' + ((g - 1) * 1000 / {entries})::int AS day
                   FROM generate_series({first}::bigint, {last}::bigint) g;
               INSERT INTO journal_entry (id, number, fiscal_year, sequence, date, description, status, posted_at, kind)
                 SELECT id, 'JE/B/' || g, extract(year FROM day)::int, g, day, 'bulk ' || g, 'POSTED', now(), 'REGULAR'
                   FROM bulk;
               INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit, entry_date)
                 SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(b.g * 2 + s.n), 12, '0'))::uuid, b.id, s.n,
                        '{account}'::uuid,
                        CASE s.n WHEN 1 THEN ((b.g % 997) + 1)::numeric ELSE 0 END,
                        CASE s.n WHEN 2 THEN ((b.g % 991) + 1)::numeric ELSE 0 END, b.day
                   FROM bulk b, (VALUES (1), (2)) s(n);
               DROP TABLE bulk;
               SET session_replication_role = DEFAULT;"#
        ))
        .await
        .expect("bulk load");
        first = last + 1;
    }
    db.execute_unprepared("ANALYZE journal_entry; ANALYZE journal_line;")
        .await
        .expect("analyze");
    nusa_journal::ledger::balances::rebuild(&db)
        .await
        .expect("rebuild totals");
}

/// The tenant's connections that sit in a transaction (an export's snapshot).
async fn export_backends(app: &TestApp, slug: &str) -> Vec<i32> {
    let row = common::tenant_row(app, slug).await.expect("row");
    let db = common::superuser("postgres").await;
    let rows = db
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND usename = $2 AND xact_start IS NOT NULL",
            [row.db_name.into(), row.db_username.into()],
        ))
        .await
        .expect("activity");
    rows.iter().map(|r| r.try_get::<i32>("", "pid").expect("pid")).collect()
}

#[tokio::test]
async fn an_error_or_a_stalled_client_mid_stream_aborts_the_transfer_and_frees_the_connection() {
    let app = TestApp::spawn_with(|c| {
        c.api.exports.max_per_tenant = 1;
        c.api.exports.stall_timeout = Duration::from_millis(500);
    })
    .await;
    let books = Books::on(app, "export-aborts").await;
    let kas = books.id("1-1101").to_owned();
    bulk_ledger(&books.app, &books.tenant.slug, &kas, 300_000).await;
    let url = format!(
        "{}/{}/exports/general-ledger.csv?accountId={kas}",
        books.app.base, books.tenant.slug
    );
    let start = || books.app.client.get(&url).bearer_auth(&books.tenant.token).send();

    // The database connection dies while the client pauses: the body ends in an error.
    let mut response = start().await.expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let first = response.chunk().await.expect("first piece").expect("bytes");
    assert!(!first.is_empty());
    // One export at a time for this tenant: a second is refused while the first holds its place.
    let (status, _, body) = books
        .export(&format!("exports/general-ledger.csv?accountId={kas}"))
        .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let backends = export_backends(&books.app, &books.tenant.slug).await;
    assert_eq!(backends.len(), 1, "one connection, one snapshot");
    common::superuser("postgres")
        .await
        .execute_unprepared(&format!("SELECT pg_terminate_backend({})", backends[0]))
        .await
        .expect("terminate");
    let mut read = first.len();
    let ended = loop {
        match response.chunk().await {
            Ok(Some(bytes)) => read += bytes.len(),
            Ok(None) => break Ok(read),
            Err(error) => break Err(error),
        }
    };
    assert!(
        ended.is_err(),
        "the transfer is aborted, not ended as if complete ({ended:?} bytes)"
    );

    // A client that stops reading: cut after the stall timeout, its place and connection freed.
    let mut response = start().await.expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    response.chunk().await.expect("first piece");
    assert!(
        common::eventually(Duration::from_secs(30), || async {
            export_backends(&books.app, &books.tenant.slug).await.is_empty()
        })
        .await,
        "the stalled export let its connection go"
    );
    let mut aborted = false;
    while !aborted {
        match response.chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => aborted = true,
        }
    }
    assert!(aborted, "the stalled transfer ends in an error");
    // Its place is free again (one export at a time here).
    let (status, _, _) = books.export("exports/accounts.csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        common::eventually(Duration::from_secs(10), || async {
            books.app.metrics().await.contains("result=\"client_stalled\"")
        })
        .await,
        "the cut is counted"
    );
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn a_million_line_general_ledger_streams_in_bounded_memory() {
    const LINES: u64 = 1_000_000;
    let books = Books::new("export-million").await;
    let kas = books.id("1-1101").to_owned();
    bulk_ledger(&books.app, &books.tenant.slug, &kas, LINES).await;
    // The real binary, on the same registry, so /proc measures the server alone.
    let dir = tempfile::tempdir().expect("dir");
    let log_path = dir.path().join("server.log");
    let mut env = books.app.process_env();
    env.push(("RUST_LOG".into(), "info".into()));
    let server = common::ServerProcess::start_logging(&env, &log_path).await;
    let pid = server.child.id().expect("pid");
    let client = reqwest::Client::new();
    let slug = &books.tenant.slug;
    // Warm: the tenant's pool open, a small export served, then the idle size.
    let warm = client
        .get(format!("{}/{slug}/exports/accounts.csv", server.base))
        .bearer_auth(&books.tenant.token)
        .send()
        .await
        .expect("warm");
    assert_eq!(warm.status(), StatusCode::OK);
    warm.bytes().await.expect("warm body");
    let idle = rss_kib(pid);

    let streaming = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let streaming = streaming.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while streaming.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak.max(rss_kib(pid))
        })
    };
    let mut response = client
        .get(format!(
            "{}/{slug}/exports/general-ledger.csv?accountId={kas}",
            server.base
        ))
        .bearer_auth(&books.tenant.token)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    let (mut bytes, mut newlines) = (0usize, 0usize);
    let mut tail: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("piece") {
        bytes += chunk.len();
        newlines += chunk.iter().filter(|b| **b == b'\n').count();
        tail.extend_from_slice(&chunk);
        let keep = tail.len().saturating_sub(200);
        tail.drain(..keep);
    }
    streaming.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.expect("sampler");
    assert_eq!(newlines as u64, LINES + 2, "header, opening balance, every line");
    // The last running balance is the account's balance.
    let balance = books.ok(r#"{ account(code: "1-1101") { balance } }"#, json!({})).await;
    let last_line = String::from_utf8_lossy(&tail);
    let last = last_line.trim_end().rsplit("\r\n").next().expect("last line");
    assert_eq!(last.split(',').nth(6), balance["account"]["balance"].as_str(), "{last}");
    let grown_mib = peak.saturating_sub(idle) / 1024;
    eprintln!(
        "1M-line general ledger: {} MB streamed; server RSS idle {} MiB, peak {} MiB",
        bytes / 1_000_000,
        idle / 1024,
        peak / 1024
    );
    assert!(
        grown_mib < 100,
        "RSS grew {grown_mib} MiB while streaming (idle {idle} KiB, peak {peak} KiB)"
    );

    // A link through the real server: the signature and the token stay out of the logs.
    let (_, body) = books
        .app
        .tenant(
            slug,
            Some(&books.tenant.token),
            LINK,
            json!({ "p": "exports/accounts.csv" }),
        )
        .await;
    let link = s(&body["data"]["createExportLink"]);
    let signature = link.rsplit("sig=").next().expect("sig").to_owned();
    let linked = client.get(format!("{}{link}", server.base)).send().await.expect("link");
    assert_eq!(linked.status(), StatusCode::OK);
    linked.bytes().await.expect("body");
    server.stop().await;
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(log.contains("/exports/accounts.csv"), "the path is logged");
    assert!(!log.contains(&signature), "the signature is not");
    assert!(!log.contains("sig="), "nor the query");
    assert!(!log.contains(&books.tenant.token), "nor the token");
}
