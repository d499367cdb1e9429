//! A private, throwaway Redis server per test (Debian's `redis-server`,
//! provisioned by `./dev test`): loopback only, its own port, killed when
//! dropped, without persistence unless asked. It can be stopped and
//! started again on the same port ("Redis down, then back").

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// While stopped: the port, bound and not listening, so connecting is
    /// refused and no other test's server takes the port meanwhile (CI
    /// saw one do so: the restarted Redis could not bind).
    placeholder: Option<PortPlaceholder>,
    /// Every write in an append-only file synced at once, so a SIGKILL
    /// loses nothing acknowledged (the chaos run restarts Redis).
    durable: bool,
}

/// One stream entry: its id and fields.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub fields: HashMap<String, String>,
}

impl Entry {
    pub fn field(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .unwrap_or_else(|| panic!("entry {} has no {name}", self.id))
    }
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// One whose stream survives [`Self::stop`] and [`Self::resume`] (the
    /// chaos run's).
    #[allow(dead_code)]
    pub fn start_durable() -> Self {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = RedisServer {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
            placeholder: None,
            durable,
        };
        server.resume();
        server
    }

    /// `redis://127.0.0.1:<port>`: the URL and its allow-list entry.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The variables that make the service publish here.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        vec![
            ("events_redis_url", self.url()),
            ("events_redis_host", self.url()),
        ]
    }

    /// Kills the server (SIGKILL): connections drop, the port refuses.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.placeholder = PortPlaceholder::bind(self.port);
        }
    }

    /// Starts the server again on the same port (empty, unless durable).
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.placeholder = None; // frees the port for the server
        let append_only = if self.durable { "yes" } else { "no" };
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", append_only])
            .args(["--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (./dev test installs it)");
        self.child = Some(child);
        let started = Instant::now();
        while self.try_connection().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn try_connection(&self) -> Option<redis::Connection> {
        let client = redis::Client::open(self.url()).ok()?;
        let mut connection = client.get_connection().ok()?;
        redis::cmd("PING")
            .query::<String>(&mut connection)
            .ok()
            .map(|_| connection)
    }

    pub fn connection(&self) -> redis::Connection {
        self.try_connection().expect("redis is up")
    }

    /// All entries of `stream`, oldest first.
    pub fn entries(&self, stream: &str) -> Vec<Entry> {
        let reply: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(stream)
            .arg("-")
            .arg("+")
            .query(&mut self.connection())
            .unwrap();
        reply
            .into_iter()
            .map(|(id, fields)| Entry {
                id,
                fields: fields.into_iter().collect(),
            })
            .collect()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP socket bound to a loopback port without listening: connections
/// to the port are refused (RST), and the port is not free for others.
struct PortPlaceholder(libc::c_int);

impl PortPlaceholder {
    fn bind(port: u16) -> Option<Self> {
        // SAFETY: plain socket calls on a descriptor this value owns and
        // closes in `drop`.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            if fd < 0 {
                return None;
            }
            let placeholder = PortPlaceholder(fd);
            let on: libc::c_int = 1;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEADDR,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            let address = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
                },
                sin_zero: [0; 8],
            };
            let bound = libc::bind(
                fd,
                (&address as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            );
            (bound == 0).then_some(placeholder)
        }
    }
}

impl Drop for PortPlaceholder {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}
