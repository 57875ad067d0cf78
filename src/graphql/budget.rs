//! The runtime budget of one request (DESIGN.md "Work a request may cause"): how many
//! values its queries may resolve, roughly how many bytes their answers may take, and
//! the deadline. The static limits (depth, complexity) bound what a document may ask;
//! this bounds what it actually costs, whatever the data.
//!
//! The [`BudgetCheck`] extension runs around every resolver, including those answered
//! from the request cache, which never reach an await point: it checks the deadline,
//! counts the value, and yields now and then, so a CPU-bound query is stopped on time
//! and never holds a worker thread from other tenants. A query that runs out of budget
//! answers only `RESULT_TOO_LARGE` (or `TIMEOUT`): nothing of its data is sent.
//!
//! A batch shares one [`RequestBudget`]. Mutations get one that only yields: a mutation
//! must never answer an error for data it committed, so its answer is bounded before it
//! runs instead (its inputs by their limits, its selection by `tenant::answer_shape`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo};
use async_graphql::{ErrorExtensions, QueryPathSegment, Response, ServerError, ServerResult, Value};

use crate::config::ApiLimits;
use crate::error::Error;

/// Resolved values between two yields to the scheduler.
const YIELD_EVERY: u64 = 256;

/// What the queries of one request (a whole batch) may still spend.
#[derive(Debug)]
pub struct RequestBudget {
    deadline: Instant,
    timeout: Duration,
    max_values: u64,
    max_bytes: u64,
    values: AtomicU64,
    bytes: AtomicU64,
    timed_out: AtomicBool,
}

/// Why a resolver was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spent {
    Values,
    Bytes,
    Time,
}

impl RequestBudget {
    /// The budget of a request that started now.
    pub fn new(limits: &ApiLimits) -> Arc<Self> {
        Arc::new(RequestBudget {
            deadline: Instant::now() + limits.request_timeout,
            timeout: limits.request_timeout,
            max_values: limits.max_resolved_values,
            max_bytes: limits.max_response_bytes,
            values: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
        })
    }

    /// A budget that never stops anything but still makes resolving yield now and then:
    /// for mutations, which must not answer an error for data they committed.
    pub fn yielding_only() -> Arc<Self> {
        Arc::new(RequestBudget {
            deadline: Instant::now() + Duration::from_secs(365 * 24 * 3600),
            timeout: Duration::MAX,
            max_values: u64::MAX,
            max_bytes: u64::MAX,
            values: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
        })
    }

    /// Whether a query of this request was stopped by the deadline.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }

    /// Counts one value about to be resolved; returns how many were counted before it.
    fn take_value(&self) -> Result<u64, Spent> {
        if Instant::now() >= self.deadline {
            self.timed_out.store(true, Ordering::Relaxed);
            return Err(Spent::Time);
        }
        let before = self.values.fetch_add(1, Ordering::Relaxed);
        if before >= self.max_values {
            return Err(Spent::Values);
        }
        Ok(before)
    }

    fn take_bytes(&self, bytes: u64) -> Result<(), Spent> {
        let before = self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.max_bytes {
            return Err(Spent::Bytes);
        }
        Ok(())
    }

    fn error(&self, spent: Spent) -> Error {
        match spent {
            Spent::Time => Error::Timeout(self.timeout.as_millis()),
            Spent::Values => Error::ResultTooLarge(format!(
                "the answer would have more than {} values (GRAPHQL_MAX_RESOLVED_VALUES); ask for smaller pages or fewer fields",
                self.max_values
            )),
            Spent::Bytes => Error::ResultTooLarge(format!(
                "the answer would be larger than {} bytes (MAX_RESPONSE_BYTES); ask for smaller pages or fewer fields",
                self.max_bytes
            )),
        }
    }
}

/// Roughly how many bytes of JSON a resolved value adds to the answer: its key (or a
/// comma in a list), and for a scalar its text. Objects and lists count their brackets
/// here; their members count themselves when they are resolved.
fn json_bytes(segment: &QueryPathSegment<'_>, value: &Value) -> u64 {
    let key = match segment {
        QueryPathSegment::Name(name) => name.len() as u64 + 4,
        QueryPathSegment::Index(_) => 1,
    };
    let text = match value {
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::Number(n) => n.to_string().len() as u64,
        Value::String(s) => s.len() as u64 + 2,
        Value::Enum(name) => name.len() as u64 + 2,
        Value::Binary(b) => b.len() as u64 * 4 / 3 + 2,
        Value::List(_) | Value::Object(_) => 2,
    };
    key + text
}

/// The schema extension: makes a [`BudgetCheck`] for every operation executed.
pub struct Budget;

impl ExtensionFactory for Budget {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(BudgetCheck::default())
    }
}

/// One operation's view of the request budget (found in the operation's data; an
/// operation without one, a mutation, is not counted).
#[derive(Default)]
pub struct BudgetCheck {
    /// Set when a resolver of this operation was refused: its whole answer is replaced.
    stopped: std::sync::Mutex<Option<Spent>>,
}

impl BudgetCheck {
    fn stop(&self, spent: Spent) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        stopped.get_or_insert(spent);
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for BudgetCheck {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        let stopped = *self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        match (stopped, ctx.data_opt::<Arc<RequestBudget>>()) {
            (Some(spent), Some(budget)) => only_error(budget.error(spent)),
            _ => response,
        }
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let Some(budget) = ctx.data_opt::<Arc<RequestBudget>>() else {
            return next.run(ctx, info).await;
        };
        let refuse = |spent: Spent| {
            self.stop(spent);
            Err(ServerError::new(budget.error(spent).to_string(), None))
        };
        let counted = match budget.take_value() {
            Ok(counted) => counted,
            Err(spent) => return refuse(spent),
        };
        if counted % YIELD_EVERY == YIELD_EVERY - 1 {
            // Values served from the request cache never await: let the other tasks of
            // this worker thread (and the request timeout) run.
            tokio::task::yield_now().await;
        }
        let segment = info.path_node.segment;
        let value = next.run(ctx, info).await?;
        if let Some(value) = &value {
            if let Err(spent) = budget.take_bytes(json_bytes(&segment, value)) {
                return refuse(spent);
            }
        }
        Ok(value)
    }
}

/// The GraphQL response of an operation that gives nothing but `error`.
pub fn only_error(error: Error) -> Response {
    let coded = error.extend();
    let mut server_error = ServerError::new(coded.message, None);
    server_error.extensions = coded.extensions;
    Response::from_errors(vec![server_error])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(values: u64, bytes: u64) -> ApiLimits {
        ApiLimits {
            max_resolved_values: values,
            max_response_bytes: bytes,
            ..ApiLimits::default()
        }
    }

    #[test]
    fn values_are_counted_across_the_whole_request() {
        let budget = RequestBudget::new(&limits(3, 1_000));
        assert_eq!(budget.take_value(), Ok(0));
        assert_eq!(budget.take_value(), Ok(1));
        assert_eq!(budget.take_value(), Ok(2));
        assert_eq!(budget.take_value(), Err(Spent::Values));
        assert_eq!(budget.error(Spent::Values).code(), "RESULT_TOO_LARGE");
        assert!(!budget.timed_out());
    }

    #[test]
    fn bytes_are_counted_until_the_limit() {
        let budget = RequestBudget::new(&limits(100, 10));
        assert_eq!(budget.take_bytes(6), Ok(()));
        assert_eq!(budget.take_bytes(4), Ok(()));
        assert_eq!(budget.take_bytes(1), Err(Spent::Bytes));
    }

    #[test]
    fn a_passed_deadline_stops_and_is_remembered() {
        let budget = RequestBudget::new(&ApiLimits {
            request_timeout: Duration::ZERO,
            ..ApiLimits::default()
        });
        assert_eq!(budget.take_value(), Err(Spent::Time));
        assert!(budget.timed_out());
        assert_eq!(budget.error(Spent::Time).code(), "TIMEOUT");
    }

    #[test]
    fn json_size_is_estimated_per_value() {
        let key = QueryPathSegment::Name("code");
        assert_eq!(json_bytes(&key, &Value::from("1-1101")), 8 + 8, r#""code":"1-1101","#);
        assert_eq!(json_bytes(&QueryPathSegment::Index(3), &Value::from(12)), 1 + 2);
        assert_eq!(json_bytes(&key, &Value::Null), 8 + 4);
        assert_eq!(
            json_bytes(&key, &Value::List(vec![Value::Null; 5])),
            8 + 2,
            "members count themselves"
        );
    }
}
