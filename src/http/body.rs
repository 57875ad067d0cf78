//! GraphQL over HTTP: reading a request (a POST body or GET's URL parameters) and
//! finishing the response, with errors in the API's format and the request limits applied.

use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::negotiation::ResponseMedia;
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

/// How a GraphQL request came: over GET it may run queries only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Post,
    Get,
}

/// The GraphQL request of a GET that did not ask for GraphiQL: it must have a `query`.
/// Longest URL query string a GET may carry. A POST body may be larger
/// (`MAX_BODY_BYTES`); a document that does not fit a URL belongs in one.
pub const MAX_GET_QUERY_BYTES: usize = 16 * 1024;

pub fn get_request(query_string: Option<&str>) -> Result<BatchRequest> {
    let length = query_string.map_or(0, str::len);
    if length > MAX_GET_QUERY_BYTES {
        return Err(Error::BadRequest {
            status: StatusCode::URI_TOO_LONG,
            message: format!(
                "the URL's query string has {length} bytes, more than {MAX_GET_QUERY_BYTES}: send this request as a POST"
            ),
        });
    }
    parse_get_request(query_string)?
        .map(BatchRequest::Single)
        .ok_or_else(|| {
            Error::bad_request(
                "a GET needs a `query` URL parameter (GraphQL over HTTP); \
             browsers asking for text/html get GraphiQL",
            )
        })
}

/// The URL parameters of a GraphQL request over GET (GraphQL over HTTP, "GET"):
/// `variables` and `extensions` are JSON texts. Other parameters are ignored.
#[derive(Debug, Default, Deserialize)]
struct GetParameters {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// A GraphQL request from GET's URL query string; `None` when it has no `query`.
/// (async-graphql's own `parse_query_string` reads `operation_name`, not the
/// specification's `operationName`.)
pub fn parse_get_request(query_string: Option<&str>) -> Result<Option<async_graphql::Request>> {
    let parameters: GetParameters = serde_urlencoded::from_str(query_string.unwrap_or_default())
        .map_err(|e| Error::bad_request(format!("the URL parameters cannot be read: {e}")))?;
    let Some(query) = parameters.query.filter(|query| !query.trim().is_empty()) else {
        return Ok(None);
    };
    let json = |name: &str, text: Option<String>| -> Result<serde_json::Value> {
        text.filter(|text| !text.trim().is_empty())
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| Error::bad_request(format!("the {name} parameter is not JSON: {e}")))
            })
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let request = serde_json::json!({
        "query": query,
        "operationName": parameters.operation_name,
        "variables": json("variables", parameters.variables)?,
        "extensions": json("extensions", parameters.extensions)?,
    });
    serde_json::from_value(request)
        .map(Some)
        .map_err(|_| Error::bad_request("the variables and extensions parameters must be JSON objects"))
}

/// The HTTP response of a GraphQL response, in the media type the client asked for.
/// With `application/graphql-response+json`, a request error (nothing ran: the document
/// does not parse or validate, or the operation was refused) answers 4xx as the
/// GraphQL-over-HTTP specification says; with `application/json` it stays 200.
pub fn graphql_response(response: BatchResponse, media: ResponseMedia) -> Response {
    let status = match (&response, media) {
        (BatchResponse::Single(one), ResponseMedia::GraphqlResponse) => request_error_status(one),
        _ => None,
    };
    let mut http = async_graphql_axum::GraphQLResponse::from(response).into_response();
    if let Some(status) = status {
        *http.status_mut() = status;
    }
    http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    http
}

/// An error raised before GraphQL ran, in the client's media type.
pub fn error_response(error: Error, media: ResponseMedia) -> Response {
    let mut http = error.into_response();
    http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    http
}

/// The status of a response that holds only request errors: no data, and no error that
/// a field raised (those carry the field's path). 403 for a refused operation, else 400.
fn request_error_status(response: &async_graphql::Response) -> Option<StatusCode> {
    let request_error = !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|error| error.path.is_empty());
    if !request_error {
        return None;
    }
    let forbidden = response.errors.iter().all(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|code| *code == async_graphql::Value::from("FORBIDDEN"))
    });
    Some(if forbidden {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    })
}

/// Answers to GET must not be stored by caches: they may hold a tenant's books.
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The same URL answers HTML or JSON by the Accept header.
    headers.insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// A mutation asked over GET: 405 with `Allow: POST`, in the API's error format. It runs
/// nothing (GET must be safe: a link or a prefetch must not change the books).
pub fn mutation_over_get(media: ResponseMedia) -> Response {
    let error = Error::BadRequest {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: "mutations are sent with POST; GET runs queries only".into(),
    };
    let mut http = error_response(error, media);
    http.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    http
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

/// The code of an error async-graphql raised itself, which it gives no code of its own.
///
/// Only the message tells these errors apart. In async-graphql 7 (7.2.1, checked against
/// its source) they all reach the response as a plain `ServerError` (message, locations,
/// path, no extensions, no `source`): a syntax error (`From<parser::Error>`), a failed
/// validation rule (`RuleError`, message and locations only), an exceeded limit ("Query is
/// too complex."), an unknown operation name, and an input value that does not coerce
/// (`InputValueError::into_server_error`). The validation hook of an `Extension` would tell
/// the validation stage apart, but not which rule failed, and the argument path of a bad
/// value (`field`) exists only in the text. So the message forms are read here, and only
/// here; `message_forms_of_the_locked_async_graphql` (below) pins them to the version in
/// Cargo.lock. The forms:
/// - `Invalid value for argument "input.lines.0.debit", expected type "Decimal"`: a
///   value, given inline or as a variable, that validation found not to fit its type
///   (`ArgumentsOfCorrectType`): `BAD_USER_INPUT` with `field`.
/// - `Failed to parse "Date": ...` and `Expected input type "Int", found ...`: a value
///   that failed to coerce while a field resolved: `BAD_USER_INPUT`.
/// - anything else (syntax, unknown fields, limits, operation names): `BAD_REQUEST`.
fn uncoded_error_code(message: &str) -> (&'static str, Option<&str>) {
    if let Some(rest) = message.strip_prefix("Invalid value for argument \"") {
        return ("BAD_USER_INPUT", rest.split('"').next().filter(|path| !path.is_empty()));
    }
    if message.starts_with("Failed to parse \"") || message.starts_with("Expected input type \"") {
        return ("BAD_USER_INPUT", None);
    }
    ("BAD_REQUEST", None)
}

/// The operation's name, for logs and metrics (`anonymous`, or `batch`).
/// A caller-chosen name goes into every log line of the request: only a GraphQL Name
/// of at most 128 characters is recorded as given; anything else is `invalid`.
pub fn operation_name(request: &BatchRequest) -> String {
    match request {
        BatchRequest::Single(one) => match one.operation_name.as_deref() {
            None => "anonymous".into(),
            Some(name) if is_loggable_name(name) => name.to_owned(),
            Some(_) => "invalid".into(),
        },
        BatchRequest::Batch(_) => "batch".into(),
    }
}

/// `/[_A-Za-z][_0-9A-Za-z]*/`, at most 128 characters.
fn is_loggable_name(name: &str) -> bool {
    name.len() <= 128
        && name.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
        && name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod name_tests {
    use super::*;

    fn named(name: &str) -> BatchRequest {
        BatchRequest::Single(async_graphql::Request::new("{ a }").operation_name(name))
    }

    #[test]
    fn only_graphql_names_of_bounded_length_reach_the_logs() {
        assert_eq!(operation_name(&named("TrialBalance_2")), "TrialBalance_2");
        assert_eq!(operation_name(&named(&"a".repeat(129))), "invalid");
        assert_eq!(operation_name(&named("a\nfake log line")), "invalid");
        assert_eq!(operation_name(&named("1abc")), "invalid");
    }

    #[test]
    fn an_overlong_get_query_string_is_refused_before_parsing() {
        let long = format!("query={}", "a".repeat(MAX_GET_QUERY_BYTES));
        let refused = get_request(Some(&long)).err();
        assert!(matches!(
            refused,
            Some(Error::BadRequest {
                status: StatusCode::URI_TOO_LONG,
                ..
            })
        ));
        assert!(get_request(Some("query={x}")).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{
        EmptyMutation, EmptySubscription, InputValueError, InputValueResult, Object, Scalar, ScalarType, Schema, Value,
    };

    use super::*;

    /// The async-graphql whose message forms `uncoded_error_code` reads.
    const MESSAGE_FORMS_OF: &str = "7.2.1";

    #[test]
    fn message_forms_of_the_locked_async_graphql() {
        let lock = include_str!("../../Cargo.lock");
        assert!(
            lock.contains(&format!("name = \"async-graphql\"\nversion = \"{MESSAGE_FORMS_OF}\"")),
            "async-graphql changed version: check the message forms of `uncoded_error_code` against \
             its source (validation/rules/arguments_of_correct_type.rs, error.rs), then update MESSAGE_FORMS_OF"
        );
    }

    /// The first error's message and its classification, from a real execution.
    fn classified(schema_response: async_graphql::Response) -> (String, &'static str, Option<String>) {
        let message = schema_response
            .errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        let (code, field) = uncoded_error_code(&message);
        (message.clone(), code, field.map(str::to_owned))
    }

    async fn tenant(query: &str) -> (String, &'static str, Option<String>) {
        let limits = ApiLimits {
            max_complexity: 500,
            ..ApiLimits::default()
        };
        // Validation fails before any resolver, so no database is needed.
        classified(crate::graphql::tenant::schema_with(&limits).execute(query).await)
    }

    #[tokio::test]
    async fn validation_errors_of_values_are_bad_user_input_with_their_path() {
        let (message, code, field) = tenant(
            r#"mutation { createJournalEntry(input: { date: "2026-01-01", description: "x", lines: [{ accountId: "a", debit: 1 }] }) { id } }"#,
        )
        .await;
        assert_eq!(
            (code, field.as_deref()),
            ("BAD_USER_INPUT", Some("input.lines.0.debit")),
            "{message}"
        );
        let (message, code, field) = tenant(r#"{ accounts(first: "ten") { totalCount } }"#).await;
        assert_eq!((code, field.as_deref()), ("BAD_USER_INPUT", Some("first")), "{message}");
        let (message, code, field) = tenant(r#"{ trialBalance(asOf: "2026-02-30") { totalDebit } }"#).await;
        assert_eq!((code, field.as_deref()), ("BAD_USER_INPUT", Some("asOf")), "{message}");
    }

    #[tokio::test]
    async fn other_request_errors_are_bad_request() {
        for (query, form) in [
            ("{ company {", " --> 1:12"),
            ("{ company { nope } }", "Unknown field \"nope\""),
            (
                "{ accounts(first: 200) { nodes { children { code } } } }",
                "Query is too complex.",
            ),
            (
                "query A { company { name } } query B { company { name } }",
                "Operation name required",
            ),
        ] {
            let (message, code, field) = tenant(query).await;
            assert!(message.contains(form), "{query}: {message}");
            assert_eq!((code, field), ("BAD_REQUEST", None), "{query}: {message}");
        }
    }

    /// A scalar whose values pass validation (the default `is_valid`) and fail to coerce
    /// while the field resolves: the execution-time message forms.
    struct Picky;

    #[Scalar]
    impl ScalarType for Picky {
        fn parse(value: Value) -> InputValueResult<Self> {
            match value {
                Value::String(_) => Err(InputValueError::custom("never good enough")),
                other => Err(InputValueError::expected_type(other)),
            }
        }
        fn to_value(&self) -> Value {
            Value::Null
        }
    }

    struct Query;

    #[Object]
    impl Query {
        async fn take(&self, value: Picky) -> bool {
            let _ = value;
            true
        }
    }

    #[tokio::test]
    async fn values_that_fail_to_coerce_while_resolving_are_bad_user_input() {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let (message, code, _) = classified(schema.execute(r#"{ take(value: "x") }"#).await);
        assert!(message.starts_with("Failed to parse \"Picky\""), "{message}");
        assert_eq!(code, "BAD_USER_INPUT");
        let (message, code, _) = classified(schema.execute("{ take(value: 1) }").await);
        assert!(message.starts_with("Expected input type \"Picky\""), "{message}");
        assert_eq!(code, "BAD_USER_INPUT");
    }

    #[tokio::test]
    async fn graphql_response_json_makes_request_errors_4xx() {
        let schema = crate::graphql::tenant::schema();
        let status = |response: async_graphql::Response, media| graphql_response(response.into(), media).status();
        let invalid = || schema.execute("{ company { nope } }");
        assert_eq!(status(invalid().await, ResponseMedia::Json), StatusCode::OK);
        assert_eq!(
            status(invalid().await, ResponseMedia::GraphqlResponse),
            StatusCode::BAD_REQUEST
        );
        let refused = async_graphql::Response::from_errors(vec![{
            let mut error = async_graphql::ServerError::new("read only", None);
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", "FORBIDDEN");
            error
        }]);
        assert_eq!(status(refused, ResponseMedia::GraphqlResponse), StatusCode::FORBIDDEN);
        // A field's error (here: no tenant database in the request) is not a request error.
        let field_error = schema.execute("{ company { name } }").await;
        assert!(!field_error.errors.is_empty() && !field_error.errors[0].path.is_empty());
        assert_eq!(status(field_error, ResponseMedia::GraphqlResponse), StatusCode::OK);
        let http = graphql_response(schema.execute("{ company { nope } }").await.into(), ResponseMedia::Json);
        assert_eq!(http.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn get_parameters() {
        let request = parse_get_request(Some(
            "query=query%20Q(%24n%3AInt)%7Bx%7D&operationName=Q&variables=%7B%22n%22%3A3%7D&extensions=%7B%22a%22%3Atrue%7D&other=1",
        ))
        .expect("parses")
        .expect("a request");
        assert_eq!(request.query, "query Q($n:Int){x}");
        assert_eq!(request.operation_name.as_deref(), Some("Q"));
        assert_eq!(request.variables.get("n"), Some(&Value::from(3)));
        assert_eq!(request.extensions.get("a"), Some(&Value::from(true)));

        let plain = parse_get_request(Some("query={x}"))
            .expect("parses")
            .expect("a request");
        assert!(plain.variables.is_empty() && plain.operation_name.is_none());
        assert!(parse_get_request(Some("query={x}&variables="))
            .expect("empty variables")
            .is_some());

        for absent in [None, Some(""), Some("variables=%7B%7D"), Some("query=%20")] {
            assert!(parse_get_request(absent).expect("no error").is_none(), "{absent:?}");
        }
        for bad in [
            "query={x}&variables={",
            "query={x}&variables=[1]",
            "query={x}&extensions=3",
            "query=a&query=b",
        ] {
            let error = parse_get_request(Some(bad)).expect_err(bad);
            assert_eq!(error.code(), "BAD_REQUEST", "{bad}");
        }
    }
}
