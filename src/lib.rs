//! Order Service: a Spin HTTP component. Start reading at [`api`].
//!
//! Dependencies point one way: `api` → `ordering` → `catalog`, `store`,
//! `domain`; `auth` and `config` serve `api`; `domain` depends on nothing
//! of the project.

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
use spin_sdk::http_component;

#[http_component]
async fn handle(request: IncomingRequest) -> Response {
    api::handle(request).await
}
