//! Chart-of-accounts templates, shipped as CSV files in `coa/` (see its README) and
//! compiled into the binary. A template is chosen when a tenant is created.
//!
//! The files are read with the `csv` crate (RFC 4180, so a quoted name may hold a
//! comma) and parsed once, on first use. A shipped file that does not parse is a build
//! defect: the unit tests below parse every one, so it cannot pass the test suite; and
//! should one reach a running service anyway, asking for templates is an error, never
//! an empty chart.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use sea_orm::ActiveEnum;

use crate::entities::tenant::account::{AccountRole, AccountType, NormalBalance};
use crate::error::{Error, Result};

/// One account of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateAccount {
    pub code: String,
    pub name: String,
    pub account_type: AccountType,
    pub normal_balance: NormalBalance,
    /// A header account earlier in the file.
    pub parent_code: Option<String>,
    pub is_postable: bool,
    /// Where it sits in the statements; a header has the role of its section.
    pub role: AccountRole,
}

/// A chart-of-accounts template.
#[derive(Debug, Clone)]
pub struct CoaTemplate {
    pub key: &'static str,
    pub name: &'static str,
    pub accounts: Vec<TemplateAccount>,
}

/// Why a template file was refused, and on which line (1 is the header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TemplateError {
    pub line: u64,
    pub message: String,
}

pub const DEFAULT_TEMPLATE: &str = "id-sak-emkm";

/// The statement language (`company.language`) a new company gets from its chart
/// template: English for `generic`, Indonesian otherwise.
pub fn language_of(template_key: &str) -> &'static str {
    if template_key == "generic" {
        "en"
    } else {
        "id"
    }
}

/// The columns of a template file, in this order (`coa/README.md`).
const HEADER: [&str; 7] = [
    "code",
    "name",
    "type",
    "normal_balance",
    "parent_code",
    "is_postable",
    "role",
];

/// Roles a chart holds at most once: the closing entry needs the one retained-earnings
/// account, the statements compute the one current-year row, opening balances go to
/// the one opening-balance account.
const SINGLE_ROLES: [AccountRole; 3] = [
    AccountRole::RetainedEarnings,
    AccountRole::CurrentYearEarnings,
    AccountRole::OpeningBalanceEquity,
];

/// A shipped file: key, display name, contents.
struct Source {
    key: &'static str,
    name: &'static str,
    csv: &'static str,
}

const SOURCES: &[Source] = &[
    Source {
        key: "id-sak-emkm",
        name: "Indonesia — SAK EMKM (Bagan Akun Standar UMKM)",
        csv: include_str!("../../coa/id-sak-emkm.csv"),
    },
    Source {
        key: "generic",
        name: "Generic (English)",
        csv: include_str!("../../coa/generic.csv"),
    },
    Source {
        key: "empty",
        name: "Empty chart",
        csv: include_str!("../../coa/empty.csv"),
    },
];

/// Every shipped template, parsed on first use; the error names the broken file.
static SHIPPED: LazyLock<Result<Vec<CoaTemplate>, String>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|source| {
            parse_csv(source.csv)
                .map(|accounts| CoaTemplate {
                    key: source.key,
                    name: source.name,
                    accounts,
                })
                .map_err(|err| format!("coa/{}.csv, {err}", source.key))
        })
        .collect()
});

/// Every shipped template, in a stable order. `INTERNAL` when a shipped file is broken.
pub fn shipped() -> Result<&'static [CoaTemplate]> {
    SHIPPED
        .as_deref()
        .map_err(|why| Error::Internal(anyhow::anyhow!("a shipped chart-of-accounts template is broken: {why}")))
}

/// The shipped template with this key; `Ok(None)` when there is none.
pub fn find(key: &str) -> Result<Option<&'static CoaTemplate>> {
    Ok(shipped()?.iter().find(|t| t.key == key))
}

/// Parses and checks a template file (the rules of `coa/README.md`): the header, known
/// types, sides and roles, a role that fits the type, unique codes and names, parents
/// that are earlier headers of the same type, headers that have children (but for the
/// one CURRENT_YEAR_EARNINGS account: not postable, since its amount is computed, and
/// without children), and the single roles at most once.
pub fn parse_csv(csv: &str) -> Result<Vec<TemplateAccount>, TemplateError> {
    let refuse = |line: u64, message: String| TemplateError { line, message };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(csv.as_bytes());
    let header = reader.headers().map_err(|err| refuse(1, err.to_string()))?;
    if header.iter().ne(HEADER) {
        return Err(refuse(1, format!("the header must be {}", HEADER.join(","))));
    }
    let mut accounts: Vec<TemplateAccount> = Vec::new();
    let mut lines: HashMap<String, u64> = HashMap::new();
    let mut names = HashSet::new();
    for record in reader.records() {
        let record = record.map_err(|err| {
            let line = err.position().map_or(0, |p| p.line());
            refuse(line, err.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or_default().trim();
        let (code, name) = (field(0), field(1));
        if code.is_empty() || name.is_empty() {
            return Err(refuse(line, "an account has a code and a name".into()));
        }
        let account_type = AccountType::try_from_value(&field(2).to_owned())
            .map_err(|_| refuse(line, format!("{code}: unknown type {:?}", field(2))))?;
        let normal_balance = NormalBalance::try_from_value(&field(3).to_owned())
            .map_err(|_| refuse(line, format!("{code}: unknown normal balance {:?}", field(3))))?;
        let is_postable = match field(5) {
            "true" => true,
            "false" => false,
            other => return Err(refuse(line, format!("{code}: is_postable is {other:?}"))),
        };
        let role = AccountRole::try_from_value(&field(6).to_owned())
            .map_err(|_| refuse(line, format!("{code}: unknown role {:?}", field(6))))?;
        if role.account_type() != account_type {
            return Err(refuse(
                line,
                format!("{code}: role {} is not for a {} account", field(6), field(2)),
            ));
        }
        if role == AccountRole::CurrentYearEarnings && is_postable {
            return Err(refuse(
                line,
                format!("{code}: current-year earnings are computed, the account is not postable"),
            ));
        }
        if SINGLE_ROLES.contains(&role) && accounts.iter().any(|a| a.role == role) {
            return Err(refuse(line, format!("{code}: a second {} account", field(6))));
        }
        let parent_code = Some(field(4)).filter(|p| !p.is_empty()).map(str::to_owned);
        if let Some(parent_code) = &parent_code {
            let parent = accounts
                .iter()
                .find(|a| &a.code == parent_code)
                .ok_or_else(|| refuse(line, format!("{code}: parent {parent_code} must come earlier")))?;
            if parent.is_postable {
                return Err(refuse(line, format!("{code}: parent {parent_code} is postable")));
            }
            if parent.account_type != account_type {
                return Err(refuse(line, format!("{code}: parent {parent_code} has another type")));
            }
        }
        if lines.insert(code.to_owned(), line).is_some() || !names.insert(name.to_owned()) {
            return Err(refuse(line, format!("{code}: duplicate code or name")));
        }
        accounts.push(TemplateAccount {
            code: code.to_owned(),
            name: name.to_owned(),
            account_type,
            normal_balance,
            parent_code,
            is_postable,
            role,
        });
    }
    let parents: HashSet<&str> = accounts.iter().filter_map(|a| a.parent_code.as_deref()).collect();
    let computed = |a: &TemplateAccount| a.role == AccountRole::CurrentYearEarnings;
    if let Some(childless) = accounts
        .iter()
        .find(|a| !a.is_postable && !computed(a) && !parents.contains(a.code.as_str()))
    {
        let line = lines.get(&childless.code).copied().unwrap_or_default();
        return Err(refuse(line, format!("header {} has no children", childless.code)));
    }
    if let Some(parent) = accounts
        .iter()
        .find(|a| computed(a) && parents.contains(a.code.as_str()))
    {
        let line = lines.get(&parent.code).copied().unwrap_or_default();
        return Err(refuse(
            line,
            format!("{}: the current-year earnings account has no children", parent.code),
        ));
    }
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_LINE: &str = "code,name,type,normal_balance,parent_code,is_postable,role\n";

    /// A broken shipped file fails here, so it cannot be shipped.
    #[test]
    fn every_shipped_template_parses_and_only_the_empty_one_is_empty() {
        for source in SOURCES {
            let accounts = parse_csv(source.csv).unwrap_or_else(|e| panic!("coa/{}.csv: {e}", source.key));
            assert_eq!(accounts.is_empty(), source.key == "empty", "coa/{}.csv", source.key);
        }
        let shipped = shipped().unwrap_or_else(|e| panic!("{e}"));
        let keys: Vec<&str> = shipped.iter().map(|t| t.key).collect();
        assert_eq!(keys, ["id-sak-emkm", "generic", "empty"]);
        assert!(find(DEFAULT_TEMPLATE).is_ok_and(|t| t.is_some()));
        assert!(find("no-such-template").is_ok_and(|t| t.is_none()));
        assert!(find("generic").is_ok_and(|t| t.is_some_and(|t| t.accounts.len() > 20)));
        assert_eq!(shipped.len(), SOURCES.len());
    }

    #[test]
    fn templates_are_parsed_once() {
        let first = find("generic").ok().flatten().map(|t| t as *const CoaTemplate);
        let again = find("generic").ok().flatten().map(|t| t as *const CoaTemplate);
        assert!(first.is_some() && first == again, "the same parsed template");
    }

    fn template(key: &str) -> &'static CoaTemplate {
        find(key).ok().flatten().unwrap_or_else(|| panic!("template {key}"))
    }

    fn named<'a>(t: &'a CoaTemplate, name: &str) -> &'a TemplateAccount {
        t.accounts
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("{}: {name} missing", t.key))
    }

    #[test]
    fn indonesian_template_has_the_accounts_small_companies_need() {
        let t = template(DEFAULT_TEMPLATE);
        for name in [
            "Kas",
            "Kas Kecil",
            "Bank",
            "Piutang Usaha",
            "PPN Masukan",
            "Utang Usaha",
            "Utang PPh 21",
            "PPN Keluaran",
            "Modal Disetor",
            "Laba Ditahan",
            "Penjualan",
            "Diskon Penjualan",
            "Harga Pokok Penjualan",
            "Beban Gaji",
            "Beban Sewa",
            "Beban Listrik",
            "Pendapatan Bunga",
            "Beban Bunga",
            "Beban Administrasi Bank",
        ] {
            assert!(named(t, name).is_postable, "{name} is postable");
        }
        let discount = named(t, "Diskon Penjualan");
        assert!(
            discount.account_type == AccountType::Revenue && discount.normal_balance == NormalBalance::Debit,
            "a contra revenue account"
        );
    }

    /// The accounts issue 13 found missing, each with its type, side and role; the
    /// codes of the earlier chart are kept.
    #[test]
    fn indonesian_template_has_the_statement_accounts() {
        use AccountRole::*;
        use AccountType::*;
        use NormalBalance::*;
        let t = template(DEFAULT_TEMPLATE);
        let wanted = [
            ("8-2001", "Beban Pajak Penghasilan", Expense, Debit, IncomeTaxExpense),
            ("8-2002", "Beban PPh Final UMKM 0.5%", Expense, Debit, IncomeTaxExpense),
            ("1-1405", "PPh 22 Dibayar di Muka", Asset, Debit, PrepaidTax),
            ("1-1406", "PPh 25 Dibayar di Muka", Asset, Debit, PrepaidTax),
            ("2-1207", "Utang PPh 4(2)", Liability, Credit, TaxPayable),
            ("2-1206", "Utang PPh Final", Liability, Credit, TaxPayable),
            ("2-1208", "Utang PPN", Liability, Credit, VatOutput),
            ("2-1201", "PPN Keluaran", Liability, Credit, VatOutput),
            ("1-1407", "PPN Lebih Bayar", Asset, Debit, PrepaidTax),
            ("1-1403", "PPN Masukan", Asset, Debit, VatInput),
            ("1-2007", "Tanah", Asset, Debit, FixedAsset),
            (
                "2-2001",
                "Utang Bank Jangka Panjang",
                Liability,
                Credit,
                NonCurrentLiability,
            ),
            (
                "2-1104",
                "Beban Masih Harus Dibayar",
                Liability,
                Credit,
                OtherCurrentLiability,
            ),
            ("3-1003", "Ekuitas Saldo Awal", Equity, Credit, OpeningBalanceEquity),
            ("3-2001", "Laba Ditahan", Equity, Credit, RetainedEarnings),
            (
                "1-2002",
                "Akumulasi Penyusutan Bangunan",
                Asset,
                Credit,
                AccumulatedDepreciation,
            ),
            ("3-1002", "Prive", Equity, Debit, Drawings),
        ];
        for (code, name, account_type, side, role) in wanted {
            let a = named(t, name);
            assert_eq!(
                (a.code.as_str(), a.account_type, a.normal_balance, a.role, a.is_postable),
                (code, account_type, side, role, true),
                "{name}"
            );
        }
        let computed = named(t, "Laba Tahun Berjalan");
        assert_eq!(
            (computed.code.as_str(), computed.role, computed.is_postable),
            ("3-2002", CurrentYearEarnings, false),
            "computed by the statements, never posted to"
        );
        // Every code of the first chart is still there, with its name (existing tenants
        // were seeded from it; the migration m20261201_000003 maps roles by these codes).
        for (code, name) in [
            ("1-1101", "Kas"),
            ("1-1103", "Bank"),
            ("1-2006", "Akumulasi Penyusutan Peralatan Kantor"),
            ("2-1206", "Utang PPh Final"),
            ("3-2002", "Laba Tahun Berjalan"),
            ("6-2099", "Beban Lain-lain"),
            ("8-1003", "Rugi Selisih Kurs"),
        ] {
            assert_eq!(named(t, name).code, code);
        }
    }

    #[test]
    fn every_template_account_has_a_role_that_fits_its_type() {
        for t in shipped().unwrap_or_else(|e| panic!("{e}")) {
            for a in &t.accounts {
                assert_eq!(a.role.account_type(), a.account_type, "{}: {}", t.key, a.code);
            }
            if t.key == "empty" {
                continue;
            }
            for role in SINGLE_ROLES {
                assert_eq!(
                    t.accounts.iter().filter(|a| a.role == role).count(),
                    1,
                    "{}: one {role:?}",
                    t.key
                );
            }
        }
        let generic = template("generic");
        assert_eq!(
            named(generic, "Opening Balance Equity").role,
            AccountRole::OpeningBalanceEquity
        );
        assert!(!named(generic, "Current Year Earnings").is_postable);
        assert_eq!(named(generic, "Retained Earnings").role, AccountRole::RetainedEarnings);
        assert_eq!(named(generic, "Sales Discounts").role, AccountRole::SalesReturns);
    }

    /// The roles migration m20261201_000003 gives existing tenants are the roles the
    /// shipped templates give the same codes (it copies them: the migration crate does
    /// not read the service's files).
    #[test]
    fn the_role_migration_agrees_with_the_templates() {
        use migration::m20261201_000003_template_roles::{TEMPLATES, TEMPLATE_ROLES};
        for (key, code, account_type, role) in TEMPLATE_ROLES {
            let t = template(key);
            let a = t
                .accounts
                .iter()
                .find(|a| a.code == *code)
                .unwrap_or_else(|| panic!("{key}: {code} is no longer shipped"));
            assert_eq!(
                (a.account_type.to_value(), a.role.to_value()),
                ((*account_type).to_owned(), (*role).to_owned()),
                "{key}: {code}"
            );
        }
        for migrated in TEMPLATES {
            let t = template(migrated.key);
            let earnings = t.accounts.iter().find(|a| a.role == AccountRole::CurrentYearEarnings);
            assert_eq!(earnings.map(|a| a.code.as_str()), Some(migrated.current_year_earnings));
            for header in migrated.headers {
                assert!(
                    t.accounts
                        .iter()
                        .any(|a| a.code == header && !a.is_postable && a.parent_code.is_none()),
                    "{}: {header}",
                    migrated.key
                );
            }
        }
    }

    #[test]
    fn quoted_fields_may_hold_commas_and_quotes() {
        let csv = format!(
            "{HEADER_LINE}1,\"Kas, Bank dan \"\"Setara\"\"\",ASSET,DEBIT,,false,CASH\n\n1.1,Kas,ASSET,DEBIT,1,true,CASH\n"
        );
        let accounts = parse_csv(&csv).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(accounts.len(), 2, "the blank line is skipped");
        assert_eq!(accounts[0].name, "Kas, Bank dan \"Setara\"");
        assert_eq!(accounts[1].parent_code.as_deref(), Some("1"));
        assert_eq!(accounts[1].normal_balance, NormalBalance::Debit);
        assert_eq!(accounts[1].role, AccountRole::Cash);
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        let refused = |body: &str| parse_csv(&format!("{HEADER_LINE}{body}")).err();
        assert!(parse_csv("nope\n").is_err(), "header");
        assert!(parse_csv("code,name,type\n").is_err(), "short header");
        assert!(
            parse_csv("code,name,type,normal_balance,parent_code,is_postable\n").is_err(),
            "the header of before roles"
        );
        assert_eq!(
            refused("1,A,ASSET,DEBIT,9,true,CASH\n").map(|e| e.line),
            Some(2),
            "unknown parent"
        );
        assert!(
            refused("1,A,ASSET,DEBIT,,true,CASH\n2,B,ASSET,DEBIT,1,true,CASH\n").is_some(),
            "postable parent"
        );
        assert!(
            refused("1,A,ASSET,DEBIT,,true,CASH\n1,B,ASSET,DEBIT,,true,CASH\n").is_some(),
            "duplicate code"
        );
        assert!(
            refused("1,A,ASSET,DEBIT,,true,CASH\n2,A,ASSET,DEBIT,,true,CASH\n").is_some(),
            "duplicate name"
        );
        assert!(refused("1,A,THING,DEBIT,,true,CASH\n").is_some(), "unknown type");
        assert!(refused("1,A,ASSET,LEFT,,true,CASH\n").is_some(), "unknown side");
        assert!(refused("1,A,ASSET,DEBIT,,yes,CASH\n").is_some(), "is_postable");
        assert!(
            refused("1,A,ASSET,DEBIT,,true,CASH,extra\n").is_some(),
            "too many fields"
        );
        assert!(refused("1,A,ASSET,DEBIT,,true\n").is_some(), "no role");
        assert!(refused("1,\"A,ASSET,DEBIT,,true,CASH\n").is_some(), "unclosed quote");
        assert!(
            refused("1,A,ASSET,DEBIT,,false,CASH\n").is_some(),
            "a header without children"
        );
        assert_eq!(
            refused("1,A,ASSET,DEBIT,,false,CASH\n2,B,ASSET,DEBIT,1,true,CASH\n3,C,EXPENSE,DEBIT,1,true,CASH\n")
                .map(|e| e.line),
            Some(4),
            "a child of another type"
        );
    }

    #[test]
    fn roles_are_checked() {
        let refused = |body: &str| parse_csv(&format!("{HEADER_LINE}{body}")).err();
        assert_eq!(
            refused("1,A,ASSET,DEBIT,,true,\n").map(|e| e.line),
            Some(2),
            "a role is required"
        );
        assert!(refused("1,A,ASSET,DEBIT,,true,cash\n").is_some(), "unknown role");
        assert!(
            refused("1,A,ASSET,DEBIT,,true,REVENUE\n").is_some(),
            "a revenue role on an asset"
        );
        assert!(
            refused("1,A,EQUITY,CREDIT,,true,CURRENT_YEAR_EARNINGS\n").is_some(),
            "current-year earnings are not postable"
        );
        assert!(
            refused("1,A,EQUITY,CREDIT,,false,CAPITAL\n2,B,EQUITY,CREDIT,1,false,CURRENT_YEAR_EARNINGS\n3,C,EQUITY,CREDIT,2,true,CAPITAL\n")
                .is_some(),
            "nor a header"
        );
        assert!(
            refused("1,A,EQUITY,CREDIT,,true,RETAINED_EARNINGS\n2,B,EQUITY,CREDIT,,true,RETAINED_EARNINGS\n").is_some(),
            "one retained-earnings account"
        );
        // The one non-postable leaf a chart may have: the computed current-year row.
        let ok = parse_csv(&format!(
            "{HEADER_LINE}3,E,EQUITY,CREDIT,,false,CAPITAL\n3.1,R,EQUITY,CREDIT,3,true,RETAINED_EARNINGS\n3.2,L,EQUITY,CREDIT,3,false,CURRENT_YEAR_EARNINGS\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok[2].role, AccountRole::CurrentYearEarnings);
        assert!(!ok[2].is_postable);
    }
}
