//! Publishing the order-event outbox to the Redis stream (SPEC §3 "Order
//! events"): at least once, each order's events in sequence.
//!
//! Events are recorded in the transaction of their change; publishing is
//! separate: claim a batch (one statement, a claim lasts
//! [`CLAIM_SECONDS`]), `XADD` each, mark the sent ones published, give the
//! rest back. It runs after the response of every write request and in the
//! operator's pass. An event whose publisher died, or whose marking failed,
//! is claimed again once its claim runs out and sent again: a consumer can
//! see an event twice (same `event_id`), never miss one, and never see an
//! order's event before that order's earlier ones (only the earliest
//! unpublished event of an order is claimable).

use crate::event_stream::EventsSettings;
use crate::event_stream::{EventStream, StreamError};
use crate::log::{self, Level};
use crate::store::{Store, StoreError};
use serde_json::json;

/// Events sent after one ordinary request's response.
pub const FOLLOW_UP_LIMIT: u32 = 20;
/// Events sent by one operator pass.
pub const OPERATOR_LIMIT: u32 = 500;
/// Claimed per statement.
const BATCH: u32 = 50;
/// How long a claim keeps other publishers off an event: far longer than
/// sending a batch to a healthy Redis.
pub const CLAIM_SECONDS: u64 = 30;

/// What one publishing pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Published {
    pub sent: usize,
    /// Why the pass stopped early, if it did.
    pub failure: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("storage failed")]
    Store(#[from] StoreError),
    #[error("stream failed")]
    Stream(#[from] StreamError),
}

/// Sends up to `limit` unpublished events. A failing Redis stops the pass
/// (its claims are given back); storage errors end it too. Failures are
/// logged here and returned in [`Published::failure`].
pub async fn publish_pending(
    store: &Store,
    settings: &EventsSettings,
    limit: u32,
    request_id: &str,
) -> Published {
    let mut published = Published::default();
    if let Err(error) = drain(store, settings, limit, &mut published.sent).await {
        log::event(
            Level::Warn,
            "events_unpublished",
            Some(request_id),
            json!({
                "published": published.sent,
                "detail": format!("{}; retried by the next write request or operator pass", log::chain(&error)),
            }),
        );
        published.failure = Some(log::chain(&error));
    }
    published
}

async fn drain(
    store: &Store,
    settings: &EventsSettings,
    limit: u32,
    sent_total: &mut usize,
) -> Result<(), PublishError> {
    let mut stream: Option<EventStream> = None;
    // Each round sends at most one event per order; an order's next event
    // becomes claimable once its previous one is marked, so loop.
    while let Some(room) = limit
        .checked_sub(u32::try_from(*sent_total).unwrap_or(u32::MAX))
        .filter(|room| *room > 0)
    {
        let claimed = store.claim_events(room.min(BATCH), CLAIM_SECONDS).await?;
        if claimed.is_empty() {
            return Ok(());
        }
        let open = match stream.take() {
            Some(open) => Ok(open),
            None => EventStream::open(settings),
        };
        let mut sent = Vec::with_capacity(claimed.len());
        let mut failure = None;
        match open {
            Ok(open) => {
                for event in &claimed {
                    match open.append(event) {
                        Ok(_entry_id) => sent.push(event.id),
                        Err(error) => {
                            failure = Some(error);
                            break;
                        }
                    }
                }
                stream = Some(open);
            }
            Err(error) => failure = Some(error),
        }
        store.mark_events_published(&sent).await?;
        *sent_total += sent.len();
        if let Some(error) = failure {
            let unsent: Vec<i64> = claimed
                .iter()
                .map(|event| event.id)
                .filter(|id| !sent.contains(id))
                .collect();
            store.unclaim_events(&unsent).await?;
            return Err(error.into());
        }
    }
    Ok(())
}
