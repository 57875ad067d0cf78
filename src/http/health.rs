//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use super::AppState;
use crate::error::graphql_error_body;

/// 200 while the process serves.
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// 200 when the registry database answers, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.services.registry.is_ready().await {
        (StatusCode::OK, Json(serde_json::json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "registry unavailable" })),
        )
    }
}

/// Unknown paths, in the same error format as everything else.
pub async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(graphql_error_body(
            "no such route; tenants are served at /{tenant}/graphql",
            "NOT_FOUND",
        )),
    )
}

/// A route that exists, asked with a method it does not take (the `Allow` header lists
/// the methods it does).
pub async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(graphql_error_body(
            "method not allowed on this path; the Allow header lists the ones it takes",
            "BAD_REQUEST",
        )),
    )
}

/// The OpenMetrics text format (`application/openmetrics-text`), which Prometheus scrapes.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(&state.services.registry).await,
    )
}
