//! Roles for the charts of tenants made before roles existed (issue 13, point 6).
//! Existing tenants keep their charts and codes (never renumbered, no account added);
//! this gives the accounts a tenant was seeded with from a shipped template the role
//! that template now gives them, where the account has none yet (`role IS NULL`: a role
//! set by hand is kept). An account is the template's when its code and its type are
//! the template's, in a chart that holds all eight class headers of that template (its
//! fingerprint: `1-0000` .. `8-0000`, or `1000` .. `8000`, as headers), so a chart built
//! by hand is left alone.
//!
//! "Laba Tahun Berjalan" (`3-2002`; "Current Year Earnings", `3130`, in `generic`) is
//! computed by the statements now. Without any journal line (draft or posted) and
//! without children it becomes what a new tenant gets: not postable, role
//! CURRENT_YEAR_EARNINGS. One that holds lines stays postable and gets no role (it is
//! shown as an ordinary equity account, beside the computed row): its postings are
//! history. Its row is locked first (`FOR UPDATE`): a draft being written takes it
//! shared (`check_accounts`), so the check for lines sees every line committed before.
//!
//! The pairs are copied from the templates (`coa/*.csv`) as they were shipped before
//! this migration, with their new roles; the service's unit tests check that they agree
//! with the shipped files. SQL only: the migration crate does not depend on the service.
//!
//! Named `000003` beside the fiscal-year migration `000002` written at the same time.
//! Down makes a computed "Laba Tahun Berjalan" postable again without a role; the other
//! roles stay (the column belongs to `m20261201_000001_balances_at_scale`, and versions
//! before this one read no role).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(&up()).await.map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(&down()).await.map(|_| ())
    }
}

/// A shipped template: its key, its eight class headers, its current-year earnings account.
pub struct Template {
    pub key: &'static str,
    pub headers: [&'static str; 8],
    pub current_year_earnings: &'static str,
}

pub const TEMPLATES: [Template; 2] = [
    Template {
        key: "id-sak-emkm",
        headers: [
            "1-0000", "2-0000", "3-0000", "4-0000", "5-0000", "6-0000", "7-0000", "8-0000",
        ],
        current_year_earnings: "3-2002",
    },
    Template {
        key: "generic",
        headers: ["1000", "2000", "3000", "4000", "5000", "6000", "7000", "8000"],
        current_year_earnings: "3130",
    },
];

/// (template, code, type, role) of every account the templates shipped before roles,
/// but for the current-year earnings account of each.
pub const TEMPLATE_ROLES: &[(&str, &str, &str, &str)] = &[
    ("id-sak-emkm", "1-0000", "ASSET", "OTHER_CURRENT_ASSET"),
    ("id-sak-emkm", "1-1000", "ASSET", "OTHER_CURRENT_ASSET"),
    ("id-sak-emkm", "1-1100", "ASSET", "CASH"),
    ("id-sak-emkm", "1-1101", "ASSET", "CASH"),
    ("id-sak-emkm", "1-1102", "ASSET", "CASH"),
    ("id-sak-emkm", "1-1103", "ASSET", "BANK"),
    ("id-sak-emkm", "1-1200", "ASSET", "RECEIVABLE"),
    ("id-sak-emkm", "1-1201", "ASSET", "RECEIVABLE"),
    ("id-sak-emkm", "1-1202", "ASSET", "RECEIVABLE"),
    ("id-sak-emkm", "1-1300", "ASSET", "INVENTORY"),
    ("id-sak-emkm", "1-1301", "ASSET", "INVENTORY"),
    ("id-sak-emkm", "1-1400", "ASSET", "OTHER_CURRENT_ASSET"),
    ("id-sak-emkm", "1-1401", "ASSET", "OTHER_CURRENT_ASSET"),
    ("id-sak-emkm", "1-1402", "ASSET", "OTHER_CURRENT_ASSET"),
    ("id-sak-emkm", "1-1403", "ASSET", "VAT_INPUT"),
    ("id-sak-emkm", "1-1404", "ASSET", "PREPAID_TAX"),
    ("id-sak-emkm", "1-2000", "ASSET", "FIXED_ASSET"),
    ("id-sak-emkm", "1-2001", "ASSET", "FIXED_ASSET"),
    ("id-sak-emkm", "1-2002", "ASSET", "ACCUMULATED_DEPRECIATION"),
    ("id-sak-emkm", "1-2003", "ASSET", "FIXED_ASSET"),
    ("id-sak-emkm", "1-2004", "ASSET", "ACCUMULATED_DEPRECIATION"),
    ("id-sak-emkm", "1-2005", "ASSET", "FIXED_ASSET"),
    ("id-sak-emkm", "1-2006", "ASSET", "ACCUMULATED_DEPRECIATION"),
    ("id-sak-emkm", "2-0000", "LIABILITY", "OTHER_CURRENT_LIABILITY"),
    ("id-sak-emkm", "2-1000", "LIABILITY", "OTHER_CURRENT_LIABILITY"),
    ("id-sak-emkm", "2-1100", "LIABILITY", "OTHER_CURRENT_LIABILITY"),
    ("id-sak-emkm", "2-1101", "LIABILITY", "PAYABLE"),
    ("id-sak-emkm", "2-1102", "LIABILITY", "OTHER_CURRENT_LIABILITY"),
    ("id-sak-emkm", "2-1103", "LIABILITY", "OTHER_CURRENT_LIABILITY"),
    ("id-sak-emkm", "2-1200", "LIABILITY", "TAX_PAYABLE"),
    ("id-sak-emkm", "2-1201", "LIABILITY", "VAT_OUTPUT"),
    ("id-sak-emkm", "2-1202", "LIABILITY", "TAX_PAYABLE"),
    ("id-sak-emkm", "2-1203", "LIABILITY", "TAX_PAYABLE"),
    ("id-sak-emkm", "2-1204", "LIABILITY", "TAX_PAYABLE"),
    ("id-sak-emkm", "2-1205", "LIABILITY", "TAX_PAYABLE"),
    ("id-sak-emkm", "2-1206", "LIABILITY", "TAX_PAYABLE"),
    ("id-sak-emkm", "2-2000", "LIABILITY", "NON_CURRENT_LIABILITY"),
    ("id-sak-emkm", "2-2001", "LIABILITY", "NON_CURRENT_LIABILITY"),
    ("id-sak-emkm", "3-0000", "EQUITY", "CAPITAL"),
    ("id-sak-emkm", "3-1000", "EQUITY", "CAPITAL"),
    ("id-sak-emkm", "3-1001", "EQUITY", "CAPITAL"),
    ("id-sak-emkm", "3-1002", "EQUITY", "DRAWINGS"),
    ("id-sak-emkm", "3-2000", "EQUITY", "CAPITAL"),
    ("id-sak-emkm", "3-2001", "EQUITY", "RETAINED_EARNINGS"),
    ("id-sak-emkm", "4-0000", "REVENUE", "REVENUE"),
    ("id-sak-emkm", "4-1000", "REVENUE", "REVENUE"),
    ("id-sak-emkm", "4-1001", "REVENUE", "REVENUE"),
    ("id-sak-emkm", "4-1002", "REVENUE", "SALES_RETURNS"),
    ("id-sak-emkm", "4-1003", "REVENUE", "SALES_RETURNS"),
    ("id-sak-emkm", "4-1004", "REVENUE", "REVENUE"),
    ("id-sak-emkm", "5-0000", "EXPENSE", "COST_OF_SALES"),
    ("id-sak-emkm", "5-1000", "EXPENSE", "COST_OF_SALES"),
    ("id-sak-emkm", "5-1001", "EXPENSE", "COST_OF_SALES"),
    ("id-sak-emkm", "5-1002", "EXPENSE", "COST_OF_SALES"),
    ("id-sak-emkm", "5-1003", "EXPENSE", "COST_OF_SALES"),
    ("id-sak-emkm", "6-0000", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-1000", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-1001", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2000", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2001", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2002", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2003", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2004", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2005", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2006", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2007", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2008", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2009", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2010", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "6-2099", "EXPENSE", "OPERATING_EXPENSE"),
    ("id-sak-emkm", "7-0000", "REVENUE", "OTHER_INCOME"),
    ("id-sak-emkm", "7-1000", "REVENUE", "OTHER_INCOME"),
    ("id-sak-emkm", "7-1001", "REVENUE", "OTHER_INCOME"),
    ("id-sak-emkm", "7-1002", "REVENUE", "OTHER_INCOME"),
    ("id-sak-emkm", "7-1099", "REVENUE", "OTHER_INCOME"),
    ("id-sak-emkm", "8-0000", "EXPENSE", "OTHER_EXPENSE"),
    ("id-sak-emkm", "8-1000", "EXPENSE", "OTHER_EXPENSE"),
    ("id-sak-emkm", "8-1001", "EXPENSE", "OTHER_EXPENSE"),
    ("id-sak-emkm", "8-1002", "EXPENSE", "OTHER_EXPENSE"),
    ("id-sak-emkm", "8-1003", "EXPENSE", "OTHER_EXPENSE"),
    ("generic", "1000", "ASSET", "OTHER_CURRENT_ASSET"),
    ("generic", "1100", "ASSET", "OTHER_CURRENT_ASSET"),
    ("generic", "1110", "ASSET", "CASH"),
    ("generic", "1120", "ASSET", "CASH"),
    ("generic", "1130", "ASSET", "BANK"),
    ("generic", "1140", "ASSET", "RECEIVABLE"),
    ("generic", "1150", "ASSET", "VAT_INPUT"),
    ("generic", "1160", "ASSET", "INVENTORY"),
    ("generic", "1170", "ASSET", "OTHER_CURRENT_ASSET"),
    ("generic", "1500", "ASSET", "FIXED_ASSET"),
    ("generic", "1510", "ASSET", "FIXED_ASSET"),
    ("generic", "1520", "ASSET", "FIXED_ASSET"),
    ("generic", "1590", "ASSET", "ACCUMULATED_DEPRECIATION"),
    ("generic", "2000", "LIABILITY", "OTHER_CURRENT_LIABILITY"),
    ("generic", "2100", "LIABILITY", "OTHER_CURRENT_LIABILITY"),
    ("generic", "2110", "LIABILITY", "PAYABLE"),
    ("generic", "2120", "LIABILITY", "VAT_OUTPUT"),
    ("generic", "2130", "LIABILITY", "TAX_PAYABLE"),
    ("generic", "2140", "LIABILITY", "OTHER_CURRENT_LIABILITY"),
    ("generic", "3000", "EQUITY", "CAPITAL"),
    ("generic", "3100", "EQUITY", "CAPITAL"),
    ("generic", "3110", "EQUITY", "CAPITAL"),
    ("generic", "3120", "EQUITY", "RETAINED_EARNINGS"),
    ("generic", "4000", "REVENUE", "REVENUE"),
    ("generic", "4100", "REVENUE", "REVENUE"),
    ("generic", "4110", "REVENUE", "REVENUE"),
    ("generic", "4120", "REVENUE", "SALES_RETURNS"),
    ("generic", "4130", "REVENUE", "REVENUE"),
    ("generic", "5000", "EXPENSE", "COST_OF_SALES"),
    ("generic", "5100", "EXPENSE", "COST_OF_SALES"),
    ("generic", "5110", "EXPENSE", "COST_OF_SALES"),
    ("generic", "6000", "EXPENSE", "OPERATING_EXPENSE"),
    ("generic", "6100", "EXPENSE", "OPERATING_EXPENSE"),
    ("generic", "6110", "EXPENSE", "OPERATING_EXPENSE"),
    ("generic", "6120", "EXPENSE", "OPERATING_EXPENSE"),
    ("generic", "6130", "EXPENSE", "OPERATING_EXPENSE"),
    ("generic", "6140", "EXPENSE", "OPERATING_EXPENSE"),
    ("generic", "6190", "EXPENSE", "OPERATING_EXPENSE"),
    ("generic", "7000", "REVENUE", "OTHER_INCOME"),
    ("generic", "7100", "REVENUE", "OTHER_INCOME"),
    ("generic", "7110", "REVENUE", "OTHER_INCOME"),
    ("generic", "8000", "EXPENSE", "OTHER_EXPENSE"),
    ("generic", "8100", "EXPENSE", "OTHER_EXPENSE"),
    ("generic", "8110", "EXPENSE", "OTHER_EXPENSE"),
    ("generic", "8120", "EXPENSE", "OTHER_EXPENSE"),
];

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The condition "the chart holds this template's class headers".
fn fingerprint(template: &Template) -> String {
    let headers = template.headers.iter().map(|h| quote(h)).collect::<Vec<_>>().join(", ");
    format!(
        "(SELECT count(*) FROM account h WHERE h.code IN ({headers}) AND NOT h.is_postable) = {}",
        template.headers.len()
    )
}

fn up() -> String {
    let mut sql = String::new();
    for template in &TEMPLATES {
        let fingerprint = fingerprint(template);
        let earnings = quote(template.current_year_earnings);
        sql.push_str(&format!(
            r#"
SELECT id FROM account WHERE code = {earnings} AND type = 'EQUITY' FOR UPDATE;
UPDATE account a SET is_postable = false, role = 'CURRENT_YEAR_EARNINGS', updated_at = now()
 WHERE a.code = {earnings} AND a.type = 'EQUITY' AND a.role IS NULL AND a.is_postable
   AND NOT EXISTS (SELECT 1 FROM journal_line l WHERE l.account_id = a.id)
   AND NOT EXISTS (SELECT 1 FROM account c WHERE c.parent_id = a.id)
   AND NOT EXISTS (SELECT 1 FROM account o WHERE o.role = 'CURRENT_YEAR_EARNINGS')
   AND {fingerprint};
"#
        ));
        let values = TEMPLATE_ROLES
            .iter()
            .filter(|(key, ..)| *key == template.key)
            .map(|(_, code, account_type, role)| format!("({}, {}, {})", quote(code), quote(account_type), quote(role)))
            .collect::<Vec<_>>()
            .join(",\n       ");
        sql.push_str(&format!(
            r#"
UPDATE account a SET role = p.role, updated_at = now()
  FROM (VALUES {values}) AS p (code, type, role)
 WHERE a.code = p.code AND a.type = p.type AND a.role IS NULL
   AND {fingerprint};
"#
        ));
    }
    sql
}

fn down() -> String {
    TEMPLATES
        .iter()
        .map(|template| {
            format!(
                r#"
UPDATE account a SET is_postable = true, role = NULL, updated_at = now()
 WHERE a.code = {} AND a.type = 'EQUITY' AND a.role = 'CURRENT_YEAR_EARNINGS' AND NOT a.is_postable
   AND NOT EXISTS (SELECT 1 FROM account c WHERE c.parent_id = a.id);
"#,
                quote(template.current_year_earnings)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::m20261201_000001_balances_at_scale::ACCOUNT_ROLES;

    #[test]
    fn every_pair_names_a_known_template_type_and_role() {
        for (key, code, account_type, role) in TEMPLATE_ROLES {
            assert!(TEMPLATES.iter().any(|t| t.key == *key), "{key}");
            assert!(
                ["ASSET", "LIABILITY", "EQUITY", "REVENUE", "EXPENSE"].contains(account_type),
                "{code}"
            );
            assert!(ACCOUNT_ROLES.contains(role), "{code}: {role}");
            assert!(!code.contains('\''), "{code}");
        }
        assert_eq!(TEMPLATE_ROLES.iter().filter(|p| p.0 == "id-sak-emkm").count(), 80);
        assert_eq!(TEMPLATE_ROLES.iter().filter(|p| p.0 == "generic").count(), 45);
    }

    #[test]
    fn each_template_is_updated_only_in_a_chart_with_its_headers() {
        let up = up();
        assert_eq!(up.matches("AND NOT h.is_postable) = 8").count(), 4);
        assert_eq!(up.matches("FOR UPDATE").count(), 2);
        assert!(up.contains("('3-2001', 'EQUITY', 'RETAINED_EARNINGS')"));
        assert!(!up.contains("('3-2002', 'EQUITY',"), "computed, handled on its own");
        assert!(down().contains("'3130'"));
    }
}
