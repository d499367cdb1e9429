//! The project's NGINX gateway (`deploy/nginx/nginx.conf`, only addresses
//! and paths rewritten) in front of one or more instances.

use super::*;

pub struct Gateway {
    pub url: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

/// An HTTP client for customer `user`, calling from an address of its own
/// (127.0.0.2–251; all of 127/8 is loopback), as customers do: the gateway
/// limits order creation per client address, so tests that play many
/// customers must not all come from 127.0.0.1.
pub fn customer_client(user: i64) -> reqwest::ClientBuilder {
    let last = u8::try_from(2 + user.rem_euclid(250)).expect("2..=251");
    reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, last]))
}

pub fn nginx_binary() -> &'static str {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("nginx is not installed: ./dev test installs it (apt-get install nginx)")
}

impl Gateway {
    /// Starts NGINX with the project's config in front of `upstream`
    /// (`http://127.0.0.1:PORT`).
    pub async fn start(nginx: &str, upstream: &str) -> Self {
        Self::start_in_front_of(nginx, &[upstream]).await
    }

    /// The same in front of several instances (the upstream's servers).
    pub async fn start_in_front_of(nginx: &str, upstreams: &[&str]) -> Self {
        Self::start_with_log(nginx, upstreams, Stdio::inherit()).await
    }

    /// The same with NGINX's error log (every refused upstream connection
    /// while an instance is down) discarded: the chaos run's.
    #[allow(dead_code)]
    pub async fn start_quietly(nginx: &str, upstreams: &[&str]) -> Self {
        Self::start_with_log(nginx, upstreams, Stdio::null()).await
    }

    async fn start_with_log(nginx: &str, upstreams: &[&str], log: Stdio) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let config = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/nginx.conf"),
        )
        .unwrap();
        let rewritten = config
            .replace(
                "server order-service:8080;",
                &upstreams
                    .iter()
                    .map(|u| format!("server {};", u.trim_start_matches("http://")))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
            .replace("/tmp/", &format!("{}/", dir.path().display()));
        assert_ne!(rewritten, config);
        let config_path = dir.path().join("nginx.conf");
        std::fs::write(&config_path, rewritten).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&config_path)
            .args(["-e", "stderr", "-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start nginx");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self {
            url,
            _child: child,
            _dir: dir,
        }
    }
}
