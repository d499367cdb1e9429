//! `spin-host`: a small Spin-compatible runtime on Wasmtime, for tests,
//! benchmarks and local runs of Spin HTTP apps. It knows nothing about any
//! particular app. Start reading at [`server`].
//!
//! - [`manifest`], [`runtime_config`]: what `spin up` reads.
//! - [`variables`]: application/component variables (`SPIN_VARIABLE_*`).
//! - [`routes`]: trigger routes and the `spin-*` request headers.
//! - [`outbound`]: `allowed_outbound_hosts` enforcement.
//! - [`telemetry`]: OpenTelemetry export, as Spin's (`OTEL_*`).
//! - [`sqlite`], [`postgres`], [`redis`], [`spin_variables`]: the Spin host
//!   interfaces, each interface's `Host` implementation in its own file;
//!   [`resources`]: the resources they hand out (a leaf, named by
//!   [`bindings`]); [`state`]: what the app and each request hold.
//!
//! Imports point one way: `server` → the interfaces → {`bindings`,
//! `state`} → {`resources`, `outbound`, `variables`, `runtime_config`};
//! `manifest` → `variables` (which owns its declarations).

mod bindings;
pub mod manifest;
pub mod outbound;
mod postgres;
mod redis;
mod resources;
pub mod routes;
pub mod runtime_config;
pub mod server;
mod spin_variables;
mod sqlite;
mod state;
pub mod telemetry;
pub mod variables;
