//! The one error type of the service and its mappings.
//!
//! Each variant says what the client gets: an HTTP status for errors raised before
//! GraphQL runs, and an `extensions.code` (API.md) for both. Internal detail is logged
//! once, with a request-scoped id, and never sent to the client.

use async_graphql::ErrorExtensions;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::DbErr;

/// Crate-wide result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 `INVALID_TENANT_SLUG`: the path segment is not a valid, unreserved slug.
    #[error("invalid tenant slug: {0}")]
    InvalidTenantSlug(String),
    /// 404 `TENANT_NOT_FOUND`: no such tenant, or it is DELETED.
    #[error("tenant not found")]
    TenantNotFound,
    /// 401 `UNAUTHENTICATED`: missing, malformed, unknown, revoked or foreign token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// 403 `TENANT_SUSPENDED`: a valid token for a suspended tenant.
    #[error("tenant is suspended")]
    TenantSuspended,
    /// 503 `TENANT_UNAVAILABLE`: still provisioning, or its database cannot be reached.
    #[error("{0}")]
    TenantUnavailable(String),
    /// 503 `TENANT_READ_ONLY` (with `Retry-After`): the tenant's writes are paused (a
    /// restore runs) and the request holds a mutation; also a write its database refused
    /// for want of the right (SQLSTATE 42501: the pause, enforced in the database).
    #[error("{0}")]
    TenantReadOnly(String),
    /// 400/413 `BAD_REQUEST`: the HTTP request itself is unusable.
    #[error("{message}")]
    BadRequest { status: StatusCode, message: String },
    /// `BAD_USER_INPUT`: validation failed; `field` names the input path where there is one.
    #[error("{message}")]
    BadUserInput { field: Option<String>, message: String },
    /// `NOT_FOUND`: the addressed object does not exist.
    #[error("{0}")]
    NotFound(String),
    /// `CONFLICT`: a unique value is taken (slug, code, idempotency key with another body).
    #[error("{message}")]
    Conflict { field: Option<String>, message: String },
    /// `UNBALANCED_ENTRY`: the debits of an entry differ from its credits.
    #[error("{0}")]
    UnbalancedEntry(String),
    /// `PERIOD_LOCKED`: the date is on or before the company's lock date.
    #[error("{0}")]
    PeriodLocked(String),
    /// `FISCAL_YEAR_CLOSED`: the date falls in a closed fiscal year (wins over `PERIOD_LOCKED`).
    #[error("{0}")]
    FiscalYearClosed(String),
    /// `FORBIDDEN`: the token lacks the scope for this operation.
    #[error("{0}")]
    Forbidden(String),
    /// 429 `RATE_LIMITED` with `Retry-After` (seconds): the tenant already has
    /// `TENANT_MAX_IN_FLIGHT` requests in flight on this instance.
    #[error("the tenant has its maximum of {limit} requests in flight; retry shortly")]
    RateLimited { limit: usize },
    /// 504 `TIMEOUT`, a code beyond API.md's list (added, as API.md allows; in the README):
    /// the request ran past `REQUEST_TIMEOUT_MS`.
    #[error("the request took longer than {0} ms and was stopped")]
    Timeout(u128),
    /// `RESULT_TOO_LARGE`: a query's answer would pass the request's budget of resolved
    /// values or bytes (`GRAPHQL_MAX_RESOLVED_VALUES`, `MAX_RESPONSE_BYTES`).
    #[error("{0}")]
    ResultTooLarge(String),
    /// `INTERNAL`: anything unexpected. The message sent to clients is generic.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadUserInput {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Conflict {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// `TENANT_READ_ONLY`: a restore (or a move) has paused the tenant's writes.
    pub fn writes_paused() -> Self {
        Error::TenantReadOnly(
            "the company's books are being restored: writes are paused, reads go on; try again shortly".into(),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// The `extensions.code` of API.md.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidTenantSlug(_) => "INVALID_TENANT_SLUG",
            Error::TenantNotFound => "TENANT_NOT_FOUND",
            Error::Unauthenticated(_) => "UNAUTHENTICATED",
            Error::TenantSuspended => "TENANT_SUSPENDED",
            Error::TenantUnavailable(_) => "TENANT_UNAVAILABLE",
            Error::TenantReadOnly(_) => "TENANT_READ_ONLY",
            Error::BadRequest { .. } => "BAD_REQUEST",
            Error::BadUserInput { .. } => "BAD_USER_INPUT",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Conflict { .. } => "CONFLICT",
            Error::Forbidden(_) => "FORBIDDEN",
            Error::UnbalancedEntry(_) => "UNBALANCED_ENTRY",
            Error::PeriodLocked(_) => "PERIOD_LOCKED",
            Error::FiscalYearClosed(_) => "FISCAL_YEAR_CLOSED",
            Error::Timeout(_) => "TIMEOUT",
            Error::ResultTooLarge(_) => "RESULT_TOO_LARGE",
            Error::RateLimited { .. } => "RATE_LIMITED",
            Error::Internal(_) => "INTERNAL",
        }
    }

    /// The HTTP status when this error ends a request before GraphQL runs.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidTenantSlug(_) | Error::BadUserInput { .. } => StatusCode::BAD_REQUEST,
            Error::TenantNotFound | Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Error::TenantSuspended | Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::TenantUnavailable(_) | Error::TenantReadOnly(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::BadRequest { status, .. } => *status,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::UnbalancedEntry(_) | Error::PeriodLocked(_) | Error::FiscalYearClosed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Error::ResultTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// What a client may read. Internal errors are logged here, once, and replaced.
    fn client_message(&self) -> String {
        match self {
            Error::Internal(err) => {
                let error_id = uuid::Uuid::new_v4();
                tracing::error!(error.id = %error_id, error = ?err, "internal error");
                format!("internal error (id {error_id})")
            }
            other => other.to_string(),
        }
    }

    /// The `Retry-After` (seconds) an HTTP answer with this error carries: errors that
    /// pass (a full in-flight cap, a restore's pause).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::RateLimited { .. } => Some(RETRY_AFTER_SECONDS),
            Error::TenantReadOnly(_) => Some(5),
            _ => None,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Error::BadUserInput { field, .. } | Error::Conflict { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// Database errors are classified, not stringified: by what failed (a connection means
/// the tenant database is unavailable) and by SQLSTATE ([`from_sqlstate`]), never by
/// message text. What has no API meaning is internal.
impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_connection_error(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return Error::TenantUnavailable("the tenant database is unavailable".into());
        }
        match sqlstate(&err).as_deref().and_then(from_sqlstate) {
            Some(classified) => classified,
            None => Error::Internal(anyhow::Error::new(err)),
        }
    }
}

/// True when the error means "could not reach or keep a connection", not a bad statement:
/// I/O and pool failures, and the server's own connection-level errors (the SQLSTATEs
/// [`from_sqlstate`] answers `TENANT_UNAVAILABLE` for).
pub fn is_connection_error(err: &DbErr) -> bool {
    use sea_orm::sqlx;
    let sqlx_error = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e)) | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => e,
        _ => return false,
    };
    match sqlx_error.as_ref() {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| matches!(from_sqlstate(&code), Some(Error::TenantUnavailable(_)))),
        _ => false,
    }
}

/// The SQLSTATE the database answered with, when the error is the database's answer.
pub fn sqlstate(err: &DbErr) -> Option<String> {
    match err {
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e)) => Some(e.as_database_error()?.code()?.into_owned()),
        _ => None,
    }
}

/// The one table from SQLSTATE to API code; `None` for a state with no API meaning
/// (reported as `INTERNAL`). Callers that can name the offending input map a state
/// themselves first (e.g. a taken account code -> `CONFLICT` on `input.code`).
///
/// | SQLSTATE | raised by | API code |
/// |---|---|---|
/// | `NJ001` ([`migration::sqlstate::UNBALANCED_ENTRY`]) | the ledger's balance check, at commit | `UNBALANCED_ENTRY` |
/// | `NJ002` ([`migration::sqlstate::POSTED_ENTRY_CHANGED`]) | the guards of posted entries and their lines | `CONFLICT` |
/// | `NJ004` ([`migration::sqlstate::POSTING_BYPASSED`]) | an entry written other than through posting | `CONFLICT` |
/// | `NJ005` ([`migration::sqlstate::PERIOD_LOCKED`]) | posting on or before the lock date | `PERIOD_LOCKED` |
/// | `NJ006` ([`migration::sqlstate::ACCOUNT_NOT_POSTABLE`]) | posting to a header or archived account | `BAD_USER_INPUT` |
/// | `NJ007` ([`migration::sqlstate::REPORT_KEY_FROZEN`]) | an account's code, type or side once it has lines; the fiscal year start once anything is posted | `CONFLICT` |
/// | `NJ008` ([`migration::sqlstate::FISCAL_YEAR_CLOSED`]) | posting into a closed fiscal year | `FISCAL_YEAR_CLOSED` |
/// | `NJ009` ([`migration::sqlstate::REVERSAL_BEFORE_ORIGINAL`]) | a reversal dated before its original | `BAD_USER_INPUT` |
/// | `NJ010` ([`migration::sqlstate::AUDIT_APPEND_ONLY`]) | an audit event changed or removed | `CONFLICT` |
/// | `NJ011` ([`migration::sqlstate::FISCAL_YEAR_ORDER`]) | closing or reopening a fiscal year out of turn | `CONFLICT` |
/// | `NJ012` ([`migration::sqlstate::CLOSING_ENTRY_INVALID`]) | a closing entry that does not close its year | `CONFLICT` |
/// | `NJ013` ([`migration::sqlstate::ROLE_MISFIT`]) | an account role that does not fit its type | `BAD_USER_INPUT` |
/// | `23505` unique_violation | a unique constraint | `CONFLICT` |
/// | `42501` insufficient_privilege | a tenant's login role writing while its writes are withdrawn (a restore); the service's roles lack no other right | `TENANT_READ_ONLY` |
/// | class `08` (connection exception), `57P01`-`57P03` (server shutting down or starting) | the server | `TENANT_UNAVAILABLE` |
pub fn from_sqlstate(code: &str) -> Option<Error> {
    use migration::sqlstate::{
        ACCOUNT_LOOP, ACCOUNT_NOT_POSTABLE, AUDIT_APPEND_ONLY, CLOSING_ENTRY_INVALID, FISCAL_YEAR_CLOSED,
        FISCAL_YEAR_ORDER, PERIOD_LOCKED, POSTED_ENTRY_CHANGED, POSTING_BYPASSED, REPORT_KEY_FROZEN,
        REVERSAL_BEFORE_ORIGINAL, ROLE_MISFIT, UNBALANCED_ENTRY,
    };
    Some(match code {
        ACCOUNT_LOOP => Error::bad_input(
            "input.parentId",
            "an account cannot be placed under itself or one of its own sub-accounts",
        ),
        UNBALANCED_ENTRY => Error::UnbalancedEntry("the database refused an unbalanced entry".into()),
        POSTED_ENTRY_CHANGED => Error::Conflict {
            field: None,
            message: "a posted journal entry and its lines cannot be changed; reverse it instead".into(),
        },
        POSTING_BYPASSED => Error::Conflict {
            field: None,
            message: "the books change only through posting and reversing".into(),
        },
        PERIOD_LOCKED => {
            Error::PeriodLocked("the books are locked up to the lock date: an entry must be dated after it".into())
        }
        ACCOUNT_NOT_POSTABLE => Error::BadUserInput {
            field: None,
            message: "every line's account must be postable and not archived".into(),
        },
        FISCAL_YEAR_CLOSED => Error::FiscalYearClosed("the fiscal year of this date is closed".into()),
        REVERSAL_BEFORE_ORIGINAL => Error::BadUserInput {
            field: Some("date".into()),
            message: "a reversal is dated on or after the entry it reverses".into(),
        },
        ROLE_MISFIT => Error::BadUserInput {
            field: Some("input.role".into()),
            message: "an account's role fits its type".into(),
        },
        AUDIT_APPEND_ONLY => Error::Conflict {
            field: None,
            message: "the audit log is append-only".into(),
        },
        FISCAL_YEAR_ORDER => Error::Conflict {
            field: Some("label".into()),
            message: "fiscal years close in order and only the latest closed year reopens".into(),
        },
        CLOSING_ENTRY_INVALID => Error::Conflict {
            field: None,
            message: "a closing entry exists only for the fiscal year it closes".into(),
        },
        REPORT_KEY_FROZEN => Error::Conflict {
            field: None,
            message: "an account's code, type and normal balance are kept once it has journal lines, \
                      and the fiscal year start month once anything is posted"
                .into(),
        },
        "23505" => Error::Conflict {
            field: None,
            message: "a value that must be unique is taken".into(),
        },
        "42501" => Error::writes_paused(),
        "57P01" | "57P02" | "57P03" => Error::TenantUnavailable("the tenant database is unavailable".into()),
        connection if connection.starts_with("08") => {
            Error::TenantUnavailable("the tenant database is unavailable".into())
        }
        _ => return None,
    })
}

/// The body every pre-GraphQL error gets: the GraphQL error format of API.md.
pub fn graphql_error_body(message: &str, code: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

/// What `Retry-After` says when a tenant is momentarily saturated (its cap of requests
/// in flight, or every connection of its pool busy): the wait is for a request to finish.
pub const RETRY_AFTER_SECONDS: u64 = 1;

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut body = graphql_error_body(&self.client_message(), self.code());
        // A bad URL parameter (an export's) names itself, as `extensions.field` does in GraphQL.
        if let Some(field) = self.field() {
            body["errors"][0]["extensions"]["field"] = field.into();
        }
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        let field = self.field().map(str::to_owned);
        async_graphql::Error::new(self.client_message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(field) = field {
                ext.set("field", field);
            }
        })
    }
}

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        err.extend()
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
    use sea_orm::RuntimeErr;

    use super::*;

    /// A database's answer with a SQLSTATE, as the driver would hand it over.
    #[derive(Debug, thiserror::Error)]
    #[error("refused")]
    struct Refusal(&'static str);

    impl DatabaseError for Refusal {
        fn message(&self) -> &str {
            "a message the classification must not read"
        }

        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }

        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }

        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }

        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }

        fn kind(&self) -> ErrorKind {
            ErrorKind::Other
        }
    }

    fn refused(code: &'static str) -> DbErr {
        let sqlx_error = sea_orm::sqlx::Error::Database(Box::new(Refusal(code)));
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(sqlx_error)))
    }

    #[test]
    fn database_refusals_are_classified_by_sqlstate() {
        assert_eq!(sqlstate(&refused("NJ001")).as_deref(), Some("NJ001"));
        assert_eq!(Error::from(refused("NJ001")).code(), "UNBALANCED_ENTRY");
        assert_eq!(Error::from(refused("NJ002")).code(), "CONFLICT");
        assert_eq!(Error::from(refused("23505")).code(), "CONFLICT");
        assert_eq!(Error::from(refused("NJ004")).code(), "CONFLICT");
        assert_eq!(Error::from(refused("NJ005")).code(), "PERIOD_LOCKED");
        assert_eq!(Error::from(refused("NJ006")).code(), "BAD_USER_INPUT");
        assert_eq!(Error::from(refused("NJ007")).code(), "CONFLICT");
        assert_eq!(Error::from(refused("NJ008")).code(), "FISCAL_YEAR_CLOSED");
        assert_eq!(Error::from(refused("NJ009")).code(), "BAD_USER_INPUT");
        assert_eq!(Error::from(refused("NJ010")).code(), "CONFLICT");
        assert_eq!(Error::from(refused("NJ013")).code(), "BAD_USER_INPUT");
        assert_eq!(Error::from(refused("NJ011")).code(), "CONFLICT");
        assert_eq!(Error::from(refused("NJ012")).code(), "CONFLICT");
        // The service's roles lack no right they need except while a tenant's writes are
        // withdrawn (a restore): a refused right is that pause.
        assert_eq!(Error::from(refused("42501")).code(), "TENANT_READ_ONLY");
        assert_eq!(Error::from(refused("08006")).code(), "TENANT_UNAVAILABLE");
        assert_eq!(Error::from(refused("57P01")).code(), "TENANT_UNAVAILABLE");
        assert!(is_connection_error(&refused("08006")));
        assert!(!is_connection_error(&refused("NJ001")));
        // A CHECK constraint shares no code with the ledger's own refusals.
        assert_eq!(Error::from(refused("23514")).code(), "INTERNAL");
        assert_eq!(Error::from(refused("23000")).code(), "INTERNAL");
        assert_eq!(
            sqlstate(&DbErr::Custom("NJ001".into())),
            None,
            "not the database's answer"
        );
        assert_eq!(Error::from(DbErr::Custom("is not balanced".into())).code(), "INTERNAL");
    }
}
