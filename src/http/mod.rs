//! The HTTP surface of API.md: routes, authentication, GraphQL handlers, GraphiQL and
//! its assets, CORS, health; the listeners and their connection limits.

mod admin;
/// The per-tenant cap on requests in flight.
pub mod admission;
mod auth;
mod body;
/// CSV exports of reports, streamed from one snapshot.
pub mod exports;
mod graphiql;
mod health;
/// CSV uploads to import (their own body limit and places).
pub mod imports;
/// Serving a router on a listener: header read and idle timeouts, graceful stop.
pub mod listener;
mod negotiation;
mod tenant;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::routing::{any, get, post};
use axum::Router;
use secrecy::SecretString;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;

use crate::graphql::admin::AdminSchema;
use crate::graphql::tenant::TenantSchema;
use crate::metrics::Metrics;
use crate::services::Services;

/// Shared state of every handler. Cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<AppInner>);

pub struct AppInner {
    /// Registry, directory, pools, lifecycle: the same handles the admin API and CLI use.
    pub services: Services,
    pub metrics: Metrics,
    pub limits: crate::config::ApiLimits,
    pub tenant_schema: TenantSchema,
    pub documents: Arc<crate::graphql::documents::DocumentCache>,
    pub admin_schema: AdminSchema,
    pub admin_token: SecretString,
    /// Requests in flight per tenant, and the cap on them.
    pub admission: admission::Admission,
    /// Places for CSV uploads (`IMPORT_MAX_CONCURRENT`, one per tenant).
    pub imports: imports::ImportGate,
    /// CSV exports: their places per tenant, the link signer, their limits.
    pub exports: exports::Exports,
}

impl std::ops::Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// The routes of the public listener. With `admin_elsewhere` (`ADMIN_BIND_ADDR` set),
/// `/admin/graphql` and `/metrics` answer 404 here: they are on [`admin_router`].
pub fn router(state: AppState, admin_elsewhere: bool) -> Router {
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/{tenant}/graphql", get(tenant::get).post(tenant::post))
        // Their own body limit (`IMPORT_MAX_BYTES`): only these routes take large bodies.
        .route(
            "/{tenant}/imports/accounts.csv",
            post(imports::accounts).layer(DefaultBodyLimit::max(state.limits.import_max_bytes)),
        )
        .route(
            "/{tenant}/imports/entries.csv",
            post(imports::entries).layer(DefaultBodyLimit::max(state.limits.import_max_bytes)),
        )
        .route("/{tenant}/exports/{file}", get(exports::get))
        .route("/assets/graphiql/{file}", get(graphiql::asset));
    let routes = if admin_elsewhere {
        // Explicitly: `/admin/graphql` would otherwise match `/{tenant}/graphql`.
        routes
            .route("/admin/graphql", any(health::not_found))
            .route("/metrics", any(health::not_found))
    } else {
        admin_routes(routes)
    };
    with_layers(routes, state)
}

/// The routes of the admin listener (`ADMIN_BIND_ADDR`): the admin API, its GraphiQL
/// assets, metrics and health.
pub fn admin_router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/assets/graphiql/{file}", get(graphiql::asset));
    with_layers(admin_routes(routes), state)
}

fn admin_routes(routes: Router<AppState>) -> Router<AppState> {
    routes
        .route("/metrics", get(health::metrics))
        .route("/admin/graphql", get(admin::get).post(admin::post))
}

fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let max_body = state.limits.max_body_bytes;
    let routes = routes
        .fallback(health::not_found)
        .method_not_allowed_fallback(health::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body));
    // CORS answers preflights before routing, and its headers go on every response
    // (errors too, so a browser frontend can read them).
    let routes = match cors(&state.limits.cors_allowed_origins) {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes
        // Outermost first: assign a request id, trace with it, return it as a header.
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(request_span).on_response(
                DefaultOnResponse::new()
                    .level(tracing::Level::INFO)
                    .latency_unit(LatencyUnit::Millis),
            ),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// CORS for the browser origins of `CORS_ALLOWED_ORIGINS` (none: no CORS headers at all).
/// Exact origins, no credentials (the API takes bearer tokens, not cookies), preflights
/// cached for 10 minutes.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let request_id = HeaderName::from_static("x-request-id");
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(
                origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()),
            ))
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                request_id.clone(),
            ])
            .expose_headers([header::RETRY_AFTER, header::CONTENT_DISPOSITION, request_id])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// Every request's span: its id (also the `x-request-id` response header), method and
/// path; the tenant handler adds the tenant slug and the operation name. The path only:
/// never the query string, which holds a GET request's variables.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
        tenant = tracing::field::Empty,
        operation = tracing::field::Empty,
    )
}
