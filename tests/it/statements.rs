//! Financial statements (issue 13, point 2): a year of a small trading company's books
//! (`id-sak-emkm`) gives a balance sheet and an income statement whose numbers are
//! checked against arithmetic done by hand below; the balance sheet balances at every
//! month end; labels follow the company's language; hostile arguments are refused;
//! `trialBalance(from:)` explains each balance.

use crate::common;

use std::collections::HashMap;
use std::str::FromStr;

use chrono::NaiveDate;
use common::{error_code, TestApp, TestTenant};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

const CREATE: &str = "mutation($input: CreateJournalEntryInput!) { createJournalEntry(input: $input) { id status } }";

const BALANCE_SHEET: &str = "query($asOf: Date, $cmp: [Date!]) { balanceSheet(asOf: $asOf, compareTo: $cmp) {
    title columns { label from to } rows { kind label depth account { code role } amounts } } }";

const INCOME_STATEMENT: &str = "query($from: Date!, $to: Date!, $cmp: [PeriodInput!], $p: Periodicity) {
    incomeStatement(from: $from, to: $to, compareTo: $cmp, periodicity: $p) {
    title columns { label from to } rows { kind label depth account { code } amounts } } }";

/// The accounts the demo posts to, with the role each is given explicitly (so the
/// numbers do not depend on the roles the template may carry).
const ROLES: &[(&str, &str)] = &[
    ("1-1101", "CASH"),
    ("1-1103", "BANK"),
    ("1-1201", "RECEIVABLE"),
    ("1-1301", "INVENTORY"),
    ("1-1403", "VAT_INPUT"),
    ("1-2005", "FIXED_ASSET"),
    ("1-2006", "ACCUMULATED_DEPRECIATION"),
    ("2-1101", "PAYABLE"),
    ("2-1201", "VAT_OUTPUT"),
    ("2-1202", "TAX_PAYABLE"),
    ("2-1206", "TAX_PAYABLE"),
    ("2-2001", "NON_CURRENT_LIABILITY"),
    ("3-1001", "CAPITAL"),
    ("4-1001", "REVENUE"),
    ("4-1002", "SALES_RETURNS"),
    ("5-1001", "COST_OF_SALES"),
    ("6-2001", "OPERATING_EXPENSE"),
    ("6-2002", "OPERATING_EXPENSE"),
    ("6-2010", "OPERATING_EXPENSE"),
    ("7-1001", "OTHER_INCOME"),
    ("8-1001", "OTHER_EXPENSE"),
    (INCOME_TAX, "INCOME_TAX_EXPENSE"),
];

/// Created by the test (PPh Final UMKM, 0.5 % of gross sales): a code no template uses.
const INCOME_TAX: &str = "8-9901";

struct Demo {
    app: TestApp,
    tenant: TestTenant,
    db: sea_orm::DatabaseConnection,
    ids: HashMap<String, String>,
}

impl Demo {
    /// A new `id-sak-emkm` tenant with the roles of [`ROLES`].
    async fn new(prefix: &str) -> Demo {
        let app = TestApp::spawn().await;
        let tenant = app.create_tenant(prefix, "PT Dagang Sejahtera").await;
        let row = common::tenant_row(&app, &tenant.slug).await.expect("tenant row");
        let db = common::superuser(&row.db_name).await;
        let mut demo = Demo {
            app,
            tenant,
            db,
            ids: HashMap::new(),
        };
        demo.ok(
            "mutation($c: String!) { createAccount(input: { code: $c, name: \"Beban Pajak Penghasilan\", type: EXPENSE }) { id } }",
            json!({ "c": INCOME_TAX }),
        )
        .await;
        for (code, role) in ROLES {
            let done = demo
                .db
                .execute_unprepared(&format!("UPDATE account SET role = '{role}' WHERE code = '{code}'"))
                .await
                .expect("set role");
            assert_eq!(done.rows_affected(), 1, "{code}");
            let data = demo
                .ok(
                    "query($c: String) { account(code: $c) { id role } }",
                    json!({ "c": code }),
                )
                .await;
            assert_eq!(data["account"]["role"], *role);
            let id = data["account"]["id"].as_str().expect("id").to_owned();
            demo.ids.insert((*code).to_owned(), id);
        }
        demo
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

    /// Posts an entry: positive amounts are debits, negative ones credits (rupiah).
    async fn post(&self, date: &str, description: &str, lines: &[(&str, i64)]) {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(code, amount)| {
                let id = &self.ids[*code];
                if *amount >= 0 {
                    json!({ "accountId": id, "debit": amount.to_string() })
                } else {
                    json!({ "accountId": id, "credit": (-amount).to_string() })
                }
            })
            .collect();
        let data = self
            .ok(
                CREATE,
                json!({ "input": { "date": date, "description": description, "lines": lines, "post": true } }),
            )
            .await;
        assert_eq!(data["createJournalEntry"]["status"], "POSTED");
    }

    /// A year (2025) of a small trading company, every amount in rupiah.
    async fn a_year(&self) {
        // One-offs.
        self.post(
            "2025-01-02",
            "Setoran modal",
            &[("1-1103", 500_000_000), ("3-1001", -500_000_000)],
        )
        .await;
        self.post(
            "2025-01-02",
            "Isi kas",
            &[("1-1101", 5_000_000), ("1-1103", -5_000_000)],
        )
        .await;
        self.post(
            "2025-01-06",
            "Pinjaman bank 6% setahun",
            &[("1-1103", 200_000_000), ("2-2001", -200_000_000)],
        )
        .await;
        self.post(
            "2025-01-10",
            "Peralatan kantor + PPN 11%",
            &[
                ("1-2005", 120_000_000),
                ("1-1403", 13_200_000),
                ("1-1103", -133_200_000),
            ],
        )
        .await;
        self.post(
            "2025-06-30",
            "Angsuran pokok pinjaman",
            &[("2-2001", 50_000_000), ("1-1103", -50_000_000)],
        )
        .await;
        for month in 1..=12u32 {
            let day = |d: u32| format!("2025-{month:02}-{d:02}");
            let month_end = last_day(2025, month).format("%Y-%m-%d").to_string();
            self.post(&day(3), "Sewa toko", &[("6-2002", 5_000_000), ("1-1103", -5_000_000)])
                .await;
            self.post(
                &day(5),
                "Pembelian barang, PPN Masukan 11%",
                &[("1-1301", 40_000_000), ("1-1403", 4_400_000), ("2-1101", -44_400_000)],
            )
            .await;
            if month > 1 {
                self.post(&day(10), "Setor PPh 21", &[("2-1202", 750_000), ("1-1103", -750_000)])
                    .await;
                self.post(
                    &day(15),
                    "Setor PPh Final UMKM",
                    &[("2-1206", 300_000), ("1-1103", -300_000)],
                )
                .await;
            }
            self.post(
                &day(15),
                "Penjualan kredit, PPN Keluaran 11%",
                &[("1-1201", 66_600_000), ("4-1001", -60_000_000), ("2-1201", -6_600_000)],
            )
            .await;
            self.post(
                &day(15),
                "Harga pokok penjualan",
                &[("5-1001", 36_000_000), ("1-1301", -36_000_000)],
            )
            .await;
            if month < 12 {
                self.post(
                    &day(20),
                    "Pelunasan piutang",
                    &[("1-1103", 66_600_000), ("1-1201", -66_600_000)],
                )
                .await;
                self.post(
                    &day(25),
                    "Pelunasan utang usaha",
                    &[("2-1101", 44_400_000), ("1-1103", -44_400_000)],
                )
                .await;
            }
            self.post(
                &day(28),
                "Gaji, PPh 21 dipotong 5%",
                &[("6-2001", 15_000_000), ("1-1103", -14_250_000), ("2-1202", -750_000)],
            )
            .await;
            let interest = if month <= 6 { 1_000_000 } else { 750_000 };
            self.post(
                &day(28),
                "Bunga pinjaman",
                &[("8-1001", interest), ("1-1103", -interest)],
            )
            .await;
            self.post(
                &month_end,
                "Penyusutan peralatan (4 tahun)",
                &[("6-2010", 2_500_000), ("1-2006", -2_500_000)],
            )
            .await;
            self.post(
                &month_end,
                "PPh Final UMKM 0,5% dari omzet",
                &[(INCOME_TAX, 300_000), ("2-1206", -300_000)],
            )
            .await;
        }
        self.post(
            "2025-12-22",
            "Retur penjualan",
            &[("4-1002", 5_000_000), ("2-1201", 550_000), ("1-1201", -5_550_000)],
        )
        .await;
        self.post(
            "2025-12-22",
            "Barang retur kembali ke persediaan",
            &[("1-1301", 3_000_000), ("5-1001", -3_000_000)],
        )
        .await;
        self.post("2025-12-31", "Jasa giro", &[("1-1103", 125_000), ("7-1001", -125_000)])
            .await;
    }

    async fn balance_sheet(&self, as_of: &str, compare_to: &[&str]) -> Value {
        self.ok(BALANCE_SHEET, json!({ "asOf": as_of, "cmp": compare_to }))
            .await["balanceSheet"]
            .clone()
    }

    async fn income_statement(&self, from: &str, to: &str, periodicity: Option<&str>) -> Value {
        self.ok(INCOME_STATEMENT, json!({ "from": from, "to": to, "p": periodicity }))
            .await["incomeStatement"]
            .clone()
    }
}

fn last_day(year: i32, month: u32) -> NaiveDate {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).expect("a date")
}

/// The amounts of the row labelled `label` (or of the account with that code).
fn amounts(statement: &Value, label: &str) -> Vec<String> {
    let rows = statement["rows"].as_array().expect("rows");
    let row = rows
        .iter()
        .find(|r| r["label"] == label || r["account"]["code"] == label)
        .unwrap_or_else(|| panic!("no row {label} in {statement:#}"));
    row["amounts"]
        .as_array()
        .expect("amounts")
        .iter()
        .map(|a| a.as_str().expect("a Decimal").to_owned())
        .collect()
}

fn has_row(statement: &Value, label: &str) -> bool {
    statement["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .any(|r| r["label"] == label || r["account"]["code"] == label)
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).expect("a decimal")
}

/// Total assets equal total liabilities and equity in every column.
fn assert_balances(sheet: &Value, assets: &str, liabilities_and_equity: &str) {
    let a = amounts(sheet, assets);
    assert_eq!(a, amounts(sheet, liabilities_and_equity), "{sheet:#}");
    assert!(a.iter().all(|x| dec(x) > Decimal::ZERO), "{sheet:#}");
}

#[tokio::test]
async fn a_year_of_demo_books_gives_the_statements_computed_by_hand() {
    let demo = Demo::new("laporan").await;
    demo.a_year().await;

    let sheet = demo.balance_sheet("2025-12-31", &[]).await;
    assert_eq!(sheet["title"], "Laporan Posisi Keuangan");
    assert_eq!(
        sheet["columns"],
        json!([{ "label": "31 Des 2025", "from": null, "to": "2025-12-31" }])
    );
    // Kas: 5,000,000 taken from the bank on 2 January, untouched since.
    assert_eq!(amounts(&sheet, "1-1101"), ["5000000.00"]);
    // Bank: + 500,000,000 capital + 200,000,000 loan - 5,000,000 to cash
    //       - 133,200,000 equipment - 12 x 5,000,000 rent (60,000,000)
    //       + 11 x 66,600,000 receipts (732,600,000; December's is still owed)
    //       - 11 x 44,400,000 to suppliers (488,400,000)
    //       - 12 x 14,250,000 net salaries (171,000,000)
    //       - 11 x 750,000 PPh 21 (8,250,000) - 11 x 300,000 PPh Final (3,300,000)
    //       - interest 6 x 1,000,000 + 6 x 750,000 (10,500,000) - 50,000,000 principal
    //       + 125,000 interest received
    //       = 503,075,000.
    assert_eq!(amounts(&sheet, "1-1103"), ["503075000.00"]);
    // Piutang: December's sale 66,600,000 less the return 5,550,000.
    assert_eq!(amounts(&sheet, "1-1201"), ["61050000.00"]);
    // Persediaan: 12 x 40,000,000 bought - 12 x 36,000,000 sold + 3,000,000 returned.
    assert_eq!(amounts(&sheet, "1-1301"), ["51000000.00"]);
    // PPN Masukan: 13,200,000 (equipment) + 12 x 4,400,000.
    assert_eq!(amounts(&sheet, "1-1403"), ["66000000.00"]);
    // 5,000,000 + 503,075,000 + 61,050,000 + 51,000,000 + 66,000,000.
    assert_eq!(amounts(&sheet, "Aset Lancar"), ["686125000.00"]);
    assert_eq!(amounts(&sheet, "1-2005"), ["120000000.00"]);
    // 12 x 2,500,000 (120,000,000 over four years), a contra asset: negative.
    assert_eq!(amounts(&sheet, "1-2006"), ["-30000000.00"]);
    assert_eq!(amounts(&sheet, "Aset Tidak Lancar"), ["90000000.00"]);
    assert_eq!(amounts(&sheet, "Total Aset"), ["776125000.00"]);
    // Utang Usaha: December's purchase; PPN Keluaran: 12 x 6,600,000 - 550,000 returned;
    // PPh 21 and PPh Final of December, paid in January.
    assert_eq!(amounts(&sheet, "2-1101"), ["44400000.00"]);
    assert_eq!(amounts(&sheet, "2-1201"), ["78650000.00"]);
    assert_eq!(amounts(&sheet, "2-1202"), ["750000.00"]);
    assert_eq!(amounts(&sheet, "2-1206"), ["300000.00"]);
    // 44,400,000 + 78,650,000 + 750,000 + 300,000.
    assert_eq!(amounts(&sheet, "Liabilitas Jangka Pendek"), ["124100000.00"]);
    // 200,000,000 borrowed, 50,000,000 repaid.
    assert_eq!(amounts(&sheet, "Liabilitas Jangka Panjang"), ["150000000.00"]);
    assert_eq!(amounts(&sheet, "Total Liabilitas"), ["274100000.00"]);
    assert_eq!(amounts(&sheet, "3-1001"), ["500000000.00"]);
    // The year's net profit (below): 2,025,000.
    assert_eq!(amounts(&sheet, "Laba Tahun Berjalan"), ["2025000.00"]);
    assert!(
        !has_row(&sheet, "Saldo Laba Tahun Lalu Belum Ditutup"),
        "no earlier year"
    );
    assert_eq!(amounts(&sheet, "Total Ekuitas"), ["502025000.00"]);
    // 274,100,000 + 502,025,000.
    assert_eq!(amounts(&sheet, "Total Liabilitas dan Ekuitas"), ["776125000.00"]);
    // No revenue or expense account, and no account without a balance, is a row.
    for absent in ["4-1001", "6-2001", "1-1102", "3-2002"] {
        assert!(!has_row(&sheet, absent), "{absent}");
    }
    let computed = sheet["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["label"] == "Laba Tahun Berjalan")
        .cloned()
        .expect("row");
    assert_eq!(computed["kind"], "COMPUTED");
    assert!(computed["account"].is_null());
    let kinds: Vec<(&str, &str)> = sheet["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["kind"] != "ACCOUNT")
        .map(|r| (r["kind"].as_str().unwrap_or(""), r["label"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        [
            ("SECTION", "Aset Lancar"),
            ("SECTION", "Aset Tidak Lancar"),
            ("TOTAL", "Total Aset"),
            ("SECTION", "Liabilitas Jangka Pendek"),
            ("SECTION", "Liabilitas Jangka Panjang"),
            ("SUBTOTAL", "Total Liabilitas"),
            ("SECTION", "Ekuitas"),
            ("COMPUTED", "Laba Tahun Berjalan"),
            ("SUBTOTAL", "Total Ekuitas"),
            ("TOTAL", "Total Liabilitas dan Ekuitas"),
        ]
    );

    let year = demo.income_statement("2025-01-01", "2025-12-31", None).await;
    assert_eq!(year["title"], "Laporan Laba Rugi");
    assert_eq!(
        year["columns"],
        json!([{ "label": "2025", "from": "2025-01-01", "to": "2025-12-31" }])
    );
    // Sales 12 x 60,000,000 less a return of 5,000,000.
    assert_eq!(amounts(&year, "4-1001"), ["720000000.00"]);
    assert_eq!(amounts(&year, "4-1002"), ["-5000000.00"]);
    assert_eq!(amounts(&year, "Total Pendapatan"), ["715000000.00"]);
    // 12 x 36,000,000 - 3,000,000 back in stock.
    assert_eq!(amounts(&year, "Beban Pokok Penjualan"), ["429000000.00"]);
    assert_eq!(amounts(&year, "Laba Kotor"), ["286000000.00"]);
    // Salaries 180,000,000 + rent 60,000,000 + depreciation 30,000,000.
    assert_eq!(amounts(&year, "6-2001"), ["180000000.00"]);
    assert_eq!(amounts(&year, "6-2002"), ["60000000.00"]);
    assert_eq!(amounts(&year, "6-2010"), ["30000000.00"]);
    assert_eq!(amounts(&year, "Beban Usaha"), ["270000000.00"]);
    assert_eq!(amounts(&year, "Laba Usaha"), ["16000000.00"]);
    assert_eq!(amounts(&year, "Pendapatan Lain-lain"), ["125000.00"]);
    // 6 x 1,000,000 on 200,000,000 + 6 x 750,000 on 150,000,000 (6 % a year).
    assert_eq!(amounts(&year, "Beban Lain-lain"), ["10500000.00"]);
    // 16,000,000 + 125,000 - 10,500,000.
    assert_eq!(amounts(&year, "Laba Sebelum Pajak"), ["5625000.00"]);
    // 0.5 % of 60,000,000 a month, 12 months.
    assert_eq!(amounts(&year, "Beban Pajak Penghasilan"), ["3600000.00"]);
    // 5,625,000 - 3,600,000.
    assert_eq!(amounts(&year, "Laba Bersih"), ["2025000.00"]);
    let last = year["rows"].as_array().and_then(|r| r.last()).cloned().expect("a row");
    assert_eq!(
        (last["kind"].as_str(), last["label"].as_str()),
        (Some("TOTAL"), Some("Laba Bersih"))
    );

    let monthly = demo.income_statement("2025-01-01", "2025-12-31", Some("MONTH")).await;
    let columns = monthly["columns"].as_array().expect("columns");
    assert_eq!(columns.len(), 12, "twelve months, no total column");
    assert_eq!(
        columns[0],
        json!({ "label": "Jan 2025", "from": "2025-01-01", "to": "2025-01-31" })
    );
    assert_eq!(columns[4]["label"], "Mei 2025");
    assert_eq!(
        columns[11],
        json!({ "label": "Des 2025", "from": "2025-12-01", "to": "2025-12-31" })
    );
    let net = amounts(&monthly, "Laba Bersih");
    // January to June: 60,000,000 - 36,000,000 - (15,000,000 + 5,000,000 + 2,500,000)
    //   - 1,000,000 interest - 300,000 tax = 200,000.
    // July to November: the same with 750,000 interest = 450,000.
    // December: (60,000,000 - 5,000,000) - (36,000,000 - 3,000,000) - 22,500,000
    //   + 125,000 - 750,000 - 300,000 = -1,425,000.
    let expected: Vec<&str> = (1..=12)
        .map(|m| match m {
            1..=6 => "200000.00",
            7..=11 => "450000.00",
            _ => "-1425000.00",
        })
        .collect();
    assert_eq!(net, expected);
    // Every row of the months adds up to the year's (a row absent there is zero).
    for row in monthly["rows"].as_array().expect("rows") {
        let label = row["account"]["code"]
            .as_str()
            .or(row["label"].as_str())
            .expect("label");
        let sum: Decimal = row["amounts"]
            .as_array()
            .expect("amounts")
            .iter()
            .map(|a| dec(a.as_str().expect("a Decimal")))
            .sum();
        let whole = if has_row(&year, label) {
            dec(&amounts(&year, label)[0])
        } else {
            Decimal::ZERO
        };
        assert_eq!(sum, whole, "{label}");
    }

    // A sale in January 2026: 2025's profit is not closed, so it shows as earlier years'
    // earnings beside the new year's.
    demo.post(
        "2026-01-10",
        "Penjualan tunai",
        &[("1-1103", 11_100_000), ("4-1001", -10_000_000), ("2-1201", -1_100_000)],
    )
    .await;
    let two = demo.balance_sheet("2026-01-31", &["2025-12-31"]).await;
    let labels: Vec<&str> = two["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["label"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(labels, ["31 Jan 2026", "31 Des 2025"]);
    assert_eq!(amounts(&two, "Laba Tahun Berjalan"), ["10000000.00", "2025000.00"]);
    assert_eq!(
        amounts(&two, "Saldo Laba Tahun Lalu Belum Ditutup"),
        ["2025000.00", "0.00"]
    );
    // 500,000,000 + 10,000,000 + 2,025,000.
    assert_eq!(amounts(&two, "Total Ekuitas"), ["512025000.00", "502025000.00"]);
    // 776,125,000 + 11,100,000 in the bank.
    assert_eq!(amounts(&two, "Total Aset"), ["787225000.00", "776125000.00"]);
    assert_balances(&two, "Total Aset", "Total Liabilitas dan Ekuitas");
    // The income statement of January 2026 compared with January 2025.
    let compared = demo
        .ok(
            INCOME_STATEMENT,
            json!({ "from": "2026-01-01", "to": "2026-01-31", "cmp": [{ "from": "2025-01-01", "to": "2025-01-31" }] }),
        )
        .await["incomeStatement"]
        .clone();
    assert_eq!(amounts(&compared, "Laba Bersih"), ["10000000.00", "200000.00"]);
    assert_eq!(compared["columns"][1]["label"], "Jan 2025");
}

#[tokio::test]
async fn the_balance_sheet_balances_at_every_month_end_and_speaks_english() {
    let demo = Demo::new("neraca").await;
    demo.a_year().await;
    let mut month_ends = Vec::new();
    for month in 1..=12 {
        let date = last_day(2025, month).format("%Y-%m-%d").to_string();
        let sheet = demo.balance_sheet(&date, &[]).await;
        assert_balances(&sheet, "Total Aset", "Total Liabilitas dan Ekuitas");
        month_ends.push((date, amounts(&sheet, "Total Aset")[0].clone()));
    }
    // January: the bank after its first month (500,000,000 + 200,000,000 - 5,000,000
    // - 133,200,000 - 5,000,000 + 66,600,000 - 44,400,000 - 14,250,000 - 1,000,000
    // = 563,750,000) + cash 5,000,000 + inventory 4,000,000 + PPN Masukan 17,600,000
    // + equipment net of depreciation 117,500,000 = 707,850,000.
    assert_eq!(month_ends[0].1, "707850000.00");
    assert_eq!(month_ends[11].1, "776125000.00");

    // With comparison columns: the same numbers as asked one by one.
    let compared = demo
        .balance_sheet("2025-12-31", &["2025-09-30", "2025-06-30", "2025-03-31", "2025-01-31"])
        .await;
    assert_balances(&compared, "Total Aset", "Total Liabilitas dan Ekuitas");
    let totals = amounts(&compared, "Total Aset");
    for (column, month) in [(0, 11), (1, 8), (2, 5), (3, 2), (4, 0)] {
        assert_eq!(totals[column], month_ends[month].1, "{}", month_ends[month].0);
    }
    assert_eq!(compared["columns"].as_array().map(Vec::len), Some(5), "{compared:#}");

    // In English once the company says so.
    demo.db
        .execute_unprepared("UPDATE company SET language = 'en'")
        .await
        .expect("language");
    let sheet = demo.balance_sheet("2025-12-31", &["2025-06-30"]).await;
    assert_eq!(sheet["title"], "Statement of Financial Position");
    assert_eq!(sheet["columns"][0]["label"], "31 Dec 2025");
    assert_eq!(sheet["columns"][1]["label"], "30 Jun 2025");
    let labels: Vec<&str> = sheet["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["kind"] != "ACCOUNT")
        .map(|r| r["label"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        labels,
        [
            "Current Assets",
            "Non-current Assets",
            "Total Assets",
            "Current Liabilities",
            "Non-current Liabilities",
            "Total Liabilities",
            "Equity",
            "Current Year Earnings",
            "Total Equity",
            "Total Liabilities and Equity"
        ]
    );
    assert_balances(&sheet, "Total Assets", "Total Liabilities and Equity");
    // Account rows keep the accounts' own names.
    assert!(has_row(&sheet, "Bank"));
    let statement = demo.income_statement("2025-01-01", "2025-12-31", Some("QUARTER")).await;
    assert_eq!(statement["title"], "Income Statement");
    let columns: Vec<&str> = statement["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["label"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        columns,
        [
            "Jan 2025 - Mar 2025",
            "Apr 2025 - Jun 2025",
            "Jul 2025 - Sep 2025",
            "Oct 2025 - Dec 2025"
        ]
    );
    // 3 x 200,000; 3 x 200,000; 3 x 450,000; 2 x 450,000 - 1,425,000.
    assert_eq!(
        amounts(&statement, "Net Profit"),
        ["600000.00", "600000.00", "1350000.00", "-525000.00"]
    );
    for label in [
        "Revenue",
        "Total Revenue",
        "Cost of Sales",
        "Gross Profit",
        "Operating Expenses",
        "Operating Profit",
        "Other Income",
        "Other Expenses",
        "Profit Before Tax",
        "Income Tax Expense",
    ] {
        assert!(has_row(&statement, label), "{label}");
    }
}

#[tokio::test]
async fn trial_balance_from_a_date_explains_each_balance() {
    let demo = Demo::new("saldo").await;
    demo.a_year().await;
    // February 2026: the petty cash goes back to the bank (cash ends at zero).
    demo.post(
        "2026-02-03",
        "Kas ke bank",
        &[("1-1103", 5_000_000), ("1-1101", -5_000_000)],
    )
    .await;
    let query = "query($asOf: Date, $from: Date) { trialBalance(asOf: $asOf, from: $from) {
        asOf from totalDebit totalCredit
        rows { account { code normalBalance } debit credit openingBalance movementDebit movementCredit closingBalance } } }";

    let half = demo
        .ok(query, json!({ "asOf": "2025-12-31", "from": "2025-07-01" }))
        .await["trialBalance"]
        .clone();
    assert_eq!(half["from"], "2025-07-01");
    check_movements(&half);
    let row = |tb: &Value, code: &str| {
        tb["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["account"]["code"] == code)
            .cloned()
            .unwrap_or_else(|| panic!("no row {code}: {tb:#}"))
    };
    // Sales: 6 x 60,000,000 by 30 June, 6 more since; credit-normal, so positive.
    let sales = row(&half, "4-1001");
    assert_eq!(sales["openingBalance"], "360000000.00");
    assert_eq!(sales["movementCredit"], "360000000.00");
    assert_eq!(sales["movementDebit"], "0.00");
    assert_eq!(sales["closingBalance"], "720000000.00");
    assert_eq!(sales["credit"], "720000000.00");
    // The loan: 150,000,000 since the repayment on 30 June, nothing moved after.
    let loan = row(&half, "2-2001");
    assert_eq!(
        (&loan["openingBalance"], &loan["movementDebit"], &loan["closingBalance"]),
        (&json!("150000000.00"), &json!("0.00"), &json!("150000000.00"))
    );
    // Accumulated depreciation: 6 x 2,500,000 then 6 more; credit-normal.
    let depreciation = row(&half, "1-2006");
    assert_eq!(depreciation["openingBalance"], "15000000.00");
    assert_eq!(depreciation["closingBalance"], "30000000.00");

    // February 2026: cash opened at 5,000,000, moved out, closes at zero and is still a row.
    let february = demo
        .ok(query, json!({ "asOf": "2026-02-28", "from": "2026-02-01" }))
        .await["trialBalance"]
        .clone();
    check_movements(&february);
    let cash = row(&february, "1-1101");
    assert_eq!(cash["openingBalance"], "5000000.00");
    assert_eq!(cash["movementDebit"], "0.00");
    assert_eq!(cash["movementCredit"], "5000000.00");
    assert_eq!(cash["closingBalance"], "0.00");
    assert_eq!((&cash["debit"], &cash["credit"]), (&json!("0.00"), &json!("0.00")));
    // An account that did not move keeps its balance: opening = closing.
    let capital = row(&february, "3-1001");
    assert_eq!(capital["openingBalance"], "500000000.00");
    assert_eq!(capital["closingBalance"], "500000000.00");

    // Without `from`: the trial balance as before, no movements, and a zero balance is
    // no row.
    let plain = demo.ok(query, json!({ "asOf": "2026-02-28" })).await["trialBalance"].clone();
    assert!(plain["from"].is_null());
    assert_eq!(plain["totalDebit"], plain["totalCredit"]);
    assert_eq!(plain["totalDebit"], february["totalDebit"]);
    for r in plain["rows"].as_array().expect("rows") {
        assert!(r["openingBalance"].is_null() && r["movementDebit"].is_null() && r["closingBalance"].is_null());
        assert_ne!(r["account"]["code"], "1-1101");
    }
}

/// Per row: opening + movements (in the normal direction) = closing, and the closing
/// balance is the row's debit or credit; in all: debits = credits, moved and held.
fn check_movements(tb: &Value) {
    let rows = tb["rows"].as_array().expect("rows");
    assert!(!rows.is_empty());
    let (mut debit, mut credit, mut moved_debit, mut moved_credit) =
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for r in rows {
        let get = |field: &str| dec(r[field].as_str().unwrap_or_else(|| panic!("{field} of {r}")));
        let movement = get("movementDebit") - get("movementCredit");
        let (signed_movement, signed_net) = if r["account"]["normalBalance"] == "DEBIT" {
            (movement, get("debit") - get("credit"))
        } else {
            (-movement, get("credit") - get("debit"))
        };
        assert_eq!(get("openingBalance") + signed_movement, get("closingBalance"), "{r}");
        assert_eq!(get("closingBalance"), signed_net, "{r}");
        debit += get("debit");
        credit += get("credit");
        moved_debit += get("movementDebit");
        moved_credit += get("movementCredit");
    }
    assert_eq!(debit, credit);
    assert_eq!(dec(tb["totalDebit"].as_str().expect("total")), debit);
    assert_eq!(moved_debit, moved_credit);
    assert!(moved_debit > Decimal::ZERO);
}

#[tokio::test]
async fn hostile_statement_arguments_are_refused() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("galak", "PT Uji Batas").await;
    let send = |query: String, variables: Value| {
        let app = &app;
        let tenant = &tenant;
        async move {
            let (status, body) = app.tenant(&tenant.slug, Some(&tenant.token), &query, variables).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let refused = |body: &Value, field: &str| {
        assert_eq!(error_code(body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        assert!(body["data"].is_null(), "{body}");
    };

    // Five comparison dates, or a thousand: one too many.
    for n in [5, 1000] {
        let dates: Vec<String> = (0..n).map(|i| format!("20{:02}-12-31", i % 100)).collect();
        let body = send(BALANCE_SHEET.into(), json!({ "asOf": "2025-12-31", "cmp": dates })).await;
        refused(&body, "compareTo");
        let periods: Vec<Value> = (0..n)
            .map(|i| json!({ "from": format!("20{:02}-01-01", i % 100), "to": format!("20{:02}-12-31", i % 100) }))
            .collect();
        let body = send(
            INCOME_STATEMENT.into(),
            json!({ "from": "2025-01-01", "to": "2025-12-31", "cmp": periods }),
        )
        .await;
        refused(&body, "compareTo");
    }
    // Four years by month: 48 columns.
    let body = send(
        INCOME_STATEMENT.into(),
        json!({ "from": "2022-01-01", "to": "2025-12-31", "p": "MONTH" }),
    )
    .await;
    refused(&body, "periodicity");
    // A thousand years by month is refused the same way (counted, never cut).
    let body = send(
        INCOME_STATEMENT.into(),
        json!({ "from": "1000-01-01", "to": "2999-12-31", "p": "MONTH" }),
    )
    .await;
    refused(&body, "periodicity");
    // 33 months and 4 comparisons: 37 columns.
    let four = vec![json!({ "from": "2020-01-01", "to": "2020-12-31" }); 4];
    let body = send(
        INCOME_STATEMENT.into(),
        json!({ "from": "2023-01-01", "to": "2025-09-30", "p": "MONTH", "cmp": four }),
    )
    .await;
    refused(&body, "periodicity");
    // Backwards ranges.
    let body = send(
        INCOME_STATEMENT.into(),
        json!({ "from": "2025-12-31", "to": "2025-01-01" }),
    )
    .await;
    refused(&body, "from");
    let body = send(
        INCOME_STATEMENT.into(),
        json!({ "from": "2025-01-01", "to": "2025-12-31", "cmp": [{ "from": "2024-12-31", "to": "2024-01-01" }] }),
    )
    .await;
    refused(&body, "compareTo");
    let body = send(
        "{ trialBalance(asOf: \"2025-01-01\", from: \"2025-02-01\") { totalDebit } }".into(),
        json!({}),
    )
    .await;
    refused(&body, "from");

    // The ends of the calendar are answered, not failed.
    let body = send(
        BALANCE_SHEET.into(),
        json!({ "asOf": "0001-01-01", "cmp": ["9999-12-31"] }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let body = send(
        INCOME_STATEMENT.into(),
        json!({ "from": "0001-01-01", "to": "9999-12-31", "p": "YEAR" }),
    )
    .await;
    refused(&body, "periodicity");
    let body = send(
        INCOME_STATEMENT.into(),
        json!({ "from": "0001-01-01", "to": "9999-12-31", "cmp": [{ "from": "9999-12-31", "to": "9999-12-31" }] }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    // Without `asOf`: today in the company's time zone (Asia/Jakarta by default).
    let before = nusa_journal::ledger::company::today_in("Asia/Jakarta");
    let body = send("{ balanceSheet { columns { to } } }".into(), json!({})).await;
    let after = nusa_journal::ledger::company::today_in("Asia/Jakarta");
    let to = body["data"]["balanceSheet"]["columns"][0]["to"]
        .as_str()
        .expect("a date");
    assert!(
        [before.to_string(), after.to_string()].iter().any(|d| d == to),
        "{body}"
    );

    // The most a statement may have: 36 columns, all zero on empty books.
    let body = send(
        INCOME_STATEMENT.into(),
        json!({ "from": "2023-01-01", "to": "2025-12-31", "p": "MONTH" }),
    )
    .await;
    assert!(body["errors"].is_null(), "{body}");
    let statement = &body["data"]["incomeStatement"];
    assert_eq!(statement["columns"].as_array().map(Vec::len), Some(36));
    assert_eq!(amounts(statement, "Laba Bersih"), vec!["0.00"; 36]);
    // Many of them in one request, aliased: refused by the complexity limit before any runs.
    let aliases: String = (0..12)
        .map(|i| {
            format!(
                "s{i}: incomeStatement(from: \"2023-01-01\", to: \"2025-12-31\", periodicity: MONTH) {{ rows {{ amounts }} }} "
            )
        })
        .collect();
    let body = send(format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(error_code(&body), "BAD_REQUEST", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("complex")),
        "{body}"
    );
    let aliases: String = (0..200)
        .map(|i| format!("b{i}: balanceSheet(asOf: \"2025-12-31\") {{ title }} "))
        .collect();
    let body = send(format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(error_code(&body), "BAD_REQUEST", "{body}");
}
