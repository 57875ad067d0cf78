//! Reading a GraphQL-over-HTTP body, with errors in the API's format.

use async_graphql::BatchRequest;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;

use crate::error::{Error, Result};

/// A GraphQL-over-HTTP JSON body (one request or a batch), or `BAD_REQUEST`.
pub fn parse_graphql_body(body: std::result::Result<Bytes, BytesRejection>) -> Result<BatchRequest> {
    let bytes = body.map_err(|rejection| Error::BadRequest {
        status: if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::PAYLOAD_TOO_LARGE
        } else {
            StatusCode::BAD_REQUEST
        },
        message: if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            format!("request body is larger than {} bytes", super::MAX_BODY_BYTES)
        } else {
            "cannot read the request body".into()
        },
    })?;
    serde_json::from_slice::<BatchRequest>(&bytes)
        .map_err(|_| Error::bad_request("the body is not a GraphQL request: expected JSON {\"query\": ...}"))
}
