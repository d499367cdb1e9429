//! SPEC §6, the container's start path without a Docker engine: the image's
//! entrypoint and its exact `spin up` command line (read from the
//! Dockerfile), run by an unprivileged user with the image's `/app` laid
//! out read-only except `/app/data`, with `spin` being the runtime under
//! test: real Spin with `TEST_RUNTIME=spin`, else spin-host (which takes
//! the same flags and rejects unknown ones). Paths under `/app` are
//! moved into a temporary folder and the listen address to a free loopback
//! port; nothing else is changed. On SQLite, the image's default: what is
//! checked is the start path, not storage.

use crate::helpers::{
    artifacts, post_order_to, runtime_bin, start, token, CatalogKind, TestCatalog, SIGNING_KEY,
};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// The image's user.
const IMAGE_UID: u32 = 10001;

/// The Dockerfile's `CMD [...]`, as arguments.
fn image_command() -> Vec<String> {
    let dockerfile = std::fs::read_to_string(artifacts().root.join("Dockerfile")).unwrap();
    let line = dockerfile
        .lines()
        .find(|line| line.starts_with("CMD ["))
        .expect("a CMD line");
    serde_json::from_str(line.trim_start_matches("CMD ")).expect("CMD in exec form")
}

/// `/app` of the image, laid out in a temporary folder: everything
/// read-only to the image's user except `data/`.
struct ImageRoot {
    _dir: tempfile::TempDir,
    app: PathBuf,
    bin: PathBuf,
    secret: PathBuf,
    as_root: bool,
}

impl ImageRoot {
    fn new() -> Self {
        // /proc/self belongs to this process's effective user.
        let as_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let app = dir.path().join("app");
        let root = &artifacts().root;
        let wasm_dir = app.join("target/wasm32-wasip2/release");
        std::fs::create_dir_all(&wasm_dir).unwrap();
        std::fs::create_dir_all(app.join("data")).unwrap();
        std::fs::copy(root.join("spin.toml"), app.join("spin.toml")).unwrap();
        let runtime_config = std::fs::read_to_string(root.join("deploy/runtime-config.toml"))
            .unwrap()
            .replace("/app/", &format!("{}/", app.display()));
        std::fs::write(app.join("runtime-config.toml"), runtime_config).unwrap();
        std::fs::copy(&artifacts().wasm, wasm_dir.join("order_service.wasm")).unwrap();
        // `spin` on the image's PATH is the runtime under test.
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(runtime_bin(), bin.join("spin")).unwrap();
        // The entrypoint is copied into the image too: the checkout may sit
        // in a directory the image's user cannot enter (a private
        // `mktemp -d`, say).
        let entrypoint = bin.join("docker-entrypoint.sh");
        std::fs::copy(root.join("deploy/docker-entrypoint.sh"), &entrypoint).unwrap();
        std::fs::set_permissions(&entrypoint, std::fs::Permissions::from_mode(0o755)).unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        let secret = secrets.join("jwt_signing_key");
        std::fs::write(&secret, SIGNING_KEY).unwrap();

        // Read-only for the image's user: as root, /app stays root's and
        // only data/ and the secret become the user's; as anyone else, the
        // write bits go.
        if as_root {
            chown(&app.join("data"), IMAGE_UID);
            chown(&secret, IMAGE_UID);
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o400)).unwrap();
        } else {
            for path in [
                &wasm_dir,
                &app.join("target/wasm32-wasip2"),
                &app.join("target"),
                &app,
            ] {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555)).unwrap();
            }
        }
        Self {
            _dir: dir,
            app,
            bin,
            secret,
            as_root,
        }
    }

    /// The entrypoint with `args`, as the image runs it.
    fn command(&self, args: &[String], catalog_url: &str) -> Command {
        let app = self.app.display().to_string();
        let args: Vec<String> = args
            .iter()
            .map(|arg| match arg.as_str() {
                "0.0.0.0:8080" => "127.0.0.1:0".to_owned(),
                other => other.replace("/app/", &format!("{app}/")),
            })
            .collect();
        let entrypoint = self.bin.join("docker-entrypoint.sh");
        let mut command = if self.as_root {
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid", &IMAGE_UID.to_string()])
                .args(["--regid", &IMAGE_UID.to_string(), "--clear-groups", "--"])
                .arg(entrypoint);
            command
        } else {
            Command::new(entrypoint)
        };
        command
            .args(&args)
            .current_dir(&self.app)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("HOME", &self.app)
            .env("DATA_DIR", self.app.join("data"))
            .env("JWT_SIGNING_KEY_FILE", &self.secret)
            .env("SPIN_VARIABLE_CATALOG_URL", catalog_url);
        command
    }
}

impl Drop for ImageRoot {
    /// Gives the write bits back so the folder can be removed.
    fn drop(&mut self) {
        if !self.as_root {
            for path in [
                self.app.clone(),
                self.app.join("target"),
                self.app.join("target/wasm32-wasip2"),
                self.app.join("target/wasm32-wasip2/release"),
            ] {
                let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
            }
        }
    }
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid)).unwrap();
}

#[tokio::test]
async fn the_image_command_serves_orders_as_an_unprivileged_user() {
    let catalog = TestCatalog::spawn(CatalogKind::Demo).await;
    let image = ImageRoot::new();
    let args = image_command();
    assert_eq!(args[..2], ["spin", "up"], "{args:?}");

    let (_child, address, _, stderr) =
        start(image.command(&args, &catalog.url), "Serving http://").await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("http://{address}/orders/health/"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let created = post_order_to(&format!("http://{address}"), &token(42), &[(1, 1)]).await;
    assert_eq!(created.status(), 201, "{:?}", stderr.lines());
    assert!(image.app.join("data/db.sqlite3").exists());
    assert!(
        !image.app.join("data/.spin/logs").exists(),
        "no component log files"
    );
}

#[tokio::test]
async fn the_image_command_without_its_write_flags_would_not_start() {
    let image = ImageRoot::new();
    // Without `--disable-cache`: Spin's Wasmtime cache under the read-only
    // $HOME.
    let without_cache_flag: Vec<String> = image_command()
        .into_iter()
        .filter(|arg| arg != "--disable-cache")
        .collect();
    // The earlier image's way to keep component logs off the read-only
    // disk, `--log-dir ""`: Spin 4.1 refuses an empty value (its help says
    // otherwise), so the image sets `log_dir = ""` in the runtime config;
    // Spin 3.6.3 takes the flag, and then refuses the runtime config's key
    // as unused.
    let empty_log_dir: Vec<String> = image_command()
        .into_iter()
        .chain(["--log-dir".to_owned(), String::new()])
        .collect();
    let empty_log_dir_refused = if crate::helpers::spin_major() >= 4 {
        "a value is required for '--log-dir"
    } else {
        "unused runtime config key(s): log_dir"
    };
    for (args, expected) in [
        (without_cache_flag, "failed to create cache directory"),
        (empty_log_dir, empty_log_dir_refused),
    ] {
        let output = image
            .command(&args, "http://127.0.0.1:9")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn an_unreadable_secret_fails_loudly_before_spin_starts() {
    let image = ImageRoot::new();
    if image.as_root {
        chown(&image.secret, 0);
    } else {
        std::fs::set_permissions(&image.secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let output = image
        .command(&image_command(), "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("jwt_signing_key exists but uid") && stderr.contains("cannot read it"),
        "{stderr}"
    );
    assert!(!stderr.contains(SIGNING_KEY));
}

#[tokio::test]
async fn unknown_spin_up_flags_are_rejected() {
    let output = Command::new(runtime_bin())
        .args(["up", "--no-such-flag"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--no-such-flag"));
}
