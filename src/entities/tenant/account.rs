use sea_orm::entity::prelude::*;

/// Where an account sits in the accounting equation.
// One type from the column to the API: stored as its API name in `account.type` (text
// with a CHECK constraint); an unknown stored value is an error, never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum AccountType {
    #[sea_orm(string_value = "ASSET")]
    Asset,
    #[sea_orm(string_value = "LIABILITY")]
    Liability,
    #[sea_orm(string_value = "EQUITY")]
    Equity,
    #[sea_orm(string_value = "REVENUE")]
    Revenue,
    #[sea_orm(string_value = "EXPENSE")]
    Expense,
}

impl AccountType {
    /// The side an account of this type grows on, unless stated: assets and expenses
    /// on the debit, the rest on the credit (contra accounts state theirs).
    pub fn usual_normal_balance(self) -> NormalBalance {
        match self {
            AccountType::Asset | AccountType::Expense => NormalBalance::Debit,
            AccountType::Liability | AccountType::Equity | AccountType::Revenue => NormalBalance::Credit,
        }
    }
}

/// The side on which an account grows: its normal balance.
// Stored in `account.normal_balance` like `AccountType`; named `BalanceSide` in API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
#[graphql(name = "BalanceSide")]
pub enum NormalBalance {
    #[sea_orm(string_value = "DEBIT")]
    Debit,
    #[sea_orm(string_value = "CREDIT")]
    Credit,
}

impl NormalBalance {
    /// A net debit (debits minus credits) signed in this direction: positive when the
    /// account stands on its normal side.
    pub fn signed(self, net_debit: Decimal) -> Decimal {
        match self {
            NormalBalance::Debit => net_debit,
            NormalBalance::Credit => -net_debit,
        }
    }
}

/// Where an account sits in the financial statements (API.md `AccountRole`). Stored in
/// `account.role` (text with a CHECK listing the same names,
/// `migration::m20261201_000001_balances_at_scale::ACCOUNT_ROLES`); an account without
/// one takes its parent's, else a default by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, async_graphql::Enum)]
#[sea_orm(rs_type = "String", db_type = "Text")]
pub enum AccountRole {
    #[sea_orm(string_value = "CASH")]
    Cash,
    #[sea_orm(string_value = "BANK")]
    Bank,
    #[sea_orm(string_value = "RECEIVABLE")]
    Receivable,
    #[sea_orm(string_value = "INVENTORY")]
    Inventory,
    #[sea_orm(string_value = "PREPAID_TAX")]
    PrepaidTax,
    #[sea_orm(string_value = "VAT_INPUT")]
    VatInput,
    #[sea_orm(string_value = "OTHER_CURRENT_ASSET")]
    OtherCurrentAsset,
    #[sea_orm(string_value = "FIXED_ASSET")]
    FixedAsset,
    #[sea_orm(string_value = "ACCUMULATED_DEPRECIATION")]
    AccumulatedDepreciation,
    #[sea_orm(string_value = "OTHER_NON_CURRENT_ASSET")]
    OtherNonCurrentAsset,
    #[sea_orm(string_value = "PAYABLE")]
    Payable,
    #[sea_orm(string_value = "TAX_PAYABLE")]
    TaxPayable,
    #[sea_orm(string_value = "VAT_OUTPUT")]
    VatOutput,
    #[sea_orm(string_value = "OTHER_CURRENT_LIABILITY")]
    OtherCurrentLiability,
    #[sea_orm(string_value = "NON_CURRENT_LIABILITY")]
    NonCurrentLiability,
    #[sea_orm(string_value = "CAPITAL")]
    Capital,
    #[sea_orm(string_value = "RETAINED_EARNINGS")]
    RetainedEarnings,
    #[sea_orm(string_value = "CURRENT_YEAR_EARNINGS")]
    CurrentYearEarnings,
    #[sea_orm(string_value = "DRAWINGS")]
    Drawings,
    #[sea_orm(string_value = "OPENING_BALANCE_EQUITY")]
    OpeningBalanceEquity,
    #[sea_orm(string_value = "REVENUE")]
    Revenue,
    #[sea_orm(string_value = "SALES_RETURNS")]
    SalesReturns,
    #[sea_orm(string_value = "COST_OF_SALES")]
    CostOfSales,
    #[sea_orm(string_value = "OPERATING_EXPENSE")]
    OperatingExpense,
    #[sea_orm(string_value = "OTHER_INCOME")]
    OtherIncome,
    #[sea_orm(string_value = "OTHER_EXPENSE")]
    OtherExpense,
    #[sea_orm(string_value = "INCOME_TAX_EXPENSE")]
    IncomeTaxExpense,
}

impl AccountRole {
    /// The account type a role belongs to (the database checks the same table:
    /// `migration::m20261201_000004_posting_hardening::ROLE_TYPES`).
    pub fn account_type(self) -> AccountType {
        use AccountRole::*;
        match self {
            Cash
            | Bank
            | Receivable
            | Inventory
            | PrepaidTax
            | VatInput
            | OtherCurrentAsset
            | FixedAsset
            | AccumulatedDepreciation
            | OtherNonCurrentAsset => AccountType::Asset,
            Payable | TaxPayable | VatOutput | OtherCurrentLiability | NonCurrentLiability => AccountType::Liability,
            Capital | RetainedEarnings | CurrentYearEarnings | Drawings | OpeningBalanceEquity => AccountType::Equity,
            Revenue | SalesReturns | OtherIncome => AccountType::Revenue,
            CostOfSales | OperatingExpense | OtherExpense | IncomeTaxExpense => AccountType::Expense,
        }
    }
}

/// An account of the chart.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub code: String,
    pub name: String,
    #[sea_orm(column_name = "type")]
    pub account_type: AccountType,
    pub normal_balance: NormalBalance,
    pub parent_id: Option<Uuid>,
    pub is_postable: bool,
    pub is_archived: bool,
    pub description: Option<String>,
    pub role: Option<AccountRole>,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ActiveEnum, Iterable};

    #[test]
    fn account_types_round_trip_through_their_stored_names() {
        let stored: Vec<String> = AccountType::iter().map(|t| t.to_value()).collect();
        assert_eq!(stored, ["ASSET", "LIABILITY", "EQUITY", "REVENUE", "EXPENSE"]);
        for t in AccountType::iter() {
            assert_eq!(AccountType::try_from_value(&t.to_value()).ok(), Some(t));
        }
        for unknown in ["asset", "INCOME", ""] {
            assert!(AccountType::try_from_value(&unknown.to_owned()).is_err(), "{unknown:?}");
        }
    }

    #[test]
    fn normal_balances_round_trip_through_their_stored_names() {
        let stored: Vec<String> = NormalBalance::iter().map(|t| t.to_value()).collect();
        assert_eq!(stored, ["DEBIT", "CREDIT"]);
        for side in NormalBalance::iter() {
            assert_eq!(NormalBalance::try_from_value(&side.to_value()).ok(), Some(side));
        }
        for unknown in ["debit", "DR", ""] {
            assert!(
                NormalBalance::try_from_value(&unknown.to_owned()).is_err(),
                "{unknown:?}"
            );
        }
    }

    #[test]
    fn balances_are_signed_in_the_normal_direction() {
        assert_eq!(NormalBalance::Debit.signed(Decimal::from(7)), Decimal::from(7));
        assert_eq!(NormalBalance::Credit.signed(Decimal::from(7)), Decimal::from(-7));
        assert_eq!(AccountType::Expense.usual_normal_balance(), NormalBalance::Debit);
        assert_eq!(AccountType::Revenue.usual_normal_balance(), NormalBalance::Credit);
    }
}
