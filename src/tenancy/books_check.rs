//! `verify books`: recomputes each tenant's kept totals (`account_day_total`,
//! `account_month_total`) from its posted lines and reports any difference; with
//! `repair`, rebuilds them from the lines first (for an operator after a restore or a
//! bulk load made with triggers off). Runs as each tenant's owner role: the login role
//! can read the totals but never write them. Tenants are checked in parallel with a
//! bound; one tenant's failure never stops the others.

use futures::StreamExt;
use secrecy::SecretString;

use crate::entities::registry::tenants;
use crate::error::Result;
use crate::ledger::balances::{self, Difference};
use crate::tenancy::ownership;
use crate::tenancy::registry::Registry;
use crate::tenancy::slug::TenantSlug;

/// What checking one tenant found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BooksOutcome {
    /// The totals equal the lines.
    Consistent,
    /// They differed and were rebuilt; `repaired` is how many (account, period) rows differed.
    Repaired { repaired: usize },
    /// They differ (not repaired): the first few differences and how many in all.
    Differs { count: usize, first: Vec<Difference> },
    /// The check itself failed (the message names why; no secret in it).
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct BooksReport {
    pub slug: String,
    pub outcome: BooksOutcome,
}

impl BooksReport {
    /// Whether the tenant's totals are now right.
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, BooksOutcome::Consistent | BooksOutcome::Repaired { .. })
    }
}

impl std::fmt::Display for BooksReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            BooksOutcome::Consistent => write!(f, "{}: totals equal the lines", self.slug),
            BooksOutcome::Repaired { repaired } => {
                write!(f, "{}: {repaired} totals differed; rebuilt from the lines", self.slug)
            }
            BooksOutcome::Differs { count, first } => {
                write!(f, "{}: {count} totals differ from the lines", self.slug)?;
                for d in first {
                    let grain = if d.month { "month" } else { "day" };
                    write!(
                        f,
                        "\n  account {} {grain} {}: kept {}, from lines {}",
                        d.account_id,
                        d.period,
                        describe(&d.kept),
                        describe(&d.from_lines)
                    )?;
                }
                Ok(())
            }
            BooksOutcome::Failed(why) => write!(f, "{}: check failed: {why}", self.slug),
        }
    }
}

fn describe(totals: &Option<balances::Totals>) -> String {
    match totals {
        Some(t) => format!("debit {} credit {}", t.debit, t.credit),
        None => "nothing".into(),
    }
}

/// Differences listed per tenant in a report (the count covers all of them).
const SHOWN: usize = 10;

/// Checks (and with `repair`, rebuilds) one tenant's totals.
pub async fn check_tenant(admin_url: &SecretString, tenant: &tenants::Model, repair: bool) -> BooksReport {
    let outcome = match try_check(admin_url, tenant, repair).await {
        Ok(outcome) => outcome,
        Err(err) => BooksOutcome::Failed(err.to_string()),
    };
    BooksReport {
        slug: tenant.slug.clone(),
        outcome,
    }
}

async fn try_check(admin_url: &SecretString, tenant: &tenants::Model, repair: bool) -> Result<BooksOutcome> {
    let owner = ownership::owner_connection(
        admin_url,
        &tenant.db_name,
        &ownership::owner_role(&tenant.db_username),
        &format!("nusa-journal-verify:{}", tenant.slug),
    )
    .await?;
    let checked = async {
        let differences = balances::verify(&owner).await?;
        if differences.is_empty() {
            return Ok(BooksOutcome::Consistent);
        }
        if !repair {
            return Ok(BooksOutcome::Differs {
                count: differences.len(),
                first: differences.into_iter().take(SHOWN).collect(),
            });
        }
        balances::rebuild(&owner).await?;
        let left = balances::verify(&owner).await?;
        if left.is_empty() {
            Ok(BooksOutcome::Repaired {
                repaired: differences.len(),
            })
        } else {
            Ok(BooksOutcome::Differs {
                count: left.len(),
                first: left.into_iter().take(SHOWN).collect(),
            })
        }
    }
    .await;
    let _ = owner.close().await;
    checked
}

/// Checks every active or suspended tenant (or only `only`), `concurrency` at a time;
/// `report` sees each outcome as it happens.
pub async fn check_fleet(
    registry: &Registry,
    admin_url: &SecretString,
    only: Option<&TenantSlug>,
    repair: bool,
    concurrency: usize,
    report: impl Fn(&BooksReport),
) -> Result<Vec<BooksReport>> {
    let tenants = registry.tenants_to_migrate(only).await?;
    if let Some(slug) = only {
        if tenants.is_empty() {
            return Err(crate::error::Error::NotFound(format!(
                "no active or suspended tenant '{slug}'"
            )));
        }
    }
    let report = &report;
    Ok(futures::stream::iter(tenants)
        .map(|tenant| async move {
            let done = check_tenant(admin_url, &tenant, repair).await;
            report(&done);
            done
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await)
}
