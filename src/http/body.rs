//! GraphQL over HTTP: reading the body and finishing the response, with errors in the
//! API's format and the request limits applied.

use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;

use crate::config::ApiLimits;
use crate::error::{Error, Result};

/// A GraphQL-over-HTTP JSON body (one request or a batch of at most `max_batch`).
pub fn parse_graphql_body(
    body: std::result::Result<Bytes, BytesRejection>,
    limits: &ApiLimits,
) -> Result<BatchRequest> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::BadRequest {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                message: format!("the request body is larger than {} bytes", limits.max_body_bytes),
            }
        } else {
            Error::bad_request("cannot read the request body")
        }
    })?;
    let request = serde_json::from_slice::<BatchRequest>(&bytes)
        .map_err(|_| Error::bad_request("the body is not a GraphQL request: expected JSON {\"query\": ...}"))?;
    if let BatchRequest::Batch(operations) = &request {
        if operations.len() > limits.max_batch {
            return Err(Error::bad_request(format!(
                "a batch holds at most {} operations, this one has {}",
                limits.max_batch,
                operations.len()
            )));
        }
    }
    Ok(request)
}

/// Errors that no resolver coded get a code too, so every error a client sees has one:
/// a value that does not fit its input type is `BAD_USER_INPUT` (with `field`, the
/// argument path, when async-graphql names it); syntax, unknown fields and exceeded
/// limits are `BAD_REQUEST`.
pub fn code_uncoded_errors(response: &mut BatchResponse) {
    let responses: Vec<&mut async_graphql::Response> = match response {
        BatchResponse::Single(one) => vec![one],
        BatchResponse::Batch(many) => many.iter_mut().collect(),
    };
    for r in responses {
        for error in &mut r.errors {
            let (code, field) = uncoded_error_code(&error.message);
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", code);
                if let Some(field) = field {
                    extensions.set("field", field);
                }
            }
        }
    }
}

/// The code of an error async-graphql raised itself, read from its message (it gives
/// these errors no code of their own): `Invalid value for argument "input.lines.0.debit",
/// ...` from validation, `Failed to parse "Date": ...` from coercing an input value.
fn uncoded_error_code(message: &str) -> (&'static str, Option<&str>) {
    if let Some(rest) = message.strip_prefix("Invalid value for argument \"") {
        return ("BAD_USER_INPUT", rest.split('"').next().filter(|path| !path.is_empty()));
    }
    if message.starts_with("Failed to parse \"") {
        return ("BAD_USER_INPUT", None);
    }
    ("BAD_REQUEST", None)
}

/// The operation's name, for logs and metrics (`anonymous`, or `batch`).
pub fn operation_name(request: &BatchRequest) -> String {
    match request {
        BatchRequest::Single(one) => one.operation_name.clone().unwrap_or_else(|| "anonymous".into()),
        BatchRequest::Batch(_) => "batch".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::uncoded_error_code;

    #[test]
    fn input_errors_are_bad_user_input_with_their_path() {
        assert_eq!(
            uncoded_error_code(r#"Invalid value for argument "input.lines.0.debit", expected type "Decimal""#),
            ("BAD_USER_INPUT", Some("input.lines.0.debit"))
        );
        assert_eq!(
            uncoded_error_code(r#"Failed to parse "Date": a Date is YYYY-MM-DD"#),
            ("BAD_USER_INPUT", None)
        );
        assert_eq!(
            uncoded_error_code(r#"Unknown field "nope" on type "Company"."#),
            ("BAD_REQUEST", None)
        );
    }
}
