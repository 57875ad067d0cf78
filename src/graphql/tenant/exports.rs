//! `createExportLink`: a signed, short-lived URL a browser follows to download an export
//! without an `Authorization` header (see `books_csv::links`).

use async_graphql::{Context, Object};

use super::{actor, tenant_db};
use crate::books_csv::links::ExportLinks;
use crate::error::Error;

#[derive(Default)]
pub struct ExportsMutation;

#[Object]
impl ExportsMutation {
    /// A URL, relative to the service (`/{tenant}/exports/...&expires=...&tokenId=...&sig=...`),
    /// that downloads `path` (`exports/<report>.csv?<parameters>`, such as
    /// `exports/trial-balance.csv?asOf=2026-12-31`) without a header for 5 minutes, as
    /// long as this token stays valid. Needs only `READ` (it writes nothing: the one
    /// mutation a read-only token may run). Anything but an export with its own
    /// parameters is `BAD_USER_INPUT` on `path`.
    async fn create_export_link(&self, ctx: &Context<'_>, path: String) -> async_graphql::Result<String> {
        let db = tenant_db(ctx)?;
        let token_id = actor(ctx)?
            .token_id
            .ok_or_else(|| Error::Forbidden("only an API token can make an export link".into()))?;
        let links = ctx
            .data::<ExportLinks>()
            .map_err(|_| Error::Internal(anyhow::anyhow!("tenant schema executed without ExportLinks")))?;
        Ok(links.create(&db.slug, &path, token_id)?)
    }
}
