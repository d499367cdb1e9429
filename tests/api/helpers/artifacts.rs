//! The real artefacts every test uses, built once per run, and the
//! runtime under test (spin-host, or real Spin with `TEST_RUNTIME=spin`).

use super::*;

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

/// The major version of the Spin under test, where Spin 3 and 4 differ
/// (span names, empty flags, a PostgreSQL query without rows): real Spin's
/// from `spin --version`; 4 for spin-host, which behaves as Spin 4.1.
pub fn spin_major() -> u32 {
    static MAJOR: OnceLock<u32> = OnceLock::new();
    *MAJOR.get_or_init(|| match runtime() {
        Runtime::SpinHost => 4,
        Runtime::Spin => {
            let output = std::process::Command::new(runtime_bin())
                .arg("--version")
                .output()
                .expect("spin --version");
            let text = String::from_utf8_lossy(&output.stdout);
            // "spin 3.6.3 (88d51cf1 2026-04-09)"
            text.split_whitespace()
                .nth(1)
                .and_then(|version| version.split('.').next()?.parse().ok())
                .unwrap_or_else(|| panic!("unexpected `spin --version`: {text}"))
        }
    })
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
