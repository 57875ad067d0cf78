//! The tenant schema. Resolvers reach a database only through the [`TenantDb`] put
//! into their request by the HTTP layer: there is no global connection here.

mod accounts;
pub mod cache;
mod company;
mod journal;
mod reports;

use std::sync::Arc;

use std::sync::Mutex;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest};
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, MergedObject, Request, Schema, SchemaBuilder, ServerResult, Variables,
};
use sea_orm::DatabaseConnection;

use crate::error::Error;
use crate::tenancy::tokens::Scope;

pub type TenantSchema = Schema<TenantQuery, TenantMutation, EmptySubscription>;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct TenantQuery(
    company::CompanyQuery,
    accounts::AccountsQuery,
    journal::JournalQuery,
    reports::ReportsQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct TenantMutation(
    company::CompanyMutation,
    accounts::AccountsMutation,
    journal::JournalMutation,
);

/// The tenant a request is for: its slug, its own database, what its token may do.
#[derive(Clone)]
pub struct TenantDb {
    pub slug: String,
    pub conn: DatabaseConnection,
    pub scopes: Vec<Scope>,
    /// Request-scoped batching of reads (see `cache`).
    pub cache: Arc<cache::LedgerCache>,
    /// The selected operation's type (`query`, `mutation`), set once parsed; for metrics.
    pub operation: Arc<std::sync::OnceLock<&'static str>>,
}

/// An `ID` argument as a UUID, or `BAD_USER_INPUT` naming the field.
pub fn parse_id(id: &async_graphql::ID, field: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::parse_str(id).map_err(|_| Error::bad_input(field, "not an id of this API"))
}

/// The request's tenant database. Missing data is a server bug, reported as INTERNAL.
pub fn tenant_db<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a TenantDb> {
    ctx.data::<TenantDb>()
        .map_err(|_| Error::Internal(anyhow::anyhow!("tenant schema executed without a TenantDb")).extend())
}

pub fn builder() -> SchemaBuilder<TenantQuery, TenantMutation, EmptySubscription> {
    Schema::build(TenantQuery::default(), TenantMutation::default(), EmptySubscription).extension(ScopeCheck)
}

/// The schema as described (for the SDL).
pub fn schema() -> TenantSchema {
    builder().finish()
}

/// The schema as served, with the request limits.
pub fn schema_with(limits: &crate::config::ApiLimits) -> TenantSchema {
    crate::graphql::limited(builder(), limits).finish()
}

/// Refuses mutations to tokens without the WRITE scope, in one place for every
/// mutation, before any resolver runs. One instance per request.
struct ScopeCheck;

impl ExtensionFactory for ScopeCheck {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ScopeCheckRequest::default())
    }
}

#[derive(Default)]
struct ScopeCheckRequest {
    /// The operation the request selects, remembered from `prepare_request`.
    operation_name: Mutex<Option<String>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for ScopeCheckRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        *self.operation_name.lock().unwrap_or_else(|p| p.into_inner()) = request.operation_name.clone();
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let wanted = self.operation_name.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let selected_type = match (&document.operations, wanted) {
            (DocumentOperations::Single(op), _) => Some(op.node.ty),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str()).map(|op| op.node.ty),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
            (DocumentOperations::Multiple(_), None) => None,
        };
        if let (Ok(db), Some(ty)) = (ctx.data::<TenantDb>(), selected_type) {
            let _ = db.operation.set(match ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            });
        }
        if selected_type == Some(OperationType::Mutation) {
            let may_write = ctx
                .data::<TenantDb>()
                .map(|db| db.scopes.contains(&Scope::Write))
                .unwrap_or(false);
            if !may_write {
                let err = Error::Forbidden("this token may only read (it lacks the WRITE scope)".into()).extend();
                return Err(err.into_server_error(Default::default()));
            }
        }
        Ok(document)
    }
}
