//! Everything a chaos run brings up on loopback, and the faults it can
//! strike them with: the demo Catalog, a durable Redis, PostgreSQL (its own
//! cluster, so restarting it touches no other test) or a SQLite file, one
//! or more instances of the runtime under test on fixed ports, and the
//! project's NGINX gateway in front of them.

use crate::helpers::{
    host_command, nginx_binary, postgres_bin, postgres_command, postgres_dir, products, psql,
    start_app, AppOptions, Backend, Gateway, Output, Process, RedisServer, TestCatalog,
};
use crate::Settings;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;

/// Products 1-6: two scarce (their last units are raced for), the rest
/// enough for minutes of orders, so most creates reach the write.
pub const STOCK: [(i64, i64); 6] = [
    (1, 25),
    (2, 60),
    (3, 2_000),
    (4, 5_000),
    (5, 10_000),
    (6, 20_000),
];
pub const PRICE: &str = "12.35";
/// Short, so a slow Catalog times out within a fault window.
pub const CATALOG_TIMEOUT_MS: u64 = 1000;
/// The shortest the service accepts (4 × the Catalog timeout), so dead
/// intents are reconciled soon after the run.
pub const INTENT_LEASE_SECONDS: u64 = 4;
/// Short, so orders expire during the run (issue 35): unpaid ones race
/// the payments, cancels and expiry passes of the workload.
pub const PAYMENT_DEADLINE_SECONDS: u64 = 12;

/// One instance of the service: its address never changes across restarts.
pub struct Node {
    pub url: String,
    dir: tempfile::TempDir,
    process: Option<Process>,
    /// The component's stderr (its log lines) of each life of the node.
    pub logs: Vec<Output>,
}

pub struct System {
    pub catalog: TestCatalog,
    pub redis: RedisServer,
    pub postgres: Option<PgCluster>,
    pub nodes: Vec<Node>,
    pub gateway: Gateway,
    options: AppOptions,
}

/// Where clients and the checker reach the system.
#[derive(Clone)]
pub struct Urls {
    pub gateway: String,
    /// Each instance directly: the Payment Service's and the operator's
    /// way in (both kept off the gateway).
    pub nodes: Vec<String>,
}

impl System {
    pub async fn start(settings: &Settings) -> Self {
        let stock: Value = STOCK
            .iter()
            .map(|(id, units)| {
                let mut product = products(1, PRICE, *units)[0].clone();
                product["id"] = (*id).into();
                product["name"] = format!("p{id}").into();
                product
            })
            .collect();
        let catalog = TestCatalog::spawn_demo_seeded(Some(&stock)).await;
        let redis = RedisServer::start_durable();
        let mut variables = vec![
            ("catalog_timeout_ms", CATALOG_TIMEOUT_MS.to_string()),
            (
                "stock_intent_lease_seconds",
                INTENT_LEASE_SECONDS.to_string(),
            ),
            ("catalog_honours_reservations", "true".to_owned()),
            (
                "payment_deadline_seconds",
                PAYMENT_DEADLINE_SECONDS.to_string(),
            ),
        ];
        variables.extend(redis.variables());
        let postgres = (settings.backend == Backend::Postgres).then(PgCluster::start);
        if let Some(cluster) = &postgres {
            variables.push(("database_url", cluster.database_url()));
            variables.push(("database_host", cluster.address()));
        }
        let options = AppOptions {
            variables,
            backend: settings.backend,
            ..Default::default()
        };
        let mut nodes = Vec::new();
        for _ in 0..settings.instances {
            let port = free_port();
            let mut node = Node {
                url: format!("http://127.0.0.1:{port}"),
                dir: tempfile::tempdir().unwrap(),
                process: None,
                logs: Vec::new(),
            };
            start_node(&options, &catalog, &mut node).await;
            nodes.push(node);
        }
        let upstreams: Vec<&str> = nodes.iter().map(|n| n.url.as_str()).collect();
        let gateway = Gateway::start_quietly(nginx_binary(), &upstreams).await;
        System {
            catalog,
            redis,
            postgres,
            nodes,
            gateway,
            options,
        }
    }

    pub fn urls(&self) -> Urls {
        Urls {
            gateway: self.gateway.url.clone(),
            nodes: self.nodes.iter().map(|n| n.url.clone()).collect(),
        }
    }

    /// SIGKILL to instance `i` (a crash: no request finishes).
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut process) = self.nodes[i].process.take() {
            let _ = process.kill().await;
        }
    }

    /// Starts instance `i` again on its address and its data.
    pub async fn revive(&mut self, i: usize) {
        if self.nodes[i].process.is_none() {
            start_node(&self.options, &self.catalog, &mut self.nodes[i]).await;
        }
    }

    /// The SQLite file of instance 0 (SQLite runs have one instance).
    pub fn sqlite_file(&self) -> PathBuf {
        self.nodes[0].dir.path().join("db.sqlite3")
    }
}

async fn start_node(options: &AppOptions, catalog: &TestCatalog, node: &mut Node) {
    let options = AppOptions {
        listen: Some(node.url.trim_start_matches("http://").to_owned()),
        ..options.clone()
    };
    let command = host_command(&options, &catalog.url, node.dir.path());
    let (process, _, _, stderr) = start_app(command, node.dir.path()).await;
    node.process = Some(process);
    node.logs.push(stderr);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A PostgreSQL cluster of the run's own (Debian's binaries, run as the
/// `postgres` user when we are root, as the server insists), stopped and
/// started with `pg_ctl` so that a restart is a real one: every connection
/// is cut, the server refuses while it is down, then accepts again.
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PgCluster {
    fn start() -> Self {
        let bin = postgres_bin();
        let dir = postgres_dir(&format!(
            "order-service-chaos-pg-{}-{}",
            std::process::id(),
            free_port()
        ));
        let cluster = PgCluster {
            bin,
            dir,
            port: free_port(),
        };
        let initdb = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data())
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(initdb.success(), "initdb");
        cluster.pg_ctl_start();
        psql(&cluster.url("postgres"), "CREATE DATABASE orders").unwrap();
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> std::process::Command {
        postgres_command(&self.bin, program, &self.dir)
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let started = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "60", "-l"])
            .arg(self.dir.join("server.log"))
            .args(["-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(started.success(), "pg_ctl start");
    }

    /// A fast shutdown (connections cut, as in a restart), then nothing.
    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "fast", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn database_url(&self) -> String {
        self.url("orders")
    }

    fn address(&self) -> String {
        format!("postgres://127.0.0.1:{}", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
