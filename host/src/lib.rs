//! `spin-host`: a small Spin-compatible runtime on Wasmtime, for tests,
//! benchmarks and local runs of Spin HTTP apps. It knows nothing about any
//! particular app. Start reading at [`server`].
//!
//! - [`manifest`], [`runtime_config`]: what `spin up` reads.
//! - [`variables`]: application/component variables (`SPIN_VARIABLE_*`).
//! - [`routes`]: trigger routes and the `spin-*` request headers.
//! - [`outbound`]: `allowed_outbound_hosts` enforcement.
//! - [`sqlite`], [`postgres`], [`redis`], [`state`]: the Spin host interfaces and
//!   per-request state.

mod bindings;
pub mod manifest;
pub mod outbound;
mod postgres;
mod redis;
pub mod routes;
pub mod runtime_config;
pub mod server;
mod sqlite;
mod state;
pub mod variables;
