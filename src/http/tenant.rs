//! `POST /{tenant}/graphql` and its GraphiQL page: slug -> registry -> token ->
//! tenant pool -> `TenantDb` in the request -> the tenant schema.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_graphql::{BatchRequest, BatchResponse, ErrorExtensions, ServerError};
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use super::auth::verify_tenant_token;
use super::body::{code_uncoded_errors, operation_name, parse_graphql_body};
use super::AppState;
use crate::entities::registry::tenants::TenantStatus;
use crate::error::{Error, Result};
use crate::graphql::tenant::{check_scope, selected_operation, TenantDb, TenantSchema};
use crate::tenancy::slug::TenantSlug;

fn parse_slug(path: std::result::Result<Path<String>, PathRejection>) -> Result<TenantSlug> {
    let Path(raw) = path.map_err(|_| Error::InvalidTenantSlug("the path segment is not valid UTF-8".into()))?;
    TenantSlug::parse(&raw).map_err(Error::InvalidTenantSlug)
}

/// What a request was, for the metrics (bounded labels only).
struct Observed {
    tenant: Option<String>,
    operation: &'static str,
}

pub async fn graphql(
    State(state): State<AppState>,
    path: std::result::Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let mut observed = Observed {
        tenant: None,
        operation: "unknown",
    };
    let (response, result) = match serve(&state, path, headers, body, &mut observed).await {
        Ok((response, result)) => (response, result),
        Err(err) => {
            let code = err.code();
            (err.into_response(), code)
        }
    };
    state.metrics.observe_request(
        observed.tenant.as_deref(),
        observed.operation,
        result,
        started.elapsed(),
    );
    response
}

async fn serve(
    state: &AppState,
    path: std::result::Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
    observed: &mut Observed,
) -> Result<(Response, &'static str)> {
    let span = tracing::Span::current();
    let slug = parse_slug(path)?;
    let tenant = state
        .services
        .directory
        .tenant(&slug)
        .await?
        .ok_or(Error::TenantNotFound)?;
    span.record("tenant", tenant.slug.as_str());
    match tenant.status {
        TenantStatus::Deleted => return Err(Error::TenantNotFound),
        TenantStatus::Provisioning => {
            return Err(Error::TenantUnavailable("the tenant is still being provisioned".into()))
        }
        TenantStatus::Active | TenantStatus::Suspended => {}
    }
    let scopes = verify_tenant_token(&state.services.directory, &tenant, &headers).await?;
    observed.tenant = Some(tenant.slug.clone());
    if tenant.status == TenantStatus::Suspended {
        return Err(Error::TenantSuspended);
    }
    refuse_outdated_schema(&tenant)?;
    let mut request = parse_graphql_body(body, &state.limits)?;
    span.record("operation", operation_name(&request).as_str());
    // Each document is parsed at most once here (or taken from the cache); one that does
    // not parse selects no operation, and execution reports its syntax error.
    let operations: Vec<_> = request
        .iter_mut()
        .map(|one| state.documents.prepare(one).then(|| selected_operation(one)).flatten())
        .collect();
    observed.operation = match &request {
        BatchRequest::Single(_) => operation_kind(operations.first().copied().flatten()),
        BatchRequest::Batch(_) => "batch",
    };
    // A READ token's mutation is refused inside GraphQL (API.md lists FORBIDDEN among the
    // errors of a GraphQL response): nothing of it runs; other operations of a batch do.
    let refusals: Vec<Option<Error>> = operations
        .into_iter()
        .map(|operation| check_scope(operation, &scopes).err())
        .collect();
    if !refusals.is_empty() && refusals.iter().all(Option::is_some) {
        // Nothing may run (`execute` only answers refusals), so no pool is touched.
        let response = execute(&state.tenant_schema, request, refusals).await;
        return Ok((GraphQLResponse::from(response).into_response(), "FORBIDDEN"));
    }
    let lease = state.services.connections.get(&tenant).await?;
    // Count the statements this request sends: a regression to N+1 shows in /metrics.
    let statements = Arc::new(AtomicU64::new(0));
    let mut conn = lease.conn.clone();
    let counter = statements.clone();
    conn.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let request = request.data(TenantDb {
        slug: tenant.slug.clone(),
        conn,
        scopes,
        cache: Default::default(),
    });
    let executed = tokio::time::timeout(
        state.limits.request_timeout,
        execute(&state.tenant_schema, request, refusals),
    )
    .await;
    drop(lease);
    let mut response = executed.map_err(|_| Error::Timeout(state.limits.request_timeout.as_millis()))?;
    state.metrics.observe_statements(statements.load(Ordering::Relaxed));
    code_uncoded_errors(&mut response);
    let database_lost = response_has_code(&response, "TENANT_UNAVAILABLE");
    let failed = response_has_errors(&response);
    let mut http = GraphQLResponse::from(response).into_response();
    if database_lost {
        // The pool's connections died under us: answer 503 as API.md says, and let the
        // next request reopen the pool (with backoff) instead of reusing dead connections.
        state.services.connections.invalidate(&tenant.slug);
        *http.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
        return Ok((http, "TENANT_UNAVAILABLE"));
    }
    Ok((http, if failed { "error" } else { "ok" }))
}

/// Runs the operations of `request` except the refused ones, which answer their refusal.
/// A batch runs concurrently with its responses in order, as `Schema::execute_batch` does.
async fn execute(schema: &TenantSchema, request: BatchRequest, refusals: Vec<Option<Error>>) -> BatchResponse {
    let answer = |one: async_graphql::Request, refusal: Option<Error>| async move {
        match refusal {
            Some(refusal) => refused(refusal),
            None => schema.execute(one).await,
        }
    };
    let mut refusals = refusals.into_iter();
    match request {
        BatchRequest::Single(one) => BatchResponse::Single(answer(one, refusals.next().flatten()).await),
        BatchRequest::Batch(many) => BatchResponse::Batch(
            futures::future::join_all(many.into_iter().map(|one| answer(one, refusals.next().flatten()))).await,
        ),
    }
}

/// The GraphQL response of an operation that may not run: no data, the coded error.
fn refused(refusal: Error) -> async_graphql::Response {
    let coded = refusal.extend();
    let mut error = ServerError::new(coded.message, None);
    error.extensions = coded.extensions;
    async_graphql::Response::from_errors(vec![error])
}

fn response_has_errors(response: &async_graphql::BatchResponse) -> bool {
    match response {
        async_graphql::BatchResponse::Single(one) => !one.errors.is_empty(),
        async_graphql::BatchResponse::Batch(many) => many.iter().any(|r| !r.errors.is_empty()),
    }
}

/// GraphiQL pointed at this tenant. The page needs no token; queries from it do.
pub async fn graphiql(path: std::result::Result<Path<String>, PathRejection>) -> Result<Html<String>> {
    let slug = parse_slug(path)?;
    let endpoint = format!("/{slug}/graphql");
    Ok(Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint(&endpoint)
            .title(&format!("Nusa Journal — {slug}"))
            .finish(),
    ))
}

fn response_has_code(response: &async_graphql::BatchResponse, code: &str) -> bool {
    let responses: Vec<&async_graphql::Response> = match response {
        async_graphql::BatchResponse::Single(one) => vec![one],
        async_graphql::BatchResponse::Batch(many) => many.iter().collect(),
    };
    responses.iter().flat_map(|r| r.errors.iter()).any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|value| *value == async_graphql::Value::from(code))
    })
}

/// A tenant whose schema is behind this binary is refused rather than migrated on the
/// request path: migrations are an operator's step (`migrate tenants`), run before a
/// new version takes traffic. A schema ahead of the binary (during a rollout) is served.
fn refuse_outdated_schema(tenant: &crate::entities::registry::tenants::Model) -> Result<()> {
    let expected = migration::latest_version();
    match tenant.schema_version.as_deref() {
        Some(version) if version >= expected.as_str() => Ok(()),
        _ => Err(Error::TenantUnavailable(
            "the tenant's database schema is behind this version of the service; \
             an operator must run `nusa-journal migrate tenants`"
                .into(),
        )),
    }
}

fn operation_kind(operation: Option<async_graphql::parser::types::OperationType>) -> &'static str {
    use async_graphql::parser::types::OperationType;
    match operation {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}
