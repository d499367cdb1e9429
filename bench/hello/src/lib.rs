//! The benchmark baseline: same SDK, same release profile, same host as the
//! Order Service, but no work at all — so "order service ÷ hello" isolates
//! what the service itself costs.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use spin_sdk::http::{IncomingRequest, Response};

#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
async fn handle(_request: IncomingRequest) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(r#"{"status":"hello"}"#)
        .build()
}
