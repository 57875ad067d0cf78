use sea_orm::entity::prelude::*;

/// The one company of a tenant database.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "company")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub legal_name: Option<String>,
    /// NPWP.
    pub tax_id: Option<String>,
    pub base_currency: String,
    pub fiscal_year_start_month: i16,
    pub lock_date: Option<Date>,
    /// IANA time zone name: "today" and every default date are in it.
    pub timezone: String,
    /// `id` or `en`: the language of statement labels.
    pub language: String,
    pub created_at: DateTimeWithTimeZone,
    pub updated_at: DateTimeWithTimeZone,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
