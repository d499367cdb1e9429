//! Where a request's time went, phase by phase, for the access log. The
//! edge owns one [`Phases`]; workflows record into it as they go, so a
//! request that fails half-way still logs the phases it ran.

use std::cell::RefCell;
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Phases(RefCell<Vec<(&'static str, Duration)>>);

impl Phases {
    /// Runs `work`, recording how long it took as `phase`.
    pub async fn timed<T>(&self, phase: &'static str, work: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = work.await;
        self.record(phase, started.elapsed());
        result
    }

    /// Runs `work` (no I/O), recording how long it took as `phase`.
    pub fn timed_sync<T>(&self, phase: &'static str, work: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let result = work();
        self.record(phase, started.elapsed());
        result
    }

    /// Adds `took` to `phase` (a phase run twice is summed).
    pub fn record(&self, phase: &'static str, took: Duration) {
        let mut phases = self.0.borrow_mut();
        match phases.iter_mut().find(|(name, _)| *name == phase) {
            Some((_, total)) => *total += took,
            None => phases.push((phase, took)),
        }
    }

    pub fn snapshot(&self) -> Vec<(&'static str, Duration)> {
        self.0.borrow().clone()
    }
}
