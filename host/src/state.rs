//! What the host knows about the app (shared by all requests) and the
//! per-request store data.

use crate::bindings::fermyon::spin::variables;
use crate::outbound::{AllowedHost, OutboundPolicy};
use crate::variables::ComponentVariables;
use std::collections::HashMap;
use std::path::PathBuf;
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
    /// SQLite label → database file.
    pub sqlite: HashMap<String, PathBuf>,
}

impl AppState {
    /// The file behind `label` if `component` may use it.
    pub fn sqlite_path(&self, component: &str, label: &str) -> Option<PathBuf> {
        let allowed = self
            .components
            .get(component)
            .is_some_and(|c| c.sqlite_databases.iter().any(|l| l == label));
        allowed.then(|| self.sqlite.get(label).cloned()).flatten()
    }

    pub fn sqlite_label_exists(&self, label: &str) -> bool {
        self.sqlite.contains_key(label)
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

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        if crate::variables::check_name(&name).is_err() {
            return Ok(Err(variables::Error::InvalidName(name)));
        }
        let value = self
            .app
            .components
            .get(&self.component)
            .and_then(|c| c.variables.get(&name));
        Ok(match value {
            Some(value) => Ok(value.to_owned()),
            None => Err(variables::Error::Undefined(format!(
                "no variable for {name:?}"
            ))),
        })
    }
}
