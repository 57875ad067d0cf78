//! Books coming in (issue 14): opening balances, many entries in one call, accounts by
//! code on lines.

use serde_json::{json, Value};

use crate::common::books::{cr, dr, Books};
use crate::common::TestApp;

const OPENING: &str = "mutation($input: OpeningBalancesInput!) { setOpeningBalances(input: $input) {
    id number status kind date totalDebit } }";

const BATCH: &str = "mutation($inputs: [CreateJournalEntryInput!]!) { createJournalEntries(inputs: $inputs) {
    id number status date } }";

const BALANCE_SHEET: &str = "query($asOf: Date) { balanceSheet(asOf: $asOf) { rows { account { code } amounts } } }";

/// Balance-sheet amounts by account code, as of `as_of`.
async fn balance_sheet(books: &Books<'_>, as_of: &str) -> std::collections::HashMap<String, String> {
    let data = books.ok(BALANCE_SHEET, json!({ "asOf": as_of })).await;
    data["balanceSheet"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|row| {
            Some((
                row["account"]["code"].as_str()?.to_owned(),
                row["amounts"][0].as_str()?.to_owned(),
            ))
        })
        .collect()
}

fn entry(date: &str, description: &str, lines: Value, post: bool) -> Value {
    json!({ "date": date, "description": description, "lines": lines, "post": post })
}

#[tokio::test]
async fn opening_balances_post_once_replace_until_the_year_moves_on_then_conflict() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "opening", "PT Saldo Awal").await;
    // Debits 50,000,000 and credits 45,000,000: the difference, 5,000,000, is credited
    // to Ekuitas Saldo Awal (OPENING_BALANCE_EQUITY, 3-1003). A zero line is skipped.
    let first = books
        .ok(
            OPENING,
            json!({ "input": { "date": "2026-01-01", "lines": [
                { "accountCode": "1-1101", "debit": "10000000" },
                { "accountId": books.id("1-1103").await, "debit": "40000000.00" },
                { "accountCode": "2-1101", "credit": "15000000" },
                { "accountCode": "3-1001", "credit": "30000000" },
                { "accountCode": "1-1201", "debit": "0", "credit": "0" },
            ] } }),
        )
        .await["setOpeningBalances"]
        .clone();
    assert_eq!(first["kind"], "OPENING");
    assert_eq!(first["status"], "POSTED");
    assert_eq!(first["totalDebit"], "50000000.00");
    let sheet = balance_sheet(&books, "2026-01-01").await;
    assert_eq!(sheet["1-1101"], "10000000.00", "{sheet:?}");
    assert_eq!(sheet["1-1103"], "40000000.00");
    assert_eq!(sheet["2-1101"], "15000000.00");
    assert_eq!(sheet["3-1001"], "30000000.00");
    assert_eq!(
        sheet["3-1003"], "5000000.00",
        "the difference on OPENING_BALANCE_EQUITY"
    );
    assert_eq!(
        books.balance("1-1101", Some("2025-12-31")).await,
        "0.00",
        "nothing before"
    );

    // Again, before anything else is posted in 2026: replaces it. The difference goes
    // to the account named this time.
    let modal = books.id("3-1001").await;
    let second = books
        .ok(
            OPENING,
            json!({ "input": { "date": "2026-01-01", "balancingAccountId": modal, "lines": [
                dr("1-1101", "12000000"), cr("2-1101", "2000000"),
            ] } }),
        )
        .await["setOpeningBalances"]
        .clone();
    assert_ne!(second["id"], first["id"]);
    let sheet = balance_sheet(&books, "2026-01-01").await;
    assert_eq!(sheet["1-1101"], "12000000.00", "{sheet:?}");
    assert_eq!(sheet.get("1-1103").map(String::as_str).unwrap_or("0.00"), "0.00");
    assert_eq!(sheet["2-1101"], "2000000.00");
    assert_eq!(sheet["3-1001"], "10000000.00", "the difference on the named account");
    assert_eq!(sheet.get("3-1003").map(String::as_str).unwrap_or("0.00"), "0.00");
    let earlier = books
        .ok(
            "query($id: ID!) { journalEntry(id: $id) { status reversedBy { date kind } } }",
            json!({ "id": first["id"] }),
        )
        .await;
    assert_eq!(earlier["journalEntry"]["status"], "REVERSED");
    assert_eq!(earlier["journalEntry"]["reversedBy"]["date"], "2026-01-01");
    let log = books
        .ok("{ auditLog(first: 20) { nodes { action subjectId } } }", json!({}))
        .await;
    let actions: Vec<(&str, &str)> = log["auditLog"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["subjectId"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let first_id = first["id"].as_str().expect("id");
    assert!(
        actions.contains(&("journal_entry.reverse", first_id)),
        "the replacement is audited: {actions:?}"
    );
    assert!(actions.contains(&("journal_entry.opening_balances", second["id"].as_str().expect("id"))));

    // Once another entry is posted in 2026, the opening stays: CONFLICT, nothing written.
    books
        .post("2026-02-01", json!([dr("1-1101", "100"), cr("4-1001", "100")]))
        .await;
    let before = books.entry_count().await;
    let (code, _, message) = books
        .refused(
            OPENING,
            json!({ "input": { "date": "2026-01-01", "lines": [dr("1-1101", "1"), cr("3-1001", "1")] } }),
        )
        .await;
    assert_eq!(code, "CONFLICT", "{message}");
    assert_eq!(books.entry_count().await, before);
    assert_eq!(books.balance("1-1101", Some("2026-01-01")).await, "12000000.00");
}

#[tokio::test]
async fn opening_balances_refuse_bad_lines() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "opening-bad", "PT Saldo Salah").await;
    let refused = |lines: Value| {
        let books = &books;
        async move {
            books
                .refused(OPENING, json!({ "input": { "date": "2026-01-01", "lines": lines } }))
                .await
        }
    };
    let (code, field, _) = refused(json!([dr("1-1101", "5"), dr("1-1101", "5")])).await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("input.lines.1")),
        "twice"
    );
    let (code, field, _) = refused(json!([dr("9-9999", "5")])).await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("input.lines.0.accountCode"))
    );
    let (code, field, _) = refused(json!([{ "accountCode": "1-1101", "debit": "5", "credit": "5" }])).await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("input.lines.0")),
        "two-sided"
    );
    let (code, field, _) = refused(json!([{ "accountCode": "1-1101", "debit": "0" }])).await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("input.lines")),
        "nothing"
    );
    let (code, field, _) = refused(json!([
        { "accountCode": "1-1101", "debit": "0" },
        { "accountCode": "1-0000", "debit": "5" },
    ]))
    .await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("input.lines.1.accountId")),
        "a header account, named by its index in the input"
    );
    let nowhere = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
    let (code, field, _) = books
        .refused(
            OPENING,
            json!({ "input": { "date": "2026-01-01", "balancingAccountId": nowhere,
                "lines": [dr("1-1101", "5")] } }),
        )
        .await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("input.balancingAccountId"))
    );
    let (code, field, _) = refused(json!([
        dr("1-1101", "900000000000000000"),
        dr("1-1103", "900000000000000000"),
    ]))
    .await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("input.lines")),
        "too large a difference"
    );
    assert_eq!(books.entry_count().await, 0);
}

#[tokio::test]
async fn opening_balances_stay_once_books_moved_on_even_reversed_by_hand_or_in_a_later_year() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "opening-later", "PT Saldo Lama").await;
    let set = |date: &str| json!({ "input": { "date": date, "lines": [dr("1-1101", "1000"), cr("3-1001", "1000")] } });
    let first = books.ok(OPENING, set("2026-01-01")).await["setOpeningBalances"].clone();
    // Postings in a later fiscal year only: the books moved on all the same.
    books
        .post("2027-03-01", json!([dr("1-1101", "5"), cr("4-1001", "5")]))
        .await;
    let (code, _, message) = books.refused(OPENING, set("2026-01-01")).await;
    assert_eq!(code, "CONFLICT", "{message}");
    // Reversing the opening by hand does not make room for a new one.
    books
        .ok(
            "mutation($id: ID!) { reverseJournalEntry(id: $id, date: \"2026-01-01\") { id } }",
            json!({ "id": first["id"] }),
        )
        .await;
    let (code, _, message) = books.refused(OPENING, set("2026-01-01")).await;
    assert_eq!(code, "CONFLICT", "{message}");
    // Nor does dating the new one a year earlier.
    let (code, _, message) = books.refused(OPENING, set("2025-01-01")).await;
    assert_eq!(code, "CONFLICT", "{message}");
}

#[tokio::test]
async fn a_variable_used_many_times_is_refused_before_it_is_copied() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "batch-amplify", "PT Salinan").await;
    // One entry of 2,000 lines (about 100 KB) used 40 times: 4 MB of input from a
    // request of about 100 KB, refused before validation copies it.
    let lines: Vec<Value> = (0..1000).flat_map(|_| [dr("1-1101", "1"), cr("4-1001", "1")]).collect();
    let uses = vec!["$e"; 40].join(", ");
    let query = format!("mutation($e: CreateJournalEntryInput!) {{ createJournalEntries(inputs: [{uses}]) {{ id }} }}");
    let big = entry("2026-03-01", "Salinan", json!(lines), true);
    let body = books.gql(&query, json!({ "e": big })).await;
    assert_eq!(crate::common::error_code(&body), "BAD_REQUEST", "{body}");
    assert_eq!(books.entry_count().await, 0);
    // The same variable once is fine.
    let once = "mutation($e: CreateJournalEntryInput!) { createJournalEntries(inputs: [$e]) { id } }";
    books.ok(once, json!({ "e": big })).await;
    assert_eq!(books.entry_count().await, 1);
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_and_names_the_bad_input() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "batch", "PT Banyak Jurnal").await;
    let sale = |i: usize| {
        entry(
            "2026-03-02",
            &format!("Penjualan {i}"),
            json!([dr("1-1101", "1100"), cr("4-1001", "1000"), cr("2-1201", "100")]),
            true,
        )
    };
    // One unknown account code among 50.
    let mut inputs: Vec<Value> = (0..50).map(sale).collect();
    inputs[37]["lines"][1]["accountCode"] = json!("4-9999");
    let (code, field, _) = books.refused(BATCH, json!({ "inputs": inputs })).await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("inputs.37.lines.1.accountCode"))
    );
    // One unbalanced entry among 50: its index is in the message.
    let mut inputs: Vec<Value> = (0..50).map(sale).collect();
    inputs[12]["lines"][0]["debit"] = json!("1099");
    let (code, _, message) = books.refused(BATCH, json!({ "inputs": inputs })).await;
    assert_eq!(code, "UNBALANCED_ENTRY");
    assert!(message.starts_with("inputs.12:"), "{message}");
    // One into a locked period: refused by posting, inside the transaction, after the
    // other 49 were written: nothing stays.
    books
        .ok(
            "mutation { updateCompany(input: { lockDate: \"2026-01-31\" }) { lockDate } }",
            json!({}),
        )
        .await;
    let mut inputs: Vec<Value> = (0..50).map(sale).collect();
    inputs[49]["date"] = json!("2026-01-15");
    let (code, _, message) = books.refused(BATCH, json!({ "inputs": inputs })).await;
    assert_eq!(code, "PERIOD_LOCKED");
    assert!(message.starts_with("inputs.49:"), "{message}");
    assert_eq!(books.entry_count().await, 0, "nothing written");
    assert_eq!(books.balance("1-1101", None).await, "0.00");

    // Too many.
    let inputs: Vec<Value> = (0..1001).map(sale).collect();
    let (code, field, _) = books.refused(BATCH, json!({ "inputs": inputs })).await;
    assert_eq!((code.as_str(), field), ("BAD_USER_INPUT", json!("inputs")));
}

#[tokio::test]
async fn a_batch_posts_with_consecutive_numbers_and_keys_replay() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "batch-ok", "PT Nomor Urut").await;
    books
        .post("2026-01-05", json!([dr("1-1101", "5"), cr("3-1001", "5")]))
        .await;
    // 2026 and 2025 mixed, one draft, one input with a key.
    let mut inputs = Vec::new();
    for i in 0..6 {
        let date = if i % 2 == 0 { "2026-02-01" } else { "2025-12-01" };
        inputs.push(entry(
            date,
            &format!("Setoran {i}"),
            json!([dr("1-1103", "250000"), cr("3-1001", "250000")]),
            i != 4,
        ));
    }
    inputs[2]["idempotencyKey"] = json!("batch-2026-02-01-2");
    let made = books.ok(BATCH, json!({ "inputs": inputs })).await["createJournalEntries"].clone();
    let numbers: Vec<Value> = made
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["number"].clone())
        .collect();
    assert_eq!(
        numbers,
        vec![
            json!("JE/2026/000002"),
            json!("JE/2025/000001"),
            json!("JE/2026/000003"),
            json!("JE/2025/000002"),
            Value::Null,
            json!("JE/2025/000003"),
        ],
        "in input order, consecutive per fiscal year"
    );
    assert_eq!(made[4]["status"], "DRAFT");
    assert_eq!(books.balance("1-1103", None).await, "1250000.00");

    // The keyed input again (with amounts spelled differently): the same entry, not a
    // new one; the same key with another input: CONFLICT.
    let count = books.entry_count().await;
    let mut again = inputs[2].clone();
    again["lines"] = json!([dr("1-1103", "250000.00"), cr("3-1001", "250000.0")]);
    let replay = books
        .ok(BATCH, json!({ "inputs": [again, entry("2026-02-02", "Baru", json!([dr("1-1101", "1"), cr("3-1001", "1")]), true)] }))
        .await["createJournalEntries"]
        .clone();
    assert_eq!(replay[0]["id"], made[2]["id"]);
    assert_eq!(replay[1]["number"], "JE/2026/000004");
    assert_eq!(books.entry_count().await, count + 1);
    let mut other = inputs[2].clone();
    other["description"] = json!("Lain");
    let (code, field, _) = books.refused(BATCH, json!({ "inputs": [other] })).await;
    assert_eq!((code.as_str(), field), ("CONFLICT", json!("inputs.0.idempotencyKey")));
    let (code, field, _) = books
        .refused(BATCH, json!({ "inputs": [inputs[2].clone(), inputs[2].clone()] }))
        .await;
    assert_eq!(
        (code.as_str(), field),
        ("BAD_USER_INPUT", json!("inputs.1.idempotencyKey"))
    );
}

#[tokio::test]
async fn concurrent_batches_over_two_years_in_opposite_orders_do_not_deadlock() {
    let app = TestApp::spawn().await;
    let books = Books::new(&app, "batch-race", "PT Balapan").await;
    let batch = |first: &str, second: &str, tag: usize| {
        let inputs: Vec<Value> = (0..10)
            .map(|i| {
                let date = if i < 5 { first } else { second };
                entry(
                    date,
                    &format!("Batch {tag} #{i}"),
                    json!([dr("1-1101", "10"), cr("4-1001", "10")]),
                    true,
                )
            })
            .collect();
        json!({ "inputs": inputs })
    };
    let runs = (0..6).map(|tag| {
        let (a, b) = if tag % 2 == 0 {
            ("2025-06-01", "2026-06-01")
        } else {
            ("2026-06-01", "2025-06-01")
        };
        let variables = batch(a, b, tag);
        let books = &books;
        async move { books.ok(BATCH, variables).await["createJournalEntries"].clone() }
    });
    let results = futures::future::join_all(runs).await;
    for made in &results {
        // Within each fiscal year, one batch's numbers are consecutive.
        for year in ["2025", "2026"] {
            let mut sequences: Vec<i64> = made
                .as_array()
                .expect("list")
                .iter()
                .filter_map(|e| e["number"].as_str())
                .filter(|n| n.contains(&format!("/{year}/")))
                .map(|n| n.rsplit('/').next().unwrap_or("").parse().expect("sequence"))
                .collect();
            sequences.sort_unstable();
            assert_eq!(sequences.len(), 5);
            assert_eq!(sequences[4] - sequences[0], 4, "consecutive in {year}: {sequences:?}");
        }
    }
    assert_eq!(books.balance("1-1101", None).await, "600.00");
}
