//! Books out and in again (issue 14): a company's chart and journal exported as CSV and
//! imported into an empty tenant give the same chart and the same trial balance.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::books::{cr, dr, Books, CREATE_ENTRY};
use crate::common::{unique_slug, TestApp, TestTenant};

const CHART: &str = "{ accounts(first: 200, filter: { includeArchived: true }) { totalCount nodes {
    code name type normalBalance isPostable description role parent { code } } } }";

const TRIAL_BALANCE: &str = "{ trialBalance(asOf: \"2030-12-31\") { totalDebit totalCredit
    rows { account { code } debit credit } } }";

async fn export(app: &TestApp, tenant: &TestTenant, file: &str) -> Vec<u8> {
    let response = app
        .client
        .get(format!("{}/{}/exports/{file}", app.base, tenant.slug))
        .bearer_auth(&tenant.token)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), StatusCode::OK);
    response.bytes().await.expect("body").to_vec()
}

async fn import(app: &TestApp, tenant: &TestTenant, kind: &str, query: &str, body: Vec<u8>) -> Value {
    let response = app
        .client
        .post(format!("{}/{}/imports/{kind}.csv?{query}", app.base, tenant.slug))
        .bearer_auth(&tenant.token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("import");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["errors"], json!([]), "{body}");
    body
}

/// The chart as comparable rows, by code.
async fn chart(books: &Books<'_>) -> Vec<Value> {
    let mut nodes = books.ok(CHART, json!({})).await["accounts"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    nodes.sort_by_key(|n| n["code"].as_str().unwrap_or("").to_owned());
    nodes
}

#[tokio::test]
async fn an_exported_chart_and_journal_import_into_an_empty_tenant_with_equal_trial_balances() {
    let app = TestApp::spawn().await;
    let source = Books::new(&app, "trip-from", "PT Asal").await;
    // An account of its own, with a comma and quotes in its name, under a header.
    source
        .ok(
            "mutation($p: ID!) { createAccount(input: { code: \"1-1109\", name: \"Kas, \\\"kecil\\\" cabang\",
                type: ASSET, parentId: $p, description: \"=1+1\" }) { id } }",
            json!({ "p": source.id("1-1100").await }),
        )
        .await;
    source
        .ok(
            "mutation($input: OpeningBalancesInput!) { setOpeningBalances(input: $input) { id } }",
            json!({ "input": { "date": "2026-01-01", "lines": [
                dr("1-1101", "25000000"), dr("1-1109", "750000.50"), cr("2-1101", "5000000"),
            ] } }),
        )
        .await;
    let sale = source
        .ok(
            CREATE_ENTRY,
            json!({ "input": { "date": "2026-02-03", "description": "Penjualan, tunai \"grosir\"",
                "reference": "=cmd|' /C calc'!A0", "post": true, "lines": [
                    { "accountCode": "1-1101", "debit": "1110000", "memo": "+62 812 555" },
                    cr("4-1001", "1000000"), cr("2-1201", "110000"),
                ] } }),
        )
        .await["createJournalEntry"]
        .clone();
    source
        .ok(
            "mutation($id: ID!) { reverseJournalEntry(id: $id, date: \"2026-02-04\") { id } }",
            json!({ "id": sale["id"] }),
        )
        .await;
    source
        .post(
            "2026-03-01",
            json!([dr("6-2001", "4000000"), cr("1-1109", "400000"), cr("1-1101", "3600000")]),
        )
        .await;
    // A draft stays behind: the journal export holds the entries that count.
    source
        .ok(
            CREATE_ENTRY,
            json!({ "input": { "date": "2026-03-02", "description": "Draf", "lines": [dr("1-1101", "1")] } }),
        )
        .await;

    let accounts = export(&app, &source.tenant, "accounts.csv").await;
    let journal = export(&app, &source.tenant, "journal.csv").await;

    // An empty tenant.
    let slug = unique_slug("trip-to");
    let (status, body) = app
        .admin(
            "mutation($input: CreateTenantInput!) { createTenant(input: $input) { token } }",
            json!({ "input": { "slug": slug, "name": "PT Tujuan", "coaTemplate": "empty" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let target = Books {
        app: &app,
        tenant: TestTenant {
            slug,
            token: body["data"]["createTenant"]["token"]
                .as_str()
                .expect("token")
                .to_owned(),
        },
    };
    assert_eq!(target.ok(CHART, json!({})).await["accounts"]["totalCount"], 0);

    let imported = import(&app, &target.tenant, "accounts", "dryRun=false", accounts).await;
    let source_chart = chart(&source).await;
    assert_eq!(imported["accountsCreated"], source_chart.len());
    let imported = import(&app, &target.tenant, "entries", "dryRun=false&post=true", journal).await;
    assert_eq!(
        imported["entriesCreated"], 4,
        "opening, sale, its reversal, expense: {imported}"
    );

    assert_eq!(chart(&target).await, source_chart, "equal charts");
    let (from, to) = (
        source.ok(TRIAL_BALANCE, json!({})).await,
        target.ok(TRIAL_BALANCE, json!({})).await,
    );
    assert_eq!(from["trialBalance"]["totalDebit"], "25750000.50");
    assert_eq!(to, from, "equal trial balances");
    let kept = target
        .ok(
            "{ journalEntries(first: 10) { nodes { description reference sourceNumber } } }",
            json!({}),
        )
        .await;
    let sale = kept["journalEntries"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["description"] == "Penjualan, tunai \"grosir\"")
        .cloned()
        .expect("the sale");
    assert_eq!(sale["reference"], "=cmd|' /C calc'!A0", "neutralised out, read back in");
    assert!(
        sale["sourceNumber"].as_str().is_some_and(|n| n.starts_with("JE/2026/")),
        "{sale}"
    );
}
