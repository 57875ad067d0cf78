//! Chart-of-accounts templates, shipped as data files in `coa/` (see its README) and
//! compiled into the binary. A template is chosen when a tenant is created.

use std::collections::{HashMap, HashSet};

use sea_orm::ActiveEnum;

use crate::entities::tenant::account::{AccountType, NormalBalance};

/// One account of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateAccount {
    pub code: String,
    pub name: String,
    pub account_type: AccountType,
    pub normal_balance: NormalBalance,
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

pub const DEFAULT_TEMPLATE: &str = "id-sak-emkm";

const SOURCES: &[(&str, &str, &str)] = &[
    (
        "id-sak-emkm",
        "Indonesia — SAK EMKM (Bagan Akun Standar UMKM)",
        include_str!("../../coa/id-sak-emkm.csv"),
    ),
    ("generic", "Generic (English)", include_str!("../../coa/generic.csv")),
    ("empty", "Empty chart", include_str!("../../coa/empty.csv")),
];

/// Every shipped template, in a stable order.
pub fn templates() -> Vec<CoaTemplate> {
    SOURCES
        .iter()
        .map(|(key, name, csv)| CoaTemplate {
            key,
            name,
            accounts: parse_csv(csv).unwrap_or_default(),
        })
        .collect()
}

/// The template with this key.
pub fn template(key: &str) -> Option<CoaTemplate> {
    templates().into_iter().find(|t| t.key == key)
}

/// Parses and checks a template file (the rules of `coa/README.md`).
pub fn parse_csv(csv: &str) -> Result<Vec<TemplateAccount>, String> {
    let mut lines = csv.lines();
    if lines.next() != Some("code,name,type,normal_balance,parent_code,is_postable") {
        return Err("unexpected header line".into());
    }
    let mut accounts: Vec<TemplateAccount> = Vec::new();
    let mut seen: HashMap<String, bool> = HashMap::new();
    let mut names = HashSet::new();
    for (number, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let [code, name, class, normal, parent, postable] = fields[..] else {
            return Err(format!("line {}: expected 6 fields", number + 2));
        };
        let account_type =
            AccountType::try_from_value(&class.to_owned()).map_err(|_| format!("{code}: unknown type {class}"))?;
        let normal_balance = NormalBalance::try_from_value(&normal.to_owned())
            .map_err(|_| format!("{code}: unknown normal balance {normal}"))?;
        let is_postable = match postable {
            "true" => true,
            "false" => false,
            other => return Err(format!("{code}: is_postable is {other}")),
        };
        let parent_code = (!parent.is_empty()).then(|| parent.to_owned());
        if let Some(parent) = &parent_code {
            match seen.get(parent) {
                Some(false) => {}
                Some(true) => return Err(format!("{code}: parent {parent} is postable")),
                None => return Err(format!("{code}: parent {parent} must come earlier")),
            }
        }
        if seen.insert(code.to_owned(), is_postable).is_some() || !names.insert(name.to_owned()) {
            return Err(format!("{code}: duplicate code or name"));
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
    Ok(accounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_parse_and_follow_the_rules() {
        for (key, _, csv) in SOURCES {
            let accounts = parse_csv(csv).unwrap_or_else(|e| panic!("{key}: {e}"));
            for header in accounts.iter().filter(|a| !a.is_postable) {
                assert!(
                    accounts
                        .iter()
                        .any(|a| a.parent_code.as_deref() == Some(header.code.as_str())),
                    "{key}: header {} has no children",
                    header.code
                );
            }
        }
        assert!(template("empty").is_some_and(|t| t.accounts.is_empty()));
        assert!(template("generic").is_some_and(|t| t.accounts.len() > 20));
    }

    #[test]
    fn indonesian_template_has_the_accounts_small_companies_need() {
        let t = template(DEFAULT_TEMPLATE).unwrap_or_else(|| panic!("default template"));
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
    fn bad_files_are_refused() {
        let header = "code,name,type,normal_balance,parent_code,is_postable\n";
        assert!(parse_csv("nope\n").is_err());
        assert!(
            parse_csv(&format!("{header}1,A,ASSET,DEBIT,9,true\n")).is_err(),
            "unknown parent"
        );
        assert!(
            parse_csv(&format!("{header}1,A,ASSET,DEBIT,,true\n2,B,ASSET,DEBIT,1,true\n")).is_err(),
            "postable parent"
        );
        assert!(
            parse_csv(&format!("{header}1,A,ASSET,DEBIT,,true\n1,B,ASSET,DEBIT,,true\n")).is_err(),
            "duplicate code"
        );
        assert!(
            parse_csv(&format!("{header}1,A,THING,DEBIT,,true\n")).is_err(),
            "unknown type"
        );
    }
}
