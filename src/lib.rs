//! Order Service: a Spin HTTP component. Start reading at [`api`].
//!
//! Dependencies point one way: `api` → `ordering` → `catalog`, `store`,
//! `domain`; `auth` and `config` serve `api`; `domain` depends on nothing
//! of the project.

// The component is only ever run as wasm32-wasip2. Native builds exist for
// the unit tests, where the Spin export (a symbol name the native linker
// rejects) is left out and so the request path looks unused.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

/// HTTP edge: routing, handlers, errors, access log.
mod api;
/// JWT verification → the caller's user id.
mod auth;
/// The Catalog Service client and its failure mapping.
mod catalog;
/// Typed settings from Spin variables.
mod config;
/// Pure rules: money, order requests, pricing, status.
mod domain;
/// Structured log lines.
mod log;
/// The create-order workflow with compensation.
mod ordering;
/// Outbound HTTP with deadline and body cap.
mod outbound;
/// All SQL: repository functions and migrations.
mod store;

use spin_sdk::http::{IncomingRequest, Response};

#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
async fn handle(request: IncomingRequest) -> Response {
    api::handle(request).await
}
