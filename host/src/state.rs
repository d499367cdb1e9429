//! What the host knows about the app (shared by all requests) and the
//! per-request store data.

use crate::outbound::{AllowedHost, OutboundPolicy, SharedClient};
use crate::runtime_config::SqliteLocation;
use crate::variables::ComponentVariables;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Per-component settings resolved at start-up.
pub struct ComponentConfig {
    pub variables: ComponentVariables,
    pub allowed_hosts: Arc<Vec<AllowedHost>>,
    pub sqlite_databases: Vec<String>,
}

/// The app as resolved at start-up.
pub struct AppState {
    pub components: HashMap<String, ComponentConfig>,
    /// SQLite label → where the database lives.
    pub sqlite: HashMap<String, SqliteLocation>,
    /// `SPIN_HOST_SQLITE_REFUSE_PRAGMAS=journal_mode,...`: pragmas refused
    /// as a hosted (libSQL) database refuses them.
    pub refused_pragmas: Arc<Vec<String>>,
    /// Plain-HTTP outbound requests of all instances share its pool.
    pub http_client: SharedClient,
    /// PostgreSQL connection pools, one per address.
    pub pg_pools: crate::resources::PgPools,
}

impl AppState {
    /// Whether `component` was granted SQLite database `label`.
    pub fn sqlite_granted(&self, component: &str, label: &str) -> bool {
        self.components
            .get(component)
            .is_some_and(|c| c.sqlite_databases.iter().any(|l| l == label))
    }
}

/// The data of one request's `Store`.
pub struct HostState {
    pub app: Arc<AppState>,
    pub component: String,
    pub table: ResourceTable,
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub outbound: OutboundPolicy,
    /// SQLite connections this instance holds open.
    pub sqlite_connections: usize,
    /// What the instance cost, for `SPIN_HOST_LOG_CALLS=1`.
    pub usage: Usage,
}

/// Counted per request when asked (`SPIN_HOST_LOG_CALLS=1`): every call
/// from the component into the host (WASI and Spin interfaces alike), and
/// the linear memory the component grew to.
#[derive(Default, Debug, Clone, Copy)]
pub struct Usage {
    pub host_calls: u64,
    pub peak_memory_bytes: usize,
}

impl wasmtime::ResourceLimiter for Usage {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.peak_memory_bytes = self.peak_memory_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}
