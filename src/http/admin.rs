//! `/admin/graphql`: the platform admin's GraphQL (admin token), over POST, or over GET
//! for queries, and its GraphiQL page.

use async_graphql::parser::types::OperationType;
use async_graphql::BatchRequest;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::verify_admin_token;
use super::body::{
    code_uncoded_errors, error_response, get_request, graphql_response, mutation_over_get, no_store, operation_name,
    parse_graphql_body, Transport,
};
use super::negotiation::{response_media, wanted, ResponseMedia, Wanted};
use super::{graphiql, AppState};
use crate::error::Result;
use crate::graphql::tenant::selected_operation;

/// `POST /admin/graphql`: a JSON body, one request or a batch.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let media = response_media(&headers);
    let read = || parse_graphql_body(body, &state.limits);
    answer(&state, &headers, read, Transport::Post, media).await
}

/// `GET /admin/graphql`: GraphiQL for a browser (no token needed for the page);
/// otherwise a query from the URL parameters.
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let media = match wanted(&parts.headers) {
        Wanted::Page => return graphiql::page("Nusa Journal — admin", "/admin/graphql"),
        Wanted::Response(media) => media,
    };
    let read = || get_request(parts.uri.query());
    no_store(answer(&state, &parts.headers, read, Transport::Get, media).await)
}

async fn answer(
    state: &super::AppState,
    headers: &HeaderMap,
    read: impl FnOnce() -> Result<BatchRequest>,
    transport: Transport,
    media: ResponseMedia,
) -> Response {
    let run = async {
        verify_admin_token(&state.admin_token, headers)?;
        let mut request = read()?;
        tracing::Span::current().record("operation", operation_name(&request).as_str());
        if transport == Transport::Get {
            if let BatchRequest::Single(one) = &mut request {
                if selected_operation(one) == Some(OperationType::Mutation) {
                    return Ok(mutation_over_get(media));
                }
            }
        }
        // No request timeout here: provisioning or purging a tenant may take longer than
        // a tenant query should, and only the admin token reaches this route.
        let mut response = state.admin_schema.execute_batch(request).await;
        code_uncoded_errors(&mut response);
        Ok(graphql_response(response, media))
    };
    run.await.unwrap_or_else(|error| error_response(error, media))
}
