//! One tenant's books over GraphQL, for the tests of the ledger: a tenant with the
//! default chart, its token, and the calls the tests repeat (accounts by code, posting,
//! balances), each asserting that HTTP answered 200.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{error_code, TestApp, TestTenant};

/// `createJournalEntry` answering the new entry's id, number and status.
pub const CREATE_ENTRY: &str =
    "mutation($input: CreateJournalEntryInput!) { createJournalEntry(input: $input) { id number status } }";

pub struct Books<'a> {
    pub app: &'a TestApp,
    pub tenant: TestTenant,
}

impl<'a> Books<'a> {
    /// A new tenant named `name`, its slug starting with `prefix`.
    pub async fn new(app: &'a TestApp, prefix: &str, name: &str) -> Books<'a> {
        let tenant = app.create_tenant(prefix, name).await;
        Books { app, tenant }
    }

    /// The whole GraphQL answer (HTTP 200 asserted).
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .app
            .tenant(&self.tenant.slug, Some(&self.tenant.token), query, variables)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// `data` of an answer without errors.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"].clone()
    }

    /// The first error's code and `extensions.field` (asserting there is an error), and
    /// its message.
    pub async fn refused(&self, query: &str, variables: Value) -> (String, Value, String) {
        let body = self.gql(query, variables).await;
        assert!(!body["errors"].is_null(), "expected an error: {body}");
        (
            error_code(&body).to_owned(),
            body["errors"][0]["extensions"]["field"].clone(),
            body["errors"][0]["message"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// The id of the account with `code`.
    pub async fn id(&self, code: &str) -> String {
        let data = self
            .ok("query($c: String) { account(code: $c) { id } }", json!({ "c": code }))
            .await;
        data["account"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no account {code}"))
            .to_owned()
    }

    /// Creates and posts an entry that must succeed; the entry (id, number, status).
    pub async fn post(&self, date: &str, lines: Value) -> Value {
        self.ok(
            CREATE_ENTRY,
            json!({ "input": { "date": date, "description": "Transaksi", "lines": lines, "post": true } }),
        )
        .await["createJournalEntry"]
            .clone()
    }

    /// An account's balance (by code) as of `as_of` (today when `None`).
    pub async fn balance(&self, code: &str, as_of: Option<&str>) -> String {
        let data = self
            .ok(
                "query($c: String, $d: Date) { account(code: $c) { balance(asOf: $d) } }",
                json!({ "c": code, "d": as_of }),
            )
            .await;
        data["account"]["balance"].as_str().expect("balance").to_owned()
    }

    /// How many entries the books hold (any status).
    pub async fn entry_count(&self) -> i64 {
        self.ok("{ journalEntries(first: 1) { totalCount } }", json!({})).await["journalEntries"]["totalCount"]
            .as_i64()
            .expect("totalCount")
    }
}

/// A debit line on the account with `code`.
pub fn dr(code: &str, amount: &str) -> Value {
    json!({ "accountCode": code, "debit": amount })
}

/// A credit line on the account with `code`.
pub fn cr(code: &str, amount: &str) -> Value {
    json!({ "accountCode": code, "credit": amount })
}
