//! The chaos run (issue 20): random operations from concurrent clients
//! through the project's NGINX gateway — creates (some under an
//! Idempotency-Key, retried, sometimes twice at once), cancels (sometimes
//! racing), signed payment confirmations (some repeated, some with the
//! wrong amount), reads and lists — while a fault schedule drawn from a
//! printed seed kills instances (SIGKILL), makes the Catalog slow, failing,
//! lying or dropping connections before or after applying a write, stops
//! Redis and restarts PostgreSQL. Then everything is healed, the service
//! reconciles, and invariants are checked over the whole history and the
//! final state (`check.rs`), each printed with its numbers.
//!
//! `./dev chaos --seconds 120 --backend postgres --instances 2` runs one;
//! `cargo test` runs a short one per backend. `CHAOS_SEED` replays a run's
//! schedule and operations (timing still differs between runs).

#[allow(dead_code, unused_imports)]
#[path = "../api/helpers/mod.rs"]
mod helpers;

mod check;
mod faults;
mod system;
mod workload;

use helpers::Backend;
use std::time::Duration;

/// What one run does; from `CHAOS_*` variables, with CI's defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub backend: Backend,
    pub seconds: u64,
    pub seed: u64,
    pub instances: usize,
    pub clients: usize,
}

impl Settings {
    fn from_env(backend: Backend) -> Self {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
                })
                .unwrap_or(default)
        };
        let seed = number(
            "CHAOS_SEED",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64,
        );
        let instances = match backend {
            // Several instances share PostgreSQL (docs/deploying.md); SQLite is one.
            Backend::Sqlite => 1,
            Backend::Postgres => number("CHAOS_INSTANCES", 2) as usize,
        };
        Settings {
            backend,
            seconds: number("CHAOS_SECONDS", 45),
            seed,
            instances: instances.max(1),
            clients: number("CHAOS_CLIENTS", 8) as usize,
        }
    }
}

/// One run at a time: each brings up its own servers, and two at once on
/// two cores would measure the machine, not the service.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn chaos(backend: Backend) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let settings = Settings::from_env(backend);
    println!(
        "chaos: {:?}, {} instance(s), {} clients, {} s, seed {} (replay: CHAOS_SEED={})",
        settings.backend,
        settings.instances,
        settings.clients,
        settings.seconds,
        settings.seed,
        settings.seed
    );
    let mut system = system::System::start(&settings).await;
    let run = Duration::from_secs(settings.seconds);
    let history = workload::History::default();
    let urls = system.urls();
    let clients = workload::run_clients(&settings, &urls, &history, run);
    let schedule = faults::run_schedule(&settings, &mut system, run);
    let ((), windows) = tokio::join!(clients, schedule);
    let report = check::quiesce_and_check(&settings, &system, &history.take(), &windows).await;
    println!("{report}");
    assert!(
        report.violations().is_empty(),
        "chaos: invariants violated with seed {} ({:?}, {} instance(s)): {}; replay with \
         CHAOS_SEED={} CHAOS_SECONDS={}",
        settings.seed,
        settings.backend,
        settings.instances,
        report.violations().join(", "),
        settings.seed,
        settings.seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite() {
    chaos(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres() {
    chaos(Backend::Postgres).await;
}
