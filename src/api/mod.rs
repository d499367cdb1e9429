//! The HTTP edge: request id, routing, dispatch to one handler per resource,
//! the error-to-response mapping, and the access log line.
//!
//! - [`routes`]: the route table (404/405 before authentication).
//! - [`health`], [`orders`], [`admin`], [`metrics`], [`payments`],
//!   [`fulfilments`], [`openapi`]: the handlers.
//! - [`error`]: the one API error type.
//! - [`body`]: bounded JSON body reading.
//! - [`session`]: configuration, authentication and the workflows'
//!   dependencies, built once per request.

mod admin;
mod body;
mod error;
mod fulfilments;
mod health;
mod metrics;
pub(crate) mod openapi;
mod orders;
mod payments;
mod routes;
mod session;

use crate::log::{self, Level};
use crate::orders::release::FollowUp;
use crate::timing::Phases;
use crate::trace::TraceContext;
use error::ApiError;
use routes::{NoRoute, Route};
use serde_json::{json, Value};
use spin_sdk::http::{IncomingRequest, Response, ResponseBuilder};
use std::cell::Cell;
use std::time::Instant;

/// What the request says besides its body; set once, read by handlers.
pub struct RequestFacts {
    pub request_id: String,
    /// The trace this request belongs to (W3C `traceparent`).
    pub trace: TraceContext,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
    pub idempotency_key: Option<String>,
    pub payment_signature: Option<String>,
    pub fulfilment_signature: Option<String>,
    /// The query string, without `?`.
    pub query: String,
}

/// What the access log line says about the request besides its status:
/// filled in by handlers and workflows as they learn it.
#[derive(Default)]
pub struct AccessLog {
    pub user_id: Cell<Option<i64>>,
    pub order_id: Cell<Option<i64>>,
    pub phases: Phases,
}

/// A handler's answer, and the work owed after it is sent.
pub struct Reply {
    pub response: Response,
    pub follow_up: Option<FollowUp>,
}

impl From<Response> for Reply {
    fn from(response: Response) -> Self {
        Reply {
            response,
            follow_up: None,
        }
    }
}

/// Serves one request; the caller sends the response, then runs the
/// follow-up, if any.
pub async fn handle(request: IncomingRequest) -> (Response, Option<FollowUp>) {
    let started = Instant::now();
    let method = request.method();
    let path_and_query = request.path_with_query().unwrap_or_default();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query.as_str(), ""));
    let (path, query) = (path.to_owned(), query.to_owned());
    // All headers in one host call (each `headers().get()` costs three:
    // the fields handle, the lookup and its drop).
    let headers = request.headers().entries();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| String::from_utf8(value.clone()).ok())
    };
    let facts = RequestFacts {
        request_id: header("x-request-id")
            .filter(|id| is_acceptable_request_id(id))
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
        trace: TraceContext::from_headers(
            header("traceparent").as_deref(),
            header("tracestate").as_deref(),
        ),
        authorization: header("authorization"),
        content_type: header("content-type"),
        content_length: header("content-length"),
        idempotency_key: header("idempotency-key"),
        payment_signature: header("payment-signature"),
        fulfilment_signature: header("fulfilment-signature"),
        query,
    };
    log::set_trace(&facts.trace.trace_id, &facts.trace.span_id);
    let access = AccessLog::default();

    let result: Result<Reply, ApiError> = match routes::resolve(&method, &path) {
        Err(NoRoute::NotFound) => Err(ApiError::NotFound),
        Err(NoRoute::MethodNotAllowed { allow }) => Err(ApiError::MethodNotAllowed { allow }),
        Ok(Route::Health) => Ok(health::get().into()),
        Ok(Route::OpenApi) => Ok(openapi::get().into()),
        Ok(Route::CreateOrder) => orders::create(&facts, &access, request).await,
        Ok(Route::ListOrders) => orders::list(&facts, &access).await,
        Ok(Route::GetOrder(id)) => orders::get(&facts, &access, id).await,
        Ok(Route::CancelOrder(id)) => orders::cancel(&facts, &access, id).await,
        Ok(Route::Reconcile) => admin::reconcile(&facts, &access).await,
        Ok(Route::ListAnyOrders) => admin::list_orders(&facts, &access).await,
        Ok(Route::Metrics) => metrics::get(&facts, &access).await,
        Ok(Route::SettleRelease(id)) => admin::settle_release(&facts, &access, request, id).await,
        Ok(Route::ConfirmPayment) => payments::confirm(&facts, &access, request).await,
        Ok(Route::ConfirmRefund) => payments::refund(&facts, &access, request).await,
        Ok(Route::ConfirmFulfilment) => fulfilments::confirm(&facts, &access, request).await,
    };
    let (mut response, follow_up) = match result {
        Ok(reply) => (reply.response, reply.follow_up),
        Err(error) => {
            if let Some(cause) = error.cause() {
                // The one line of a 5xx: its cause, beside the request id.
                log::event(
                    Level::Error,
                    "request_failed",
                    Some(&facts.request_id),
                    json!({"status": error.status(), "code": error.code(), "cause": log::chain(cause)}),
                );
            }
            (error.into_response(), None)
        }
    };
    response.set_header("x-request-id", facts.request_id.as_str());

    let mut line = json!({
        "method": method.to_string(),
        "path": path,
        "status": *response.status(),
        "duration_ms": millis(started.elapsed()),
        "request_id": facts.request_id,
        "parent_span_id": facts.trace.parent_id,
        "user_id": access.user_id.get(),
        "order_id": access.order_id.get(),
    });
    let phases = access.phases.snapshot();
    if !phases.is_empty() {
        let phases: serde_json::Map<String, Value> = phases
            .iter()
            .map(|(phase, took)| (format!("{phase}_ms"), millis(*took).into()))
            .collect();
        line["phases"] = Value::Object(phases);
    }
    log::request(line);
    (response, follow_up)
}

/// Milliseconds with two decimals.
fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 100_000.0).round() / 100.0
}

/// A JSON response builder with the status and content type set.
pub(crate) fn json_response(status: u16, body: &impl serde::Serialize) -> ResponseBuilder {
    let mut builder = Response::builder();
    builder
        .status(status)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap_or_default());
    builder
}

/// Incoming ids are kept only when short and plain, so a client cannot
/// inject anything into logs or the Catalog request.
fn is_acceptable_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::is_acceptable_request_id;

    #[test]
    fn request_ids_are_kept_only_when_plain() {
        assert!(is_acceptable_request_id(
            "3f2b9c0e-1d2a-4e5f-8a9b-0c1d2e3f4a5b"
        ));
        assert!(is_acceptable_request_id("a1b2c3d4e5f60718293a4b5c6d7e8f90"));
        for bad in ["", "has space", "line\nbreak", "quote\"", &"x".repeat(129)] {
            assert!(!is_acceptable_request_id(bad), "{bad:?}");
        }
    }
}
