//! `POST /{tenant}/imports/accounts.csv` and `POST /{tenant}/imports/entries.csv`: an
//! import with the CSV itself as the body (`text/csv`), for files larger than the
//! GraphQL body limit. The same steps as a GraphQL request — slug and token
//! ([`AuthorisedTenant`]), a place in flight, the restore pause, metrics — then
//! `books_csv::import`, answering its `ImportResult` as JSON (named as in GraphQL).
//!
//! A hostile caller is bounded here: the body has its own limit (`IMPORT_MAX_BYTES`,
//! 413 beyond it, refused from `Content-Length` before a byte is read), must arrive
//! within `IMPORT_READ_TIMEOUT_MS`, and is read only once the token passed and an
//! import place is free: `IMPORT_MAX_CONCURRENT` per instance and one per tenant, so
//! many tenants sending 50 MB at once hold at most that many bodies in memory. An
//! entries import stops writing past `IMPORT_TIME_LIMIT_MS` (`TIMEOUT`, nothing written),
//! so neither a place nor a tenant's fiscal-year counters are held longer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use super::tenant::{AuthorisedTenant, Received};
use super::AppState;
use crate::books_csv::import::{self, entries::EntryImport, ImportResult};
use crate::error::{Error, Result};
use crate::graphql::tenant::require_scope;
use crate::tenancy::tokens::Scope;

/// Which file an upload holds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Accounts,
    Entries,
}

pub async fn accounts(state: State<AppState>, received: Received, request: Request) -> Response {
    serve(state, received, request, Kind::Accounts).await
}

pub async fn entries(state: State<AppState>, received: Received, request: Request) -> Response {
    serve(state, received, request, Kind::Entries).await
}

/// The URL parameters: `?dryRun=true|false&post=...&idempotencyKey=...`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Params {
    #[serde(default = "yes")]
    dry_run: bool,
    #[serde(default)]
    post: bool,
    idempotency_key: Option<String>,
}

fn yes() -> bool {
    true
}

/// The one place where an upload is recorded in the metrics (operation `import`).
async fn serve(State(state): State<AppState>, received: Received, request: Request, kind: Kind) -> Response {
    let (mut parts, body) = request.into_parts();
    let (tenant, outcome) = match AuthorisedTenant::from_request_parts(&mut parts, &state).await {
        Err(refused) => {
            let (tenant, error) = refused.into_parts();
            (tenant, Err(error))
        }
        Ok(tenant) => {
            let request = Request::from_parts(parts, body);
            let slug = tenant.tenant.slug.clone();
            // In a task of its own: an import whose client leaves still ends (commits or
            // rolls back) and holds its places (the tenant's, the instance's) until then,
            // so a client cannot start import after import by hanging up.
            let task_state = state.clone();
            let task = tokio::spawn(async move { run(&task_state, &tenant, request, kind).await });
            let outcome = task
                .await
                .unwrap_or_else(|e| Err(Error::Internal(anyhow::anyhow!("an import task stopped: {e}"))));
            (Some(slug), outcome)
        }
    };
    let result = match &outcome {
        Ok(answer) if answer.errors.is_empty() => "ok",
        Ok(_) => "error",
        Err(error) => error.code(),
    };
    state
        .metrics
        .observe_request(tenant.as_deref(), "import", result, received.0.elapsed());
    match outcome {
        Ok(answer) => (StatusCode::OK, axum::Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn run(state: &AppState, tenant: &AuthorisedTenant, request: Request, kind: Kind) -> Result<ImportResult> {
    require_scope(&tenant.scopes, Scope::Write)?;
    let _admitted = state.admission.admit(tenant.tenant.id)?;
    if tenant.tenant.writes_paused {
        return Err(Error::writes_paused());
    }
    let params: Params = serde_urlencoded::from_str(request.uri().query().unwrap_or("")).map_err(|e| {
        Error::bad_request(format!(
            "the URL parameters are not dryRun, post and idempotencyKey: {e}"
        ))
    })?;
    if matches!(kind, Kind::Accounts) && (params.post || params.idempotency_key.is_some()) {
        return Err(Error::bad_request(
            "a chart import takes only dryRun (post and idempotencyKey are for entries)",
        ));
    }
    let _place = state.imports.enter(tenant.tenant.id)?;
    let csv = read_body(state, request).await?;
    let lease = state.services.connections.get(&tenant.tenant).await?;
    let imported = match kind {
        Kind::Accounts => import::accounts::import(&lease.conn, csv, params.dry_run, &tenant.actor).await,
        Kind::Entries => {
            let options = EntryImport {
                post: params.post,
                dry_run: params.dry_run,
                idempotency_key: params.idempotency_key,
                time_limit: Some(state.limits.import_time_limit),
            };
            import::entries::import(&lease.conn, csv, options, &tenant.actor).await
        }
    };
    if let Err(Error::TenantUnavailable(_)) = &imported {
        if !lease.saturated() {
            // As for GraphQL: a database gone away under the request drops the pool.
            state.services.connections.invalidate(&tenant.tenant.slug);
        }
    }
    imported
}

/// The body, within `IMPORT_MAX_BYTES` (the route's own `DefaultBodyLimit`) and
/// `IMPORT_READ_TIMEOUT_MS`.
async fn read_body(state: &AppState, request: Request) -> Result<Bytes> {
    let limit = state.limits.import_max_bytes;
    let too_large = || Error::BadRequest {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("an import file has at most {limit} bytes (IMPORT_MAX_BYTES)"),
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let timeout = state.limits.import_read_timeout;
    let read = tokio::time::timeout(timeout, Bytes::from_request(request, &()))
        .await
        .map_err(|_| Error::BadRequest {
            status: StatusCode::REQUEST_TIMEOUT,
            message: format!("the import file did not arrive within {} ms", timeout.as_millis()),
        })?;
    read.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            Error::bad_request("cannot read the request body")
        }
    })
}

/// Places for uploads: `IMPORT_MAX_CONCURRENT` on this instance, one per tenant.
pub struct ImportGate {
    places: Arc<Semaphore>,
    /// std `Mutex`: held for one set operation, never across an `.await`.
    tenants: Arc<Mutex<HashSet<Uuid>>>,
    limit: usize,
}

/// One upload's place; dropping it frees the place.
pub struct ImportPlace {
    _permit: OwnedSemaphorePermit,
    tenant: Uuid,
    tenants: Arc<Mutex<HashSet<Uuid>>>,
}

impl ImportGate {
    pub fn new(limit: usize) -> Self {
        let limit = limit.max(1);
        ImportGate {
            places: Arc::new(Semaphore::new(limit)),
            tenants: Arc::default(),
            limit,
        }
    }

    /// A place for an upload of `tenant`, or `RATE_LIMITED` (the tenant has one in
    /// flight, or the instance has its maximum).
    fn enter(&self, tenant: Uuid) -> Result<ImportPlace> {
        let busy = || Error::RateLimited { limit: self.limit };
        let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        if tenants.contains(&tenant) {
            return Err(Error::RateLimited { limit: 1 });
        }
        let permit = self.places.clone().try_acquire_owned().map_err(|_| busy())?;
        tenants.insert(tenant);
        Ok(ImportPlace {
            _permit: permit,
            tenant,
            tenants: self.tenants.clone(),
        })
    }
}

impl Drop for ImportPlace {
    fn drop(&mut self) {
        self.tenants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.tenant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_upload_per_tenant_and_a_cap_per_instance() {
        let gate = ImportGate::new(2);
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let first = gate.enter(a).ok();
        assert!(first.is_some());
        assert!(gate.enter(a).is_err(), "one per tenant");
        let second = gate.enter(b).ok();
        assert!(second.is_some());
        assert!(gate.enter(c).is_err(), "the instance's cap");
        drop(first);
        assert!(gate.enter(c).is_ok(), "a finished upload frees its place");
        assert!(gate.enter(a).is_ok());
    }

    #[test]
    fn parameters() {
        let parse = |q: &str| serde_urlencoded::from_str::<Params>(q).map(|p| (p.dry_run, p.post, p.idempotency_key));
        assert_eq!(parse("").ok(), Some((true, false, None)));
        assert_eq!(
            parse("dryRun=false&post=true&idempotencyKey=k1").ok(),
            Some((false, true, Some("k1".into())))
        );
        assert!(parse("dryrun=false").is_err(), "a misspelt parameter is not ignored");
        assert!(parse("dryRun=maybe").is_err());
    }
}
