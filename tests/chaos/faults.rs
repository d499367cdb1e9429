//! The fault schedule: calm, a fault, calm, … drawn from the run's seed,
//! one fault at a time so each answer can be judged against the window it
//! fell in. Every fault is undone before the run ends.

use crate::system::{System, CATALOG_TIMEOUT_MS};
use crate::Settings;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// SplitMix64: small, seedable, good enough to draw a schedule.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(self.between(low, high))
    }
}

/// A fault and when it was in force (from its start until it was undone).
#[derive(Debug, Clone)]
pub struct Window {
    pub fault: String,
    pub start: Instant,
    pub end: Instant,
}

/// How long after a fault is undone its effects may still show: a
/// request that was waiting on it, a pooled connection found dead, a
/// restarted instance warming up.
pub const AFTERMATH: Duration = Duration::from_secs(3);

impl Window {
    /// Whether a request in flight from `start` to `end` met this fault.
    pub fn covers(&self, start: Instant, end: Instant) -> bool {
        start <= self.end + AFTERMATH && end >= self.start
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    KillInstance(usize),
    /// Every Catalog answer later than the service waits (writes still
    /// applied after it gave up, as Django finishes a request).
    CatalogSlow,
    /// 503 for everything, nothing applied.
    CatalogFailing,
    /// Reserves applied, then answered with a page that is not the
    /// contract's; product reads answered with nonsense.
    CatalogLying,
    /// Reserves (or releases) cut off before or after being applied.
    CatalogDrops {
        release: bool,
        after_apply: bool,
    },
    RedisDown,
    PostgresRestart,
}

impl Fault {
    /// One of each kind this system can suffer, in a random order: a
    /// short run still meets every kind (a deck, not independent draws).
    fn deck(rng: &mut Rng, system: &System) -> Vec<Fault> {
        let mut deck = vec![
            Fault::KillInstance(rng.below(system.nodes.len() as u64) as usize),
            Fault::CatalogSlow,
            Fault::CatalogFailing,
            Fault::CatalogLying,
            Fault::RedisDown,
        ];
        for release in [false, true] {
            for after_apply in [false, true] {
                deck.push(Fault::CatalogDrops {
                    release,
                    after_apply,
                });
            }
        }
        if system.postgres.is_some() {
            deck.push(Fault::PostgresRestart);
        }
        // Fisher-Yates.
        for i in (1..deck.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            deck.swap(i, j);
        }
        deck
    }

    fn catalog_faults(self, rng: &mut Rng) -> Option<Value> {
        Some(match self {
            Fault::CatalogSlow => json!({"latency_ms": CATALOG_TIMEOUT_MS + 500}),
            Fault::CatalogFailing => json!({"status": 503}),
            Fault::CatalogLying => {
                if rng.chance(50) {
                    json!({"reserve_garbage": true})
                } else {
                    json!({"garbage": true})
                }
            }
            Fault::CatalogDrops {
                release,
                after_apply,
            } => {
                let point = if after_apply {
                    "after_apply"
                } else {
                    "before_apply"
                };
                let key = if release {
                    "release_drop"
                } else {
                    "reserve_drop"
                };
                json!({ key: point })
            }
            _ => return None,
        })
    }
}

/// Strikes faults until `run` has passed, then leaves everything healed.
pub async fn run_schedule(settings: &Settings, system: &mut System, run: Duration) -> Vec<Window> {
    // The schedule has its own stream of the seed, apart from the clients'.
    let mut rng = Rng::new(settings.seed ^ 0x5eed_fa17);
    let until = Instant::now() + run;
    let mut windows = Vec::new();
    let mut deck = Vec::new();
    loop {
        tokio::time::sleep(rng.millis(1000, 3000)).await;
        if Instant::now() + Duration::from_secs(3) >= until {
            break;
        }
        if deck.is_empty() {
            deck = Fault::deck(&mut rng, system);
        }
        let fault = deck.pop().expect("a full deck");
        let lasting = rng.millis(800, 2500);
        let start = Instant::now();
        let name = strike(fault, system, &mut rng, lasting).await;
        let window = Window {
            fault: name,
            start,
            end: Instant::now(),
        };
        println!(
            "chaos: fault {:>5.1}s–{:>5.1}s {}",
            (window.start + run - until).as_secs_f64(),
            (window.end + run - until).as_secs_f64(),
            window.fault
        );
        windows.push(window);
    }
    let remaining = until.saturating_duration_since(Instant::now());
    tokio::time::sleep(remaining).await;
    windows
}

/// Applies `fault` for `lasting`, undoes it; says what it was.
async fn strike(fault: Fault, system: &mut System, rng: &mut Rng, lasting: Duration) -> String {
    if let Some(faults) = fault.catalog_faults(rng) {
        system.catalog.set_faults(faults.clone()).await;
        tokio::time::sleep(lasting).await;
        system.catalog.set_faults(json!({})).await;
        return format!("catalog {faults}");
    }
    match fault {
        Fault::KillInstance(i) => {
            system.kill(i).await;
            tokio::time::sleep(lasting).await;
            system.revive(i).await;
            format!("instance {i} killed (SIGKILL) and restarted")
        }
        Fault::RedisDown => {
            system.redis.stop();
            tokio::time::sleep(lasting).await;
            system.redis.resume();
            "redis killed and restarted".to_owned()
        }
        Fault::PostgresRestart => {
            let cluster = system
                .postgres
                .as_ref()
                .expect("drawn only with PostgreSQL");
            cluster.stop();
            tokio::time::sleep(lasting).await;
            cluster.start_again();
            "postgresql restarted (fast shutdown)".to_owned()
        }
        _ => unreachable!("catalog faults are handled above"),
    }
}
