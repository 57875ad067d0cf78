//! Book fixes of issue 13 (point 5) and the charts with roles (point 6), end to end:
//! archive needs a zero balance and can be undone; reversals of entries on archived
//! accounts, never dated before their original; balances default to today in the
//! company's time zone; idempotency on the normalised request, for posting and
//! reversing too; unbalanced drafts; an account's keys while it has no lines; the
//! general ledger by keyset; purging books inside the retention period; roles for
//! tenants made before them.

use crate::common;

use common::{error_code, run_cli, TestApp, TestTenant};
use migration::{sqlstate, MigratorTrait};
use nusa_journal::tenancy::credentials::{single_connection, unseal};
use nusa_journal::tenancy::ownership;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};

const CREATE: &str = "mutation($input: CreateJournalEntryInput!) { createJournalEntry(input: $input) { id number status date totalDebit totalCredit } }";
const ARCHIVE: &str = "mutation($id: ID!) { archiveAccount(id: $id) { isArchived } }";
const UNARCHIVE: &str = "mutation($id: ID!) { unarchiveAccount(id: $id) { isArchived } }";
const REVERSE: &str = "mutation($id: ID!, $date: Date, $key: String) { reverseJournalEntry(id: $id, date: $date, idempotencyKey: $key) { id number date status reversalOf { id status } } }";
const POST: &str =
    "mutation($id: ID!, $key: String) { postJournalEntry(id: $id, idempotencyKey: $key) { id number status } }";

/// A tenant's books on a running app.
struct Books<'a> {
    app: &'a TestApp,
    tenant: TestTenant,
}

impl<'a> Books<'a> {
    async fn new(app: &'a TestApp, prefix: &str) -> Books<'a> {
        let tenant = app.create_tenant(prefix, "PT Perbaikan Buku").await;
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

    async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    /// The first error's code and field.
    async fn refused(&self, query: &str, variables: Value) -> (String, Value) {
        let body = self.gql(query, variables).await;
        (
            error_code(&body).to_owned(),
            body["errors"][0]["extensions"]["field"].clone(),
        )
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

    async fn create(&self, date: &str, lines: Value, post: bool) -> Value {
        self.gql(
            CREATE,
            json!({ "input": { "date": date, "description": "Transaksi", "lines": lines, "post": post } }),
        )
        .await
    }

    /// Posts an entry that must succeed; its id.
    async fn post(&self, date: &str, lines: Value) -> String {
        let body = self.create(date, lines, true).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["createJournalEntry"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    async fn balance(&self, code: &str, as_of: Option<&str>) -> String {
        let data = self
            .ok(
                "query($c: String, $d: Date) { account(code: $c) { balance(asOf: $d) } }",
                json!({ "c": code, "d": as_of }),
            )
            .await;
        data["account"]["balance"].as_str().expect("balance").to_owned()
    }
}

fn dr(id: &str, amount: &str) -> Value {
    json!({ "accountId": id, "debit": amount })
}

fn cr(id: &str, amount: &str) -> Value {
    json!({ "accountId": id, "credit": amount })
}

/// A connection as the tenant's login role, with the password sealed in the registry.
async fn as_login_role(app: &TestApp, slug: &str) -> DatabaseConnection {
    let row = common::tenant_row(app, slug).await.expect("row");
    let password = unseal(app.services.lifecycle.sealer(), &row).expect("unseal");
    single_connection(&row, &password, "test-login-role")
        .await
        .expect("connect as the login role")
}

async fn texts(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            row.try_get::<Option<String>>("", "v")
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn archiving_needs_a_zero_balance_and_can_be_undone() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "archive").await;
    let (kas, kecil, modal) = (
        books.id("1-1101").await,
        books.id("1-1102").await,
        books.id("3-1001").await,
    );
    books
        .post("2026-03-01", json!([dr(&kecil, "100.00"), cr(&modal, "100.00")]))
        .await;
    let (code, field) = books.refused(ARCHIVE, json!({ "id": kecil })).await;
    assert_eq!((code.as_str(), field), ("CONFLICT", json!("id")), "a balance of 100.00");

    // Emptied (to the cash box) it may be archived; a future-dated entry still counts.
    books
        .post("2026-03-02", json!([dr(&kas, "100"), cr(&kecil, "100")]))
        .await;
    books
        .post("2099-01-01", json!([dr(&kecil, "5"), cr(&modal, "5")]))
        .await;
    assert_eq!(books.balance("1-1102", None).await, "0.00", "zero today");
    let (code, _) = books.refused(ARCHIVE, json!({ "id": kecil })).await;
    assert_eq!(code, "CONFLICT", "every posted entry counts, future-dated ones too");
    books.post("2099-01-02", json!([dr(&kas, "5"), cr(&kecil, "5")])).await;
    let archived = books.ok(ARCHIVE, json!({ "id": kecil })).await;
    assert_eq!(archived["archiveAccount"]["isArchived"], true);

    let refused = books
        .create("2026-03-03", json!([dr(&kecil, "1"), cr(&modal, "1")]), true)
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");

    let back = books.ok(UNARCHIVE, json!({ "id": kecil })).await;
    assert_eq!(back["unarchiveAccount"]["isArchived"], false);
    books
        .post("2026-03-03", json!([dr(&kecil, "1"), cr(&modal, "1")]))
        .await;
    assert_eq!(books.balance("1-1102", Some("2026-12-31")).await, "1.00");

    // A child stays archived while its header is.
    let header = books
        .ok(
            r#"mutation { createAccount(input: { code: "1-1500", name: "Proyek", type: ASSET, isPostable: false }) { id } }"#,
            json!({}),
        )
        .await["createAccount"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let child = books
        .ok(
            "mutation($p: ID) { createAccount(input: { code: \"1-1501\", name: \"Kas Proyek\", type: ASSET, parentId: $p }) { id } }",
            json!({ "p": header }),
        )
        .await["createAccount"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (code, _) = books.refused(ARCHIVE, json!({ "id": header })).await;
    assert_eq!(code, "BAD_USER_INPUT", "children first");
    books.ok(ARCHIVE, json!({ "id": child })).await;
    books.ok(ARCHIVE, json!({ "id": header })).await;
    let (code, field) = books.refused(UNARCHIVE, json!({ "id": child })).await;
    assert_eq!((code.as_str(), field), ("BAD_USER_INPUT", json!("id")), "parent first");
    books.ok(UNARCHIVE, json!({ "id": header })).await;
    books.ok(UNARCHIVE, json!({ "id": child })).await;
    let (code, _) = books
        .refused(UNARCHIVE, json!({ "id": uuid::Uuid::new_v4().to_string() }))
        .await;
    assert_eq!(code, "NOT_FOUND");
}

#[tokio::test]
async fn a_reversal_may_use_archived_accounts_and_is_not_dated_before_its_original() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "reversal").await;
    let (kas, kecil, modal) = (
        books.id("1-1101").await,
        books.id("1-1102").await,
        books.id("3-1001").await,
    );
    let original = books
        .post("2026-03-10", json!([dr(&kecil, "50.00"), cr(&modal, "50.00")]))
        .await;
    books
        .post("2026-03-11", json!([dr(&kas, "50"), cr(&kecil, "50")]))
        .await;
    books.ok(ARCHIVE, json!({ "id": kecil })).await;

    let (code, field) = books
        .refused(REVERSE, json!({ "id": original, "date": "2026-03-09" }))
        .await;
    assert_eq!((code.as_str(), field), ("BAD_USER_INPUT", json!("date")));
    let reversal =
        books.ok(REVERSE, json!({ "id": original, "date": "2026-03-10" })).await["reverseJournalEntry"].clone();
    assert_eq!(reversal["status"], "POSTED", "on the archived account: {reversal}");
    assert_eq!(reversal["date"], "2026-03-10", "the original's own date is allowed");
    assert_eq!(reversal["reversalOf"]["status"], "REVERSED");
    assert_eq!(books.balance("1-1102", Some("2026-12-31")).await, "-50.00");

    // Without a date: today, or the original's date when that is later.
    let future = books.post("2099-06-30", json!([dr(&kas, "7"), cr(&modal, "7")])).await;
    let later = books.ok(REVERSE, json!({ "id": future })).await;
    assert_eq!(later["reverseJournalEntry"]["date"], "2099-06-30");

    // The database refuses a reversal dated before its original by itself (NJ009).
    let target = books.post("2026-05-20", json!([dr(&kas, "3"), cr(&modal, "3")])).await;
    let login = as_login_role(books.app, &books.tenant.slug).await;
    let by_hand = login
        .execute_unprepared(&format!(
            "BEGIN;
             INSERT INTO journal_entry (id, date, description, reversal_of, kind)
               VALUES ('00000000-0000-4000-8000-0000000000a1', '2026-05-19', 'early', '{target}', 'REVERSAL');
             INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES
               (gen_random_uuid(), '00000000-0000-4000-8000-0000000000a1', 1, '{modal}', 3, 0),
               (gen_random_uuid(), '00000000-0000-4000-8000-0000000000a1', 2, '{kas}', 0, 3);
             UPDATE journal_entry SET status = 'POSTED' WHERE id = '00000000-0000-4000-8000-0000000000a1';
             UPDATE journal_entry SET status = 'REVERSED' WHERE id = '{target}';
             COMMIT;"
        ))
        .await;
    let state = by_hand
        .err()
        .and_then(|e| nusa_journal::error::sqlstate(&e))
        .unwrap_or_default();
    assert_eq!(state, sqlstate::REVERSAL_BEFORE_ORIGINAL);
    login.execute_unprepared("ROLLBACK").await.ok();
    login.close().await.ok();
}

#[tokio::test]
async fn balances_default_to_today_in_the_company_time_zone() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "today").await;
    let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
    let company = books.ok("{ company { timezone language } }", json!({})).await;
    assert_eq!(
        company["company"],
        json!({ "timezone": "Asia/Jakarta", "language": "id" })
    );

    books
        .post("2026-01-05", json!([dr(&kas, "10"), cr(&modal, "10")]))
        .await;
    books
        .post("2099-12-31", json!([dr(&kas, "1000"), cr(&modal, "1000")]))
        .await;
    let both = "{ account(code: \"1-1101\") { balance } accounts(first: 200, filter: { search: \"Kas\" }) { nodes { code balance } } }";
    let data = books.ok(both, json!({})).await;
    assert_eq!(
        data["account"]["balance"], "10.00",
        "a future-dated entry is not counted today"
    );
    let listed = data["accounts"]["nodes"].as_array().expect("nodes");
    assert!(
        listed.iter().any(|a| a["code"] == "1-1101" && a["balance"] == "10.00"),
        "{data}"
    );
    assert_eq!(books.balance("1-1101", Some("2099-12-31")).await, "1010.00");

    // Kiritimati (UTC+14) is always a day or two ahead of Pago Pago (UTC-11): an entry
    // dated today in Kiritimati counts there and not yet in Pago Pago.
    let zone_today = |zone: chrono_tz::Tz| chrono::Utc::now().with_timezone(&zone).date_naive();
    let ahead = zone_today(chrono_tz::Pacific::Kiritimati);
    books
        .post(&ahead.to_string(), json!([dr(&kas, "0.50"), cr(&modal, "0.50")]))
        .await;
    let set_zone = "mutation($z: String) { updateCompany(input: { timezone: $z }) { timezone } }";
    let data = books.ok(set_zone, json!({ "z": "Pacific/Pago_Pago" })).await;
    assert_eq!(data["updateCompany"]["timezone"], "Pacific/Pago_Pago");
    assert_eq!(books.balance("1-1101", None).await, "10.00");
    let tb = books.ok("{ trialBalance { asOf totalDebit } }", json!({})).await;
    assert_eq!(tb["trialBalance"]["totalDebit"], "10.00", "{tb}");
    books.ok(set_zone, json!({ "z": "Pacific/Kiritimati" })).await;
    assert_eq!(books.balance("1-1101", None).await, "10.50");
    let tb = books.ok("{ trialBalance { asOf totalDebit } }", json!({})).await;
    assert!(
        tb["trialBalance"]["asOf"].as_str() >= Some(ahead.to_string().as_str()),
        "{tb}"
    );

    // Bad names and languages are refused with their field; nothing changes.
    for (input, field) in [
        (json!({ "timezone": "Asia/Bandung" }), "input.timezone"),
        (json!({ "timezone": "" }), "input.timezone"),
        (json!({ "timezone": "x".repeat(10_000) }), "input.timezone"),
        (json!({ "language": "fr" }), "input.language"),
    ] {
        let (code, got) = books
            .refused(
                "mutation($i: UpdateCompanyInput!) { updateCompany(input: $i) { timezone } }",
                json!({ "i": input }),
            )
            .await;
        assert_eq!((code.as_str(), got), ("BAD_USER_INPUT", json!(field)));
    }
    let data = books
        .ok(
            r#"mutation { updateCompany(input: { language: "en", timezone: "Asia/Makassar" }) { timezone language } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["updateCompany"],
        json!({ "timezone": "Asia/Makassar", "language": "en" })
    );
}

#[tokio::test]
async fn idempotency_compares_the_normalised_request_also_for_posting_and_reversing() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "idem").await;
    let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
    let input = |amount: &str, description: &str| {
        json!({ "input": { "date": "2026-07-01", "description": description, "post": true,
            "idempotencyKey": "buat-1", "lines": [dr(&kas, amount), cr(&modal, amount)] } })
    };
    let first = books.ok(CREATE, input("100", "Setoran modal")).await;
    let again = books.ok(CREATE, input("100.00", "  Setoran modal  ")).await;
    assert_eq!(first["createJournalEntry"]["id"], again["createJournalEntry"]["id"]);
    let mut upper = input("100.0", "Setoran modal");
    upper["input"]["lines"][0]["accountId"] = json!(kas.to_uppercase());
    let third = books.ok(CREATE, upper).await;
    assert_eq!(first["createJournalEntry"]["id"], third["createJournalEntry"]["id"]);
    let (code, field) = books.refused(CREATE, input("100.01", "Setoran modal")).await;
    assert_eq!((code.as_str(), field), ("CONFLICT", json!("input.idempotencyKey")));
    assert_eq!(books.balance("1-1101", Some("2026-12-31")).await, "100.00");

    // postJournalEntry: a retry returns the entry posted the first time.
    let mut drafts = Vec::new();
    for amount in ["5", "6"] {
        let body = books
            .create("2026-07-02", json!([dr(&kas, amount), cr(&modal, amount)]), false)
            .await;
        drafts.push(
            body["data"]["createJournalEntry"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let (one, two) = (drafts[0].clone(), drafts[1].clone());
    let posted = books.ok(POST, json!({ "id": one, "key": "post-1" })).await;
    let retried = books.ok(POST, json!({ "id": one, "key": "post-1" })).await;
    assert_eq!(posted, retried);
    assert!(posted["postJournalEntry"]["number"].is_string());
    let (code, field) = books.refused(POST, json!({ "id": two, "key": "post-1" })).await;
    assert_eq!(
        (code.as_str(), field),
        ("CONFLICT", json!("idempotencyKey")),
        "another request"
    );
    let (code, _) = books.refused(POST, json!({ "id": one })).await;
    assert_eq!(code, "CONFLICT", "without the key: already posted");
    let (code, field) = books.refused(POST, json!({ "id": two, "key": "k".repeat(201) })).await;
    assert_eq!((code.as_str(), field), ("BAD_USER_INPUT", json!("idempotencyKey")));

    // reverseJournalEntry: the same, also when both tries run at once.
    let (first, second) = tokio::join!(
        books.gql(REVERSE, json!({ "id": one, "date": "2026-07-03", "key": "balik-1" })),
        books.gql(REVERSE, json!({ "id": one, "date": "2026-07-03", "key": "balik-1" })),
    );
    assert!(
        first["errors"].is_null() && second["errors"].is_null(),
        "{first} {second}"
    );
    assert_eq!(
        first["data"]["reverseJournalEntry"]["id"],
        second["data"]["reverseJournalEntry"]["id"]
    );
    let (code, _) = books
        .refused(REVERSE, json!({ "id": one, "date": "2026-07-04", "key": "balik-1" }))
        .await;
    assert_eq!(code, "CONFLICT", "another date under the same key");
    let (code, _) = books.refused(REVERSE, json!({ "id": two, "key": "post-1" })).await;
    assert_eq!(code, "CONFLICT", "a key serves one operation");
    let reversals = books
        .ok(
            "{ journalEntries(first: 50) { nodes { reversalOf { id } } } }",
            json!({}),
        )
        .await;
    let count = reversals["journalEntries"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|n| n["reversalOf"]["id"] == json!(one))
        .count();
    assert_eq!(count, 1, "reversed once");
}

#[tokio::test]
async fn drafts_may_be_unbalanced_and_posting_checks_the_balance() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "drafts").await;
    let (kas, modal, archived) = (
        books.id("1-1101").await,
        books.id("3-1001").await,
        books.id("6-2008").await,
    );
    let body = books
        .create("2026-04-01", json!([dr(&kas, "100.00"), cr(&modal, "60")]), false)
        .await;
    let draft = &body["data"]["createJournalEntry"];
    assert_eq!(draft["status"], "DRAFT", "{body}");
    assert_eq!(
        (draft["totalDebit"].clone(), draft["totalCredit"].clone()),
        (json!("100.00"), json!("60.00"))
    );
    let id = draft["id"].as_str().expect("id").to_owned();
    let (code, _) = books.refused(POST, json!({ "id": id })).await;
    assert_eq!(code, "UNBALANCED_ENTRY");

    let update = "mutation($id: ID!, $lines: [JournalLineInput!]) { updateJournalEntry(id: $id, input: { lines: $lines }) { totalDebit totalCredit } }";
    for lines in [json!([]), json!([dr(&kas, "1")])] {
        books.ok(update, json!({ "id": id, "lines": lines })).await;
        let (code, field) = books.refused(POST, json!({ "id": id })).await;
        assert_eq!(
            (code.as_str(), field),
            ("BAD_USER_INPUT", json!("lines")),
            "fewer than two lines"
        );
    }
    // Each line is still checked in a draft.
    for (lines, field) in [
        (
            json!([dr(&kas, "1"), { "accountId": modal, "debit": "1", "credit": "1" }]),
            "input.lines.1",
        ),
        (json!([dr(&kas, "-1")]), "input.lines.0.debit"),
        (json!([dr(&kas, "0.001")]), "input.lines.0.debit"),
        (json!([dr(&archived, "1")]), "input.lines.0.accountId"),
    ] {
        if field.ends_with("accountId") {
            books.ok(ARCHIVE, json!({ "id": archived })).await;
        }
        let (code, got) = books.refused(update, json!({ "id": id, "lines": lines })).await;
        assert_eq!((code.as_str(), got), ("BAD_USER_INPUT", json!(field)));
    }
    let fixed = books
        .ok(
            update,
            json!({ "id": id, "lines": [dr(&kas, "100"), cr(&modal, "100.00")] }),
        )
        .await;
    assert_eq!(fixed["updateJournalEntry"]["totalCredit"], "100.00");
    let posted = books.ok(POST, json!({ "id": id })).await;
    assert_eq!(posted["postJournalEntry"]["status"], "POSTED");

    // Posted at once, the balance is checked before anything is written.
    let at_once = books
        .create("2026-04-02", json!([dr(&kas, "10"), cr(&modal, "9")]), true)
        .await;
    assert_eq!(error_code(&at_once), "UNBALANCED_ENTRY", "{at_once}");
    let drafts = books
        .ok(
            "{ journalEntries(filter: { status: DRAFT }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(drafts["journalEntries"]["totalCount"], 0);
}

#[tokio::test]
async fn an_account_without_lines_may_change_its_code_type_and_side() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "keys").await;
    let update = "mutation($id: ID!, $i: UpdateAccountInput!) { updateAccount(id: $id, input: $i) { code type normalBalance role isPostable } }";
    let created = books
        .ok(
            r#"mutation { createAccount(input: { code: "1-1199", name: "Salah Tempat", type: ASSET, role: OTHER_CURRENT_ASSET }) { id role } }"#,
            json!({}),
        )
        .await;
    assert_eq!(created["createAccount"]["role"], "OTHER_CURRENT_ASSET");
    let id = created["createAccount"]["id"].as_str().expect("id").to_owned();

    let moved = books
        .ok(
            update,
            json!({ "id": id, "i": { "code": "2-1199", "type": "LIABILITY", "role": "OTHER_CURRENT_LIABILITY" } }),
        )
        .await;
    assert_eq!(
        moved["updateAccount"],
        json!({ "code": "2-1199", "type": "LIABILITY", "normalBalance": "CREDIT", "role": "OTHER_CURRENT_LIABILITY", "isPostable": true }),
        "the new type's usual side"
    );
    let flipped = books
        .ok(
            update,
            json!({ "id": id, "i": { "normalBalance": "DEBIT", "role": null } }),
        )
        .await;
    assert_eq!(flipped["updateAccount"]["normalBalance"], "DEBIT");
    assert_eq!(flipped["updateAccount"]["role"], Value::Null, "cleared");

    for (input, code, field) in [
        (json!({ "role": "CASH" }), "BAD_USER_INPUT", "input.role"),
        (
            json!({ "type": "EXPENSE", "role": "REVENUE" }),
            "BAD_USER_INPUT",
            "input.role",
        ),
        (json!({ "code": "1-1101" }), "CONFLICT", "input.code"),
        (json!({ "code": "no spaces" }), "BAD_USER_INPUT", "input.code"),
        (
            json!({ "role": "CURRENT_YEAR_EARNINGS", "type": "EQUITY" }),
            "BAD_USER_INPUT",
            "input.role",
        ),
    ] {
        let (got, got_field) = books.refused(update, json!({ "id": id, "i": input })).await;
        assert_eq!((got.as_str(), got_field), (code, json!(field)), "{input}");
    }
    let (code, field) = books
        .refused(
            r#"mutation { createAccount(input: { code: "3-9999", name: "Laba Lagi", type: EQUITY, role: CURRENT_YEAR_EARNINGS }) { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("input.role")),
        "postable"
    );

    // Under a header of another type: the type stays.
    let kas_header = books.id("1-1100").await;
    books
        .ok(
            update,
            json!({ "id": id, "i": { "type": "ASSET", "parentId": kas_header, "role": "CASH" } }),
        )
        .await;
    let (code, field) = books
        .refused(update, json!({ "id": id, "i": { "type": "EXPENSE" } }))
        .await;
    assert_eq!((code.as_str(), field), ("BAD_USER_INPUT", json!("input.type")));

    // One line, even in a draft, freezes code, type and side; name and role still change.
    let modal = books.id("3-1001").await;
    books
        .create("2026-05-01", json!([dr(&id, "1"), cr(&modal, "1")]), false)
        .await;
    for (input, field) in [
        (json!({ "code": "1-1198" }), "input.code"),
        (json!({ "type": "EXPENSE" }), "input.type"),
        (json!({ "normalBalance": "CREDIT" }), "input.normalBalance"),
    ] {
        let (code, got) = books.refused(update, json!({ "id": id, "i": input })).await;
        assert_eq!((code.as_str(), got), ("CONFLICT", json!(field)));
    }
    let renamed = books
        .ok(
            update,
            json!({ "id": id, "i": { "name": "Kas Cabang", "role": "BANK", "code": "2-1199" } }),
        )
        .await;
    assert_eq!(renamed["updateAccount"]["role"], "BANK", "the same code is no change");
}

#[tokio::test]
async fn the_general_ledger_pages_by_position_and_gives_its_opening_balance() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "ledger").await;
    let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
    for (date, amount) in [
        ("2026-02-01", "1000"),
        ("2026-02-10", "100"),
        ("2026-02-10", "200"),
        ("2026-03-05", "300"),
        ("2026-03-20", "400"),
    ] {
        books.post(date, json!([dr(&kas, amount), cr(&modal, amount)])).await;
    }
    // Paying out of the cash box on 2026-02-10 as well, a credit.
    books
        .post("2026-02-10", json!([dr(&modal, "50"), cr(&kas, "50")]))
        .await;
    let ledger = "query($a: ID!, $from: Date, $after: String, $first: Int) { generalLedger(accountId: $a, from: $from, first: $first, after: $after) {
        totalCount openingBalance nodes { date debit credit runningBalance } pageInfo { hasNextPage endCursor } } }";
    let page = |from: Option<&str>, after: Value, first: i64| {
        books.ok(
            ledger,
            json!({ "a": kas, "from": from, "after": after, "first": first }),
        )
    };
    let rows = |data: &Value| -> Vec<(String, String)> {
        data["generalLedger"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| {
                (
                    n["date"].as_str().expect("date").to_owned(),
                    n["runningBalance"].as_str().expect("balance").to_owned(),
                )
            })
            .collect()
    };

    let first = page(Some("2026-02-05"), Value::Null, 2).await;
    assert_eq!(first["generalLedger"]["openingBalance"], "1000.00");
    assert_eq!(first["generalLedger"]["totalCount"], 5);
    assert_eq!(
        rows(&first),
        [
            ("2026-02-10".into(), "1100.00".into()),
            ("2026-02-10".into(), "1300.00".into())
        ],
        "a day's entries in the order they were posted"
    );
    let cursor = first["generalLedger"]["pageInfo"]["endCursor"].clone();

    // Between the pages: an entry back-dated before the page and one later on its day.
    books.post("2026-01-15", json!([dr(&kas, "7"), cr(&modal, "7")])).await;
    books.post("2026-02-10", json!([dr(&kas, "1"), cr(&modal, "1")])).await;
    let second = page(Some("2026-02-05"), cursor, 3).await;
    assert_eq!(
        rows(&second),
        [
            ("2026-02-10".into(), "1257.00".into()),
            ("2026-02-10".into(), "1258.00".into()),
            ("2026-03-05".into(), "1558.00".into()),
        ],
        "no line repeated or skipped; balances as the books now stand"
    );
    assert_eq!(second["generalLedger"]["pageInfo"]["hasNextPage"], true);
    let third = page(
        Some("2026-02-05"),
        second["generalLedger"]["pageInfo"]["endCursor"].clone(),
        3,
    )
    .await;
    assert_eq!(rows(&third), [("2026-03-20".into(), "1958.00".into())]);
    assert_eq!(third["generalLedger"]["pageInfo"]["hasNextPage"], false);

    // Without `from`: from the first line, opening balance zero.
    let all = page(None, Value::Null, 200).await;
    assert_eq!(all["generalLedger"]["openingBalance"], "0.00");
    assert_eq!(all["generalLedger"]["totalCount"], 8);
    assert_eq!(rows(&all).last().map(|r| r.1.as_str()), Some("1958.00"));

    // A credit-side account runs in its own direction.
    let equity = books
        .ok(ledger, json!({ "a": modal, "from": "2026-03-01", "first": 1 }))
        .await;
    assert_eq!(equity["generalLedger"]["openingBalance"], "1258.00");
    assert_eq!(rows(&equity), [("2026-03-05".into(), "1558.00".into())]);

    // What a caller may not do: forge cursors, ask for negative or huge pages.
    for bad in [json!("garbage"), json!("bGVkZ2VyOjI")] {
        let body = books.gql(ledger, json!({ "a": kas, "after": bad, "first": 2 })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "after");
    }
    let negative = books.gql(ledger, json!({ "a": kas, "first": -1 })).await;
    assert_eq!(error_code(&negative), "BAD_USER_INPUT");
    let huge = page(None, Value::Null, 1_000_000).await;
    assert_eq!(rows(&huge).len(), 8, "capped, not refused");
}

#[tokio::test]
async fn purging_books_within_the_retention_period_needs_force_and_a_reason() {
    let app = TestApp::spawn().await;
    let purge = "mutation($s: String!, $f: Boolean, $r: String) { purgeTenant(slug: $s, force: $f, reason: $r) }";
    let delete = "mutation($s: String!) { deleteTenant(slug: $s) { status } }";
    // Books with an entry dated `date`, then deleted; the slug.
    let deleted_with_entry = |prefix: &'static str, date: &'static str| {
        let app = &app;
        async move {
            let books = Books::new(app, prefix).await;
            let (kas, modal) = (books.id("1-1101").await, books.id("3-1001").await);
            books.post(date, json!([dr(&kas, "10"), cr(&modal, "10")])).await;
            let (_, body) = app.admin(delete, json!({ "s": books.tenant.slug })).await;
            assert_eq!(body["data"]["deleteTenant"]["status"], "DELETED", "{body}");
            books.tenant.slug
        }
    };

    let slug = deleted_with_entry("keep", "2026-03-01").await;
    for (force, reason, field) in [
        (false, None, "force"),
        (true, None, "reason"),
        (true, Some("   "), "reason"),
        (false, Some("bubar"), "force"),
    ] {
        let (_, body) = app.admin(purge, json!({ "s": slug, "f": force, "r": reason })).await;
        assert_eq!(error_code(&body), "CONFLICT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("10-year retention"), "names the rule: {message}");
    }
    let (_, body) = app
        .admin(purge, json!({ "s": slug, "f": true, "r": "x".repeat(1001) }))
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(common::tenant_row(&app, &slug).await.is_some(), "nothing purged yet");
    let reason = "PT bubar; arsip dipindah ke penyimpanan notaris";
    let (_, body) = app.admin(purge, json!({ "s": slug, "f": true, "r": reason })).await;
    assert_eq!(body["data"]["purgeTenant"], true, "{body}");
    let events = app.services.registry.events(&slug).await.expect("events");
    let purged = events.last().expect("an event");
    assert_eq!(purged.kind.to_string(), "purged");
    let detail = purged.detail.clone().unwrap_or_default();
    assert!(detail.contains(reason) && detail.contains("2026-03-01"), "{detail}");

    // Books older than ten years need only what purging always needed; a future-dated
    // entry is recent. The CLI asks the same.
    let old = deleted_with_entry("old", "2010-06-30").await;
    let future = deleted_with_entry("future", "2099-01-01").await;
    let env = app.process_env();
    let (done, out, err) = run_cli(&["tenant", "purge", &old, "--force"], &env).await;
    assert!(done, "{out}{err}");
    let (done, out, err) = run_cli(&["tenant", "purge", &future, "--force"], &env).await;
    assert!(!done && err.contains("retention"), "{out}{err}");
    let (done, out, err) = run_cli(
        &["tenant", "purge", &future, "--force", "--reason", "uji pemurnian"],
        &env,
    )
    .await;
    assert!(done, "{out}{err}");
    assert!(common::tenant_row(&app, &future).await.is_none());
}

/// The chart of a tenant made before roles, by code: what `migrate tenants` must turn
/// it into.
async fn chart(db: &DatabaseConnection) -> Vec<String> {
    texts(
        db,
        "SELECT concat_ws('|', code, coalesce(role, '-'), is_postable::text) AS v FROM account ORDER BY code",
    )
    .await
}

#[tokio::test]
async fn tenants_made_before_roles_get_them_from_migrate_tenants() {
    use migration::m20261201_000003_template_roles::TEMPLATE_ROLES;
    let app = TestApp::spawn().await;
    let unused = app.create_tenant("oldchart", "PT Bagan Lama").await;
    let used = app.create_tenant("oldused", "PT Bagan Terpakai").await;
    let mut before = Vec::new();
    for tenant in [&unused, &used] {
        let row = common::tenant_row(&app, &tenant.slug).await.expect("row");
        let owner = ownership::owner_role(&row.db_username);
        let as_owner = ownership::owner_connection(&app.config.tenant_admin_url, &row.db_name, &owner, "test")
            .await
            .expect("owner connection");
        // Back to before `m20261201_000003_template_roles` (and what came after it).
        let names: Vec<String> = migration::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let roles_at = names
            .iter()
            .position(|n| n == "m20261201_000003_template_roles")
            .expect("migration");
        migration::Migrator::down(&as_owner, Some((names.len() - roles_at) as u32))
            .await
            .expect("down");
        // The chart as the old template seeded it: its codes only, no roles, "Laba
        // Tahun Berjalan" postable; and a role set by hand, and a custom account
        // that reuses a template code with another type.
        let old_codes = TEMPLATE_ROLES
            .iter()
            .filter(|p| p.0 == "id-sak-emkm")
            .map(|p| format!("'{}'", p.1))
            .collect::<Vec<_>>()
            .join(", ");
        as_owner
            .execute_unprepared(&format!(
                "DELETE FROM account WHERE code NOT IN ({old_codes}, '3-2002');
                 UPDATE account SET role = NULL;
                 UPDATE account SET role = 'OTHER_CURRENT_ASSET' WHERE code = '1-1102';"
            ))
            .await
            .expect("old chart");
        before.push(chart(&as_owner).await);
        as_owner.close().await.ok();
        let previous = migration::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .take_while(|n| n != "m20261201_000003_template_roles")
            .last();
        app.services
            .registry
            .db()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE tenants SET schema_version = $1, last_migration_result = NULL WHERE slug = $2",
                [previous.into(), tenant.slug.clone().into()],
            ))
            .await
            .expect("registry");
    }
    assert!(before[0].contains(&"3-2002|-|true".to_owned()), "{:?}", before[0]);
    // The used tenant posted to "Laba Tahun Berjalan" under the old version.
    let db_used = common::superuser(&common::tenant_row(&app, &used.slug).await.expect("row").db_name).await;
    // A custom account on a template code, with another type: not the template's.
    db_used
        .execute_unprepared("UPDATE account SET type = 'LIABILITY', normal_balance = 'CREDIT' WHERE code = '6-2099'")
        .await
        .expect("a custom account on a template code");
    let ids = texts(
        &db_used,
        "SELECT id::text AS v FROM account WHERE code IN ('1-1101', '3-2002') ORDER BY code",
    )
    .await;
    db_used
        .execute_unprepared(&format!(
            "BEGIN;
             INSERT INTO journal_entry (id, date, description) VALUES ('00000000-0000-4000-8000-0000000000b1', '2025-12-31', 'laba 2025');
             INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES
               (gen_random_uuid(), '00000000-0000-4000-8000-0000000000b1', 1, '{}', 9, 0),
               (gen_random_uuid(), '00000000-0000-4000-8000-0000000000b1', 2, '{}', 0, 9);
             UPDATE journal_entry SET status = 'POSTED' WHERE id = '00000000-0000-4000-8000-0000000000b1';
             COMMIT;",
            ids[0], ids[1]
        ))
        .await
        .expect("a posting to the old account");

    let (done, out, err) = run_cli(&["migrate", "tenants"], &app.process_env()).await;
    assert!(done, "{out}{err}");
    for tenant in [&unused, &used] {
        assert!(out.contains(&format!("{}: migrated from", tenant.slug)), "{out}");
        assert_eq!(
            common::tenant_row(&app, &tenant.slug)
                .await
                .expect("row")
                .schema_version,
            Some(migration::latest_version())
        );
    }

    let db_unused = common::superuser(&common::tenant_row(&app, &unused.slug).await.expect("row").db_name).await;
    let after = chart(&db_unused).await;
    for wanted in [
        "1-1101|CASH|true",
        "1-1103|BANK|true",
        "1-1102|OTHER_CURRENT_ASSET|true",
        "1-2002|ACCUMULATED_DEPRECIATION|true",
        "2-1201|VAT_OUTPUT|true",
        "2-2001|NON_CURRENT_LIABILITY|true",
        "3-2000|CAPITAL|false",
        "3-2001|RETAINED_EARNINGS|true",
        "3-2002|CURRENT_YEAR_EARNINGS|false",
        "4-1003|SALES_RETURNS|true",
        "8-1001|OTHER_EXPENSE|true",
    ] {
        assert!(after.contains(&wanted.to_owned()), "{wanted} in {after:?}");
    }
    assert_eq!(after.len(), before[0].len(), "no account added, none renumbered");
    assert!(
        after.iter().all(|a| !a.contains("|-|")),
        "every account has a role: {after:?}"
    );

    let used_after = chart(&db_used).await;
    assert!(used_after.contains(&"3-2002|-|true".to_owned()), "{used_after:?}");
    assert!(
        used_after.contains(&"6-2099|-|true".to_owned()),
        "not the template's: {used_after:?}"
    );
    assert!(used_after.contains(&"3-2001|RETAINED_EARNINGS|true".to_owned()));
    // The unused tenant's "Laba Tahun Berjalan" takes no postings now.
    let refused = Books {
        app: &app,
        tenant: unused,
    };
    let (kas, laba) = (refused.id("1-1101").await, refused.id("3-2002").await);
    let body = refused
        .create("2026-01-02", json!([dr(&kas, "1"), cr(&laba, "1")]), true)
        .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    db_unused.close().await.ok();
    db_used.close().await.ok();
}

#[tokio::test]
async fn new_tenants_get_the_charts_with_roles() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "roles").await;
    let data = books
        .ok(
            "{ accounts(first: 200, filter: { includeArchived: true }) { totalCount nodes { code name role isPostable } } }",
            json!({}),
        )
        .await;
    let nodes = data["accounts"]["nodes"].as_array().expect("nodes");
    assert_eq!(data["accounts"]["totalCount"], 93);
    assert!(nodes.iter().all(|a| a["role"].is_string()), "{data}");
    let find = |code: &str| nodes.iter().find(|a| a["code"] == code).cloned().unwrap_or_default();
    assert_eq!(find("3-2002")["isPostable"], false);
    assert_eq!(find("3-2002")["role"], "CURRENT_YEAR_EARNINGS");
    assert_eq!(find("8-2001")["name"], "Beban Pajak Penghasilan");
    assert_eq!(find("8-2001")["role"], "INCOME_TAX_EXPENSE");
    assert_eq!(find("3-1003")["role"], "OPENING_BALANCE_EQUITY");
    let company = books.ok("{ company { language } }", json!({})).await;
    assert_eq!(company["company"]["language"], "id");

    let slug = common::unique_slug("generic");
    let (_, created) = app
        .admin(
            "mutation($input: CreateTenantInput!) { createTenant(input: $input) { token } }",
            json!({ "input": { "slug": slug, "name": "Generic Ltd", "coaTemplate": "generic" } }),
        )
        .await;
    let token = created["data"]["createTenant"]["token"].as_str().expect("token");
    let (_, body) = app
        .tenant(
            &slug,
            Some(token),
            "{ company { language } equity: account(code: \"3140\") { role } earnings: account(code: \"3130\") { role isPostable } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({ "company": { "language": "en" }, "equity": { "role": "OPENING_BALANCE_EQUITY" },
                "earnings": { "role": "CURRENT_YEAR_EARNINGS", "isPostable": false } }),
        "{body}"
    );
}
