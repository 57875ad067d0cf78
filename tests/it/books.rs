//! The books: posting rules and their codes, money, numbering under concurrency, the
//! database's own refusals, reversal, pagination, idempotency, reports, batching.

use crate::common;

use std::collections::HashSet;
use std::sync::Arc;

use common::{error_code, TestApp, TestTenant};
use migration::sqlstate;
use nusa_journal::tenancy::registry::connect_pool;
use nusa_journal::tenancy::slug::TenantSlug;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{json, Value};

const CREATE: &str = "mutation($input: CreateJournalEntryInput!) { createJournalEntry(input: $input) { id number status totalDebit totalCredit } }";

struct Books {
    app: TestApp,
    tenant: TestTenant,
}

impl Books {
    async fn new(prefix: &str) -> Books {
        let app = TestApp::spawn().await;
        let tenant = app.create_tenant(prefix, "PT Buku Besar").await;
        Books { app, tenant }
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .app
            .tenant(&self.tenant.slug, Some(&self.tenant.token), query, variables)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Data of a request that must succeed.
    async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    async fn id(&self, code: &str) -> String {
        let data = self
            .ok("query($c: String) { account(code: $c) { id } }", json!({ "c": code }))
            .await;
        data["account"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no account {code}"))
            .to_owned()
    }

    async fn post(&self, date: &str, lines: Value) -> Value {
        self.gql(
            CREATE,
            json!({ "input": { "date": date, "description": "Transaksi", "lines": lines, "post": true } }),
        )
        .await
    }

    async fn balance(&self, code: &str) -> String {
        let data = self
            .ok(
                "query($c: String) { account(code: $c) { balance } }",
                json!({ "c": code }),
            )
            .await;
        data["account"]["balance"].as_str().expect("balance").to_owned()
    }

    async fn tenant_db(&self) -> sea_orm::DatabaseConnection {
        let row = self
            .app
            .services
            .registry
            .tenant_by_slug(&TenantSlug::parse(&self.tenant.slug).expect("slug"))
            .await
            .expect("registry")
            .expect("row");
        connect_pool(&common::server().url(&row.db_name), "test-superuser", 2)
            .await
            .expect("connect")
    }
}

fn dr(id: &str, amount: &str) -> Value {
    json!({ "accountId": id, "debit": amount })
}

fn cr(id: &str, amount: &str) -> Value {
    json!({ "accountId": id, "credit": amount })
}

#[tokio::test]
async fn each_posting_rule_has_its_code() {
    let books = Books::new("rules").await;
    let (kas, bank, modal) = (
        books.id("1-1101").await,
        books.id("1-1103").await,
        books.id("3-1001").await,
    );

    let one_line = books.post("2026-03-01", json!([dr(&kas, "100.00")])).await;
    assert_eq!(error_code(&one_line), "BAD_USER_INPUT", "{one_line}");
    let two_sided = books
        .post(
            "2026-03-01",
            json!([{ "accountId": kas, "debit": "100", "credit": "100" }, cr(&modal, "100")]),
        )
        .await;
    assert_eq!(error_code(&two_sided), "BAD_USER_INPUT", "{two_sided}");
    let negative = books
        .post("2026-03-01", json!([dr(&kas, "-100"), cr(&modal, "-100")]))
        .await;
    assert_eq!(error_code(&negative), "BAD_USER_INPUT");
    assert_eq!(
        negative["errors"][0]["extensions"]["field"], "input.lines.0.debit",
        "{negative}"
    );
    let unbalanced = books
        .post("2026-03-01", json!([dr(&kas, "100.00"), cr(&modal, "99.99")]))
        .await;
    assert_eq!(error_code(&unbalanced), "UNBALANCED_ENTRY", "{unbalanced}");

    let header = books.id("1-1100").await;
    let on_header = books
        .post("2026-03-01", json!([dr(&header, "100"), cr(&modal, "100")]))
        .await;
    assert_eq!(error_code(&on_header), "BAD_USER_INPUT", "{on_header}");
    assert_eq!(on_header["errors"][0]["extensions"]["field"], "input.lines.0.accountId");
    let unknown = books
        .post(
            "2026-03-01",
            json!([dr(&uuid::Uuid::new_v4().to_string(), "100"), cr(&modal, "100")]),
        )
        .await;
    assert_eq!(error_code(&unknown), "BAD_USER_INPUT", "{unknown}");
    let created = books
        .ok(
            r#"mutation { createAccount(input: { code: "1-1199", name: "Kas Proyek", type: ASSET, parentId: null }) { id normalBalance } }"#,
            json!({}),
        )
        .await;
    assert_eq!(created["createAccount"]["normalBalance"], "DEBIT");
    let project = created["createAccount"]["id"].as_str().expect("id").to_owned();
    books
        .ok(
            "mutation($id: ID!) { archiveAccount(id: $id) { isArchived } }",
            json!({ "id": project }),
        )
        .await;
    let archived = books
        .post("2026-03-01", json!([dr(&project, "100"), cr(&modal, "100")]))
        .await;
    assert_eq!(error_code(&archived), "BAD_USER_INPUT", "{archived}");
    let duplicate = books
        .gql(
            r#"mutation { createAccount(input: { code: "1-1101", name: "Kas Lagi", type: ASSET }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&duplicate), "CONFLICT");
    assert_eq!(duplicate["errors"][0]["extensions"]["field"], "input.code");

    books
        .ok(
            r#"mutation { updateCompany(input: { lockDate: "2026-01-31" }) { lockDate } }"#,
            json!({}),
        )
        .await;
    let locked = books
        .post("2026-01-31", json!([dr(&kas, "100"), cr(&modal, "100")]))
        .await;
    assert_eq!(error_code(&locked), "PERIOD_LOCKED", "{locked}");
    let after_lock = books
        .post("2026-02-01", json!([dr(&kas, "100"), cr(&modal, "100")]))
        .await;
    assert_eq!(
        after_lock["data"]["createJournalEntry"]["status"], "POSTED",
        "{after_lock}"
    );
    let posted = after_lock["data"]["createJournalEntry"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let edit = books
        .gql(
            r#"mutation($id: ID!) { updateJournalEntry(id: $id, input: { description: "Ubah" }) { id } }"#,
            json!({ "id": posted }),
        )
        .await;
    assert_eq!(error_code(&edit), "CONFLICT", "{edit}");
    let delete = books
        .gql(
            "mutation($id: ID!) { deleteJournalEntry(id: $id) }",
            json!({ "id": posted }),
        )
        .await;
    assert_eq!(error_code(&delete), "CONFLICT");
    let repost = books
        .gql(
            "mutation($id: ID!) { postJournalEntry(id: $id) { id } }",
            json!({ "id": posted }),
        )
        .await;
    assert_eq!(error_code(&repost), "CONFLICT");

    let reverse = "mutation($id: ID!) { reverseJournalEntry(id: $id, date: \"2026-02-02\") { id status } }";
    books.ok(reverse, json!({ "id": posted })).await;
    let twice = books.gql(reverse, json!({ "id": posted })).await;
    assert_eq!(error_code(&twice), "CONFLICT", "{twice}");

    // Drafts can be edited, posted and deleted.
    let draft = books
        .ok(CREATE, json!({ "input": { "date": "2026-03-05", "description": "Draf", "lines": [dr(&bank, "5"), cr(&modal, "5")] } }))
        .await;
    assert_eq!(draft["createJournalEntry"]["status"], "DRAFT");
    assert_eq!(draft["createJournalEntry"]["number"], Value::Null);
    let draft_id = draft["createJournalEntry"]["id"].as_str().expect("id").to_owned();
    let edited = books
        .ok(
            "mutation($id: ID!, $lines: [JournalLineInput!]) { updateJournalEntry(id: $id, input: { lines: $lines }) { totalDebit } }",
            json!({ "id": draft_id, "lines": [dr(&bank, "7.50"), cr(&modal, "7.50")] }),
        )
        .await;
    assert_eq!(edited["updateJournalEntry"]["totalDebit"], "7.50");
    let posted_draft = books
        .ok(
            "mutation($id: ID!) { postJournalEntry(id: $id) { number } }",
            json!({ "id": draft_id }),
        )
        .await;
    assert!(posted_draft["postJournalEntry"]["number"]
        .as_str()
        .is_some_and(|n| n.starts_with("JE/2026/")));
}

#[tokio::test]
async fn money_is_exact() {
    let books = Books::new("money").await;
    let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
    for bad in ["0.005", "1e3", "1,5", "12.345"] {
        let body = books.post("2026-03-01", json!([dr(&kas, bad), cr(&modal, bad)])).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}: {body}");
    }
    let float = books
        .post(
            "2026-03-01",
            json!([{ "accountId": kas, "debit": 10.5 }, cr(&modal, "10.50")]),
        )
        .await;
    assert_eq!(
        error_code(&float),
        "BAD_USER_INPUT",
        "a JSON number is not a Decimal: {float}"
    );
    assert_eq!(
        float["errors"][0]["extensions"]["field"], "input.lines.0.debit",
        "{float}"
    );
    let bad_date = books
        .post("2026-02-30", json!([dr(&kas, "1.00"), cr(&modal, "1.00")]))
        .await;
    assert_eq!(error_code(&bad_date), "BAD_USER_INPUT", "{bad_date}");
    assert_eq!(bad_date["errors"][0]["extensions"]["field"], "input.date", "{bad_date}");
    let literal = books
        .gql("{ trialBalance(asOf: \"2026-13-01\") { totalDebit } }", json!({}))
        .await;
    assert_eq!(error_code(&literal), "BAD_USER_INPUT", "{literal}");
    assert_eq!(literal["errors"][0]["extensions"]["field"], "asOf", "{literal}");

    let big = "999999999999999999.99";
    let body = books.post("2026-03-01", json!([dr(&kas, big), cr(&modal, big)])).await;
    assert_eq!(body["data"]["createJournalEntry"]["totalDebit"], big, "{body}");
    assert_eq!(books.balance("1-1101").await, big);

    let bank = books.id("1-1103").await;
    let mut lines: Vec<Value> = (0..1000).map(|_| dr(&bank, "0.01")).collect();
    lines.push(cr(&modal, "10.00"));
    let body = books.post("2026-03-02", json!(lines)).await;
    assert_eq!(body["data"]["createJournalEntry"]["totalDebit"], "10.00", "{body}");
    assert_eq!(books.balance("1-1103").await, "10.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_posting_numbers_without_gaps() {
    let books = Arc::new(Books::new("numbers").await);
    let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (books, kas, modal) = (books.clone(), kas.clone(), modal.clone());
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for i in 0..50 {
                let amount = format!("{}.{:02}", task + 1, i);
                let body = books
                    .post("2026-04-01", json!([dr(&kas, &amount), cr(&modal, &amount)]))
                    .await;
                numbers.push(
                    body["data"]["createJournalEntry"]["number"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{body}"))
                        .to_owned(),
                );
            }
            numbers
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 400, "no duplicates");
    let expected: HashSet<String> = (1..=400).map(|n| format!("JE/2026/{n:06}")).collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<HashSet<String>>(),
        expected,
        "1..400 with no gap"
    );
    let tb = books
        .ok(
            "{ trialBalance(asOf: \"2026-12-31\") { totalDebit totalCredit } }",
            json!({}),
        )
        .await;
    assert_eq!(tb["trialBalance"]["totalDebit"], tb["trialBalance"]["totalCredit"]);
    assert_ne!(tb["trialBalance"]["totalDebit"], "0.00");
}

#[tokio::test]
async fn the_database_refuses_altered_or_unbalanced_books() {
    let books = Books::new("dbguard").await;
    let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
    let body = books
        .post("2026-03-01", json!([dr(&kas, "100.00"), cr(&modal, "100.00")]))
        .await;
    let entry = body["data"]["createJournalEntry"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let db = books.tenant_db().await;

    let update = db
        .execute_unprepared(&format!(
            "UPDATE journal_line SET debit = 1000 WHERE entry_id = '{entry}' AND debit > 0"
        ))
        .await;
    assert!(
        update
            .as_ref()
            .is_err_and(|e| e.to_string().contains("cannot be changed")),
        "a posted line cannot be updated"
    );
    assert_eq!(
        refusal(update),
        (Some(sqlstate::POSTED_ENTRY_CHANGED.into()), "CONFLICT")
    );
    let delete = db
        .execute_unprepared(&format!("DELETE FROM journal_line WHERE entry_id = '{entry}'"))
        .await;
    assert!(delete.is_err(), "nor deleted");
    assert_eq!(
        refusal(delete),
        (Some(sqlstate::POSTED_ENTRY_CHANGED.into()), "CONFLICT")
    );
    let delete_entry = db
        .execute_unprepared(&format!("DELETE FROM journal_entry WHERE id = '{entry}'"))
        .await;
    assert!(delete_entry.is_err(), "a posted entry cannot be deleted");
    assert_eq!(
        refusal(delete_entry),
        (Some(sqlstate::POSTED_ENTRY_CHANGED.into()), "CONFLICT")
    );
    let rescale = db
        .execute_unprepared(&format!(
            "UPDATE journal_line SET debit = 0.005 WHERE entry_id = '{entry}'"
        ))
        .await;
    assert!(rescale.is_err());

    // An entry cannot even be inserted already posted.
    let posted_by_hand = db
        .execute_unprepared(
            "INSERT INTO journal_entry (id, number, fiscal_year, sequence, date, description, status, posted_at)
             VALUES (gen_random_uuid(), 'JE/2099/000001', 2099, 1, '2099-01-01', 'by hand', 'POSTED', now())",
        )
        .await;
    assert_eq!(
        refusal(posted_by_hand),
        (Some(sqlstate::POSTING_BYPASSED.into()), "CONFLICT")
    );

    // An unbalanced draft posted by hand: every statement passes, the commit fails.
    let txn = db.begin().await.expect("begin");
    let id = uuid::Uuid::new_v4();
    txn.execute_unprepared(&format!(
        "INSERT INTO journal_entry (id, date, description) VALUES ('{id}', '2099-01-01', 'by hand')"
    ))
    .await
    .expect("insert entry");
    txn.execute_unprepared(&format!(
        "INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES
         (gen_random_uuid(), '{id}', 1, '{kas}', 100, 0), (gen_random_uuid(), '{id}', 2, '{modal}', 0, 90)"
    ))
    .await
    .expect("insert lines");
    txn.execute_unprepared(&format!("UPDATE journal_entry SET status = 'POSTED' WHERE id = '{id}'"))
        .await
        .expect("post: accepted until commit");
    let commit = txn.commit().await;
    assert!(
        commit.as_ref().is_err_and(|e| e.to_string().contains("not balanced")),
        "the commit refuses it"
    );
    assert_eq!(
        refusal(commit),
        (Some(sqlstate::UNBALANCED_ENTRY.into()), "UNBALANCED_ENTRY"),
        "told apart by its SQLSTATE"
    );
    let one_sided = db
        .execute_unprepared(&format!(
            "INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES (gen_random_uuid(), '{entry}', 9, '{kas}', 5, 5)"
        ))
        .await;
    assert!(one_sided.is_err());
}

/// The SQLSTATE of a refused statement and the API code the service answers for it.
fn refusal<T>(result: Result<T, sea_orm::DbErr>) -> (Option<String>, &'static str) {
    let err = result.err().expect("refused");
    (
        nusa_journal::error::sqlstate(&err),
        nusa_journal::error::Error::from(err).code(),
    )
}

#[tokio::test]
async fn reversal_restores_balances_and_links_both_ways() {
    let books = Books::new("reverse").await;
    let (kas, penjualan, ppn) = (
        books.id("1-1101").await,
        books.id("4-1001").await,
        books.id("2-1201").await,
    );
    let before = (books.balance("1-1101").await, books.balance("4-1001").await);
    let body = books
        .post(
            "2026-05-10",
            json!([dr(&kas, "111000"), cr(&penjualan, "100000"), cr(&ppn, "11000")]),
        )
        .await;
    let original = body["data"]["createJournalEntry"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(books.balance("1-1101").await, "111000.00");
    assert_eq!(books.balance("4-1001").await, "100000.00");
    assert_eq!(books.balance("4-0000").await, "100000.00", "a header sums its children");

    let reversal = books
        .ok(
            "mutation($id: ID!) { reverseJournalEntry(id: $id, date: \"2026-05-11\") { id status number reversalOf { id status } lines { debit credit account { code } } } }",
            json!({ "id": original }),
        )
        .await;
    let reversal = &reversal["reverseJournalEntry"];
    assert_eq!(reversal["status"], "POSTED");
    assert_eq!(reversal["reversalOf"]["id"], original.as_str());
    assert_eq!(reversal["reversalOf"]["status"], "REVERSED");
    assert_eq!(
        reversal["lines"][0]["credit"], "111000.00",
        "debits and credits swapped"
    );
    assert_eq!((books.balance("1-1101").await, books.balance("4-1001").await), before);
    let original_now = books
        .ok(
            "query($id: ID!) { journalEntry(id: $id) { status reversedBy { id } } }",
            json!({ "id": original }),
        )
        .await;
    assert_eq!(original_now["journalEntry"]["status"], "REVERSED");
    assert_eq!(original_now["journalEntry"]["reversedBy"]["id"], reversal["id"]);
    // Balances as of the day between still show the sale.
    let mid = books
        .ok(
            "query { account(code: \"1-1101\") { balance(asOf: \"2026-05-10\") } }",
            json!({}),
        )
        .await;
    assert_eq!(mid["account"]["balance"], "111000.00");
}

#[tokio::test]
async fn walking_all_pages_yields_every_entry_once() {
    let books = Books::new("pages").await;
    let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
    let mut created = HashSet::new();
    for i in 0..23 {
        let date = format!("2026-06-{:02}", (i % 5) + 1);
        let body = books.post(&date, json!([dr(&kas, "1"), cr(&modal, "1")])).await;
        created.insert(
            body["data"]["createJournalEntry"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = books
            .ok(
                "query($after: String) { journalEntries(first: 5, after: $after) { totalCount edges { cursor node { id date } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let conn = &page["journalEntries"];
        assert_eq!(conn["totalCount"], 23);
        for edge in conn["edges"].as_array().expect("edges") {
            seen.push(edge["node"]["id"].as_str().expect("id").to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen.len(), 23);
    assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), created);
    let capped = books
        .ok("{ accounts(first: 100000) { totalCount nodes { code } } }", json!({}))
        .await;
    let shown = capped["accounts"]["nodes"].as_array().expect("nodes").len() as u64;
    assert!(shown <= 200 && shown == capped["accounts"]["totalCount"].as_u64().expect("count").min(200));
    let filtered = books
        .ok(
            "query($a: ID) { journalEntries(filter: { accountId: $a, from: \"2026-06-02\", to: \"2026-06-02\" }) { totalCount } }",
            json!({ "a": kas }),
        )
        .await;
    assert_eq!(filtered["journalEntries"]["totalCount"], 5);
}

#[tokio::test]
async fn idempotency_keys_replay_or_conflict() {
    let books = Books::new("idem").await;
    let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
    let input = json!({ "date": "2026-07-01", "description": "Sekali saja", "post": true, "idempotencyKey": "req-42",
                        "lines": [dr(&kas, "250.00"), cr(&modal, "250.00")] });
    let first = books.ok(CREATE, json!({ "input": input })).await;
    let again = books.ok(CREATE, json!({ "input": input })).await;
    assert_eq!(first["createJournalEntry"]["id"], again["createJournalEntry"]["id"]);
    assert_eq!(
        first["createJournalEntry"]["number"],
        again["createJournalEntry"]["number"]
    );
    let mut other = input.clone();
    other["lines"] = json!([dr(&kas, "251.00"), cr(&modal, "251.00")]);
    let conflict = books.gql(CREATE, json!({ "input": other })).await;
    assert_eq!(error_code(&conflict), "CONFLICT", "{conflict}");
    assert_eq!(books.balance("1-1101").await, "250.00", "posted once");
}

#[tokio::test]
async fn trial_balance_and_general_ledger() {
    let books = Books::new("reports").await;
    let (kas, modal, beban) = (
        books.id("1-1101").await,
        books.id("3-1001").await,
        books.id("6-2001").await,
    );
    books
        .post("2026-01-05", json!([dr(&kas, "1000"), cr(&modal, "1000")]))
        .await;
    books
        .post("2026-01-06", json!([dr(&beban, "300"), cr(&kas, "300")]))
        .await;
    books
        .post("2026-01-07", json!([dr(&kas, "50"), cr(&modal, "50")]))
        .await;
    let tb = books
        .ok("{ trialBalance(asOf: \"2026-01-31\") { asOf totalDebit totalCredit rows { account { code } debit credit } } }", json!({}))
        .await;
    assert_eq!(tb["trialBalance"]["totalDebit"], "1050.00");
    assert_eq!(tb["trialBalance"]["totalCredit"], "1050.00");
    let rows = tb["trialBalance"]["rows"].as_array().expect("rows");
    assert!(rows
        .iter()
        .any(|r| r["account"]["code"] == "1-1101" && r["debit"] == "750.00" && r["credit"] == "0.00"));
    let early = books
        .ok("{ trialBalance(asOf: \"2026-01-05\") { totalDebit } }", json!({}))
        .await;
    assert_eq!(early["trialBalance"]["totalDebit"], "1000.00");

    let ledger = "query($a: ID!, $after: String) { generalLedger(accountId: $a, first: 2, after: $after) { totalCount nodes { date debit credit runningBalance entry { description } } pageInfo { hasNextPage endCursor } } }";
    let page = books.ok(ledger, json!({ "a": kas })).await;
    let gl = &page["generalLedger"];
    assert_eq!(gl["totalCount"], 3);
    let balances: Vec<&str> = gl["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["runningBalance"].as_str().expect("rb"))
        .collect();
    assert_eq!(balances, ["1000.00", "700.00"]);
    let next = books
        .ok(ledger, json!({ "a": kas, "after": gl["pageInfo"]["endCursor"] }))
        .await;
    assert_eq!(next["generalLedger"]["nodes"][0]["runningBalance"], "750.00");
    assert_eq!(next["generalLedger"]["pageInfo"]["hasNextPage"], false);
    let from = books
        .ok(
            "query($a: ID!) { generalLedger(accountId: $a, from: \"2026-01-06\") { nodes { runningBalance } } }",
            json!({ "a": kas }),
        )
        .await;
    assert_eq!(
        from["generalLedger"]["nodes"][0]["runningBalance"], "700.00",
        "starts from the opening balance"
    );
}

async fn statements_sum(app: &TestApp) -> f64 {
    app.metric("nusa_tenant_statements_per_request_sum").await
}

#[tokio::test]
async fn nested_reads_are_batched_not_one_query_per_field() {
    let books = Books::new("batch").await;
    let ids: Vec<String> = futures_ids(&books, &["1-1101", "1-1103", "3-1001", "6-2001"]).await;
    for i in 0..30 {
        let amount = format!("{}.00", i + 1);
        books
            .post(
                "2026-08-01",
                json!([
                    dr(&ids[i % 2], &amount),
                    dr(&ids[3], &amount),
                    cr(&ids[2], &format!("{}.00", 2 * (i + 1)))
                ]),
            )
            .await;
    }
    let query = "{ journalEntries(first: 50) { nodes { number totalDebit reversedBy { id } reversalOf { id }
                    lines { debit account { code balance parent { code children { code } } } } } } }";
    let before = statements_sum(&books.app).await;
    let data = books.ok(query, json!({})).await;
    let after = statements_sum(&books.app).await;
    assert_eq!(data["journalEntries"]["nodes"].as_array().expect("nodes").len(), 30);
    assert_eq!(
        data["journalEntries"]["nodes"][0]["lines"][0]["account"]["parent"]["code"],
        "1-1100"
    );
    let statements = after - before;
    assert!(
        statements > 0.0 && statements <= 10.0,
        "30 entries x 3 lines took {statements} statements"
    );
}

async fn futures_ids(books: &Books, codes: &[&str]) -> Vec<String> {
    let mut ids = Vec::new();
    for code in codes {
        ids.push(books.id(code).await);
    }
    ids
}

#[tokio::test]
async fn charts_come_from_the_chosen_template() {
    let app = TestApp::spawn().await;
    let mut counts = Vec::new();
    for template in ["generic", "empty", "id-sak-emkm"] {
        let slug = common::unique_slug("coa");
        let (_, body) = app
            .admin(
                "mutation($i: CreateTenantInput!) { createTenant(input: $i) { token } }",
                json!({ "i": { "slug": slug, "name": "PT Bagan", "coaTemplate": template } }),
            )
            .await;
        let token = body["data"]["createTenant"]["token"]
            .as_str()
            .expect("token")
            .to_owned();
        let (_, data) = app
            .tenant(
                &slug,
                Some(&token),
                "{ accounts(first: 200) { totalCount } account(code: \"1110\") { name } }",
                json!({}),
            )
            .await;
        counts.push((
            template,
            data["data"]["accounts"]["totalCount"].as_u64().expect("count"),
            data["data"]["account"]["name"].clone(),
        ));
    }
    assert_eq!(counts[0].2, "Cash");
    assert_eq!(counts[1].1, 0);
    assert!(counts[2].1 > 50);
}

#[tokio::test]
async fn totals_are_counted_only_when_selected_and_with_the_first_page() {
    let books = Books::new("totals").await;
    let all = books.ok("{ accounts(first: 200) { nodes { code } } }", json!({})).await;
    let every: Vec<String> = all["accounts"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["code"].as_str().expect("code").to_owned())
        .collect();
    assert!(every.len() > 10, "the default chart has accounts");

    // A first page and its total: one statement.
    let before = statements_sum(&books.app).await;
    let first = books
        .ok(
            "{ accounts(first: 3) { totalCount nodes { code } pageInfo { endCursor hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(statements_sum(&books.app).await - before, 1.0);
    assert_eq!(first["accounts"]["totalCount"], every.len());
    assert_eq!(first["accounts"]["nodes"][0]["code"], every[0].as_str());
    assert_eq!(first["accounts"]["pageInfo"]["hasNextPage"], true);
    let cursor = first["accounts"]["pageInfo"]["endCursor"].clone();

    // After a cursor the total is still the whole listing's: a page and a count.
    let before = statements_sum(&books.app).await;
    let second = books
        .ok(
            "query($a: String) { accounts(first: 3, after: $a) { totalCount nodes { code } } }",
            json!({ "a": cursor }),
        )
        .await;
    assert_eq!(statements_sum(&books.app).await - before, 2.0);
    assert_eq!(second["accounts"]["totalCount"], every.len());
    assert_eq!(second["accounts"]["nodes"][0]["code"], every[3].as_str());

    // Not selected: not counted.
    let before = statements_sum(&books.app).await;
    let third = books
        .ok(
            "query($a: String) { accounts(first: 3, after: $a) { nodes { code } } }",
            json!({ "a": cursor }),
        )
        .await;
    assert_eq!(statements_sum(&books.app).await - before, 1.0);
    assert_eq!(third["accounts"]["nodes"][2]["code"], every[5].as_str());

    // Selected through a fragment, on a listing that matches nothing, with `first: 0`.
    let through_fragment = books
        .ok(
            "{ accounts(first: 0) { ...Total } none: accounts(filter: { search: \"no-such-account-anywhere\" }) { ...Total nodes { code } } }
             fragment Total on AccountConnection { totalCount }",
            json!({}),
        )
        .await;
    assert_eq!(through_fragment["accounts"]["totalCount"], every.len());
    assert_eq!(through_fragment["none"]["totalCount"], 0);
    assert_eq!(through_fragment["none"]["nodes"], json!([]));
    let entries = books
        .ok("{ journalEntries { totalCount nodes { id } } }", json!({}))
        .await;
    assert_eq!(entries["journalEntries"]["totalCount"], 0);

    // The total counts what the filter matches, not the page nor the whole table.
    let kas_kecil = books.id("1-1102").await;
    books
        .ok(
            "mutation($id: ID!) { archiveAccount(id: $id) { id } }",
            json!({ "id": kas_kecil }),
        )
        .await;
    let query = "query($archived: Boolean, $after: String) {
        page: accounts(first: 1, after: $after, filter: { search: \"kas\", includeArchived: $archived }) { totalCount pageInfo { endCursor } }
        all: accounts(first: 200, filter: { search: \"kas\", includeArchived: $archived }) { nodes { code } } }";
    for archived in [false, true] {
        let data = books.ok(query, json!({ "archived": archived })).await;
        let matching = data["all"]["nodes"].as_array().expect("nodes").len();
        assert!(matching >= 2, "more accounts match \"kas\": {data}");
        assert_eq!(
            data["page"]["totalCount"], matching,
            "first page, includeArchived {archived}"
        );
        let cursor = data["page"]["pageInfo"]["endCursor"].clone();
        let next = books.ok(query, json!({ "archived": archived, "after": cursor })).await;
        assert_eq!(
            next["page"]["totalCount"], matching,
            "after a cursor, includeArchived {archived}"
        );
    }
    let without = books.ok(query, json!({ "archived": false })).await;
    let with = books.ok(query, json!({ "archived": true })).await;
    assert_eq!(
        with["page"]["totalCount"].as_u64().expect("count"),
        without["page"]["totalCount"].as_u64().expect("count") + 1,
        "the archived account counts only when included"
    );
}

/// Accounts that are their own ancestor (the walk is bounded, so a stored loop shows).
async fn accounts_in_a_loop(db: &sea_orm::DatabaseConnection) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "WITH RECURSIVE walk(start, id, depth) AS (
                 SELECT id, parent_id, 1 FROM account WHERE parent_id IS NOT NULL
                 UNION ALL
                 SELECT w.start, a.parent_id, w.depth + 1 FROM walk w JOIN account a ON a.id = w.id
                 WHERE a.parent_id IS NOT NULL AND w.depth < 100)
             SELECT count(*) AS n FROM walk WHERE id = start",
        ))
        .await
        .expect("loop query")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_sibling_moves_never_store_a_loop() {
    const MOVE: &str =
        "mutation($id: ID!, $parent: ID) { updateAccount(id: $id, input: { parentId: $parent }) { id } }";
    let books = Arc::new(Books::new("chartloop").await);
    let mut headers = Vec::new();
    for (code, name) in [("1-9100", "Kelompok A"), ("1-9200", "Kelompok B")] {
        let data = books
            .ok(
                "mutation($code: String!, $name: String!) { createAccount(input: { code: $code, name: $name, type: ASSET, isPostable: false }) { id } }",
                json!({ "code": code, "name": name }),
            )
            .await;
        headers.push(data["createAccount"]["id"].as_str().expect("id").to_owned());
    }
    let (a, b) = (headers[0].clone(), headers[1].clone());
    let db = books.tenant_db().await;
    for round in 0..30 {
        for id in [&a, &b] {
            books.ok(MOVE, json!({ "id": id, "parent": null })).await;
        }
        let a_under_b = json!({ "id": a, "parent": b });
        let b_under_a = json!({ "id": b, "parent": a });
        let answers: Vec<Value> = if round % 2 == 0 {
            // One batch: its operations run concurrently.
            let response = books
                .app
                .client
                .post(format!("{}/{}/graphql", books.app.base, books.tenant.slug))
                .bearer_auth(&books.tenant.token)
                .json(&json!([
                    { "query": MOVE, "variables": a_under_b },
                    { "query": MOVE, "variables": b_under_a },
                ]))
                .send()
                .await
                .expect("batch");
            response.json::<Vec<Value>>().await.expect("json")
        } else {
            // Two concurrent requests.
            let (one, two) = tokio::join!(books.gql(MOVE, a_under_b), books.gql(MOVE, b_under_a));
            vec![one, two]
        };
        let refused: Vec<&Value> = answers.iter().filter(|r| !r["errors"].is_null()).collect();
        assert_eq!(refused.len(), 1, "round {round}: exactly one move wins: {answers:?}");
        assert_eq!(error_code(refused[0]), "BAD_USER_INPUT", "round {round}: {answers:?}");
        assert_eq!(accounts_in_a_loop(&db).await, 0, "round {round}: a loop was stored");
    }

    // The database itself refuses a loop made by hand, whatever the service checks.
    let sql = format!("UPDATE account SET parent_id = NULL WHERE id IN ('{a}', '{b}')");
    db.execute_unprepared(&sql).await.expect("reset");
    db.execute_unprepared(&format!("UPDATE account SET parent_id = '{a}' WHERE id = '{b}'"))
        .await
        .expect("B under A");
    let looped = db
        .execute_unprepared(&format!("UPDATE account SET parent_id = '{b}' WHERE id = '{a}'"))
        .await
        .expect_err("A under B would be a loop");
    assert!(
        format!("{looped:?}").contains(sqlstate::ACCOUNT_LOOP),
        "refused with its own SQLSTATE: {looped:?}"
    );
    assert_eq!(accounts_in_a_loop(&db).await, 0);
}

#[tokio::test]
async fn nested_unpaged_lists_are_refused_by_their_cost_before_running() {
    let books = Books::new("fanout").await;
    // Six levels of parent { children }: depth 14, under the depth limit, but each
    // `children` level multiplies the work (a header of 11 leaves made it 40 MB).
    let mut selection = "code".to_owned();
    for _ in 0..6 {
        selection = format!("parent {{ children {{ {selection} }} }}");
    }
    let query = format!(r#"{{ account(code: "1-1101") {{ {selection} }} }}"#);
    let body = books.gql(&query, json!({})).await;
    assert!(body["data"].is_null(), "nothing of it ran: {body}");
    assert_eq!(error_code(&body), "BAD_REQUEST", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("complex"),
        "{body}"
    );
    // Two levels (a header's grandchildren) are an ordinary query.
    let body = books
        .gql(
            r#"{ account(code: "1-1101") { parent { children { code children { code } } } } }"#,
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}
