//! The app under test: started on the runtime under test with its own
//! Catalog and database, and the requests tests make to it.

use super::*;

/// A further instance of an app ([`TestApp::start_instance`]).
pub struct Instance {
    pub address: String,
    pub stdout: Output,
    pub stderr: Output,
    pub child: Process,
    _dir: tempfile::TempDir,
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
    /// More arguments of the demo Catalog (e.g. the Auth Service's public
    /// key, `AuthService::catalog_args`).
    pub catalog_args: Vec<String>,
    /// More settings of the Django Catalog (`AuthService::django_env`).
    pub catalog_env: Vec<(&'static str, String)>,
    /// Where to serve (a free loopback port unless said), so a restarted
    /// instance comes back where a gateway expects it.
    pub listen: Option<String>,
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

/// A failing test shows what the service logged last: a 503 or a 500 is
/// explained there (busy, a peer's answer), and the run cannot be repeated.
impl Drop for TestApp {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let lines = [self.stdout.lines(), self.stderr.lines()].concat();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!("--- the service's last log lines ---\n{}", tail.join("\n"));
        }
    }
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
    let catalog = match options.catalog {
        CatalogKind::Django { release } if !options.catalog_env.is_empty() => {
            TestCatalog::spawn_django_with(release, &options.catalog_env).await
        }
        _ if options.catalog_products.is_some() || !options.catalog_args.is_empty() => {
            TestCatalog::spawn_demo_with(options.catalog_products.as_ref(), &options.catalog_args)
                .await
        }
        _ => TestCatalog::spawn(options.catalog).await,
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

    let listen = options.listen.as_deref().unwrap_or("127.0.0.1:0");
    let mut command = up_command_on(data_dir, listen);
    command.args(["--runtime-config-file", "runtime-config.toml"]);
    for (name, _) in std::env::vars() {
        // The test's settings only: no variable, and no telemetry export
        // unless the test asks (tests/api/telemetry.rs).
        if name.starts_with("SPIN_VARIABLE_") || name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command
        .env("SPIN_VARIABLE_JWT_SIGNING_KEY", SIGNING_KEY)
        .env("SPIN_VARIABLE_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SPIN_VARIABLE_PAYMENT_WEBHOOK_SECRET", PAYMENT_SECRET)
        .env("SPIN_VARIABLE_FULFILMENT_WEBHOOK_SECRET", FULFILMENT_SECRET)
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
    up_command_on(data_dir, "127.0.0.1:0")
}

/// [`up_command`] serving on `listen`.
pub fn up_command_on(data_dir: &Path, listen: &str) -> Command {
    let mut command = Command::new(runtime_bin());
    command
        .args(["up", "--listen", listen, "--from", "spin.toml"])
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
        assert_eq!(
            response.status(),
            200,
            "{:?}",
            self.stderr.events("request_failed")
        );
        json_body(response).await
    }

    /// `GET /orders/admin/metrics` with the operator token: its text (200,
    /// the exposition format's content type).
    pub async fn metrics(&self) -> String {
        let response = self
            .request(reqwest::Method::GET, "/orders/admin/metrics")
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        response.text().await.unwrap()
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

    /// `POST path` with `body`, signed at `at` with `secret` in `header`,
    /// as a peer service calls the service (directly, not via the gateway).
    pub async fn post_signed(
        &self,
        path: &str,
        (header, secret): (&str, &str),
        body: &str,
        at: u64,
    ) -> Response {
        self.request(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .header(header, payment_signature(secret, at, body))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// `POST /orders/payments/` with `body`, signed now with `secret`.
    pub async fn confirm_payment_signed(&self, body: &str, secret: &str, at: u64) -> Response {
        let signer = ("payment-signature", secret);
        self.post_signed("/orders/payments/", signer, body, at)
            .await
    }

    /// `POST /orders/payments/` as the Payment Service.
    pub async fn confirm_payment(&self, payment: &Value) -> Response {
        self.confirm_payment_signed(&payment.to_string(), PAYMENT_SECRET, unix_now())
            .await
    }

    /// `POST /orders/refunds/` as the Payment Service.
    pub async fn confirm_refund(&self, refund: &Value) -> Response {
        let signer = ("payment-signature", PAYMENT_SECRET);
        let body = refund.to_string();
        self.post_signed("/orders/refunds/", signer, &body, unix_now())
            .await
    }

    /// `POST /orders/fulfilments/` as the Fulfilment Service.
    pub async fn fulfil(&self, update: &Value) -> Response {
        let signer = ("fulfilment-signature", FULFILMENT_SECRET);
        let body = update.to_string();
        self.post_signed("/orders/fulfilments/", signer, &body, unix_now())
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
        assert_eq!(
            response.status(),
            201,
            "{:?}",
            self.stderr.events("request_failed")
        );
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
