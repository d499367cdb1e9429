//! Waiting on the WASI monotonic clock inside the Spin executor: the
//! Catalog call deadline and the write-lock retry wait.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use wasi::clocks::monotonic_clock;

/// A future that completes after `duration`, driven by the Spin executor
/// through a `wasi:clocks` pollable.
pub fn sleep(duration: Duration) -> Sleep {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    Sleep {
        deadline: monotonic_clock::now().saturating_add(nanos),
        registration: None,
    }
}

pub struct Sleep {
    deadline: monotonic_clock::Instant,
    /// Keeps the pollable registered with the executor; dropping it (when
    /// the exchange wins the race) unregisters it.
    registration: Option<spin_executor::CancelOnDropToken>,
}

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

/// `base` scaled by a random factor in [0.5, 1.5), so waiting writers do not
/// retry in lock-step.
pub fn jitter(base: Duration) -> Duration {
    let random = uuid::Uuid::new_v4().as_u128() as u64;
    let factor = 0.5 + (random % 1_000) as f64 / 1_000.0;
    base.mul_f64(factor)
}
