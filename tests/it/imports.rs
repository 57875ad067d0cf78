//! CSV imports (issue 14): every error by row and column in a dry run, all or nothing,
//! idempotency keys, the upload route and its limit, scopes, the CLI.

use crate::common;

use common::{error_code, run_cli, TestApp, TestTenant};
use reqwest::StatusCode;
use serde_json::{json, Value};

const IMPORT_ENTRIES: &str = "mutation($csv: String!, $post: Boolean, $dryRun: Boolean, $key: String) {
    importJournalEntries(csv: $csv, post: $post, dryRun: $dryRun, idempotencyKey: $key) {
        dryRun rowsRead accountsCreated entriesCreated errors { row column code message } } }";

const IMPORT_ACCOUNTS: &str = "mutation($csv: String!, $dryRun: Boolean) {
    importAccounts(csv: $csv, dryRun: $dryRun) {
        dryRun rowsRead accountsCreated entriesCreated errors { row column code message } } }";

const ENTRY_COUNT: &str = "{ journalEntries(first: 1) { totalCount } }";

async fn gql(app: &TestApp, tenant: &TestTenant, query: &str, variables: Value) -> Value {
    let (status, body) = app.tenant(&tenant.slug, Some(&tenant.token), query, variables).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn entry_count(app: &TestApp, tenant: &TestTenant) -> i64 {
    gql(app, tenant, ENTRY_COUNT, json!({})).await["data"]["journalEntries"]["totalCount"]
        .as_i64()
        .unwrap()
}

/// `(row, column, code)` of each error.
fn errors(result: &Value) -> Vec<(i64, Option<String>, String)> {
    result["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors list: {result}"))
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["column"].as_str().map(str::to_owned),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn cell(row: i64, column: &str, code: &str) -> (i64, Option<String>, String) {
    (row, Some(column.to_owned()), code.to_owned())
}

/// `POST /{slug}/imports/{kind}.csv?{query}` with `body`.
async fn upload(app: &TestApp, slug: &str, token: &str, kind: &str, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .post(format!("{}/{slug}/imports/{kind}.csv?{query}", app.base))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A file with a BOM, `;` separators, CRLF line ends, a decimal comma, quoted cells
/// holding `;` and a line break, an unknown account, an unbalanced entry and a bad date.
fn spreadsheet_entries(fixed: bool) -> String {
    let (unknown, credit, date) = if fixed {
        ("4-1001", "250000,00", "2026-03-02")
    } else {
        ("9-9999", "240000,00", "2026-02-30")
    };
    [
        "\u{feff}entry;date;description;reference;account_code;debit;credit;memo".to_owned(),
        "S-1;2026-03-01;\"Penjualan; tunai\";INV-1;1-1101;1500000,00;;\"kas\r\nmasuk\"".to_owned(),
        format!("S-1;;;;{unknown};;1500000,00;"),
        "S-2;2026-03-01;Penjualan kredit;INV-2;1-1201;250000,00;;".to_owned(),
        format!("S-2;;;;4-1001;;{credit};"),
        format!("S-3;{date};'=Setoran;;1-1103;100,00;;"),
        "S-3;;;;1-1101;;100,00;".to_owned(),
    ]
    .join("\r\n")
        + "\r\n"
}

#[tokio::test]
async fn entries_dry_run_lists_every_error_then_the_corrected_file_imports_once() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("imp-entries", "PT Impor").await;
    let vars = |csv: String, dry_run: bool, key: Option<&str>| json!({ "csv": csv, "post": true, "dryRun": dry_run, "key": key });

    // A dry run (the default) lists every error with its row and column; nothing is written.
    let body = gql(
        &app,
        &tenant,
        IMPORT_ENTRIES,
        json!({ "csv": spreadsheet_entries(false), "post": true }),
    )
    .await;
    let result = &body["data"]["importJournalEntries"];
    assert_eq!(result["dryRun"], true, "{body}");
    assert_eq!(result["rowsRead"], 6);
    assert_eq!(
        errors(result),
        vec![
            cell(2, "account_code", "UNKNOWN_ACCOUNT"),
            cell(3, "entry", "UNBALANCED_ENTRY"),
            cell(5, "date", "BAD_DATE"),
        ],
        "{body}"
    );
    assert_eq!(result["entriesCreated"], 0);
    // The same with dryRun: false: with errors nothing is written either.
    let body = gql(
        &app,
        &tenant,
        IMPORT_ENTRIES,
        vars(spreadsheet_entries(false), false, None),
    )
    .await;
    assert_eq!(errors(&body["data"]["importJournalEntries"]).len(), 3, "{body}");
    assert_eq!(entry_count(&app, &tenant).await, 0);

    // The corrected file: a dry run says what would happen, still writing nothing.
    let body = gql(
        &app,
        &tenant,
        IMPORT_ENTRIES,
        vars(spreadsheet_entries(true), true, None),
    )
    .await;
    let result = &body["data"]["importJournalEntries"];
    assert_eq!(
        (result["entriesCreated"].clone(), errors(result)),
        (json!(3), vec![]),
        "{body}"
    );
    assert_eq!(entry_count(&app, &tenant).await, 0);

    // Committed with a key: imported; the same file and key again imports nothing more.
    for _ in 0..2 {
        let body = gql(
            &app,
            &tenant,
            IMPORT_ENTRIES,
            vars(spreadsheet_entries(true), false, Some("march-1")),
        )
        .await;
        let result = &body["data"]["importJournalEntries"];
        assert_eq!(result["dryRun"], false, "{body}");
        assert_eq!(result["entriesCreated"], 3, "{body}");
        assert_eq!(errors(result), vec![]);
        assert_eq!(entry_count(&app, &tenant).await, 3);
    }
    // Another file (or the same as drafts) with that key is a conflict.
    let other = spreadsheet_entries(true).replace("S-3", "S-4");
    let body = gql(&app, &tenant, IMPORT_ENTRIES, vars(other, false, Some("march-1"))).await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");

    // What was written: posted entries with the cells as given.
    let body = gql(
        &app,
        &tenant,
        "{ journalEntries(first: 10) { nodes { status description reference sourceNumber totalDebit lines { memo } } } }",
        json!({}),
    )
    .await;
    let nodes = body["data"]["journalEntries"]["nodes"].as_array().unwrap().clone();
    assert!(nodes.iter().all(|n| n["status"] == "POSTED"), "{body}");
    let find = |d: &str| {
        nodes
            .iter()
            .find(|n| n["description"] == d)
            .cloned()
            .unwrap_or_else(|| panic!("{d}: {body}"))
    };
    let cash_sale = find("Penjualan; tunai");
    assert_eq!(cash_sale["totalDebit"], "1500000.00");
    assert_eq!(cash_sale["reference"], "INV-1");
    assert_eq!(cash_sale["sourceNumber"], "S-1", "the entry value is kept");
    assert_eq!(cash_sale["lines"][0]["memo"], "kas\r\nmasuk");
    find("=Setoran");
    let body = gql(&app, &tenant, "{ trialBalance { totalDebit totalCredit } }", json!({})).await;
    assert_eq!(body["data"]["trialBalance"]["totalDebit"], "1750000.00", "{body}");
}

#[tokio::test]
async fn accounts_in_any_order_import_and_errors_name_their_rows() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("imp-accounts", "PT Bagan").await;
    let file = "code,name,type,parent_code,is_postable,normal_balance,role,description\n\
                1-1111,\"Kas, cabang Medan\",ASSET,1-1110,true,,CASH,\"kas, kecil\"\n\
                1-1110,Kas cabang,asset,1-1100,false,,,\n\
                6-9001,Beban lain,EXPENSE,,,,,\n";
    let body = gql(&app, &tenant, IMPORT_ACCOUNTS, json!({ "csv": file })).await;
    let result = &body["data"]["importAccounts"];
    assert_eq!(
        (
            result["dryRun"].clone(),
            result["accountsCreated"].clone(),
            errors(result)
        ),
        (json!(true), json!(3), vec![]),
        "{body}"
    );
    let account = "query($c: String) { account(code: $c) { name parent { code } isPostable description } }";
    let body = gql(&app, &tenant, account, json!({ "c": "1-1111" })).await;
    assert!(body["data"]["account"].is_null(), "a dry run writes nothing: {body}");

    let body = gql(&app, &tenant, IMPORT_ACCOUNTS, json!({ "csv": file, "dryRun": false })).await;
    assert_eq!(body["data"]["importAccounts"]["accountsCreated"], 3, "{body}");
    let body = gql(&app, &tenant, account, json!({ "c": "1-1111" })).await;
    assert_eq!(
        body["data"]["account"],
        json!({ "name": "Kas, cabang Medan", "parent": { "code": "1-1110" }, "isPostable": true, "description": "kas, kecil" })
    );
    let body = gql(&app, &tenant, account, json!({ "c": "1-1110" })).await;
    assert_eq!(body["data"]["account"]["parent"]["code"], "1-1100");

    // Duplicates (in the file and against the chart) and a missing parent: all listed,
    // nothing written.
    let bad = "code,name,type,parent_code\n\
               7-0001,Baru,EXPENSE,\n\
               7-0001,Lagi,EXPENSE,\n\
               1-1101,Kas,ASSET,\n\
               7-0002,Yatim,EXPENSE,7-9999\n";
    let body = gql(&app, &tenant, IMPORT_ACCOUNTS, json!({ "csv": bad, "dryRun": false })).await;
    let result = &body["data"]["importAccounts"];
    assert_eq!(
        errors(result),
        vec![
            cell(2, "code", "DUPLICATE_CODE"),
            cell(3, "code", "DUPLICATE_CODE"),
            cell(4, "parent_code", "PARENT_NOT_FOUND"),
        ],
        "{body}"
    );
    assert_eq!(result["accountsCreated"], 0);
    let body = gql(&app, &tenant, account, json!({ "c": "7-0001" })).await;
    assert!(body["data"]["account"].is_null(), "{body}");

    // The audit log has an event per account created.
    let body = gql(
        &app,
        &tenant,
        "{ auditLog(first: 50) { nodes { action detail } } }",
        json!({}),
    )
    .await;
    let created = body["data"]["auditLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "account.create")
        .count();
    assert_eq!(created, 3, "{body}");
}

/// A generated entries file: `entries` entries of two lines, each line padded with a
/// memo of `memo` characters.
fn generated_entries(entries: usize, memo: usize) -> Vec<u8> {
    use std::io::Write;
    let mut file = Vec::with_capacity(entries * (2 * (80 + memo)));
    let pad = "m".repeat(memo);
    writeln!(file, "entry,date,description,reference,account_code,debit,credit,memo").unwrap();
    for n in 0..entries {
        let day = 1 + n % 28;
        writeln!(
            file,
            "E{n},2026-04-{day:02},Penjualan harian {n},R-{n},1-1101,{}.25,,{pad}",
            1000 + n
        )
        .unwrap();
        writeln!(file, "E{n},,,,4-1001,,{}.25,{pad}", 1000 + n).unwrap();
    }
    file
}

#[tokio::test]
async fn a_20_mb_entries_file_imports_through_the_upload_route() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("imp-big", "PT Besar").await;
    // 5,000 entries of two lines, each line ~2 KB (a memo near its 2,000-character cap):
    // 20 MB, far past the GraphQL limit, few rows (the rows per second are the benchmark's).
    let entries = 5_000;
    let file = generated_entries(entries, 1_990);
    assert!(file.len() > 20 * 1000 * 1000, "{} bytes", file.len());
    let (status, body) = upload(&app, &tenant.slug, &tenant.token, "entries", "", file.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["dryRun"], true, "a dry run by default: {body}");
    assert_eq!(body["rowsRead"], 2 * entries);
    assert_eq!(body["entriesCreated"], entries);
    assert_eq!(entry_count(&app, &tenant).await, 0);

    let (status, body) = upload(
        &app,
        &tenant.slug,
        &tenant.token,
        "entries",
        "dryRun=false&post=true&idempotencyKey=big-1",
        file,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["dryRun"].clone(),
            body["entriesCreated"].clone(),
            body["errors"].clone()
        ),
        (json!(false), json!(entries), json!([])),
        "{body}"
    );
    assert_eq!(entry_count(&app, &tenant).await, entries as i64);
    // Each entry is 1000 + n rupiah and 25 sen.
    let total: i64 = (0..entries as i64).map(|n| 1000 + n).sum::<i64>() + entries as i64 / 4;
    let body = gql(&app, &tenant, "{ trialBalance { totalDebit totalCredit } }", json!({})).await;
    assert_eq!(
        body["data"]["trialBalance"]["totalDebit"],
        format!("{total}.00"),
        "{body}"
    );
}

#[tokio::test]
async fn uploads_past_their_limit_are_refused_and_other_routes_keep_theirs() {
    let app = TestApp::spawn_with(|c| {
        c.api.import_max_bytes = 4096;
        c.api.import_time_limit = std::time::Duration::from_millis(1);
    })
    .await;
    let tenant = app.create_tenant("imp-limit", "PT Batas").await;
    let file = generated_entries(20, 200);
    assert!(file.len() > 4096);
    let (status, body) = upload(&app, &tenant.slug, &tenant.token, "entries", "", file).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(error_code(&body), "BAD_REQUEST", "{body}");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("4096"),
        "{body}"
    );
    // Within the limit it is read.
    let (status, body) = upload(
        &app,
        &tenant.slug,
        &tenant.token,
        "entries",
        "",
        generated_entries(2, 10),
    )
    .await;
    assert_eq!(
        (status, body["entriesCreated"].clone()),
        (StatusCode::OK, json!(2)),
        "{body}"
    );
    // Writing stops past IMPORT_TIME_LIMIT_MS (here 1 ms, gone before the first batch):
    // TIMEOUT, and nothing is written.
    let (status, body) = upload(
        &app,
        &tenant.slug,
        &tenant.token,
        "entries",
        "dryRun=false",
        generated_entries(2, 10),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::GATEWAY_TIMEOUT, "TIMEOUT"),
        "{body}"
    );
    assert_eq!(entry_count(&app, &tenant).await, 0);
    // An unknown URL parameter is a coded error, not ignored.
    let (status, body) = upload(&app, &tenant.slug, &tenant.token, "entries", "dryrun=false", vec![]).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        "{body}"
    );

    // The default: 50 MB for uploads, and GraphQL keeps its 1 MB body limit.
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("imp-limit", "PT Batas").await;
    let csv = String::from_utf8(generated_entries(3000, 300)).unwrap();
    assert!(csv.len() > app.config.api.max_body_bytes);
    let (status, body) = app
        .tenant(&tenant.slug, Some(&tenant.token), IMPORT_ENTRIES, json!({ "csv": csv }))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "BAD_REQUEST"),
        "{body}"
    );
    let (status, body) = upload(&app, &tenant.slug, &tenant.token, "entries", "", csv.into_bytes()).await;
    assert_eq!(
        (status, body["entriesCreated"].clone()),
        (StatusCode::OK, json!(3000)),
        "{body}"
    );
    // A chart takes no post or key: a client that thinks its retries are keyed is told.
    let chart = b"code,name,type\n9-1,Kas lain,ASSET\n".to_vec();
    let (status, body) = upload(&app, &tenant.slug, &tenant.token, "accounts", "idempotencyKey=k", chart).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        "{body}"
    );
}

#[tokio::test]
async fn read_tokens_and_strangers_cannot_import() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("imp-scope", "PT Baca").await;
    let (_, body) = app
        .admin(
            "mutation($slug: String!) { createApiToken(slug: $slug, name: \"reader\", scopes: [READ]) { token } }",
            json!({ "slug": tenant.slug }),
        )
        .await;
    let reader = body["data"]["createApiToken"]["token"].as_str().unwrap().to_owned();
    let file = b"code,name,type\n7-0001,Baru,EXPENSE\n".to_vec();
    let (status, body) = upload(&app, &tenant.slug, &reader, "accounts", "", file.clone()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::FORBIDDEN, "FORBIDDEN"),
        "{body}"
    );
    let (status, body) = app
        .tenant(
            &tenant.slug,
            Some(&reader),
            IMPORT_ACCOUNTS,
            json!({ "csv": "code,name,type\n" }),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::OK, "FORBIDDEN"),
        "even a dry run (a GraphQL answer, as for every refused mutation): {body}"
    );
    let other = app.create_tenant("imp-scope", "PT Lain").await;
    let (status, body) = upload(&app, &tenant.slug, &other.token, "accounts", "", file.clone()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
        "{body}"
    );
    let (status, body) = upload(&app, &tenant.slug, &tenant.token, "accounts", "", file).await;
    assert_eq!(
        (status, body["accountsCreated"].clone()),
        (StatusCode::OK, json!(1)),
        "{body}"
    );
    assert!(
        app.metrics().await.contains("operation=\"import\""),
        "uploads are counted in the request metrics"
    );
}

#[tokio::test]
async fn the_cli_checks_then_commits() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("imp-cli", "PT Baris Perintah").await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "code,name,type,parent_code\n7-0001,Baru,EXPENSE,7-9999\n").unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "code,name,type\n7-0001,Baru,EXPENSE\n").unwrap();
    let env = app.process_env();
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();

    let (ok, out, _) = run_cli(
        &["tenant", "import", "accounts", &tenant.slug, &path(&bad), "--commit"],
        &env,
    )
    .await;
    assert!(!ok, "errors make a non-zero exit: {out}");
    assert!(out.contains("row 1, column parent_code: PARENT_NOT_FOUND"), "{out}");
    let (ok, out, err) = run_cli(&["tenant", "import", "accounts", &tenant.slug, &path(&good)], &env).await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("would create 1 accounts") && out.contains("dry run"),
        "{out}"
    );
    let account = "query($c: String) { account(code: $c) { name } }";
    let body = gql(&app, &tenant, account, json!({ "c": "7-0001" })).await;
    assert!(body["data"]["account"].is_null(), "{body}");
    let (ok, out, err) = run_cli(
        &["tenant", "import", "accounts", &tenant.slug, &path(&good), "--commit"],
        &env,
    )
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("created 1 accounts"), "{out}");
    let body = gql(&app, &tenant, account, json!({ "c": "7-0001" })).await;
    assert_eq!(body["data"]["account"]["name"], "Baru", "{body}");

    let entries = dir.path().join("entries.csv");
    std::fs::write(&entries, generated_entries(3, 0)).unwrap();
    let args = [
        "tenant",
        "import",
        "entries",
        &tenant.slug,
        &path(&entries),
        "--commit",
        "--post",
        "--idempotency-key",
        "cli-1",
    ];
    for _ in 0..2 {
        let (ok, out, err) = run_cli(&args, &env).await;
        assert!(ok, "{out}{err}");
        assert!(out.contains("created 0 accounts and 3 entries"), "{out}");
    }
    assert_eq!(entry_count(&app, &tenant).await, 3);
}
