//! The test harness: builds the real artifacts once, then gives each test
//! its own demo Catalog and its own runtime serving the real `.wasm` on a
//! fresh SQLite file (or PostgreSQL database), both on free loopback ports.
//! The runtime is the project's `spin-host`, or real Spin with
//! `TEST_RUNTIME=spin` (the binary from `SPIN_BIN`, else `spin` on the
//! PATH): `./dev test` runs the suite on both.

mod app;
mod artifacts;
mod auth_service;
mod catalog;
mod databases;
mod gateway;
mod otlp;
mod process;
mod redis;
mod state;
mod tokens;

pub use app::*;
pub use artifacts::*;
#[allow(unused_imports)] // the chaos run signs with the shared key
pub use auth_service::*;
pub use catalog::*;
pub use databases::*;
pub use gateway::*;
#[allow(unused_imports)] // the chaos run exports nothing
pub use otlp::*;
pub use process::*;
pub use redis::*;
#[allow(unused_imports)] // sql_rows: the chaos run's
pub use state::{sql_rows, SettledAudit};
pub use tokens::*;

pub(crate) use jwt_simple::prelude::*;
pub(crate) use reqwest::{Client, Response};
pub(crate) use serde_json::{json, Value};
pub(crate) use std::path::{Path, PathBuf};
pub(crate) use std::process::Stdio;
pub(crate) use std::sync::{Arc, Mutex, OnceLock};
pub(crate) use tokio::io::{AsyncBufReadExt, BufReader};
pub(crate) use tokio::process::{Child, Command};

/// A 30-byte key, like the reference system's Django SECRET_KEY.
pub const SIGNING_KEY: &str = "django-insecure-thirty-bytes!!";
/// The operator token every test app is started with.
pub const ADMIN_TOKEN: &str = "operator-token-for-tests-0123456789";
/// The Payment Service's signing key every test app is started with.
pub const PAYMENT_SECRET: &str = "payment-webhook-secret-for-tests";
pub const FULFILMENT_SECRET: &str = "fulfilment-webhook-secret-for-tests";

/// `POST /orders/orders/` at `base_url` (a gateway, or a host started by
/// hand) with a Bearer `token`.
pub async fn post_order_to(base_url: &str, token: &str, items: &[(i64, i64)]) -> Response {
    Client::new()
        .post(format!("{base_url}/orders/orders/"))
        .bearer_auth(token)
        .json(&order(items))
        .send()
        .await
        .unwrap()
}

/// Reads a JSON body.
pub async fn json_body(response: Response) -> Value {
    response.json().await.expect("JSON body")
}

/// An order body.
pub fn order(items: &[(i64, i64)]) -> Value {
    json!({"items": items.iter().map(|(p, q)| json!({"product_id": p, "quantity": q})).collect::<Vec<_>>()})
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    limit: std::time::Duration,
    check: impl Fn() -> F,
) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}
