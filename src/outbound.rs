//! Outbound HTTP with a hard deadline and a cap on the response body: the
//! two guarantees the SDK's `send` does not give on its own.

use crate::clock::sleep;
use futures::future::{select, Either};
use futures::StreamExt;
use spin_sdk::http::{ErrorCode, IncomingResponse, Request, SendError};
use std::pin::pin;
use std::time::Duration;

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
