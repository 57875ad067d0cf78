//! Fiscal years and the audit trail (issue 13, points 3 and 4): closing a year into
//! retained earnings and what a closed year refuses, reopening, the order of years, dry
//! runs and retries; what the login role cannot do to closed years, closing entries and
//! the audit log whatever SQL it sends; who did what, by token.

use crate::common;

use common::{error_code, TestApp, TestTenant};
use migration::sqlstate;
use nusa_journal::tenancy::credentials::{single_connection, unseal};
use nusa_journal::tenancy::ownership::{self, Access};
use nusa_journal::tenancy::registry::admin_connection_to;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};

const CREATE: &str = "mutation($input: CreateJournalEntryInput!) {
    createJournalEntry(input: $input) { id number status kind date createdBy { tokenId name } postedBy { tokenId name } } }";
const CLOSE: &str = "mutation($label: String!, $dry: Boolean, $key: String) {
    closeFiscalYear(label: $label, dryRun: $dry, idempotencyKey: $key) {
      label start end status netIncome
      closingEntry { id number kind date status totalDebit postedBy { name }
                     lines { account { code } debit credit } } } }";
const REOPEN: &str = "mutation($label: String!, $reason: String!) {
    reopenFiscalYear(label: $label, reason: $reason) { label status closingEntry { id } } }";
const YEARS: &str = "{ fiscalYears { label start end status netIncome closingEntry { id number } } }";
const AUDIT: &str = "query($first: Int, $after: String) { auditLog(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id at actor { tokenId name } action subjectId detail } } }";
const LOCK: &str = "mutation($d: Date) { updateCompany(input: { lockDate: $d }) { lockDate hardLockDate } }";

/// A tenant's books, driven through the API with one token.
struct Books {
    app: TestApp,
    tenant: TestTenant,
}

impl Books {
    async fn new(prefix: &str) -> Books {
        let app = TestApp::spawn().await;
        let tenant = app.create_tenant(prefix, "PT Tutup Buku").await;
        Books { app, tenant }
    }

    async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.app.tenant(&self.tenant.slug, Some(token), query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(&self.tenant.token, query, variables).await
    }

    async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    /// The error code of a request that must fail.
    async fn refused(&self, query: &str, variables: Value) -> (String, Value) {
        let body = self.gql(query, variables).await;
        assert!(!body["errors"].is_null(), "expected an error: {body}");
        (error_code(&body).to_owned(), body)
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

    /// Posts `amount` from `debit` to `credit` (account codes) on `date`; the response.
    async fn post(&self, date: &str, debit: &str, credit: &str, amount: &str) -> Value {
        let lines = json!([
            { "accountId": self.id(debit).await, "debit": amount },
            { "accountId": self.id(credit).await, "credit": amount },
        ]);
        self.gql(
            CREATE,
            json!({ "input": { "date": date, "description": "Transaksi", "lines": lines, "post": true } }),
        )
        .await
    }

    async fn posted(&self, date: &str, debit: &str, credit: &str, amount: &str) -> Value {
        let body = self.post(date, debit, credit, amount).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["createJournalEntry"].clone()
    }

    async fn balance(&self, code: &str, as_of: &str) -> String {
        let data = self
            .ok(
                "query($c: String, $d: Date) { account(code: $c) { balance(asOf: $d) } }",
                json!({ "c": code, "d": as_of }),
            )
            .await;
        data["account"]["balance"].as_str().expect("balance").to_owned()
    }

    async fn years(&self) -> Vec<Value> {
        self.ok(YEARS, json!({})).await["fiscalYears"]
            .as_array()
            .expect("years")
            .clone()
    }

    async fn year(&self, label: &str) -> Value {
        self.years()
            .await
            .into_iter()
            .find(|y| y["label"] == label)
            .unwrap_or_else(|| panic!("no fiscal year {label}"))
    }

    async fn audit(&self, first: i32) -> Value {
        self.ok(AUDIT, json!({ "first": first })).await["auditLog"].clone()
    }

    async fn row(&self) -> nusa_journal::entities::registry::tenants::Model {
        common::tenant_row(&self.app, &self.tenant.slug)
            .await
            .expect("tenant row")
    }

    /// A superuser connection to the tenant database.
    async fn superuser(&self) -> DatabaseConnection {
        common::superuser(&self.row().await.db_name).await
    }

    /// A connection as the tenant's login role, with its sealed password.
    async fn login_role(&self) -> DatabaseConnection {
        let row = self.row().await;
        let password = unseal(self.app.services.lifecycle.sealer(), &row).expect("unseal");
        single_connection(&row, &password, "test-login-role")
            .await
            .expect("connect as the login role")
    }

    /// Gives the account `code` the role RETAINED_EARNINGS (as the chart template will).
    async fn retained_earnings(&self, code: &str) {
        self.superuser()
            .await
            .execute_unprepared(&format!(
                "UPDATE account SET role = 'RETAINED_EARNINGS' WHERE code = '{code}'"
            ))
            .await
            .expect("role");
    }

    async fn entry_count(&self) -> u64 {
        self.ok("{ journalEntries(first: 1) { totalCount } }", json!({})).await["journalEntries"]["totalCount"]
            .as_u64()
            .expect("count")
    }
}

async fn scalar(db: &DatabaseConnection, sql: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row");
    row.try_get::<Option<String>>("", "v")
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or_default()
}

/// The SQLSTATE a statement was refused with (panics if it was not refused).
fn refused_with(what: &str, result: Result<sea_orm::ExecResult, sea_orm::DbErr>) -> String {
    match result {
        Ok(_) => panic!("the login role could: {what}"),
        Err(err) => nusa_journal::error::sqlstate(&err).unwrap_or_else(|| panic!("{what}: {err}")),
    }
}

/// Kas, capital, sales, service income, marketing expense and retained earnings of the
/// Indonesian chart.
const KAS: &str = "1-1101";
const MODAL: &str = "3-1001";
const PENJUALAN: &str = "4-1001";
const JASA: &str = "4-1004";
const BEBAN: &str = "6-1001";
const LABA_DITAHAN: &str = "3-2001";

/// 2024: capital only (nothing to close). 2025: sales 500,000, services 100,000,
/// expenses 150,000 (profit 450,000). 2026: sales 70,000.
async fn three_years(b: &Books) {
    b.posted("2024-06-01", KAS, MODAL, "1000000.00").await;
    b.posted("2025-03-10", KAS, PENJUALAN, "500000.00").await;
    b.posted("2025-06-01", KAS, JASA, "100000.00").await;
    b.posted("2025-09-01", BEBAN, KAS, "150000.00").await;
    b.posted("2026-02-01", KAS, PENJUALAN, "70000.00").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_2025_moves_its_profit_to_retained_earnings_and_closes_the_year() {
    let b = Books::new("closing").await;
    b.retained_earnings(LABA_DITAHAN).await;
    three_years(&b).await;
    let years = b.years().await;
    let labels: Vec<&str> = years.iter().map(|y| y["label"].as_str().expect("label")).collect();
    assert_eq!(
        labels,
        ["2024", "2025", "2026"],
        "from the first posting to the current year"
    );
    let y2025 = b.year("2025").await;
    assert_eq!(
        (y2025["status"].as_str(), y2025["netIncome"].as_str()),
        (Some("OPEN"), Some("450000.00"))
    );
    assert_eq!(
        (y2025["start"].as_str(), y2025["end"].as_str()),
        (Some("2025-01-01"), Some("2025-12-31"))
    );

    // Years close in order; the current one once it has ended.
    for (label, why) in [("2025", "2024"), ("2026", "2024")] {
        let (code, body) = b.refused(CLOSE, json!({ "label": label })).await;
        assert_eq!(code, "CONFLICT", "{body}");
        assert!(
            body["errors"][0]["message"].as_str().expect("message").contains(why),
            "{body}"
        );
    }
    let (code, body) = b.refused(CLOSE, json!({ "label": "2025x" })).await;
    assert_eq!(
        (code.as_str(), &body["errors"][0]["extensions"]["field"]),
        ("BAD_USER_INPUT", &json!("label"))
    );

    // 2024 has no revenue or expense: it closes with no entry.
    let closed = b.ok(CLOSE, json!({ "label": "2024" })).await["closeFiscalYear"].clone();
    assert_eq!(closed["status"], "CLOSED");
    assert!(closed["closingEntry"].is_null(), "{closed}");
    let (code, _) = b.refused(CLOSE, json!({ "label": "2026" })).await;
    assert_eq!(code, "CONFLICT", "2025 is still open");

    // A dry run answers the closing entry and writes nothing.
    let (entries, events) = (b.entry_count().await, b.audit(1).await["totalCount"].clone());
    let dry = b.ok(CLOSE, json!({ "label": "2025", "dry": true })).await["closeFiscalYear"].clone();
    assert_eq!(dry["status"], "CLOSED");
    assert_eq!(dry["netIncome"], "450000.00");
    let preview = &dry["closingEntry"];
    assert_eq!(
        (preview["kind"].as_str(), preview["date"].as_str()),
        (Some("CLOSING"), Some("2025-12-31"))
    );
    assert_eq!(preview["totalDebit"], "600000.00", "{preview}");
    let lines: Vec<(String, String, String)> = preview["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l["account"]["code"].as_str().expect("code").to_owned(),
                l["debit"].as_str().expect("debit").to_owned(),
                l["credit"].as_str().expect("credit").to_owned(),
            )
        })
        .collect();
    let line = |code: &str, debit: &str, credit: &str| (code.to_owned(), debit.to_owned(), credit.to_owned());
    assert_eq!(
        lines,
        [
            line(PENJUALAN, "500000.00", "0.00"),
            line(JASA, "100000.00", "0.00"),
            line(BEBAN, "0.00", "150000.00"),
            line(LABA_DITAHAN, "0.00", "450000.00"),
        ]
    );
    assert_eq!(b.year("2025").await["status"], "OPEN", "the dry run wrote nothing");
    assert_eq!(b.entry_count().await, entries);
    assert_eq!(b.audit(1).await["totalCount"], events);
    assert_eq!(b.balance(LABA_DITAHAN, "2026-01-01").await, "0.00");

    // Closed, with a key; a retry returns the same year and entry.
    let first = b.ok(CLOSE, json!({ "label": "2025", "key": "close-2025" })).await["closeFiscalYear"].clone();
    let closing = first["closingEntry"].clone();
    assert_eq!(
        (first["status"].as_str(), closing["kind"].as_str()),
        (Some("CLOSED"), Some("CLOSING"))
    );
    assert_eq!(closing["status"], "POSTED");
    assert_eq!(closing["postedBy"]["name"], "default", "the tenant's first token");
    let retry = b.ok(CLOSE, json!({ "label": "2025", "key": "close-2025" })).await["closeFiscalYear"].clone();
    assert_eq!(retry["closingEntry"]["id"], closing["id"]);
    assert_eq!(retry["status"], "CLOSED");
    let (code, body) = b.refused(CLOSE, json!({ "label": "2026", "key": "close-2025" })).await;
    assert_eq!(code, "CONFLICT", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["field"], "idempotencyKey");
    let (code, _) = b.refused(CLOSE, json!({ "label": "2025" })).await;
    assert_eq!(code, "CONFLICT", "already closed");

    // Revenue and expense start 2026 at zero; retained earnings hold 2025's profit.
    for code in [PENJUALAN, JASA, BEBAN] {
        assert_eq!(b.balance(code, "2026-01-01").await, "0.00", "{code}");
    }
    assert_eq!(b.balance(LABA_DITAHAN, "2026-01-01").await, "450000.00");
    assert_eq!(b.balance(PENJUALAN, "2026-12-31").await, "70000.00", "2026's own sales");
    let years = b.years().await;
    let shown: Vec<(&str, &str, &str)> = years
        .iter()
        .map(|y| {
            (
                y["label"].as_str().expect("label"),
                y["status"].as_str().expect("status"),
                y["netIncome"].as_str().expect("net income"),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("2024", "CLOSED", "0.00"),
            ("2025", "CLOSED", "450000.00"),
            ("2026", "OPEN", "70000.00")
        ],
        "net income leaves the closing entry out"
    );
    assert_eq!(years[1]["closingEntry"]["id"], closing["id"]);

    // A closed year refuses posting, also before the first posting's year, also with a
    // lock date after it (the closed year wins), also a reversal dated in it.
    let company = b.ok("{ company { lockDate hardLockDate } }", json!({})).await;
    assert_eq!(company["company"]["hardLockDate"], "2025-12-31");
    for date in ["2025-12-31", "2025-01-01", "2023-05-01"] {
        let body = b.post(date, KAS, JASA, "1.00").await;
        assert_eq!(error_code(&body), "FISCAL_YEAR_CLOSED", "{date}: {body}");
    }
    let locked = b.ok(LOCK, json!({ "d": "2026-01-15" })).await;
    assert_eq!(locked["updateCompany"]["hardLockDate"], "2025-12-31");
    let body = b.post("2025-12-30", KAS, JASA, "1.00").await;
    assert_eq!(error_code(&body), "FISCAL_YEAR_CLOSED", "{body}");
    let body = b.post("2026-01-10", KAS, JASA, "1.00").await;
    assert_eq!(error_code(&body), "PERIOD_LOCKED", "{body}");
    let draft = b
        .ok(
            CREATE,
            json!({ "input": { "date": "2025-11-30", "description": "Terlambat",
                    "lines": [{ "accountId": b.id(KAS).await, "debit": "5.00" },
                              { "accountId": b.id(JASA).await, "credit": "5.00" }] } }),
        )
        .await["createJournalEntry"]["id"]
        .clone();
    let (code, _) = b
        .refused(
            "mutation($id: ID!) { postJournalEntry(id: $id) { id } }",
            json!({ "id": draft }),
        )
        .await;
    assert_eq!(code, "FISCAL_YEAR_CLOSED");
    let sale_2025 = b
        .ok(
            r#"{ journalEntries(filter: { from: "2025-03-10", to: "2025-03-10" }) { nodes { id } } }"#,
            json!({}),
        )
        .await["journalEntries"]["nodes"][0]["id"]
        .clone();
    let reverse = "mutation($id: ID!, $d: Date) { reverseJournalEntry(id: $id, date: $d) { id } }";
    let (code, _) = b.refused(reverse, json!({ "id": sale_2025, "d": "2025-12-31" })).await;
    assert_eq!(code, "FISCAL_YEAR_CLOSED");
    let (code, body) = b
        .refused(reverse, json!({ "id": closing["id"], "d": "2026-02-01" }))
        .await;
    assert_eq!(code, "CONFLICT", "a closing entry goes only by reopening: {body}");

    // Only the latest closed year reopens, with a reason; the lock date stays.
    let (code, _) = b.refused(REOPEN, json!({ "label": "2024", "reason": "salah" })).await;
    assert_eq!(code, "CONFLICT", "2025 is closed after it");
    let (code, _) = b.refused(REOPEN, json!({ "label": "2026", "reason": "salah" })).await;
    assert_eq!(code, "CONFLICT", "2026 is not closed");
    let (code, body) = b.refused(REOPEN, json!({ "label": "2025", "reason": "  " })).await;
    assert_eq!(
        (code.as_str(), &body["errors"][0]["extensions"]["field"]),
        ("BAD_USER_INPUT", &json!("reason"))
    );
    let reason = "Koreksi beban iklan Desember yang terlewat";
    let reopened = b.ok(REOPEN, json!({ "label": "2025", "reason": reason })).await["reopenFiscalYear"].clone();
    assert_eq!(reopened["status"], "OPEN");
    assert!(reopened["closingEntry"].is_null());
    let company = b.ok("{ company { lockDate hardLockDate } }", json!({})).await["company"].clone();
    assert_eq!(
        (company["lockDate"].as_str(), company["hardLockDate"].as_str()),
        (Some("2026-01-15"), Some("2024-12-31"))
    );
    let old = b
        .ok(
            "query($id: ID!) { journalEntry(id: $id) { status reversedBy { date kind } } }",
            json!({ "id": closing["id"] }),
        )
        .await["journalEntry"]
        .clone();
    assert_eq!(old["status"], "REVERSED");
    assert_eq!(old["reversedBy"], json!({ "date": "2025-12-31", "kind": "REVERSAL" }));
    let log = b.audit(5).await;
    let reopen_event = log["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "fiscal_year.reopen")
        .cloned()
        .unwrap_or_else(|| panic!("no reopen event: {log}"));
    assert!(
        reopen_event["detail"].as_str().expect("detail").contains(reason),
        "{reopen_event}"
    );
    assert_eq!(reopen_event["subjectId"], closing["id"]);
    assert_eq!(reopen_event["actor"]["name"], "default");
    assert!(log["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["action"] == "fiscal_year.close"));
    for code in [PENJUALAN, JASA, BEBAN, LABA_DITAHAN] {
        let (open, closed_again) = (b.balance(code, "2025-12-31").await, b.balance(code, "2026-01-01").await);
        assert_eq!(open, closed_again, "{code}: the reversal undid the closing");
    }
    assert_eq!(b.balance(LABA_DITAHAN, "2026-01-01").await, "0.00");

    // Post the forgotten expense into 2025 (once the lock date moves), close again.
    b.ok(LOCK, json!({ "d": null })).await;
    b.posted("2025-12-20", BEBAN, KAS, "50000.00").await;
    let again = b.ok(CLOSE, json!({ "label": "2025" })).await["closeFiscalYear"].clone();
    assert_eq!(
        (again["status"].as_str(), again["netIncome"].as_str()),
        (Some("CLOSED"), Some("400000.00"))
    );
    assert_ne!(again["closingEntry"]["id"], closing["id"], "a new closing entry");
    assert_eq!(b.balance(LABA_DITAHAN, "2026-01-01").await, "400000.00");
    assert_eq!(b.balance(BEBAN, "2026-01-01").await, "0.00");
    let body = b.post("2025-12-31", KAS, JASA, "1.00").await;
    assert_eq!(error_code(&body), "FISCAL_YEAR_CLOSED", "{body}");
    // The earlier key still answers its first request.
    let retry = b.ok(CLOSE, json!({ "label": "2025", "key": "close-2025" })).await["closeFiscalYear"].clone();
    assert_eq!(retry["status"], "CLOSED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_needs_exactly_one_retained_earnings_account_and_may_cover_a_lock_date() {
    let b = Books::new("retained").await;
    b.posted("2025-04-01", KAS, PENJUALAN, "300.00").await;
    // The chart template gives Laba Ditahan the role: take it away to see the refusal.
    b.superuser()
        .await
        .execute_unprepared("UPDATE account SET role = NULL WHERE role = 'RETAINED_EARNINGS'")
        .await
        .expect("role");
    let (code, body) = b.refused(CLOSE, json!({ "label": "2025", "dry": true })).await;
    assert_eq!(code, "CONFLICT", "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .expect("message")
        .contains("RETAINED_EARNINGS"));
    b.retained_earnings(LABA_DITAHAN).await;
    b.retained_earnings("3-1001").await;
    let (code, body) = b.refused(CLOSE, json!({ "label": "2025" })).await;
    assert_eq!(code, "CONFLICT", "{body}");
    let message = body["errors"][0]["message"].as_str().expect("message");
    assert!(
        message.contains(LABA_DITAHAN) && message.contains("3-1001"),
        "{message}"
    );
    b.superuser()
        .await
        .execute_unprepared("UPDATE account SET role = 'CAPITAL' WHERE code = '3-1001'")
        .await
        .expect("role");
    // Books locked before they are closed: the closing entry is still dated the year end.
    b.ok(LOCK, json!({ "d": "2026-01-31" })).await;
    let closed = b.ok(CLOSE, json!({ "label": "2025" })).await["closeFiscalYear"].clone();
    assert_eq!(closed["closingEntry"]["date"], "2025-12-31");
    let company = b.ok("{ company { lockDate hardLockDate } }", json!({})).await["company"].clone();
    assert_eq!(
        company,
        json!({ "lockDate": "2026-01-31", "hardLockDate": "2025-12-31" })
    );
    assert_eq!(b.balance(LABA_DITAHAN, "2025-12-31").await, "300.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_role_cannot_close_years_post_closing_entries_or_change_the_audit_log() {
    let b = Books::new("guardfy").await;
    b.retained_earnings(LABA_DITAHAN).await;
    three_years(&b).await;
    let (kas, penjualan) = (b.id(KAS).await, b.id(PENJUALAN).await);
    let login = b.login_role().await;
    let denied = "42501";
    let (order, closing) = (sqlstate::FISCAL_YEAR_ORDER, sqlstate::CLOSING_ENTRY_INVALID);
    let fake_close = |id: &str, date: &str| {
        format!(
            "INSERT INTO journal_entry (id, date, description, kind) VALUES ('{id}', '{date}', 'by hand', 'CLOSING');
             INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES
               (gen_random_uuid(), '{id}', 1, '{penjualan}', 500000, 0),
               (gen_random_uuid(), '{id}', 2, '{kas}', 0, 500000);
             UPDATE journal_entry SET status = 'POSTED' WHERE id = '{id}'"
        )
    };
    let attempts: Vec<(&str, String, &str)> = vec![
        (
            "close a year by writing its row",
            "INSERT INTO fiscal_year (label, start_date, end_date, status) VALUES (2025, '2025-01-01', '2025-12-31', 'CLOSED')"
                .into(),
            denied,
        ),
        ("reopen by writing a row", "UPDATE fiscal_year SET status = 'OPEN'".into(), denied),
        ("forget closed years", "DELETE FROM fiscal_year".into(), denied),
        ("rewrite the audit log", "UPDATE audit_event SET detail = 'nothing happened'".into(), denied),
        ("erase the audit log", "DELETE FROM audit_event".into(), denied),
        ("truncate the audit log", "TRUNCATE audit_event".into(), denied),
        (
            "post a CLOSING entry of its own, hiding sales from the income statement",
            fake_close("00000000-0000-4000-8000-0000000000c1", "2025-12-31"),
            closing,
        ),
        (
            "post one dated inside the year",
            fake_close("00000000-0000-4000-8000-0000000000c2", "2025-06-30"),
            closing,
        ),
        (
            "close 2025 while 2024 is open",
            "SELECT nusa_close_fiscal_year(2025, NULL, NULL, 'intruder')".into(),
            order,
        ),
        (
            "close 2024 with a closing entry that is not one",
            "SELECT nusa_close_fiscal_year(2024, (SELECT id FROM journal_entry ORDER BY date LIMIT 1), NULL, 'intruder')"
                .into(),
            closing,
        ),
        ("reopen a year that is open", "SELECT nusa_reopen_fiscal_year(2024, 'x', NULL, 'intruder')".into(), order),
    ];
    for (what, sql, expected) in &attempts {
        let code = refused_with(what, login.execute_unprepared(sql).await);
        assert_eq!(&code, expected, "{what}: refused, but with {code}");
    }
    // The function checks the balances too: 2024 has none, so the login role may close
    // it as the service would; 2025 without its closing entry may not.
    login
        .execute_unprepared("SELECT nusa_close_fiscal_year(2024, NULL, NULL, 'by hand')")
        .await
        .expect("a year with nothing to close");
    let unclosed = login
        .execute_unprepared("SELECT nusa_close_fiscal_year(2025, NULL, NULL, 'intruder')")
        .await;
    assert_eq!(refused_with("close 2025 with its revenue left", unclosed), closing);

    let closed = b.ok(CLOSE, json!({ "label": "2025" })).await["closeFiscalYear"].clone();
    let closing_id = closed["closingEntry"]["id"].as_str().expect("closing entry").to_owned();
    let after_close: Vec<(&str, String, &str)> = vec![
        (
            "reverse the closing entry into the next year, keeping 2025 closed",
            format!(
                "INSERT INTO journal_entry (id, date, description, reversal_of, kind)
                   VALUES ('00000000-0000-4000-8000-0000000000c3', '2026-01-05', 'undo', '{closing_id}', 'REVERSAL');
                 INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit)
                   SELECT gen_random_uuid(), '00000000-0000-4000-8000-0000000000c3', line_no, account_id, credit, debit
                     FROM journal_line WHERE entry_id = '{closing_id}';
                 UPDATE journal_entry SET status = 'POSTED' WHERE id = '00000000-0000-4000-8000-0000000000c3';
                 UPDATE journal_entry SET status = 'REVERSED' WHERE id = '{closing_id}'"
            ),
            closing,
        ),
        (
            "reopen 2025 and keep its closing entry",
            "SELECT nusa_reopen_fiscal_year(2025, 'quietly', NULL, 'intruder')".into(),
            closing,
        ),
        ("reopen 2024 under 2025", "SELECT nusa_reopen_fiscal_year(2024, 'x', NULL, 'intruder')".into(), order),
        (
            "post into 2023, before any closed year's row",
            format!(
                "INSERT INTO journal_entry (id, date, description) VALUES ('00000000-0000-4000-8000-0000000000c4', '2023-03-01', 'late');
                 INSERT INTO journal_line (id, entry_id, line_no, account_id, debit, credit) VALUES
                   (gen_random_uuid(), '00000000-0000-4000-8000-0000000000c4', 1, '{kas}', 5, 0),
                   (gen_random_uuid(), '00000000-0000-4000-8000-0000000000c4', 2, '{penjualan}', 0, 5);
                 UPDATE journal_entry SET status = 'POSTED' WHERE id = '00000000-0000-4000-8000-0000000000c4'"
            ),
            sqlstate::FISCAL_YEAR_CLOSED,
        ),
    ];
    for (what, sql, expected) in &after_close {
        let code = refused_with(what, login.execute_unprepared(sql).await);
        assert_eq!(&code, expected, "{what}: refused, but with {code}");
    }
    login.close().await.ok();

    // Even the owner's triggers keep the log append-only (a superuser is refused too).
    let observer = b.superuser().await;
    let changed = observer.execute_unprepared("UPDATE audit_event SET detail = 'x'").await;
    assert_eq!(refused_with("change an event", changed), sqlstate::AUDIT_APPEND_ONLY);
    assert_eq!(
        scalar(
            &observer,
            "SELECT string_agg(label || ':' || status, ',' ORDER BY label) AS v FROM fiscal_year"
        )
        .await,
        "2024:CLOSED,2025:CLOSED"
    );
    assert_eq!(
        scalar(
            &observer,
            "SELECT count(*)::text AS v FROM journal_entry WHERE kind = 'CLOSING'"
        )
        .await,
        "1",
        "only the service's closing entry"
    );
    let y2025 = b.year("2025").await;
    assert_eq!(y2025["netIncome"], "450000.00", "no sale was hidden");
    assert_eq!(b.balance(LABA_DITAHAN, "2026-01-01").await, "450000.00");
    let events = b.audit(200).await;
    let by_hand = events["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["actor"]["name"] == "by hand")
        .count();
    assert_eq!(by_hand, 1, "the database functions append their own events: {events}");
    observer.close().await.ok();

    // A paused tenant (a restore withdraws its writes) cannot reopen a year either: the
    // functions write as their owner, so their EXECUTE goes with the writes.
    let row = b.row().await;
    let admin = admin_connection_to(&b.app.config.tenant_admin_url, &row.db_name, "test")
        .await
        .expect("admin");
    ownership::set_writable(&admin, &row.db_username, Access::ReadOnly)
        .await
        .expect("pause");
    let login = b.login_role().await;
    let paused = login
        .execute_unprepared("SELECT nusa_reopen_fiscal_year(2025, 'during a restore', NULL, 'intruder')")
        .await;
    assert_eq!(refused_with("reopen while paused", paused), "42501");
    ownership::set_writable(&admin, &row.db_username, Access::ReadWrite)
        .await
        .expect("resume");
    login.close().await.ok();
    admin.close().await.ok();
    assert_eq!(b.year("2025").await["status"], "CLOSED");
}

/// A second token of the tenant: (id, token).
async fn another_token(app: &TestApp, tenant: &TestTenant, name: &str) -> (String, String) {
    let (_, body) = app
        .admin(
            "mutation($slug: String!, $name: String!) { createApiToken(slug: $slug, name: $name) { apiToken { id } token } }",
            json!({ "slug": tenant.slug, "name": name }),
        )
        .await;
    let created = &body["data"]["createApiToken"];
    (
        created["apiToken"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned(),
        created["token"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_names_the_token_behind_each_action() {
    let b = Books::new("audited").await;
    let (kasir_id, kasir) = another_token(&b.app, &b.tenant, "Kasir Toko").await;
    let (akuntan_id, akuntan) = another_token(&b.app, &b.tenant, "Akuntan").await;
    let (kas, jasa) = (b.id(KAS).await, b.id(JASA).await);
    let ok_as = |token: String, query: &'static str, variables: Value| {
        let b = &b;
        async move {
            let body = b.gql_as(&token, query, variables).await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"].clone()
        }
    };

    let draft = ok_as(
        kasir.clone(),
        CREATE,
        json!({ "input": { "date": "2026-03-01", "description": "Jasa servis",
                "lines": [{ "accountId": kas, "debit": "250.00" }, { "accountId": jasa, "credit": "250.00" }] } }),
    )
    .await["createJournalEntry"]
        .clone();
    assert_eq!(draft["createdBy"], json!({ "tokenId": kasir_id, "name": "Kasir Toko" }));
    assert!(draft["postedBy"].is_null());
    assert_eq!(draft["kind"], "REGULAR");
    let posted = ok_as(
        akuntan.clone(),
        "mutation($id: ID!) { postJournalEntry(id: $id) { id kind createdBy { tokenId name } postedBy { tokenId name } } }",
        json!({ "id": draft["id"] }),
    )
    .await["postJournalEntry"]
        .clone();
    assert_eq!(
        posted["createdBy"],
        json!({ "tokenId": kasir_id, "name": "Kasir Toko" })
    );
    assert_eq!(posted["postedBy"], json!({ "tokenId": akuntan_id, "name": "Akuntan" }));
    ok_as(akuntan.clone(), LOCK, json!({ "d": "2026-01-31" })).await;
    let account = ok_as(
        kasir.clone(),
        r#"mutation { createAccount(input: { code: "1-1190", name: "Kas Kecil Cabang", type: ASSET }) { id } }"#,
        json!({}),
    )
    .await["createAccount"]["id"]
        .clone();
    ok_as(
        akuntan.clone(),
        "mutation($id: ID!) { updateAccount(id: $id, input: { name: \"Kas Kecil Bandung\" }) { id } }",
        json!({ "id": account }),
    )
    .await;
    let reversal = ok_as(
        akuntan.clone(),
        r#"mutation($id: ID!) { reverseJournalEntry(id: $id, date: "2026-03-05") { id kind postedBy { name } } }"#,
        json!({ "id": draft["id"] }),
    )
    .await["reverseJournalEntry"]
        .clone();
    assert_eq!(reversal["kind"], "REVERSAL");
    assert_eq!(reversal["postedBy"]["name"], "Akuntan");

    let log = b.audit(10).await;
    assert_eq!(log["totalCount"], 6, "{log}");
    let seen: Vec<(&str, &str, &str)> = log["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action"),
                e["actor"]["name"].as_str().expect("actor"),
                e["actor"]["tokenId"].as_str().expect("token id"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("journal_entry.reverse", "Akuntan", akuntan_id.as_str()),
            ("account.update", "Akuntan", akuntan_id.as_str()),
            ("account.create", "Kasir Toko", kasir_id.as_str()),
            ("company.update", "Akuntan", akuntan_id.as_str()),
            ("journal_entry.post", "Akuntan", akuntan_id.as_str()),
            ("journal_entry.create", "Kasir Toko", kasir_id.as_str()),
        ],
        "newest first"
    );
    let nodes = log["nodes"].as_array().expect("events");
    assert_eq!(nodes[0]["subjectId"], draft["id"]);
    assert_eq!(
        nodes[1]["detail"],
        r#"1-1190: name: "Kas Kecil Cabang" -> "Kas Kecil Bandung""#
    );
    assert_eq!(nodes[3]["detail"], r#"lockDate: none -> "2026-01-31""#);
    assert!(
        nodes
            .iter()
            .all(|e| !e["detail"].as_str().unwrap_or_default().contains("nj_")),
        "no token in a detail"
    );

    // Pages: newest first by a keyset cursor, bounded.
    let page = b.ok(AUDIT, json!({ "first": 4 })).await["auditLog"].clone();
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = b
        .ok(AUDIT, json!({ "first": 4, "after": page["pageInfo"]["endCursor"] }))
        .await["auditLog"]
        .clone();
    let ids = |p: &Value| -> Vec<String> {
        p["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let all: Vec<String> = ids(&page).into_iter().chain(ids(&next)).collect();
    assert_eq!(all, ids(&log), "the pages cover the log once, in order");
    assert_eq!(next["pageInfo"]["hasNextPage"], false);
    let capped = b.ok(AUDIT, json!({ "first": 100000 })).await["auditLog"].clone();
    assert_eq!(
        capped["nodes"].as_array().map(Vec::len),
        Some(6),
        "first is capped, not refused"
    );
    for (variables, field) in [
        (json!({ "first": -1 }), "first"),
        (json!({ "first": 5, "after": "not-a-cursor" }), "after"),
    ] {
        let (code, body) = b.refused(AUDIT, variables).await;
        assert_eq!(
            (code.as_str(), &body["errors"][0]["extensions"]["field"]),
            ("BAD_USER_INPUT", &json!(field))
        );
    }

    // Drafts changed and removed, an account archived: each has its event.
    let second = ok_as(
        kasir.clone(),
        CREATE,
        json!({ "input": { "date": "2026-04-01", "description": "Belum selesai",
                "lines": [{ "accountId": kas, "debit": "1.00" }, { "accountId": jasa, "credit": "1.00" }] } }),
    )
    .await["createJournalEntry"]["id"]
        .clone();
    ok_as(
        kasir.clone(),
        "mutation($id: ID!) { updateJournalEntry(id: $id, input: { description: \"Sudah diperiksa\" }) { id } }",
        json!({ "id": second }),
    )
    .await;
    ok_as(
        akuntan.clone(),
        "mutation($id: ID!) { deleteJournalEntry(id: $id) }",
        json!({ "id": second }),
    )
    .await;
    ok_as(
        akuntan.clone(),
        "mutation($id: ID!) { archiveAccount(id: $id) { isArchived } }",
        json!({ "id": account }),
    )
    .await;
    let latest = b.audit(4).await;
    let seen: Vec<(&str, &str, &str)> = latest["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action"),
                e["actor"]["name"].as_str().expect("actor"),
                e["detail"].as_str().expect("detail"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("account.archive", "Akuntan", "1-1190 Kas Kecil Bandung"),
            (
                "journal_entry.delete",
                "Akuntan",
                "draft dated 2026-04-01: Sudah diperiksa"
            ),
            (
                "journal_entry.update",
                "Kasir Toko",
                r#"description: "Belum selesai" -> "Sudah diperiksa""#
            ),
            (
                "journal_entry.create",
                "Kasir Toko",
                "dated 2026-04-01, 2 lines, debits 1.00, credits 1.00"
            ),
        ]
    );

    // A READ token reads the log but changes nothing.
    let (_, body) = b
        .app
        .admin(
            "mutation($slug: String!) { createApiToken(slug: $slug, name: \"Auditor\", scopes: [READ]) { token } }",
            json!({ "slug": b.tenant.slug }),
        )
        .await;
    let reader = body["data"]["createApiToken"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let read = b.gql_as(&reader, AUDIT, json!({ "first": 1 })).await;
    assert!(read["errors"].is_null(), "{read}");
    let write = b.gql_as(&reader, CLOSE, json!({ "label": "2025" })).await;
    assert_eq!(error_code(&write), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fiscal_year_list_is_bounded_and_follows_the_start_month() {
    let b = Books::new("fylist").await;
    b.ok(
        "mutation { updateCompany(input: { fiscalYearStartMonth: 7, timezone: \"Asia/Jayapura\" }) { timezone } }",
        json!({}),
    )
    .await;
    let (code, body) = b
        .refused(
            "mutation { updateCompany(input: { timezone: \"WIB\" }) { timezone } }",
            json!({}),
        )
        .await;
    assert_eq!(
        (code.as_str(), &body["errors"][0]["extensions"]["field"]),
        ("BAD_USER_INPUT", &json!("input.timezone"))
    );
    // Nothing posted: the current year only.
    let years = b.years().await;
    assert_eq!(years.len(), 1, "{years:?}");
    // A hostile date far back: the list keeps the latest 100 years.
    b.posted("1900-08-01", KAS, MODAL, "1.00").await;
    let years = b.years().await;
    assert_eq!(years.len(), 100);
    let today = nusa_journal::ledger::company::today_in("Asia/Jayapura").to_string();
    let last = &years[99];
    assert!(
        last["start"].as_str().expect("start") <= today.as_str()
            && last["end"].as_str().expect("end") >= today.as_str(),
        "the current year in the company's time zone comes last: {last}"
    );
    assert_eq!(years[0]["label"].as_str().map(str::len), Some(4));
    assert!(last["start"].as_str().expect("start").ends_with("-07-01"), "{last}");
    assert!(last["end"].as_str().expect("end").ends_with("-06-30"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postings_racing_a_close_are_either_closed_with_the_year_or_refused() {
    let b = Books::new("closerace").await;
    b.retained_earnings(LABA_DITAHAN).await;
    b.posted("2025-01-05", KAS, PENJUALAN, "1000.00").await;
    let (kas, penjualan) = (b.id(KAS).await, b.id(PENJUALAN).await);
    let mut drafts = Vec::new();
    // Eight requests at once: within the tenant's cap of requests in flight.
    for day in 1..=6u32 {
        let date = format!("2025-12-{day:02}");
        let input = json!({ "input": { "date": date, "description": "Penjualan akhir tahun",
            "lines": [{ "accountId": kas, "debit": "10.00" }, { "accountId": penjualan, "credit": "10.00" }] } });
        drafts.push(b.ok(CREATE, input).await["createJournalEntry"]["id"].clone());
    }
    let post = "mutation($id: ID!) { postJournalEntry(id: $id) { id } }";
    let posts = futures::future::join_all(drafts.iter().map(|id| b.gql(post, json!({ "id": id }))));
    // Two closes with one key: one closes, the other answers as its retry.
    let closes = futures::future::join_all((0..2).map(|_| b.gql(CLOSE, json!({ "label": "2025", "key": "race" }))));
    let (posts, closes) = tokio::join!(posts, closes);
    for close in &closes {
        assert!(close["errors"].is_null(), "{close}");
    }
    assert_eq!(
        closes[0]["data"]["closeFiscalYear"]["closingEntry"]["id"],
        closes[1]["data"]["closeFiscalYear"]["closingEntry"]["id"]
    );
    let mut posted = 0;
    for body in &posts {
        if body["errors"].is_null() {
            posted += 1;
        } else {
            assert_eq!(error_code(body), "FISCAL_YEAR_CLOSED", "{body}");
        }
    }
    // Whatever the interleaving, what was posted was closed with the year.
    assert_eq!(b.balance(PENJUALAN, "2026-01-01").await, "0.00");
    let profit = format!("{}.00", 1000 + 10 * posted);
    assert_eq!(b.balance(LABA_DITAHAN, "2026-01-01").await, profit);
    assert_eq!(b.year("2025").await["netIncome"], profit.as_str());
    println!("close race: {posted} of 6 posted before the close, the rest refused");
}
