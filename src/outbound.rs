//! Outbound HTTP with a hard deadline and a cap on the response body: the
//! two guarantees the SDK's `send` does not give on its own.

use futures::future::{select, Either};
use futures::StreamExt;
use spin_sdk::http::{ErrorCode, IncomingResponse, Request, SendError};
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Duration;
use wasi::clocks::monotonic_clock;

/// What came back from a peer, fully read.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The request never reached the peer (refused, unknown host, denied).
    #[error("request not delivered: {0}")]
    NotSent(String),
    /// The request may have reached the peer, but no full answer came back.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("exchange failed: {0}")]
    Broken(String),
    #[error("response body larger than {0} bytes")]
    BodyTooLarge(usize),
}

/// Errors raised before a single byte can have reached the peer.
fn never_delivered(code: &ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::DnsTimeout
            | ErrorCode::DnsError(_)
            | ErrorCode::DestinationNotFound
            | ErrorCode::DestinationUnavailable
            | ErrorCode::DestinationIpProhibited
            | ErrorCode::DestinationIpUnroutable
            | ErrorCode::ConnectionRefused
            | ErrorCode::ConnectionTimeout
            | ErrorCode::HttpRequestDenied
            | ErrorCode::HttpRequestUriInvalid
    )
}

/// Sends `request` and reads the whole answer, failing if that takes longer
/// than `timeout` or the body exceeds `max_body` bytes.
pub async fn send(
    request: Request,
    timeout: Duration,
    max_body: usize,
) -> Result<Reply, OutboundError> {
    let exchange = pin!(async move {
        let response: IncomingResponse =
            spin_sdk::http::send(request).await.map_err(|e| match e {
                SendError::Http(code) if never_delivered(&code) => {
                    OutboundError::NotSent(format!("{code:?}"))
                }
                other => OutboundError::Broken(other.to_string()),
            })?;
        let status = response.status();
        let mut body = Vec::new();
        let mut chunks = pin!(response.take_body_stream());
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| OutboundError::Broken(e.to_string()))?;
            if body.len() + chunk.len() > max_body {
                return Err(OutboundError::BodyTooLarge(max_body));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Reply { status, body })
    });
    match select(exchange, pin!(sleep(timeout))).await {
        Either::Left((result, _)) => result,
        // Dropping the exchange drops its wasi-http handles, which cancels it.
        Either::Right(_) => Err(OutboundError::TimedOut(timeout)),
    }
}

/// A future that completes after `duration`, driven by the Spin executor
/// through a `wasi:clocks` pollable.
fn sleep(duration: Duration) -> Sleep {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    Sleep {
        deadline: monotonic_clock::now().saturating_add(nanos),
        registration: None,
    }
}

struct Sleep {
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
