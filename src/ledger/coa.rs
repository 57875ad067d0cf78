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

use crate::entities::tenant::account::{AccountType, NormalBalance};
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
const HEADER: [&str; 6] = ["code", "name", "type", "normal_balance", "parent_code", "is_postable"];

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
/// types and sides, unique codes and names, parents that are earlier headers of the same
/// type, and headers that have children.
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
        });
    }
    let parents: HashSet<&str> = accounts.iter().filter_map(|a| a.parent_code.as_deref()).collect();
    if let Some(childless) = accounts
        .iter()
        .find(|a| !a.is_postable && !parents.contains(a.code.as_str()))
    {
        let line = lines.get(&childless.code).copied().unwrap_or_default();
        return Err(refuse(line, format!("header {} has no children", childless.code)));
    }
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER_LINE: &str = "code,name,type,normal_balance,parent_code,is_postable\n";

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

    #[test]
    fn indonesian_template_has_the_accounts_small_companies_need() {
        let t = find(DEFAULT_TEMPLATE).ok().flatten().expect("default template");
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
            "Laba Tahun Berjalan",
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
            let account = t
                .accounts
                .iter()
                .find(|a| a.name == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert!(account.is_postable, "{name} is postable");
        }
        let discount = t.accounts.iter().find(|a| a.name == "Diskon Penjualan");
        assert!(
            discount
                .is_some_and(|a| a.account_type == AccountType::Revenue && a.normal_balance == NormalBalance::Debit),
            "a contra revenue account"
        );
    }

    #[test]
    fn quoted_fields_may_hold_commas_and_quotes() {
        let csv = format!(
            "{HEADER_LINE}1,\"Kas, Bank dan \"\"Setara\"\"\",ASSET,DEBIT,,false\n\n1.1,Kas,ASSET,DEBIT,1,true\n"
        );
        let accounts = parse_csv(&csv).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(accounts.len(), 2, "the blank line is skipped");
        assert_eq!(accounts[0].name, "Kas, Bank dan \"Setara\"");
        assert_eq!(accounts[1].parent_code.as_deref(), Some("1"));
        assert_eq!(accounts[1].normal_balance, NormalBalance::Debit);
    }

    #[test]
    fn bad_files_are_refused_with_their_line() {
        let refused = |body: &str| parse_csv(&format!("{HEADER_LINE}{body}")).err();
        assert!(parse_csv("nope\n").is_err(), "header");
        assert!(parse_csv("code,name,type\n").is_err(), "short header");
        assert_eq!(
            refused("1,A,ASSET,DEBIT,9,true\n").map(|e| e.line),
            Some(2),
            "unknown parent"
        );
        assert!(
            refused("1,A,ASSET,DEBIT,,true\n2,B,ASSET,DEBIT,1,true\n").is_some(),
            "postable parent"
        );
        assert!(
            refused("1,A,ASSET,DEBIT,,true\n1,B,ASSET,DEBIT,,true\n").is_some(),
            "duplicate code"
        );
        assert!(
            refused("1,A,ASSET,DEBIT,,true\n2,A,ASSET,DEBIT,,true\n").is_some(),
            "duplicate name"
        );
        assert!(refused("1,A,THING,DEBIT,,true\n").is_some(), "unknown type");
        assert!(refused("1,A,ASSET,LEFT,,true\n").is_some(), "unknown side");
        assert!(refused("1,A,ASSET,DEBIT,,yes\n").is_some(), "is_postable");
        assert!(refused("1,A,ASSET,DEBIT,,true,extra\n").is_some(), "too many fields");
        assert!(refused("1,\"A,ASSET,DEBIT,,true\n").is_some(), "unclosed quote");
        assert!(
            refused("1,A,ASSET,DEBIT,,false\n").is_some(),
            "a header without children"
        );
        assert_eq!(
            refused("1,A,ASSET,DEBIT,,false\n2,B,ASSET,DEBIT,1,true\n3,C,EXPENSE,DEBIT,1,true\n").map(|e| e.line),
            Some(4),
            "a child of another type"
        );
    }
}
