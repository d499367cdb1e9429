//! Loading the app and serving HTTP: the component is compiled once and
//! pre-instantiated (`InstancePre`), then instantiated in a fresh `Store`
//! for every request, as Spin does.

use crate::bindings;
use crate::manifest::Manifest;
use crate::outbound::{resolve_allowed_hosts, OutboundPolicy};
use crate::routes::Route;
use crate::runtime_config::{user_path, RuntimeConfig, SqliteLocation};
use crate::state::{AppState, ComponentConfig, HostState};
use crate::variables::{AppVariables, ComponentVariables};
use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tracing::field::Empty;
use tracing::Instrument;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpCtx;

/// How often a running guest yields to other tasks.
const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

pub struct Options {
    /// `spin.toml`, or a directory containing it.
    pub manifest: PathBuf,
    pub listen: String,
    pub runtime_config_file: Option<PathBuf>,
    /// `--disable-cache`: no Wasmtime compilation cache.
    pub disable_cache: bool,
    /// `--cache FILE`: the Wasmtime cache configuration.
    pub cache_config: Option<PathBuf>,
    /// `--disable-pooling`: allocate instances on demand.
    pub disable_pooling: bool,
    /// `--state-dir` (`""` unsets it; default `.spin` beside the manifest).
    pub state_dir: Option<String>,
    /// `--log-dir` (`""` unsets it; default `logs` in the state directory).
    pub log_dir: Option<String>,
}

/// One routable component, ready to instantiate.
struct Served {
    route: Route,
    component: String,
    pre: ProxyPre<HostState>,
}

struct Server {
    app: Arc<AppState>,
    /// `SPIN_HOST_LOG_TIMING=1`: print each instantiation's duration (for
    /// the benchmark's overhead figure).
    log_timing: bool,
    /// `SPIN_HOST_LOG_CALLS=1`: print each request's host calls and peak
    /// linear memory (counted with a call hook: slower, for analysis only).
    log_calls: bool,
    /// Most specific route first.
    served: Vec<Served>,
}

/// Loads the app, binds, prints the routes like `spin up` and serves until
/// interrupted.
pub async fn up(options: Options) -> Result<()> {
    let telemetry = crate::telemetry::init().context("Failed to initialize telemetry")?;
    let server = load(&options)?;
    let served = serve(Arc::new(server), &options.listen).await;
    // Spans still batched go out before the process ends.
    tokio::task::spawn_blocking(move || drop(telemetry)).await?;
    served
}

/// Everything `spin up` does before it listens, in Spin's order: the
/// manifest, the runtime config and variables, the engine (and its cache),
/// the state and log directories, then each component compiled and linked
/// and its databases checked. Any failure stops the app.
fn load(options: &Options) -> Result<Server> {
    let manifest_path = if options.manifest.is_dir() {
        options.manifest.join("spin.toml")
    } else {
        options.manifest.clone()
    };
    let manifest = Manifest::load(&manifest_path)?;
    let app_dir = match manifest_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let runtime_config = match &options.runtime_config_file {
        Some(path) => RuntimeConfig::load(path)?,
        None => RuntimeConfig::default(),
    };
    let working_dir = std::env::current_dir()?;
    let variables = AppVariables::resolve(&manifest.variables, |name| std::env::var(name).ok())?;
    let engine = engine(options)?;
    let state_dir = state_directories(options, &runtime_config, &working_dir, &app_dir)?;
    start_epoch_ticker(&engine);
    let linker = linker(&engine)?;

    let mut components = HashMap::new();
    let mut compiled: HashMap<String, ProxyPre<HostState>> = HashMap::new();
    for (name, component) in &manifest.component {
        // Spin resolves these per instance; spin-host's variables cannot
        // change while it runs, so resolving once gives the same answers.
        let allowed_hosts =
            resolve_allowed_hosts(&component.allowed_outbound_hosts, |e| variables.expand(e))
                .with_context(|| format!("component `{name}`: allowed_outbound_hosts"))?;
        let component_variables = ComponentVariables::resolve(&component.variables, &variables)
            .with_context(|| format!("component `{name}`"))?;
        components.insert(
            name.clone(),
            ComponentConfig {
                variables: component_variables,
                allowed_hosts: Arc::new(allowed_hosts),
                sqlite_databases: component.sqlite_databases.clone(),
            },
        );
        let source = app_dir.join(&component.source);
        compiled.insert(name.clone(), compile(&engine, &linker, name, &source)?);
    }

    let sqlite = runtime_config.sqlite_locations(&working_dir, state_dir.as_deref())?;
    for (name, component) in &manifest.component {
        for label in &component.sqlite_databases {
            if !sqlite.contains_key(label) {
                bail!("component `{name}` uses SQLite database `{label}`, which the runtime config does not define");
            }
        }
    }
    for (label, location) in &sqlite {
        if *location == SqliteLocation::InMemory {
            println!("SQLite database `{label}`: a temporary in-memory database per connection");
        }
    }
    let app = Arc::new(AppState {
        components,
        sqlite: sqlite.into_iter().collect(),
        refused_pragmas: Arc::new(refused_pragmas()),
        http_client: crate::outbound::shared_client(),
        pg_pools: Default::default(),
    });

    let mut served = Vec::new();
    for trigger in &manifest.trigger.http {
        served.push(Served {
            route: Route::parse(&trigger.route)?,
            component: trigger.component.clone(),
            pre: compiled[&trigger.component].clone(),
        });
    }
    served.sort_by_key(|s| std::cmp::Reverse(s.route.specificity()));
    Ok(Server {
        app,
        served,
        log_timing: std::env::var_os("SPIN_HOST_LOG_TIMING").is_some_and(|v| v == "1"),
        log_calls: std::env::var_os("SPIN_HOST_LOG_CALLS").is_some_and(|v| v == "1"),
    })
}

/// As Spin: the state directory (which holds the default database and
/// the log directory) and the log directory, created at start. Returns the
/// state directory, if any.
fn state_directories(
    options: &Options,
    runtime_config: &RuntimeConfig,
    working_dir: &Path,
    app_dir: &Path,
) -> Result<Option<PathBuf>> {
    let state_dir = match user_path(
        options.state_dir.as_deref(),
        runtime_config.state_dir.as_deref(),
    ) {
        Some(dir) => dir.map(|d| working_dir.join(d)),
        None => Some(app_dir.join(".spin")),
    };
    let log_dir = match user_path(
        options.log_dir.as_deref(),
        runtime_config.log_dir.as_deref(),
    ) {
        Some(dir) => dir.map(|d| working_dir.join(d)),
        None => state_dir.as_ref().map(|d| d.join("logs")),
    };
    if let Some(log_dir) = &log_dir {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("failed to create log directory {}", log_dir.display()))?;
    }
    Ok(state_dir)
}

/// Lets running guests yield to other tasks every [`EPOCH_TICK`].
fn start_epoch_ticker(engine: &Engine) {
    let ticker = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = ticker.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
}

/// WASI, WASI HTTP and the Spin interfaces this host offers.
fn linker(engine: &Engine) -> Result<Linker<HostState>> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    bindings::spin::sqlite::sqlite::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    bindings::spin::postgres::postgres::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    bindings::fermyon::spin::variables::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    bindings::fermyon::spin::redis::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// Compiles component `name` from `source` and pre-instantiates it.
fn compile(
    engine: &Engine,
    linker: &Linker<HostState>,
    name: &str,
    source: &Path,
) -> Result<ProxyPre<HostState>> {
    let wasm = Component::from_file(engine, source)
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "component `{name}`: cannot load {} (build it first)",
                source.display()
            )
        })?;
    let pre = linker
        .instantiate_pre(&wasm)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("component `{name}` imports something this host lacks"))?;
    Ok(ProxyPre::new(pre)?)
}

/// `SPIN_HOST_SQLITE_REFUSE_PRAGMAS=journal_mode,...`.
fn refused_pragmas() -> Vec<String> {
    std::env::var("SPIN_HOST_SQLITE_REFUSE_PRAGMAS")
        .map(|list| {
            list.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Binds `listen`, prints the routes like `spin up` and serves until
/// interrupted.
async fn serve(server: Arc<Server>, listen: &str) -> Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    println!("Serving http://{address}");
    println!("Available Routes:");
    for s in &server.served {
        let base = s.route.raw().trim_end_matches("/...");
        let wildcard = if s.route.raw().ends_with("...") {
            " (wildcard)"
        } else {
            ""
        };
        println!("  {}: http://{address}{base}{wildcard}", s.component);
    }

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, client) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        eprintln!("spin-host: accept failed: {error}");
                        continue;
                    }
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let server = server.clone();
                        async move { server.handle_in_span(request, client).await }
                    });
                    if let Err(error) = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        if !error.is_incomplete_message() {
                            eprintln!("spin-host: connection from {client}: {error}");
                        }
                    }
                });
            }
            _ = shutdown_signal() => {
                println!("Shutting down");
                return Ok(());
            }
        }
    }
}

/// Prints `import NAME` / `export NAME` for each interface of a component.
pub fn inspect(path: &Path) -> Result<()> {
    let engine = Engine::default();
    let component = Component::from_file(&engine, path)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot load {}", path.display()))?;
    let ty = component.component_type();
    for (name, _) in ty.imports(&engine) {
        println!("import {name}");
    }
    for (name, _) in ty.exports(&engine) {
        println!("export {name}");
    }
    Ok(())
}

/// One engine for the process: async support for WASI, the pooling allocator
/// where the machine allows it (as Spin), and Wasmtime's compilation cache
/// unless `--disable-cache` (as in Spin, a cache directory that cannot be
/// created stops the start). `SPIN_HOST_POOLING=0` or `--disable-pooling`
/// allocates on demand instead (for the benchmark's before/after).
fn engine(options: &Options) -> Result<Engine> {
    let mut config = Config::new();
    // Guests yield to the scheduler every epoch tick (as in Spin), so one
    // busy request cannot starve the others or block shutdown.
    config.epoch_interruption(true);
    if !options.disable_cache {
        let cache = wasmtime::Cache::from_file(options.cache_config.as_deref())
            .map_err(anyhow::Error::from)
            .context("failed to create cache directory for the Wasmtime cache (use --disable-cache without a writable $HOME)")?;
        config.cache(Some(cache));
    }
    let mut pooling = wasmtime::PoolingAllocationConfig::default();
    pooling
        .total_component_instances(1_000)
        .total_core_instances(2_000)
        .total_memories(1_000)
        .total_tables(2_000)
        .max_memory_size(256 << 20)
        // As Spin (crates/core): when a slot is reused, the first 2 MiB of
        // its linear memory and 512 KiB of its tables are reset with memset
        // (Wasmtime's pagemap_scan stays off, as in Spin), the rest with
        // madvise, which costs a TLB shootdown on every other core.
        .linear_memory_keep_resident(spin_env(
            "SPIN_WASMTIME_LINEAR_MEMORY_KEEP_RESIDENT",
            2 << 20,
        )?)
        .table_keep_resident(spin_env("SPIN_WASMTIME_TABLE_KEEP_RESIDENT", 512 << 10)?);
    if options.disable_pooling || std::env::var_os("SPIN_HOST_POOLING").is_some_and(|v| v == "0") {
        return Ok(Engine::new(&config)?);
    }
    let mut with_pooling = config.clone();
    with_pooling.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling));
    match Engine::new(&with_pooling) {
        Ok(engine) => Ok(engine),
        Err(error) => {
            eprintln!(
                "spin-host: pooling allocator unavailable ({error}); using on-demand allocation"
            );
            Ok(Engine::new(&config)?)
        }
    }
}

/// A size Spin lets its user override with an environment variable.
fn spin_env(name: &str, default: usize) -> Result<usize> {
    size_setting(name, std::env::var(name).ok(), default)
}

fn size_setting(name: &str, value: Option<String>, default: usize) -> Result<usize> {
    match value {
        Some(value) => value
            .parse()
            .with_context(|| format!("{name}={value:?} is not a number of bytes")),
        None => Ok(default),
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("cannot install SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

impl Server {
    /// [`Self::handle`] inside Spin's request span
    /// (`spin_trigger_http.handle_http_request`, a server span named
    /// `<method> <route>`, continuing the caller's `traceparent`).
    async fn handle_in_span(
        &self,
        request: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let span = tracing::info_span!(
            "spin_trigger_http.handle_http_request",
            otel.kind = "server",
            http.request.method = %request.method(),
            network.peer.address = %client.ip(),
            network.peer.port = %client.port(),
            network.protocol.name = "http",
            url.path = request.uri().path(),
            url.query = request.uri().query().unwrap_or(""),
            url.scheme = request.uri().scheme_str().unwrap_or(""),
            client.address = request
                .headers()
                .get("x-forwarded-for")
                .and_then(|value| value.to_str().ok()),
            error.type = Empty,
            http.response.status_code = Empty,
            http.route = Empty,
            otel.name = Empty,
        );
        let method = request.method().to_string();
        async move {
            let response = self.handle(request, client).await;
            let span = tracing::Span::current();
            match &response {
                Ok(response) => {
                    span.record(
                        "http.response.status_code",
                        tracing::field::display(response.status().as_u16()),
                    );
                    tracing::info!(
                        "Request finished, sending response with status code {}",
                        response.status()
                    );
                }
                Err(error) => {
                    span.record("error.type", tracing::field::debug(error));
                    span.record("http.response.status_code", "500");
                    span.record("otel.name", method.as_str());
                }
            }
            response
        }
        .instrument(span)
        .await
    }

    async fn handle(
        &self,
        mut request: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let path = request.uri().path().to_owned();
        tracing::info!("Processing request on path '{path}'");
        crate::telemetry::extract_trace_context(request.headers());
        let span = tracing::Span::current();
        let Some((served, path_info)) = self
            .served
            .iter()
            .find_map(|s| s.route.path_info(&path).map(|info| (s, info.to_owned())))
        else {
            span.record("otel.name", tracing::field::display(request.method()));
            return Ok(plain(404, "Not Found"));
        };
        span.record("http.route", served.route.raw());
        span.record(
            "otel.name",
            tracing::field::display(format_args!("{} {}", request.method(), served.route.raw())),
        );

        // Spin turns the request's headers into strings before any
        // component runs (`spin_trigger_http::headers::
        // prepare_request_headers`): a value that is not UTF-8 fails the
        // whole request with an empty 500.
        if let Some(error) = request
            .headers()
            .values()
            .find_map(|value| std::str::from_utf8(value.as_bytes()).err())
        {
            eprintln!("spin-host: Error processing request: {error}");
            return Ok(plain(500, ""));
        }

        let host = request
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_owned();
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let full_url = format!("http://{host}{path_and_query}");
        *request.uri_mut() = full_url.parse().context("request URI")?;
        for (name, value) in served.route.spin_headers(&path_info, full_url, client) {
            request.headers_mut().insert(name, value.parse()?);
        }

        let component = &self.app.components[&served.component];
        let mut store = Store::new(
            served.pre.engine(),
            HostState {
                app: self.app.clone(),
                component: served.component.clone(),
                table: ResourceTable::new(),
                wasi: WasiCtx::builder().inherit_stdout().inherit_stderr().build(),
                http: WasiHttpCtx::new(),
                outbound: OutboundPolicy {
                    allowed: component.allowed_hosts.clone(),
                    client: self.app.http_client.clone(),
                },
                sqlite_connections: 0,
                usage: Default::default(),
            },
        );
        store.epoch_deadline_async_yield_and_update(1);
        if self.log_calls {
            store.limiter(|state| &mut state.usage);
            store.call_hook(|mut context, hook| {
                if matches!(hook, wasmtime::CallHook::CallingHost) {
                    context.data_mut().usage.host_calls += 1;
                }
                Ok(())
            });
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        let pre = served.pre.clone();
        let component_name = served.component.clone();

        // The guest may keep running (streaming a body) after it has set the
        // response, so it runs in its own task.
        let log_timing = self.log_timing;
        let log_calls = self.log_calls.then(|| path_info.clone());
        let execute = tracing::info_span!(
            "spin_trigger_http.execute_wasm",
            otel.name = %format_args!("execute_wasm_component {component_name}"),
        );
        let task = tokio::spawn(async move {
            let started = std::time::Instant::now();
            let proxy = pre.instantiate_async(&mut store).await?;
            if log_timing {
                eprintln!(
                    "{{\"spin_host\":\"instantiate\",\"us\":{}}}",
                    started.elapsed().as_micros()
                );
            }
            let result = proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await;
            if let Some(path) = log_calls {
                let usage = store.data().usage;
                eprintln!(
                    "{{\"spin_host\":\"usage\",\"path\":{path:?},\"host_calls\":{},\"peak_memory_bytes\":{}}}",
                    usage.host_calls, usage.peak_memory_bytes
                );
            }
            if let Err(error) = &result {
                // As Spin's `err(level = INFO)`: the execution span fails.
                tracing::info!(error = %error);
            }
            result
        }.instrument(execute));

        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                eprintln!("spin-host: component `{component_name}` failed: {error:?}");
                Ok(plain(500, ""))
            }
            Err(_) => {
                let cause = match task.await {
                    Ok(Ok(())) => "it never set a response".to_owned(),
                    Ok(Err(error)) => format!("{error:?}"),
                    Err(error) => error.to_string(),
                };
                eprintln!("spin-host: component `{component_name}` failed: {cause}");
                Ok(plain(500, ""))
            }
        }
    }
}

use wasmtime_wasi_http::WasiHttpView as _;

fn plain(status: u16, body: &'static str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(bytes::Bytes::from_static(body.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    hyper::Response::builder()
        .status(status)
        .body(body)
        .expect("static response is valid")
}

#[cfg(test)]
mod tests {
    use super::size_setting;

    #[test]
    fn pool_sizes_come_from_spins_variables_or_defaults() {
        assert_eq!(size_setting("X", None, 2 << 20).unwrap(), 2 << 20);
        assert_eq!(size_setting("X", Some("0".into()), 2 << 20).unwrap(), 0);
        let error = size_setting("SPIN_X", Some("2MB".into()), 1).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"SPIN_X="2MB" is not a number of bytes"#
        );
    }
}
