//! The tenant schema. Resolvers reach a database only through the [`TenantDb`] put
//! into their request by the HTTP layer: there is no global connection here.

mod accounts;
pub mod answer_shape;
mod audit;
pub mod cache;
mod company;
mod exports;
mod fiscal;
mod imports;
mod journal;
mod reports;
mod statements;

use std::sync::Arc;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Context, EmptySubscription, ErrorExtensions, MergedObject, Request, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use crate::error::Error;
use crate::ledger::actor::Actor;
use crate::tenancy::tokens::Scope;

pub type TenantSchema = Schema<TenantQuery, TenantMutation, EmptySubscription>;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct TenantQuery(
    company::CompanyQuery,
    accounts::AccountsQuery,
    journal::JournalQuery,
    reports::ReportsQuery,
    statements::StatementsQuery,
    fiscal::FiscalQuery,
    audit::AuditQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct TenantMutation(
    company::CompanyMutation,
    accounts::AccountsMutation,
    journal::JournalMutation,
    fiscal::FiscalMutation,
    imports::ImportsMutation,
    exports::ExportsMutation,
);

/// The tenant a request is for: its slug, its own database, what its token may do.
#[derive(Clone)]
pub struct TenantDb {
    pub slug: String,
    pub conn: DatabaseConnection,
    pub scopes: Vec<Scope>,
    /// Request-scoped batching of reads (see `cache`).
    pub cache: Arc<cache::LedgerCache>,
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

/// Who the request acts as (put into the request beside its [`TenantDb`]): the mutations
/// record it on entries and in the audit log. Missing data is a server bug (INTERNAL).
pub fn actor<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Actor> {
    ctx.data::<Actor>()
        .map_err(|_| Error::Internal(anyhow::anyhow!("tenant schema executed without an Actor")).extend())
}

pub fn builder() -> SchemaBuilder<TenantQuery, TenantMutation, EmptySubscription> {
    Schema::build(TenantQuery::default(), TenantMutation::default(), EmptySubscription)
}

/// The schema as described (for the SDL).
pub fn schema() -> TenantSchema {
    builder().finish()
}

/// The schema as served, with the request limits.
pub fn schema_with(limits: &crate::config::ApiLimits) -> TenantSchema {
    crate::graphql::limited(builder(), limits).finish()
}

/// The type of the operation a request selects, parsing its document once (the parsed
/// document stays in the request and is what executes). `None` when the document does
/// not parse or does not say which operation to run: execution reports that.
pub fn selected_operation(request: &mut Request) -> Option<OperationType> {
    let wanted = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    match (&document.operations, wanted) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str()).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The refusal of a mutation whose answer would nest lists (see [`answer_shape`]); `None`
/// for other operations and for documents that do not parse (execution reports those).
pub fn check_answer_shape(request: &mut Request, operation: Option<OperationType>) -> Option<Error> {
    if operation != Some(OperationType::Mutation) {
        return None;
    }
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    answer_shape::mutation_answer_refusal(document, name.as_deref())
}

/// Mutations that write nothing and so need only READ, the one exception to "mutations
/// need WRITE": `createExportLink` signs a download of what the token may read anyway.
pub const READ_ONLY_MUTATIONS: [&str; 1] = ["createExportLink"];

/// A selected query needs the READ scope, a selected mutation the WRITE scope, unless
/// every field it selects at its root is one of [`READ_ONLY_MUTATIONS`] (then READ).
/// (A document that selects no operation fails at execution, before any resolver.)
pub fn check_scope(request: &mut Request, operation: Option<OperationType>, scopes: &[Scope]) -> Result<(), Error> {
    let needed = match operation {
        Some(OperationType::Mutation) if only_read_only_mutations(request) => Scope::Read,
        Some(OperationType::Mutation) => Scope::Write,
        Some(OperationType::Query) => Scope::Read,
        Some(OperationType::Subscription) | None => return Ok(()),
    };
    require_scope(scopes, needed)
}

/// `FORBIDDEN` unless the token has `needed` (every route of a tenant asks here).
pub fn require_scope(scopes: &[Scope], needed: Scope) -> Result<(), Error> {
    let refusal = match needed {
        Scope::Read => "this token may only write (it lacks the READ scope)",
        Scope::Write => "this token may only read (it lacks the WRITE scope)",
    };
    if scopes.contains(&needed) {
        Ok(())
    } else {
        Err(Error::Forbidden(refusal.into()))
    }
}

/// Whether the selected operation's root selects only [`READ_ONLY_MUTATIONS`] (and
/// `__typename`). A fragment at the root counts as writing: the exception is kept to
/// what can be read at a glance.
fn only_read_only_mutations(request: &mut Request) -> bool {
    use async_graphql::parser::types::Selection;
    let wanted = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    let operation = match (&document.operations, wanted) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name.as_str()) {
            Some(op) => op,
            None => return false,
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => return false,
        },
        (DocumentOperations::Multiple(_), None) => return false,
    };
    let items = &operation.node.selection_set.node.items;
    !items.is_empty()
        && items.iter().all(|item| match &item.node {
            Selection::Field(field) => {
                let name = field.node.name.node.as_str();
                name == "__typename" || READ_ONLY_MUTATIONS.contains(&name)
            }
            Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selected_operation_decides_the_scope() {
        let mut both = Request::new("query Q { company { name } } mutation M { updateCompany(input: {}) { name } }");
        assert_eq!(selected_operation(&mut both), None, "ambiguous without a name");
        let mut query = Request::new("query Q { company { name } } mutation M { updateCompany(input: {}) { name } }")
            .operation_name("Q");
        assert_eq!(selected_operation(&mut query), Some(OperationType::Query));
        let mut mutation = Request::new("mutation { updateCompany(input: {}) { name } }");
        let selected = selected_operation(&mut mutation);
        assert_eq!(selected, Some(OperationType::Mutation));
        assert!(check_scope(&mut mutation, selected, &[Scope::Read]).is_err());
        assert!(check_scope(&mut mutation, selected, &[Scope::Read, Scope::Write]).is_ok());
        let mut read = Request::new("{ company { name } }");
        assert!(check_scope(&mut read, Some(OperationType::Query), &[Scope::Read]).is_ok());
        assert!(
            check_scope(&mut read, Some(OperationType::Query), &[Scope::Write]).is_err(),
            "WRITE alone cannot read"
        );
        assert!(check_scope(&mut mutation, selected, &[Scope::Write]).is_ok());
        assert_eq!(selected_operation(&mut Request::new("{ nope")), None);
    }

    #[test]
    fn create_export_link_alone_needs_only_read() {
        let link = r#"createExportLink(path: "exports/accounts.csv")"#;
        let mut alone = Request::new(format!("mutation {{ {link} __typename }}"));
        let selected = selected_operation(&mut alone);
        assert!(check_scope(&mut alone, selected, &[Scope::Read]).is_ok());
        assert!(
            check_scope(&mut alone, selected, &[Scope::Write]).is_err(),
            "it needs READ"
        );
        let mut with_a_write = Request::new(format!("mutation {{ {link} updateCompany(input: {{}}) {{ name }} }}"));
        let selected = selected_operation(&mut with_a_write);
        assert!(check_scope(&mut with_a_write, selected, &[Scope::Read]).is_err());
        let mut through_a_fragment = Request::new(format!("mutation {{ ...F }} fragment F on Mutation {{ {link} }}"));
        let selected = selected_operation(&mut through_a_fragment);
        assert!(check_scope(&mut through_a_fragment, selected, &[Scope::Read]).is_err());
        let mut named = Request::new(format!(
            "mutation A {{ {link} }} mutation B {{ updateCompany(input: {{}}) {{ name }} }}"
        ))
        .operation_name("A");
        let selected = selected_operation(&mut named);
        assert!(check_scope(&mut named, selected, &[Scope::Read]).is_ok());
    }
}
