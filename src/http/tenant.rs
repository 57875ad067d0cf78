//! `/{tenant}/graphql`: a tenant's GraphQL over HTTP, in three steps.
//!
//! - (a) [`AuthorisedTenant`], an extractor: slug -> tenant row (directory) -> status ->
//!   bearer token -> schema version. No tenant pool is touched before it succeeds.
//! - (b) [`prepare`]: each document parsed once (or taken from the cache), the type of
//!   operation it selects, and the operations the token's scopes refuse.
//! - (c) [`execute`]: a lease on the tenant's pool, the statement counter, the request
//!   timeout, codes for errors no resolver coded, and 503 when the database went away
//!   (the pool is dropped) or every connection of the pool stayed busy (it is kept).
//!
//! Between (a) and (b) the request takes one of its tenant's places in flight
//! (`TENANT_MAX_IN_FLIGHT`, else 429 `RATE_LIMITED`), and only then is the body read:
//! an anonymous caller never gets a body read, nor a tenant past its cap.
//!
//! `POST` reads a JSON body. `GET` serves GraphiQL to a browser, or runs a query from
//! the URL parameters (GraphQL over HTTP; never a mutation). Both end in [`answer`], the
//! one place where a request's metrics are recorded.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::auth::{verify_link_token, verify_tenant_token};
use super::body::{
    code_uncoded_errors, error_response, get_request, graphql_response, mutation_over_get, no_store, operation_name,
    parse_graphql_body, Transport,
};
use super::negotiation::{response_media, wanted, ResponseMedia, Wanted};
use super::{graphiql, AppState};
use crate::entities::registry::tenants::{self, TenantStatus};
use crate::error::{Error, Result, RETRY_AFTER_SECONDS};
use crate::graphql::budget::{only_error, RequestBudget};
use crate::graphql::tenant::{check_answer_shape, check_scope, selected_operation, TenantDb, TenantSchema};
use crate::graphql::variable_uses::variable_uses_refusal;
use crate::ledger::actor::Actor;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::Scope;

/// `POST /{tenant}/graphql`: a JSON body, one request or a batch, read only once the
/// slug and the token passed and the tenant has a place in flight.
pub async fn post(State(state): State<AppState>, received: Received, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let media = response_media(&parts.headers);
    let tenant = AuthorisedTenant::from_request_parts(&mut parts, &state).await;
    let limits = &state.limits;
    let read = async move {
        // `Bytes` applies the router's `DefaultBodyLimit` (kept in the parts' extensions).
        let body = Bytes::from_request(Request::from_parts(parts, body), &()).await;
        parse_graphql_body(body, limits)
    };
    answer(&state, received, tenant, read, Transport::Post, media).await
}

/// `GET /{tenant}/graphql`: GraphiQL for a browser (no token needed for the page);
/// otherwise a query from the URL parameters, with the same steps as a POST.
pub async fn get(State(state): State<AppState>, received: Received, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let media = match wanted(&parts.headers) {
        Wanted::Page => return graphiql_page(&mut parts, &state).await,
        Wanted::Response(media) => media,
    };
    let tenant = AuthorisedTenant::from_request_parts(&mut parts, &state).await;
    let query = parts.uri.query().map(str::to_owned);
    let read = async move { get_request(query.as_deref()) };
    no_store(answer(&state, received, tenant, read, Transport::Get, media).await)
}

/// GraphiQL pointed at this tenant: the slug must be valid, the tenant is not looked up.
async fn graphiql_page(parts: &mut Parts, state: &AppState) -> Response {
    match parse_slug(Path::<String>::from_request_parts(parts, state).await) {
        Ok(slug) => graphiql::page(&format!("Nusa Journal — {slug}"), &format!("/{slug}/graphql")),
        Err(error) => error_response(error, ResponseMedia::Json),
    }
}

/// When the request arrived. The first extractor of a handler, so the latency in the
/// metrics includes step (a) and reading the body.
pub struct Received(pub(super) Instant);

impl<S: Send + Sync> FromRequestParts<S> for Received {
    type Rejection = Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> std::result::Result<Self, Infallible> {
        Ok(Received(Instant::now()))
    }
}

// --- (a) the authorised tenant -------------------------------------------------------

/// A request's tenant, checked: the slug names a tenant that is neither deleted nor still
/// being provisioned, the bearer token is one of its own, the tenant is not suspended and
/// its database schema is not behind this binary.
pub struct AuthorisedTenant {
    pub tenant: tenants::Model,
    /// What the token may do.
    pub scopes: Vec<Scope>,
    /// The token as the books record it (id and name).
    pub actor: Actor,
}

/// Why step (a) refused a request; `tenant` is the slug once the token proved the caller
/// belongs to it (a metrics label: anonymous callers must not create labels).
pub struct Refused {
    pub tenant: Option<String>,
    pub error: Error,
}

impl Refused {
    /// The tenant label (once the token was verified) and the error, for another
    /// handler that records its own metrics.
    pub(super) fn into_parts(self) -> (Option<String>, Error) {
        (self.tenant, self.error)
    }
}

/// The refusal as it is. The handlers here take `Result<AuthorisedTenant, Refused>`
/// instead, so that [`answer`] counts refusals in the metrics too.
impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.error.into_response()
    }
}

impl FromRequestParts<AppState> for AuthorisedTenant {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> std::result::Result<Self, Refused> {
        let anonymous = |error| Refused { tenant: None, error };
        let slug = parse_slug(Path::<String>::from_request_parts(parts, state).await).map_err(anonymous)?;
        AuthorisedTenant::authorise(state, &slug, Credential::Bearer(&parts.headers)).await
    }
}

/// How a caller proves it acts for a tenant.
pub enum Credential<'a> {
    /// `Authorization: Bearer <token>`.
    Bearer(&'a HeaderMap),
    /// A signed export link whose signature was checked; the id of the token that made it.
    Link(uuid::Uuid),
}

impl AuthorisedTenant {
    /// Step (a) for the tenant `slug`: its row, its status, the credential, its schema.
    pub async fn authorise(
        state: &AppState,
        slug: &TenantSlug,
        credential: Credential<'_>,
    ) -> std::result::Result<Self, Refused> {
        let anonymous = |error| Refused { tenant: None, error };
        let tenant = state
            .services
            .directory
            .tenant(slug)
            .await
            .map_err(anonymous)?
            .ok_or(Error::TenantNotFound)
            .map_err(anonymous)?;
        tracing::Span::current().record("tenant", tenant.slug.as_str());
        match tenant.status {
            TenantStatus::Deleted => return Err(anonymous(Error::TenantNotFound)),
            TenantStatus::Provisioning => {
                return Err(anonymous(Error::TenantUnavailable(
                    "the tenant is still being provisioned".into(),
                )))
            }
            TenantStatus::Active | TenantStatus::Suspended => {}
        }
        let verified = match credential {
            Credential::Bearer(headers) => verify_tenant_token(&state.services.directory, &tenant, headers).await,
            Credential::Link(token_id) => verify_link_token(&state.services.registry, &tenant, token_id).await,
        };
        let (scopes, actor) = verified.map_err(anonymous)?;
        let known = |error| Refused {
            tenant: Some(tenant.slug.clone()),
            error,
        };
        if tenant.status == TenantStatus::Suspended {
            return Err(known(Error::TenantSuspended));
        }
        refuse_outdated_schema(&tenant).map_err(known)?;
        Ok(AuthorisedTenant { tenant, scopes, actor })
    }
}

fn parse_slug(path: std::result::Result<Path<String>, PathRejection>) -> Result<TenantSlug> {
    let Path(raw) = path.map_err(|_| Error::InvalidTenantSlug("the path segment is not valid UTF-8".into()))?;
    TenantSlug::parse(&raw).map_err(Error::InvalidTenantSlug)
}

/// When the request arrived (see [`Received`]).
impl Received {
    pub fn at(&self) -> Instant {
        self.0
    }
}

/// A tenant whose schema is behind this binary is refused rather than migrated on the
/// request path: migrations are an operator's step (`migrate tenants`), run before a
/// new version takes traffic. A schema ahead of the binary (during a rollout) is served.
fn refuse_outdated_schema(tenant: &tenants::Model) -> Result<()> {
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

// --- (b) the prepared documents ------------------------------------------------------

/// A request whose documents are parsed, with what step (c) needs to know about them.
struct Prepared {
    request: BatchRequest,
    /// The type of operation each document selects; `None` when it does not parse or
    /// does not say which operation to run (execution reports that).
    operations: Vec<Option<OperationType>>,
    /// Per operation, the refusal of the token's scopes, if any.
    refusals: Vec<Option<Error>>,
}

/// Each document is parsed at most once here (or taken from the cache) and the parsed
/// document stays in the request, so the scopes are checked on what executes. A READ
/// token's mutation is refused inside GraphQL (API.md lists FORBIDDEN among the errors
/// of a GraphQL response): nothing of it runs; other operations of a batch do.
fn prepare(state: &AppState, mut request: BatchRequest, scopes: &[Scope]) -> Prepared {
    tracing::Span::current().record("operation", operation_name(&request).as_str());
    let operations: Vec<_> = request
        .iter_mut()
        .map(|one| state.documents.prepare(one).then(|| selected_operation(one)).flatten())
        .collect();
    let refusals = request
        .iter_mut()
        .zip(&operations)
        .map(|(one, operation)| {
            check_scope(one, *operation, scopes)
                .err()
                .or_else(|| check_answer_shape(one, *operation))
                .or_else(|| variable_uses_refusal(one, state.limits.max_body_bytes * 2))
        })
        .collect();
    Prepared {
        request,
        operations,
        refusals,
    }
}

impl Prepared {
    /// The `operation` label of the metrics.
    fn kind(&self) -> &'static str {
        match (&self.request, self.operations.as_slice()) {
            (BatchRequest::Single(_), [operation]) => operation_kind(*operation),
            (BatchRequest::Single(_), _) => "unknown",
            (BatchRequest::Batch(_), _) => "batch",
        }
    }

    fn selects_mutation(&self) -> bool {
        self.operations.contains(&Some(OperationType::Mutation))
    }

    /// Nothing may run: every operation was refused.
    fn all_refused(&self) -> bool {
        !self.refusals.is_empty() && self.refusals.iter().all(Option::is_some)
    }

    /// The code of the first refusal (the metrics' `result` when nothing ran).
    fn refusal_code(&self) -> &'static str {
        self.refusals
            .iter()
            .flatten()
            .map(Error::code)
            .next()
            .unwrap_or("FORBIDDEN")
    }
}

fn operation_kind(operation: Option<OperationType>) -> &'static str {
    match operation {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

// --- (c) execution -------------------------------------------------------------------

/// What running a prepared request gave.
struct Executed {
    response: BatchResponse,
    /// SQL statements sent (none when every operation was refused: no pool was touched).
    statements: Option<u64>,
    /// The tenant's database went away under the request (503, pool dropped).
    database_lost: bool,
    /// Every connection of the tenant's pool stayed busy past the acquire timeout (503
    /// with `Retry-After`; the pool is kept: the database is there, only busy).
    pool_busy: bool,
}

/// Runs the operations that were not refused on the tenant's own database, within the
/// request's budget (values, bytes, deadline; see `graphql::budget`). A request that
/// selects a mutation has no outer timeout: its statements are bounded by the
/// connection's `statement_timeout`, and it must not answer an error for data it
/// committed. Its queries still stop at the deadline, each with its own `TIMEOUT`.
async fn execute(state: &AppState, tenant: &AuthorisedTenant, prepared: Prepared) -> Result<Executed> {
    let all_refused = prepared.all_refused();
    let writes = prepared.selects_mutation();
    let Prepared {
        request,
        operations,
        refusals,
    } = prepared;
    let budget = RequestBudget::new(&state.limits);
    if all_refused {
        // `run` only answers refusals here, so no pool is touched.
        return Ok(Executed {
            response: run(&state.tenant_schema, request, &operations, refusals, &budget).await,
            statements: None,
            database_lost: false,
            pool_busy: false,
        });
    }
    let lease = state.services.connections.get(&tenant.tenant).await?;
    // Count the statements this request sends: a regression to N+1 shows in /metrics.
    let statements = Arc::new(AtomicU64::new(0));
    let mut conn = lease.conn.clone();
    let counter = statements.clone();
    conn.set_metric_callback(move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let request = request
        .data(TenantDb {
            slug: tenant.tenant.slug.clone(),
            conn,
            scopes: tenant.scopes.clone(),
            cache: Default::default(),
        })
        .data(tenant.actor.clone())
        .data(state.exports.links.clone());
    let running = run(&state.tenant_schema, request, &operations, refusals, &budget);
    let executed = if writes {
        Ok(running.await)
    } else {
        tokio::time::timeout(state.limits.request_timeout, running).await
    };
    let timeout = || Error::Timeout(state.limits.request_timeout.as_millis());
    let mut response = executed.map_err(|_| timeout())?;
    if budget.timed_out() && !writes {
        return Err(timeout());
    }
    code_uncoded_errors(&mut response);
    let unavailable = response_has_code(&response, "TENANT_UNAVAILABLE");
    // A connection that could not be had in time is either a busy pool (every
    // connection in use: the database is fine) or a database that cannot be reached
    // (the pool is not full: opening a connection failed). Only the second drops the pool.
    let pool_busy = unavailable && lease.saturated();
    let database_lost = unavailable && !pool_busy;
    drop(lease);
    if pool_busy {
        state.services.connections.stats.pool_busy.inc();
        tracing::warn!(tenant.slug = %tenant.tenant.slug, "every connection of the tenant's pool stayed busy");
    } else if database_lost {
        // The pool's connections died under us: let the next request reopen the pool
        // (with backoff) instead of reusing dead connections.
        state.services.connections.invalidate(&tenant.tenant.slug);
    }
    Ok(Executed {
        response,
        statements: Some(statements.load(Ordering::Relaxed)),
        database_lost,
        pool_busy,
    })
}

/// Runs the operations of `request` except the refused ones, which answer their refusal.
/// Queries share `budget`; mutations are not counted. A batch runs concurrently with
/// its responses in order, as `Schema::execute_batch` does.
async fn run(
    schema: &TenantSchema,
    request: BatchRequest,
    operations: &[Option<OperationType>],
    refusals: Vec<Option<Error>>,
    budget: &Arc<RequestBudget>,
) -> BatchResponse {
    let answer = |one: async_graphql::Request, operation: Option<OperationType>, refusal: Option<Error>| async move {
        match (refusal, operation) {
            (Some(refusal), _) => only_error(refusal),
            // Not counted (their answers are bounded by `answer_shape` before they run),
            // but they yield like queries, so a long answer never holds a worker thread.
            (None, Some(OperationType::Mutation)) => schema.execute(one.data(RequestBudget::yielding_only())).await,
            (None, _) => schema.execute(one.data(budget.clone())).await,
        }
    };
    let mut refusals = refusals.into_iter();
    let mut operations = operations.iter().copied();
    let mut next = || (operations.next().flatten(), refusals.next().flatten());
    match request {
        BatchRequest::Single(one) => {
            let (operation, refusal) = next();
            BatchResponse::Single(answer(one, operation, refusal).await)
        }
        BatchRequest::Batch(many) => BatchResponse::Batch(
            futures::future::join_all(many.into_iter().map(|one| {
                let (operation, refusal) = next();
                answer(one, operation, refusal)
            }))
            .await,
        ),
    }
}

fn responses(response: &BatchResponse) -> Vec<&async_graphql::Response> {
    match response {
        BatchResponse::Single(one) => vec![one],
        BatchResponse::Batch(many) => many.iter().collect(),
    }
}

fn response_has_code(response: &BatchResponse, code: &str) -> bool {
    responses(response).iter().flat_map(|r| r.errors.iter()).any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|value| *value == async_graphql::Value::from(code))
    })
}

// --- the answer, and the one place of the metrics ------------------------------------

/// What a request came to: its response and its labels in the metrics.
struct Outcome {
    response: Response,
    /// The tenant's slug once its token was verified.
    tenant: Option<String>,
    operation: &'static str,
    /// `ok`, `error` (a GraphQL response with errors) or the code that ended the request.
    result: &'static str,
    statements: Option<u64>,
}

impl Outcome {
    fn failed(tenant: Option<String>, operation: &'static str, error: Error, media: ResponseMedia) -> Outcome {
        Outcome {
            result: error.code(),
            response: error_response(error, media),
            tenant,
            operation,
            statements: None,
        }
    }
}

/// Steps (b) and (c) for a request that passed step (a), and the one place where every
/// tenant GraphQL request, answered or refused, is recorded in the metrics.
async fn answer(
    state: &AppState,
    received: Received,
    tenant: std::result::Result<AuthorisedTenant, Refused>,
    read: impl Future<Output = Result<BatchRequest>>,
    transport: Transport,
    media: ResponseMedia,
) -> Response {
    let outcome = match tenant {
        Err(Refused { tenant, error }) => Outcome::failed(tenant, "unknown", error, media),
        Ok(tenant) => serve(state, &tenant, read, transport, media).await,
    };
    if let Some(statements) = outcome.statements {
        state.metrics.observe_statements(statements);
    }
    state.metrics.observe_request(
        outcome.tenant.as_deref(),
        outcome.operation,
        outcome.result,
        received.0.elapsed(),
    );
    outcome.response
}

async fn serve(
    state: &AppState,
    tenant: &AuthorisedTenant,
    read: impl Future<Output = Result<BatchRequest>>,
    transport: Transport,
    media: ResponseMedia,
) -> Outcome {
    let label = Some(tenant.tenant.slug.clone());
    // Held until the response is built (and dropped with the request if the client leaves).
    let _admitted = match state.admission.admit(tenant.tenant.id) {
        Ok(admitted) => admitted,
        Err(error) => return Outcome::failed(label, "unknown", error, media),
    };
    let request = match read.await {
        Ok(request) => request,
        Err(error) => return Outcome::failed(label, "unknown", error, media),
    };
    let prepared = prepare(state, request, &tenant.scopes);
    let operation = prepared.kind();
    if transport == Transport::Get && prepared.selects_mutation() {
        return Outcome {
            response: mutation_over_get(media),
            tenant: label,
            operation,
            result: "BAD_REQUEST",
            statements: None,
        };
    }
    if tenant.tenant.writes_paused && prepared.selects_mutation() {
        let paused = Error::writes_paused();
        return Outcome::failed(label, operation, paused, media);
    }
    let all_refused = prepared.all_refused();
    let refusal_code = prepared.refusal_code();
    let executed = match execute(state, tenant, prepared).await {
        Ok(executed) => executed,
        Err(error) => return Outcome::failed(label, operation, error, media),
    };
    // A write the tenant's database refused because its writes are withdrawn (an
    // instance that had not yet heard of a restore's pause): the pause's HTTP answer.
    let paused = response_has_code(&executed.response, "TENANT_READ_ONLY");
    let result = if all_refused {
        refusal_code
    } else if paused {
        "TENANT_READ_ONLY"
    } else if executed.database_lost || executed.pool_busy {
        "TENANT_UNAVAILABLE"
    } else if responses(&executed.response).iter().any(|r| !r.errors.is_empty()) {
        "error"
    } else {
        "ok"
    };
    let mut response = graphql_response(executed.response, media);
    if executed.database_lost || executed.pool_busy {
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    if executed.pool_busy {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, RETRY_AFTER_SECONDS.into());
    }
    if paused {
        let pause = Error::TenantReadOnly(String::new());
        *response.status_mut() = pause.status();
        if let Some(seconds) = pause.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
    }
    Outcome {
        response,
        tenant: label,
        operation,
        result,
        statements: executed.statements,
    }
}
