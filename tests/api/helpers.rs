//! The test harness: builds the real artifacts once, then gives each test
//! its own demo Catalog and its own runtime serving the real `.wasm` on a
//! fresh SQLite file (or PostgreSQL database), both on free loopback ports.
//! The runtime is the project's `spin-host`, or real Spin with
//! `TEST_RUNTIME=spin` (the binary from `SPIN_BIN`, else `spin` on the
//! PATH): `./dev test` runs the suite on both.

use jwt_simple::prelude::*;
use reqwest::{Client, Response};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A 30-byte key, like the reference system's Django SECRET_KEY.
pub const SIGNING_KEY: &str = "django-insecure-thirty-bytes!!";
/// The operator token every test app is started with.
pub const ADMIN_TOKEN: &str = "operator-token-for-tests-0123456789";
/// The Payment Service's signing key every test app is started with.
pub const PAYMENT_SECRET: &str = "payment-webhook-secret-for-tests";

pub struct Artifacts {
    pub root: PathBuf,
    pub host: PathBuf,
    pub catalog: PathBuf,
    pub wasm: PathBuf,
    /// The test-only PostgreSQL probe component (`tests/pg_probe`).
    pub pg_probe: PathBuf,
    /// Wasmtime's compile cache for real Spin in this test run.
    pub spin_cache: PathBuf,
}

/// Builds the component (release, wasm32-wasip2), `spin-host` and
/// `demo-catalog` once per test run.
pub fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let build = |args: &[&str]| {
            let status = std::process::Command::new(&cargo)
                .args(args)
                .current_dir(&root)
                .status()
                .expect("run cargo");
            assert!(status.success(), "cargo {args:?} failed");
        };
        build(&[
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "order-service",
            "-p",
            "pg-probe-component",
        ]);
        // Same package selection and targets as `cargo test --workspace`, so
        // features unify the same way and this is a no-op under `./dev test`
        // (a narrower build would resolve other features and rebuild Wasmtime).
        build(&["build", "--workspace", "--all-targets"]);
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        Artifacts {
            host: target.join("debug/spin-host"),
            catalog: target.join("debug/demo-catalog"),
            wasm: target.join("wasm32-wasip2/release/order_service.wasm"),
            pg_probe: target.join("wasm32-wasip2/release/pg_probe_component.wasm"),
            spin_cache: target.join("spin-test-cache"),
            root,
        }
    })
}

/// What serves the component in this test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// The project's own host (`host/`), the default.
    SpinHost,
    /// The real Spin CLI (`TEST_RUNTIME=spin`).
    Spin,
}

/// The runtime this test run serves the component with.
pub fn runtime() -> Runtime {
    match std::env::var("TEST_RUNTIME").as_deref() {
        Ok("spin") => Runtime::Spin,
        Ok("spin-host") | Ok("") | Err(_) => Runtime::SpinHost,
        Ok(other) => panic!("TEST_RUNTIME={other:?}: expected spin-host or spin"),
    }
}

/// The binary `spin up` runs as: spin-host, or real Spin (`SPIN_BIN`, else
/// `spin` on the PATH).
pub fn runtime_bin() -> PathBuf {
    match runtime() {
        Runtime::SpinHost => artifacts().host.clone(),
        Runtime::Spin => spin_bin().unwrap_or_else(|| {
            panic!("TEST_RUNTIME=spin, but no Spin: set SPIN_BIN or put `spin` on the PATH")
        }),
    }
}

/// Real Spin: `SPIN_BIN`, else `spin` on the PATH.
pub fn spin_bin() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("SPIN_BIN").filter(|b| !b.is_empty()) {
        return Some(std::fs::canonicalize(&bin).unwrap_or_else(|_| PathBuf::from(bin)));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("spin"))
        .find(|candidate| candidate.is_file())
}

/// Lines a child process printed: collected in the background from its
/// pipes, or, for real Spin, read on demand from the component's log file
/// (Spin writes it before the component's write returns) after the lines
/// Spin itself printed.
#[derive(Clone, Default)]
pub struct Output {
    collected: Arc<Mutex<Vec<String>>>,
    log_file: Option<PathBuf>,
}

impl Output {
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.collected.lock().unwrap().clone();
        if let Some(file) = &self.log_file {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            lines.extend(text.lines().map(str::to_owned));
        }
        lines
    }

    /// The same process output, plus a component log file after it.
    fn with_log_file(&self, file: PathBuf) -> Output {
        Output {
            collected: self.collected.clone(),
            log_file: Some(file),
        }
    }

    /// A component log file alone.
    fn log_file(file: PathBuf) -> Output {
        Output {
            collected: Default::default(),
            log_file: Some(file),
        }
    }

    /// Lines that are JSON objects.
    pub fn json_lines(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(Value::is_object)
            .collect()
    }

    /// The JSON log lines of event `name`, in order.
    pub fn events(&self, name: &str) -> Vec<Value> {
        self.json_lines()
            .into_iter()
            .filter(|line| line["event"] == name)
            .collect()
    }
}

/// A process started by [`start`], in a process group of its own: `spin
/// up` runs the app in a child process (`spin trigger http`), so stopping
/// it, or a crash, means the whole group (SIGKILL), also when dropped.
pub struct Process(Child);

impl Process {
    /// SIGKILL to the whole group, like a crash; waits for the leader.
    pub async fn kill(&mut self) -> std::io::Result<()> {
        self.kill_group();
        self.0.kill().await
    }

    fn kill_group(&self) {
        if let Some(pid) = self.0.id() {
            // SAFETY: kill(2) on a process group this test run created.
            unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// Starts `command`, collects its stdout and stderr, and waits until a
/// stdout line starts with `ready_prefix` (or a stderr line contains it,
/// after a log prefix); returns the rest of that line.
pub async fn start(mut command: Command, ready_prefix: &str) -> (Process, String, Output, Output) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn");
    let stdout = Output::default();
    let stderr = Output::default();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    // Whichever stream prints the ready line first (gunicorn logs to stderr).
    let ready_tx_shared = Arc::new(Mutex::new(Some(ready_tx)));
    let prefix = ready_prefix.to_owned();
    let ready = ready_tx_shared.clone();
    let mut out_lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let collected = stdout.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = out_lines.next_line().await {
            if let Some(rest) = line.strip_prefix(&prefix) {
                if let Some(tx) = ready.lock().unwrap().take() {
                    let _ = tx.send(rest.to_owned());
                }
            }
            collected.collected.lock().unwrap().push(line);
        }
    });
    let mut err_lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let collected = stderr.clone();
    let prefix = ready_prefix.to_owned();
    let ready = ready_tx_shared.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = err_lines.next_line().await {
            if let Some((_, rest)) = line.split_once(&prefix) {
                if let Some(tx) = ready.lock().unwrap().take() {
                    let _ = tx.send(rest.to_owned());
                }
            }
            collected.collected.lock().unwrap().push(line);
        }
    });
    let address = tokio::time::timeout(std::time::Duration::from_secs(120), ready_rx)
        .await
        .unwrap_or_else(|_| panic!("not ready in time; stderr: {:?}", stderr.lines()))
        .unwrap_or_else(|_| panic!("exited before ready; stderr: {:?}", stderr.lines()));
    (Process(child), address, stdout, stderr)
}

/// Which Catalog a test talks to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum CatalogKind {
    /// The Rust stand-in (`catalog/`): call counts and fault injection.
    #[default]
    Demo,
    /// Django + DRF + SimpleJWT under gunicorn (`tests/django_catalog/`),
    /// the reference Catalog's stack; `release` serves our `/release/`
    /// extension, without it the URL is Django's HTML 404.
    Django { release: bool },
}

/// The Catalog Service of one test.
pub struct TestCatalog {
    pub url: String,
    pub kind: CatalogKind,
    client: Client,
    /// The Django Catalog's database (products and stock).
    django_db: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
    _child: Process,
}

/// The venv holding the Django stack, made by `./dev test`
/// (`DJANGO_VENV` overrides where it is).
fn django_python() -> PathBuf {
    let venv = std::env::var_os("DJANGO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| artifacts().root.join("target/django-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run ./dev test, which installs the Django Catalog's \
         stack (tests/django_catalog/requirements.txt) into it",
        python.display()
    );
    python
}

/// A migrated and seeded Django Catalog database, made once per run and
/// copied for each test.
fn django_template_db() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let root = &artifacts().root;
        let dir = root.join("target/django-catalog");
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join(format!("template-{}.sqlite3", std::process::id()));
        let _ = std::fs::remove_file(&db);
        for args in [
            vec!["manage.py", "migrate", "-v", "0"],
            vec!["manage.py", "seed_products", "../../catalog/seed.json"],
        ] {
            let status = std::process::Command::new(django_python())
                .args(&args)
                .current_dir(root.join("tests/django_catalog"))
                .env("CATALOG_SIGNING_KEY", SIGNING_KEY)
                .env("CATALOG_DB", &db)
                .status()
                .expect("run manage.py");
            assert!(status.success(), "manage.py {args:?} failed");
        }
        db
    })
}

impl TestCatalog {
    pub async fn spawn(kind: CatalogKind) -> Self {
        match kind {
            CatalogKind::Demo => Self::spawn_demo().await,
            CatalogKind::Django { release } => Self::spawn_django(release).await,
        }
    }

    async fn spawn_demo() -> Self {
        Self::spawn_demo_seeded(None).await
    }

    /// The demo Catalog with these products (`catalog/seed.json`'s shape)
    /// instead of the usual seed.
    pub async fn spawn_demo_seeded(products: Option<&Value>) -> Self {
        let artifacts = artifacts();
        let dir = tempfile::tempdir().unwrap();
        let seed = match products {
            Some(products) => {
                let seed = dir.path().join("seed.json");
                std::fs::write(&seed, products.to_string()).unwrap();
                seed
            }
            None => artifacts.root.join("catalog/seed.json"),
        };
        let mut command = Command::new(&artifacts.catalog);
        command
            .args(["--listen", "127.0.0.1:0", "--seed"])
            .arg(seed)
            .env("SPIN_VARIABLE_JWT_SIGNING_KEY", SIGNING_KEY);
        let (child, address, _, _) = start(command, "Catalog listening on ").await;
        Self {
            url: address,
            kind: CatalogKind::Demo,
            client: Client::new(),
            django_db: None,
            _dir: Some(dir),
            _child: child,
        }
    }

    /// gunicorn with two sync workers serving the Django Catalog on a free
    /// port, its own copy of the seeded database.
    async fn spawn_django(release: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("catalog.sqlite3");
        std::fs::copy(django_template_db(), &db).unwrap();
        let venv_bin = django_python().parent().unwrap().to_owned();
        let mut command = Command::new(venv_bin.join("gunicorn"));
        command
            .args(["catalog_project.wsgi:application", "--bind", "127.0.0.1:0"])
            .args(["--workers", "2", "--no-control-socket", "--timeout", "30"])
            .current_dir(artifacts().root.join("tests/django_catalog"))
            .env("CATALOG_SIGNING_KEY", SIGNING_KEY)
            .env("CATALOG_DB", &db)
            .env("CATALOG_RELEASE_ENABLED", if release { "1" } else { "0" })
            .env("CATALOG_TEST_HOOKS", "1");
        let (child, address, _, _) = start(command, "Listening at: ").await;
        // "http://127.0.0.1:PORT (PID)"
        let url = address.split_whitespace().next().unwrap().to_owned();
        Self {
            url,
            kind: CatalogKind::Django { release },
            client: Client::new(),
            django_db: Some(db),
            _dir: Some(dir),
            _child: child,
        }
    }

    fn demo_only(&self, what: &str) {
        assert_eq!(
            self.kind,
            CatalogKind::Demo,
            "{what} exists only on the demo Catalog"
        );
    }

    /// Replaces the injected faults (see demo-catalog's `Faults`).
    pub async fn set_faults(&self, faults: Value) {
        self.demo_only("fault injection");
        let response = self
            .client
            .put(format!("{}/_faults", self.url))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "faults {faults} rejected");
    }

    pub async fn state(&self) -> Value {
        self.demo_only("/_state");
        self.client
            .get(format!("{}/_state", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Units on hand, as the Catalog itself records them.
    pub async fn stock(&self, product_id: i64) -> i64 {
        match &self.django_db {
            Some(db) => rusqlite::Connection::open(db)
                .unwrap()
                .query_row(
                    "SELECT in_stock FROM products_product WHERE id = ?",
                    [product_id],
                    |r| r.get(0),
                )
                .unwrap(),
            None => self.state().await["stock"][product_id.to_string()]
                .as_i64()
                .unwrap(),
        }
    }

    /// How many GET, reserve and release calls the Catalog has seen.
    pub async fn calls(&self) -> Calls {
        let calls = &self.state().await["calls"];
        let n = |k: &str| calls[k].as_u64().unwrap();
        Calls {
            get: n("get"),
            reserve: n("reserve"),
            release: n("release"),
        }
    }

    /// An access token for `user`: minted by SimpleJWT itself on the
    /// Django Catalog, by jwt-simple with SimpleJWT's claims on the demo.
    pub async fn token(&self, user: i64) -> String {
        if self.kind == CatalogKind::Demo {
            return token(user);
        }
        let answer: Value = self
            .client
            .post(format!("{}/_test/token/", self.url))
            .json(&json!({ "user_id": user }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["access"].as_str().unwrap().to_owned()
    }
}

/// Calls the demo Catalog has seen, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calls {
    pub get: u64,
    pub reserve: u64,
    pub release: u64,
}

impl Calls {
    pub const NONE: Calls = Calls {
        get: 0,
        reserve: 0,
        release: 0,
    };
}

/// A further instance of an app ([`TestApp::start_instance`]).
pub struct Instance {
    pub address: String,
    pub stdout: Output,
    pub stderr: Output,
    pub child: Process,
    _dir: tempfile::TempDir,
}

/// Where the app stores orders.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Spin's SQLite `default`, a fresh file per test.
    #[default]
    Sqlite,
    /// PostgreSQL (`database_url`), a fresh database per test on the run's
    /// server.
    Postgres,
}

/// The PostgreSQL server of this test run: `DATABASE_URL` when given (an
/// admin connection string), else a private throwaway server from the
/// machine's PostgreSQL binaries (`./dev test` installs Debian's), started
/// on a free port in a temporary folder and stopped when the run ends.
pub struct PgServer {
    /// `postgres://user@host:port`, without a database.
    base_url: String,
    /// `postgres://host:port`, for `allowed_outbound_hosts`.
    pub address: String,
    /// The private server and its watchdog, when this run started them.
    _processes: Vec<Mutex<std::process::Child>>,
}

pub fn pg_server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let base = url
                .rsplit_once('/')
                .map_or(url.as_str(), |(b, _)| b)
                .to_owned();
            let host_port = base
                .rsplit_once('@')
                .map_or(&base[11..], |(_, h)| h)
                .to_owned();
            PgServer {
                address: format!("postgres://{host_port}"),
                base_url: base,
                _processes: Vec::new(),
            }
        }
        Err(_) => start_private_pg(),
    })
}

fn start_private_pg() -> PgServer {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| {
            versions
                .filter_map(|v| v.ok().map(|v| v.path().join("bin")))
                .filter(|bin| bin.join("postgres").exists())
                .max()
        })
        .expect("no PostgreSQL server binaries: ./dev test installs Debian's postgresql");
    let dir = std::env::temp_dir().join(format!("order-service-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // PostgreSQL refuses to run as root: as root, it runs as `postgres`.
    let as_root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let command = |program: &str| {
        let mut command = if as_root {
            let mut c = std::process::Command::new("setpriv");
            c.args([
                "--reuid",
                "postgres",
                "--regid",
                "postgres",
                "--init-groups",
                "--",
            ]);
            c.arg(bin.join(program));
            c
        } else {
            std::process::Command::new(bin.join(program))
        };
        command.current_dir(&dir);
        command
    };
    if as_root {
        let status = std::process::Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let data = dir.join("data");
    let initdb = command("initdb")
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
        .stdout(Stdio::null())
        .status()
        .expect("run initdb");
    assert!(initdb.success(), "initdb failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = command("postgres")
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args(["-c", "max_connections=400"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
    // The server outlives no test run: a watchdog stops it and removes its
    // folder once this process is gone.
    let watchdog = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 1; done; kill -INT {pg}; \
             while kill -0 {pg} 2>/dev/null; do sleep 0.2; done; rm -rf '{dir}'",
            me = std::process::id(),
            pg = server.id(),
            dir = dir.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the PostgreSQL watchdog");
    let server = PgServer {
        base_url: format!("postgres://postgres@127.0.0.1:{port}"),
        address: format!("postgres://127.0.0.1:{port}"),
        _processes: vec![Mutex::new(server), Mutex::new(watchdog)],
    };
    for _ in 0..200 {
        if psql(&server.url("postgres"), "SELECT 1").is_ok() {
            return server;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the private PostgreSQL server did not start");
}

impl PgServer {
    /// The connection string of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base_url)
    }

    /// A new, empty database; its connection string.
    pub fn create_database(&self) -> String {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!(
            "orders_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        psql(&self.url("postgres"), &format!("CREATE DATABASE {name}")).unwrap();
        self.url(&name)
    }
}

/// Runs `sql` with psql; its unaligned output, or psql's error.
pub fn psql(url: &str, sql: &str) -> Result<String, String> {
    let output = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("run psql (./dev test installs postgresql)");
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// `count` demo-Catalog products numbered from 1, each at `price` with
/// `in_stock` units (for [`AppOptions::catalog_products`]).
pub fn products(count: i64, price: &str, in_stock: i64) -> Value {
    (1..=count)
        .map(|id| {
            json!({"id": id, "name": format!("p{id}"), "description": "", "price": price,
                   "is_active": true, "in_stock": in_stock})
        })
        .collect()
}

/// A pending release as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRelease {
    pub id: i64,
    pub user_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub reason: String,
    pub last_error: String,
}

/// How to start the app.
#[derive(Default, Clone)]
pub struct AppOptions {
    /// Extra `SPIN_VARIABLE_*` settings, e.g. `("catalog_timeout_ms", "300")`.
    pub variables: Vec<(&'static str, String)>,
    /// Point `catalog_url` somewhere else than the test's Catalog.
    pub catalog_url: Option<String>,
    /// Edits the manifest text before starting (e.g. to deny a host).
    pub manifest_edit: Option<fn(String) -> String>,
    /// The Catalog to start (the demo one unless said).
    pub catalog: CatalogKind,
    /// A manifest to use instead of the project's `spin.toml`.
    pub manifest_text: Option<String>,
    /// Environment of the spin-host process (its own switches).
    pub host_env: Vec<(&'static str, String)>,
    /// Where orders are stored (SQLite unless said).
    pub backend: Backend,
    /// The demo Catalog's products, instead of `catalog/seed.json`.
    pub catalog_products: Option<Value>,
}

/// One running Order Service with its own Catalog and database.
pub struct TestApp {
    pub address: String,
    pub catalog: TestCatalog,
    pub client: Client,
    pub data_dir: tempfile::TempDir,
    pub stdout: Output,
    pub stderr: Output,
    /// The PostgreSQL database, with [`Backend::Postgres`].
    pub database_url: Option<String>,
    options: AppOptions,
    host: Process,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(AppOptions::default()).await
}

/// An app storing orders in `backend`.
pub async fn spawn_app_on(backend: Backend) -> TestApp {
    spawn_app_with(AppOptions {
        backend,
        ..Default::default()
    })
    .await
}

/// Runs each named test, an `async fn(Backend)`, once per backend:
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                super::$test($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$test($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

pub async fn spawn_app_with(mut options: AppOptions) -> TestApp {
    let database_url = (options.backend == Backend::Postgres).then(|| {
        let server = pg_server();
        let url = server.create_database();
        options.variables.push(("database_url", url.clone()));
        if !options
            .variables
            .iter()
            .any(|(name, _)| *name == "database_host")
        {
            options
                .variables
                .push(("database_host", server.address.clone()));
        }
        url
    });
    let catalog = match &options.catalog_products {
        Some(products) => TestCatalog::spawn_demo_seeded(Some(products)).await,
        None => TestCatalog::spawn(options.catalog).await,
    };
    let data_dir = tempfile::tempdir().unwrap();
    let (host, address, stdout, stderr) = start_host(&options, &catalog, data_dir.path()).await;
    TestApp {
        address: format!("http://{address}"),
        catalog,
        client: Client::new(),
        data_dir,
        stdout,
        stderr,
        database_url,
        options,
        host,
    }
}

/// The `spin-host up` command for this app, without starting it.
pub fn host_command(options: &AppOptions, catalog_url: &str, data_dir: &Path) -> Command {
    let artifacts = artifacts();
    let mut manifest = match &options.manifest_text {
        Some(text) => text.clone(),
        None => std::fs::read_to_string(artifacts.root.join("spin.toml")).unwrap(),
    };
    manifest = manifest.replace(
        "source = \"target/wasm32-wasip2/release/order_service.wasm\"",
        &format!("source = {:?}", artifacts.wasm.display().to_string()),
    );
    if let Some(edit) = options.manifest_edit {
        manifest = edit(manifest);
    }
    std::fs::write(data_dir.join("spin.toml"), manifest).unwrap();
    std::fs::write(
        data_dir.join("runtime-config.toml"),
        "[sqlite_database.default]\ntype = \"spin\"\npath = \"db.sqlite3\"\n",
    )
    .unwrap();

    let mut command = up_command(data_dir);
    command.args(["--runtime-config-file", "runtime-config.toml"]);
    for (name, _) in std::env::vars() {
        if name.starts_with("SPIN_VARIABLE_") {
            command.env_remove(name);
        }
    }
    command
        .env("SPIN_VARIABLE_JWT_SIGNING_KEY", SIGNING_KEY)
        .env("SPIN_VARIABLE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SPIN_VARIABLE_PAYMENT_WEBHOOK_SECRET", PAYMENT_SECRET)
        .env(
            "SPIN_VARIABLE_CATALOG_URL",
            options.catalog_url.as_deref().unwrap_or(catalog_url),
        );
    for (name, value) in &options.variables {
        command.env(format!("SPIN_VARIABLE_{}", name.to_uppercase()), value);
    }
    for (name, value) in &options.host_env {
        command.env(name, value);
    }
    command
}

/// The runtime under test's `up` for `spin.toml` in `data_dir`, on a free
/// loopback port. Under real Spin the component's stdout and stderr stay
/// apart in their log files (`start_app` reads them), not mixed on Spin's
/// stderr, and compiled code is cached once per run under target/.
pub fn up_command(data_dir: &Path) -> Command {
    let mut command = Command::new(runtime_bin());
    command
        .args(["up", "--listen", "127.0.0.1:0", "--from", "spin.toml"])
        .current_dir(data_dir);
    if runtime() == Runtime::Spin {
        command
            .arg("--log-dir")
            .arg(data_dir.join("logs"))
            .arg("--quiet")
            .env("XDG_CACHE_HOME", &artifacts().spin_cache);
    }
    command
}

/// Starts a [`host_command`] in `data_dir` and waits until it serves;
/// returns its address and the component's stdout and stderr (under real
/// Spin, read from its log files, with Spin's own stderr before them).
pub async fn start_app(command: Command, data_dir: &Path) -> (Process, String, Output, Output) {
    let (child, address, stdout, stderr) = start(command, "Serving http://").await;
    match runtime() {
        Runtime::SpinHost => (child, address, stdout, stderr),
        Runtime::Spin => {
            let logs = data_dir.join("logs");
            (
                child,
                address,
                Output::log_file(logs.join("order-service_stdout.txt")),
                stderr.with_log_file(logs.join("order-service_stderr.txt")),
            )
        }
    }
}

async fn start_host(
    options: &AppOptions,
    catalog: &TestCatalog,
    data_dir: &Path,
) -> (Process, String, Output, Output) {
    start_app(host_command(options, &catalog.url, data_dir), data_dir).await
}

impl TestApp {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.path().join("db.sqlite3")
    }

    /// A direct connection to the service's database file.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db_path()).unwrap()
    }

    /// Rows in `table` (0 when the schema does not exist yet), whichever
    /// the backend.
    pub fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match &self.database_url {
            Some(url) => psql(url, &sql).map_or(0, |n| n.parse().unwrap()),
            None => self.db().query_row(&sql, [], |r| r.get(0)).unwrap_or(0),
        }
    }

    /// The rows of `sql`, each as its columns joined by `|`, whichever the
    /// backend.
    pub fn rows(&self, sql: &str) -> Vec<String> {
        match &self.database_url {
            Some(url) => psql(url, sql).unwrap().lines().map(str::to_owned).collect(),
            None => {
                let db = self.db();
                let mut statement = db.prepare(sql).unwrap();
                let columns = statement.column_count();
                statement
                    .query_map([], |row| {
                        (0..columns)
                            .map(|i| {
                                Ok(match row.get_ref(i)? {
                                    rusqlite::types::ValueRef::Null => String::new(),
                                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                                    rusqlite::types::ValueRef::Real(v) => v.to_string(),
                                    rusqlite::types::ValueRef::Text(t) => {
                                        String::from_utf8_lossy(t).into_owned()
                                    }
                                    rusqlite::types::ValueRef::Blob(_) => "<blob>".into(),
                                })
                            })
                            .collect::<rusqlite::Result<Vec<_>>>()
                            .map(|values| values.join("|"))
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
        }
    }

    /// The releases still owed to the Catalog, oldest first.
    pub fn pending_releases(&self) -> Vec<StoredRelease> {
        self.rows(
            "SELECT id, user_id, product_id, quantity, reason, last_error \
             FROM pending_releases ORDER BY id",
        )
        .iter()
        .map(|row| {
            let c: Vec<&str> = row.splitn(6, '|').collect();
            StoredRelease {
                id: c[0].parse().unwrap(),
                user_id: c[1].parse().unwrap(),
                product_id: c[2].parse().unwrap(),
                quantity: c[3].parse().unwrap(),
                reason: c[4].to_owned(),
                last_error: c[5].to_owned(),
            }
        })
        .collect()
    }

    /// Order `id` as stored: `(user_id, total_amount, status)`.
    pub fn stored_order(&self, id: i64) -> Option<(i64, String, String)> {
        let rows = self.rows(&format!(
            "SELECT user_id, total_amount, status FROM orders WHERE id = {id}"
        ));
        rows.first().map(|row| {
            let c: Vec<&str> = row.split('|').collect();
            (c[0].parse().unwrap(), c[1].to_owned(), c[2].to_owned())
        })
    }

    /// Order `id`'s items as stored: `(product_id, quantity, price)`.
    pub fn stored_items(&self, id: i64) -> Vec<(i64, i64, String)> {
        self.rows(&format!(
            "SELECT product_id, quantity, price FROM order_items WHERE order_id = {id} ORDER BY id"
        ))
        .iter()
        .map(|row| {
            let c: Vec<&str> = row.split('|').collect();
            (
                c[0].parse().unwrap(),
                c[1].parse().unwrap(),
                c[2].to_owned(),
            )
        })
        .collect()
    }

    /// Moves every stored Idempotency-Key's creation `hours` back.
    pub fn age_idempotency_keys(&self, hours: u32) {
        self.execute(&match self.database_url {
            Some(_) => format!(
                "UPDATE idempotency_keys SET created_at = created_at - interval '{hours} hours'"
            ),
            None => format!(
                "UPDATE idempotency_keys SET created_at = \
                 strftime('%Y-%m-%dT%H:%M:%SZ', created_at, '-{hours} hours')"
            ),
        });
    }

    /// Runs `sql` on the app's database, whichever the backend (for a test
    /// that changes state behind the service's back).
    pub fn execute(&self, sql: &str) {
        match &self.database_url {
            Some(url) => {
                psql(url, sql).unwrap();
            }
            None => self.db().execute_batch(sql).unwrap(),
        }
    }

    /// Stops the host (SIGKILL, like a crash) and starts a new one on the
    /// same database file and Catalog.
    pub async fn restart(&mut self) {
        self.host.kill().await.unwrap();
        let (host, address, stdout, stderr) =
            start_host(&self.options, &self.catalog, self.data_dir.path()).await;
        self.host = host;
        self.address = format!("http://{address}");
        self.stdout = stdout;
        self.stderr = stderr;
    }

    /// Another instance of the same app: same variables (so the same
    /// PostgreSQL database) and Catalog, its own host process.
    pub async fn start_instance(&self) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let (child, address, stdout, stderr) =
            start_host(&self.options, &self.catalog, dir.path()).await;
        Instance {
            address: format!("http://{address}"),
            stdout,
            stderr,
            child,
            _dir: dir,
        }
    }

    /// Stops the host for good (the gateway test's "service down").
    pub async fn stop_host(&mut self) {
        self.host.kill().await.unwrap();
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    /// `POST /orders/orders/` with a JSON body and, if given, a Bearer token.
    pub async fn post_order(&self, token: Option<&str>, body: &Value) -> Response {
        let mut request = self
            .client
            .post(format!("{}/orders/orders/", self.address))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `POST /orders/orders/` with an `Idempotency-Key`.
    pub async fn post_order_with_key(&self, token: &str, key: &str, body: &str) -> Response {
        self.client
            .post(format!("{}/orders/orders/", self.address))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .bearer_auth(token)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// `method path` as user `user`.
    pub async fn send_as(&self, user: i64, method: reqwest::Method, path: &str) -> Response {
        self.request(method, path)
            .bearer_auth(token(user))
            .send()
            .await
            .unwrap()
    }

    /// `POST /orders/admin/reconcile/` with the operator token; the report.
    pub async fn reconcile(&self) -> Value {
        let response = self
            .request(reqwest::Method::POST, "/orders/admin/reconcile/")
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        json_body(response).await
    }

    /// `POST /orders/orders/<id>/cancel/` as `user`.
    pub async fn cancel(&self, user: i64, id: &Value) -> Response {
        self.send_as(
            user,
            reqwest::Method::POST,
            &format!("/orders/orders/{id}/cancel/"),
        )
        .await
    }

    /// `POST /orders/payments/` with `body`, signed now with `secret`.
    pub async fn confirm_payment_signed(&self, body: &str, secret: &str, at: u64) -> Response {
        self.request(reqwest::Method::POST, "/orders/payments/")
            .header("content-type", "application/json")
            .header("payment-signature", payment_signature(secret, at, body))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// `POST /orders/payments/` as the Payment Service.
    pub async fn confirm_payment(&self, payment: &Value) -> Response {
        self.confirm_payment_signed(&payment.to_string(), PAYMENT_SECRET, unix_now())
            .await
    }

    /// `POST /orders/admin/releases/<id>/settle/` with the operator token.
    pub async fn settle_release(&self, id: i64, body: Value) -> Response {
        self.request(
            reqwest::Method::POST,
            &format!("/orders/admin/releases/{id}/settle/"),
        )
        .bearer_auth(ADMIN_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
    }

    /// Creates an order for `user` and returns its body (asserting 201),
    /// with a token from the app's Catalog kind (SimpleJWT's on Django).
    pub async fn create(&self, user: i64, items: &[(i64, i64)]) -> Value {
        let token = self.catalog.token(user).await;
        let response = self.post_order(Some(&token), &order(items)).await;
        assert_eq!(response.status(), 201);
        json_body(response).await
    }

    /// Any request, for the cases the typed helpers do not cover.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
    }

    /// The access log lines (those with a `status`).
    pub fn request_logs(&self) -> Vec<Value> {
        self.stdout
            .json_lines()
            .into_iter()
            .filter(|line| line.get("status").is_some())
            .collect()
    }
}

/// Claims exactly as Django SimpleJWT 5.5 writes an access token.
pub fn simplejwt_claims(user_id: Value) -> JWTClaims<serde_json::Map<String, Value>> {
    let custom = json!({"token_type": "access", "user_id": user_id});
    Claims::with_custom_claims(custom.as_object().unwrap().clone(), Duration::from_mins(5))
        .with_jwt_id(uuid_hex())
}

/// `{"a": {"a": … 0 …}}`, `depth` objects deep: JSON as deep as a parser
/// may be asked to go (serde_json stops at 128 levels). Objects, because
/// they take the most stack per level to parse (53 KiB for 126 levels in
/// the release component).
pub fn nested_objects(depth: usize) -> Value {
    (0..depth).fold(json!(0), |inner, _| json!({ "a": inner }))
}

/// Signs claims with the shared key.
pub fn sign(claims: JWTClaims<serde_json::Map<String, Value>>) -> String {
    HS256Key::from_bytes(SIGNING_KEY.as_bytes())
        .authenticate(claims)
        .unwrap()
}

/// A valid access token for `user_id` (SimpleJWT 5.5 writes it as a string).
pub fn token(user_id: i64) -> String {
    sign(simplejwt_claims(json!(user_id.to_string())))
}

fn uuid_hex() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    format!("{:032x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

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

/// `Payment-Signature` for `body` at `at`, as the Payment Service computes
/// it (`printf '%s' "<t>.<body>" | openssl dgst -sha256 -hmac <secret>`).
pub fn payment_signature(secret: &str, at: u64, body: &str) -> String {
    let mac = hmac_sha256::HMAC::mac(format!("{at}.{body}").as_bytes(), secret.as_bytes());
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={at},v1={hex}")
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
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
