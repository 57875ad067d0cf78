//! `GET /{tenant}/exports/{report}.csv`: a report as a CSV file, streamed.
//!
//! The steps of a GraphQL request, then a stream:
//! - the tenant and the caller as for GraphQL ([`AuthorisedTenant`]): a bearer token, or a
//!   signed link from `createExportLink` (signature and expiry checked before any lookup
//!   of the token; the token must still be valid); the token needs `READ`;
//! - the report's parameters ([`ExportRequest::parse`]): a bad one is 400 with a coded
//!   JSON error, as is anything refused before the first byte (404 for an unknown account,
//!   429, 503): until the first piece of the file is ready, nothing of it is sent;
//! - a place among the tenant's requests in flight (`TENANT_MAX_IN_FLIGHT`) and one among
//!   its exports (`EXPORT_MAX_PER_TENANT`), both held until the export ends;
//! - one connection of the tenant's pool, holding one `REPEATABLE READ READ ONLY`
//!   transaction for the whole file: every piece comes from the same snapshot, so the
//!   file is consistent (a journal and its totals agree, a ledger's running balance is
//!   that of one moment) however long it streams;
//! - a producer task reads the file piece by piece ([`Export::next_chunk`]) into a channel
//!   of one piece, which the response body drains: memory holds a few pieces, whatever
//!   the size of the ledger.
//!
//! The producer stops, and with it the transaction, the connection and both places, when
//! the export passes `EXPORT_TIMEOUT_MS`, when a piece waits longer than
//! `EXPORT_STALL_TIMEOUT_MS` for the client to take the one before, when the client goes
//! away, or on an error. A stop before
//! the end makes the body end in an error, so the server aborts the transfer (no final
//! chunk): the client sees a broken download, never a file that looks complete.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseTransaction;
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};
use tracing::Instrument;

use super::admission::{Admission, Admitted};
use super::body::no_store;
use super::tenant::{AuthorisedTenant, Credential, Received, Refused};
use super::AppState;
use crate::books_csv::export::{query_pairs, Export, ExportRequest, Report};
use crate::books_csv::links::ExportLinks;
use crate::config::ExportLimits;
use crate::error::Error;
use crate::graphql::tenant::require_scope;
use crate::ledger::reports;
use crate::tenancy::connections::TenantLease;
use crate::tenancy::sealing::Sealer;
use crate::tenancy::slug::TenantSlug;
use crate::tenancy::tokens::Scope;

/// The `operation` label of exports in the metrics.
const OPERATION: &str = "export";

/// What exports share: their places per tenant, the link signer, the limits.
pub struct Exports {
    /// Exports in flight per tenant (`EXPORT_MAX_PER_TENANT`).
    pub places: Admission,
    pub links: ExportLinks,
    pub limits: ExportLimits,
}

impl Exports {
    pub fn new(limits: &ExportLimits, sealer: &Sealer) -> Self {
        Exports {
            places: Admission::new(limits.max_per_tenant),
            links: ExportLinks::new(sealer),
            limits: limits.clone(),
        }
    }
}

/// `GET /{tenant}/exports/{report}.csv`.
pub async fn get(State(state): State<AppState>, received: Received, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    match start(&state, &mut parts, received.at()).await {
        Ok(response) => response,
        Err(Refused { tenant, error }) => {
            state
                .metrics
                .observe_request(tenant.as_deref(), OPERATION, error.code(), received.at().elapsed());
            no_store(error.into_response())
        }
    }
}

/// Everything up to the first piece of the file; the rest is the producer's.
async fn start(
    state: &AppState,
    parts: &mut Parts,
    received: std::time::Instant,
) -> std::result::Result<Response, Refused> {
    let anonymous = |error| Refused { tenant: None, error };
    // HTTP/1.0 has no chunked encoding: the end of the body is the end of the connection,
    // so a transfer cut by an error would look like a complete file (also to a proxy
    // that speaks HTTP/1.0 upstream, as nginx does unless told `proxy_http_version 1.1`).
    if parts.version < axum::http::Version::HTTP_11 {
        return Err(anonymous(Error::BadRequest {
            status: axum::http::StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            message: "exports are streamed and need HTTP/1.1 or later (a cut transfer must not look complete)".into(),
        }));
    }
    let Path((raw_slug, file)) = Path::<(String, String)>::from_request_parts(parts, state)
        .await
        .map_err(|_| anonymous(Error::InvalidTenantSlug("the path is not valid UTF-8".into())))?;
    let slug = TenantSlug::parse(&raw_slug).map_err(|e| anonymous(Error::InvalidTenantSlug(e)))?;
    let report = Report::from_file(&file).ok_or_else(|| {
        anonymous(Error::NotFound(
            "no such export: accounts, journal, trial-balance, general-ledger, balance-sheet or income-statement \
             (.csv)"
                .into(),
        ))
    })?;
    let pairs = query_pairs(parts.uri.query()).map_err(anonymous)?;
    let (credential, pairs) = if ExportLinks::is_link(&pairs) {
        let link = state
            .exports
            .links
            .verify(slug.as_str(), report, pairs)
            .map_err(anonymous)?;
        (Credential::Link(link.token_id), link.parameters)
    } else {
        (Credential::Bearer(&parts.headers), pairs)
    };
    let tenant = AuthorisedTenant::authorise(state, &slug, credential).await?;
    let label = tenant.tenant.slug.clone();
    let known = |error| Refused {
        tenant: Some(label.clone()),
        error,
    };
    require_scope(&tenant.scopes, Scope::Read).map_err(known)?;
    let request = ExportRequest::parse(report, &pairs).map_err(known)?;
    let admitted = state.admission.admit(tenant.tenant.id).map_err(known)?;
    let place = state.exports.places.admit(tenant.tenant.id).map_err(known)?;
    let lease = state.services.connections.get(&tenant.tenant).await.map_err(known)?;
    let txn = match reports::snapshot(&lease.conn).await {
        Ok(txn) => txn,
        Err(error) => {
            if matches!(error, Error::TenantUnavailable(_)) && !lease.saturated() {
                // Opening a connection failed: as for GraphQL, the pool is reopened next time.
                state.services.connections.invalidate(&label);
            }
            return Err(known(error));
        }
    };
    let mut export = Export::prepare(&txn, slug.as_str(), &request).await.map_err(known)?;
    let first = export.next_chunk(&txn).await.map_err(known)?;
    let file_name = export.file_name().to_owned();

    let (sender, receiver) = mpsc::channel(1);
    let finished = Arc::new(AtomicBool::new(false));
    let producer = Producer {
        state: state.clone(),
        tenant: label.clone(),
        export,
        txn,
        sender,
        finished: finished.clone(),
        received,
        _held: (admitted, place, lease),
    };
    tokio::spawn(producer.run(first).instrument(tracing::Span::current()));
    let body = Body::from_stream(ExportBody {
        receiver,
        finished,
        ended: false,
    });
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// The task that reads an export's pieces and hands them to the body.
struct Producer {
    state: AppState,
    tenant: String,
    export: Export,
    txn: DatabaseTransaction,
    sender: mpsc::Sender<Bytes>,
    /// Set once the last piece is handed over: the body ends cleanly only then.
    finished: Arc<AtomicBool>,
    received: std::time::Instant,
    /// The places in flight and the pool lease, freed when the export ends.
    _held: (Admitted, Admitted, TenantLease),
}

impl Producer {
    async fn run(mut self, first: Option<Vec<u8>>) {
        let limits = self.state.exports.limits.clone();
        let deadline = Instant::from_std(self.received) + limits.timeout;
        let mut piece = first;
        let outcome = loop {
            let Some(bytes) = piece.take() else { break Ok(()) };
            let send_by = deadline.min(Instant::now() + limits.stall_timeout);
            match timeout_at(send_by, self.sender.send(Bytes::from(bytes))).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break Err("client_gone"),
                Err(_) if Instant::now() >= deadline => break Err("export_timeout"),
                Err(_) => break Err("client_stalled"),
            }
            piece = match timeout_at(deadline, self.export.next_chunk(&self.txn)).await {
                Ok(Ok(next)) => next,
                Ok(Err(error)) => {
                    // Logged once, here (an internal error's detail stays in the log).
                    tracing::warn!(tenant.slug = %self.tenant, code = error.code(), error = %error, "export stopped");
                    break Err(error.code());
                }
                Err(_) => break Err("export_timeout"),
            };
        };
        let result = match outcome {
            // Read only: the commit only ends the snapshot, but a connection that died
            // under the last piece is a failed export all the same.
            Ok(()) => match self.txn.commit().await {
                Ok(()) => {
                    self.finished.store(true, Ordering::Release);
                    "ok"
                }
                Err(error) => {
                    tracing::warn!(tenant.slug = %self.tenant, error = %error, "export stopped at its end");
                    "TENANT_UNAVAILABLE"
                }
            },
            Err(reason) => {
                if reason != "client_gone" {
                    tracing::info!(tenant.slug = %self.tenant, reason, "export cut short");
                }
                let _ = self.txn.rollback().await;
                reason
            }
        };
        drop(self.sender);
        self.state
            .metrics
            .observe_request(Some(&self.tenant), OPERATION, result, self.received.elapsed());
    }
}

/// The response body: the producer's pieces, then a clean end if it finished, an error
/// (the transfer is aborted) if it stopped before.
struct ExportBody {
    receiver: mpsc::Receiver<Bytes>,
    finished: Arc<AtomicBool>,
    ended: bool,
}

impl futures::Stream for ExportBody {
    type Item = io::Result<Bytes>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match this.receiver.poll_recv(cx) {
            Poll::Ready(Some(bytes)) => Poll::Ready(Some(Ok(bytes))),
            Poll::Ready(None) => {
                this.ended = true;
                if this.finished.load(Ordering::Acquire) {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(io::Error::other("the export stopped before its end"))))
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[tokio::test]
    async fn the_body_ends_cleanly_only_after_the_last_piece() {
        for finished in [true, false] {
            let (sender, receiver) = mpsc::channel(1);
            let flag = Arc::new(AtomicBool::new(false));
            let mut body = ExportBody {
                receiver,
                finished: flag.clone(),
                ended: false,
            };
            let producing = tokio::spawn(async move {
                let _ = sender.send(Bytes::from_static(b"a,b\r\n")).await;
                flag.store(finished, Ordering::Release);
            });
            assert!(matches!(body.next().await, Some(Ok(_))));
            producing.await.unwrap_or_else(|e| panic!("{e}"));
            let last = body.next().await;
            if finished {
                assert!(last.is_none());
            } else {
                assert!(matches!(last, Some(Err(_))), "a stop before the end is an error");
                assert!(body.next().await.is_none());
            }
        }
    }
}
