//! The databases behind a test app: a fresh SQLite file, or a fresh
//! PostgreSQL database on the run's server.

use super::*;

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

/// The newest of Debian's PostgreSQL server binary folders.
pub fn postgres_bin() -> PathBuf {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| {
            versions
                .filter_map(|v| v.ok().map(|v| v.path().join("bin")))
                .filter(|bin| bin.join("postgres").exists())
                .max()
        })
        .expect("no PostgreSQL server binaries: ./dev test installs Debian's postgresql")
}

/// A fresh folder for a cluster, owned by `postgres` when we are root.
pub fn postgres_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if running_as_root() {
        let status = std::process::Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    dir
}

/// `program` of `bin`, run in `dir`; PostgreSQL refuses to run as root:
/// as root, it runs as `postgres`.
pub fn postgres_command(bin: &Path, program: &str, dir: &Path) -> std::process::Command {
    let mut command = if running_as_root() {
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
    command.current_dir(dir);
    command
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn start_private_pg() -> PgServer {
    let bin = postgres_bin();
    let dir = postgres_dir(&format!("order-service-pg-{}", std::process::id()));
    let command = |program: &str| postgres_command(&bin, program, &dir);
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
        // A throwaway server that is only ever stopped cleanly: without its
        // fsyncs (a CREATE DATABASE per test flushes a whole template), the
        // disk stays free for the SQLite tests running beside it, whose
        // commits would otherwise wait seconds for the disk and answer 503.
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
        .args(["-c", "full_page_writes=off"])
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
