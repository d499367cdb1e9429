//! Time: waiting on the WASI monotonic clock inside the Spin executor (the
//! Catalog call deadline, the write-lock retry wait), the wall clock, and
//! seconds as settings give them.

#[cfg(target_arch = "wasm32")]
use std::future::Future;
#[cfg(target_arch = "wasm32")]
use std::pin::Pin;
#[cfg(target_arch = "wasm32")]
use std::task::{Context, Poll};
use std::time::Duration;
#[cfg(target_arch = "wasm32")]
use wasi::clocks::monotonic_clock;

/// A future that completes after `duration`, driven by the Spin executor
/// through a `wasi:clocks` pollable.
#[cfg(target_arch = "wasm32")]
pub fn sleep(duration: Duration) -> Sleep {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    Sleep {
        deadline: monotonic_clock::now().saturating_add(nanos),
        registration: None,
    }
}

/// Natively (the storage contract suite runs the store's busy waits on a
/// test thread): the thread sleeps, then the future is ready.
#[cfg(not(target_arch = "wasm32"))]
pub fn sleep(duration: Duration) -> std::future::Ready<()> {
    std::thread::sleep(duration);
    std::future::ready(())
}

#[cfg(target_arch = "wasm32")]
pub struct Sleep {
    deadline: monotonic_clock::Instant,
    /// Keeps the pollable registered with the executor; dropping it (when
    /// the exchange wins the race) unregisters it.
    registration: Option<spin_executor::CancelOnDropToken>,
}

#[cfg(target_arch = "wasm32")]
impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Compare against the clock ourselves and wait for the remaining
        // time: a pollable's own readiness is only reported to the executor.
        let now = monotonic_clock::now();
        if now >= self.deadline {
            return Poll::Ready(());
        }
        let pollable = monotonic_clock::subscribe_duration(self.deadline - now);
        let token = spin_executor::push_waker_and_get_token(pollable, cx.waker().clone());
        self.registration = Some(token.into());
        Poll::Pending
    }
}

/// A number of seconds from a `u64` setting, as a signed count (for SQL),
/// saturating.
pub fn signed_seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Seconds since the Unix epoch, by the wall clock.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `base` scaled by a random factor in [0.5, 1.5), so waiting writers do not
/// retry in lock-step.
pub fn jitter(base: Duration) -> Duration {
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    let factor = 0.5 + (random % 1_000) as f64 / 1_000.0;
    base.mul_f64(factor)
}
