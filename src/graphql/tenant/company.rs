//! `company` and `updateCompany`.

use async_graphql::{ComplexObject, Context, InputObject, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{actor, tenant_db};
use crate::entities::tenant::company as entity;
use crate::graphql::scalars::Date;
use crate::ledger::company::{self as service, CompanyChanges};
use crate::ledger::fiscal_years;

/// The company whose books these are.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Company {
    pub id: ID,
    pub name: String,
    pub legal_name: Option<String>,
    /// NPWP, digits only.
    pub tax_id: Option<String>,
    /// ISO 4217, default "IDR".
    pub base_currency: String,
    /// 1..12
    pub fiscal_year_start_month: i32,
    /// No posting on or before this date.
    pub lock_date: Option<Date>,
    /// IANA name, default "Asia/Jakarta"; "today" and default dates use it.
    pub timezone: String,
    /// "id" or "en": statement labels; set from the chart template at creation.
    pub language: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[ComplexObject]
impl Company {
    /// The end of the latest closed fiscal year: no posting on or before it (set by
    /// closeFiscalYear, moved back only by reopenFiscalYear). Read only when asked for.
    async fn hard_lock_date(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Date>> {
        let db = tenant_db(ctx)?;
        Ok(fiscal_years::hard_lock_date(&db.conn).await?.map(Date))
    }
}

impl From<entity::Model> for Company {
    fn from(m: entity::Model) -> Self {
        Company {
            id: ID(m.id.to_string()),
            name: m.name,
            legal_name: m.legal_name,
            tax_id: m.tax_id,
            base_currency: m.base_currency,
            fiscal_year_start_month: i32::from(m.fiscal_year_start_month),
            lock_date: m.lock_date.map(Date),
            timezone: m.timezone,
            language: m.language,
            created_at: m.created_at.with_timezone(&Utc),
            updated_at: m.updated_at.with_timezone(&Utc),
        }
    }
}

/// Fields left out are kept; `legalName`, `taxId` and `lockDate` set to null are cleared.
#[derive(InputObject)]
pub struct UpdateCompanyInput {
    pub name: Option<String>,
    pub legal_name: MaybeUndefined<String>,
    pub tax_id: MaybeUndefined<String>,
    pub fiscal_year_start_month: Option<i32>,
    pub lock_date: MaybeUndefined<Date>,
    /// An IANA time zone name (e.g. "Asia/Makassar").
    pub timezone: Option<String>,
    /// "id" or "en".
    pub language: Option<String>,
}

#[derive(Default)]
pub struct CompanyQuery;

#[Object]
impl CompanyQuery {
    async fn company(&self, ctx: &Context<'_>) -> async_graphql::Result<Company> {
        let db = tenant_db(ctx)?;
        Ok(service::company(&db.conn).await?.into())
    }
}

#[derive(Default)]
pub struct CompanyMutation;

#[Object]
impl CompanyMutation {
    async fn update_company(&self, ctx: &Context<'_>, input: UpdateCompanyInput) -> async_graphql::Result<Company> {
        let db = tenant_db(ctx)?;
        let changes = CompanyChanges {
            name: input.name,
            legal_name: input.legal_name.into(),
            tax_id: input.tax_id.into(),
            fiscal_year_start_month: input.fiscal_year_start_month,
            lock_date: input.lock_date.map_value(|d| d.0).into(),
            timezone: input.timezone,
            language: input.language,
        };
        let updated = service::update_company(&db.conn, changes, actor(ctx)?).await?;
        // "Today" may have moved with the time zone.
        db.cache.invalidate();
        Ok(updated.into())
    }
}
