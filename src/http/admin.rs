//! `POST /admin/graphql` (admin token) and its GraphiQL page.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use super::auth::verify_admin_token;
use super::body::{code_uncoded_errors, operation_name, parse_graphql_body};
use super::AppState;
use crate::error::Result;

pub async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Response> {
    verify_admin_token(&state.admin_token, &headers)?;
    let request = parse_graphql_body(body, &state.limits)?;
    tracing::Span::current().record("operation", operation_name(&request).as_str());
    // No request timeout here: provisioning or purging a tenant may take longer than a
    // tenant query should, and only the admin token reaches this route.
    let mut response = state.admin_schema.execute_batch(request).await;
    code_uncoded_errors(&mut response);
    Ok(async_graphql_axum::GraphQLResponse::from(response).into_response())
}

pub async fn graphiql() -> Html<String> {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/admin/graphql")
            .title("Nusa Journal — admin")
            .finish(),
    )
}
