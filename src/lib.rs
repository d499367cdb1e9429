//! Order Service: a Spin HTTP component. Start reading at [`api`].
//!
//! Dependencies point one way: `api` → `orders` → {`catalog`, `store`,
//! `event_stream`} → `domain`; `auth` (with its JWKS cache in `store`)
//! serves `api` and `orders`; each concern reads its own settings through
//! the `settings` leaf; `log`, `timing`, `clock` and `trace` are leaves too,
//! and `outbound` uses only `clock`; `domain` depends on nothing of the
//! project. `api` never names `store`. tests/layout.rs checks every edge
//! and that there is no circle.

// The component is only ever run as wasm32-wasip2. Native builds exist for
// the unit tests, where the Spin export (a symbol name the native linker
// rejects) is left out and so the request path looks unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

/// HTTP edge: routing, handlers, errors, access log.
mod api;
/// JWT verification → the caller's user id; service tokens for retries.
mod auth;
/// The Catalog Service client and its failure mapping.
mod catalog;
/// Async waits on the WASI clock.
mod clock;
/// Pure rules: money, order requests, pricing, status; public for the
/// storage contract suite, which builds the store's inputs.
pub mod domain;
/// The Redis stream order events are published to.
mod event_stream;
/// Structured log lines (a leaf).
mod log;
/// The order workflows: place, cancel, idempotency, releases, payments,
/// fulfilment, events.
mod orders;
/// Outbound HTTP with deadline and body cap.
mod outbound;
/// Where settings come from and what every concern's settings share:
/// variables, errors, secrets (each concern parses its own).
mod settings;
/// All SQL, behind one interface for both databases; public for the
/// storage contract suite (`tests/storage`), used in the component by the
/// workflows and the JWKS cache only.
pub mod store;
/// Per-phase durations for the access log.
mod timing;
/// W3C Trace Context: the trace a request belongs to (a leaf).
mod trace;
/// The Payment Service's HMAC signature on confirmations.
mod webhook_signature;

use spin_sdk::http::{IncomingRequest, OutgoingResponse, ResponseOutparam};

/// The OpenAPI document generated from the API's types (tools/api-doc
/// writes it to `src/api/openapi.json`, which the component serves).
#[cfg(feature = "openapi")]
pub fn openapi_document() -> String {
    api::openapi::generate()
}

/// Sends the response first, then does the request's follow-up work
/// (reconciliation): Spin keeps the instance running until the handler
/// returns, and the client already has its answer.
#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
async fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
    let (response, follow_up) = api::handle(request).await;
    let body = response.body().to_vec();
    match OutgoingResponse::try_from(response) {
        Ok(outgoing) => {
            if let Err(error) = response_out.set_with_body(outgoing, body).await {
                response_not_sent(&error);
            }
        }
        Err(error) => response_not_sent(&error),
    }
    if let Some(follow_up) = follow_up {
        follow_up.run().await;
    }
}

fn response_not_sent(error: &dyn std::fmt::Display) {
    log::event(
        log::Level::Warn,
        "response_not_sent",
        None,
        serde_json::json!({"detail": error.to_string()}),
    );
}
