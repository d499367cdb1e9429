//! The order-event stream (SPEC §3 "Order events"): one Redis stream that
//! outbox events are appended to with `XADD`, through Spin's outbound
//! Redis API. Each entry carries the event's fields flat, so a consumer
//! needs no JSON to route or deduplicate:
//! `event_id, type, order_id, seq, occurred_at, payload`.

use crate::domain::events::OutboxEvent;
use crate::settings::{fail, ConfigError, Secret, Variables};
use spin_sdk::redis::{Connection, Error as RedisError, RedisParameter, RedisResult};

/// The Redis stream order events are published to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsSettings {
    /// `redis://[user:password@]host:port[/db]` (may hold a password).
    pub redis_url: Secret,
    /// Stream key, [`DEFAULT_STREAM`] unless set.
    pub stream: String,
}

pub const DEFAULT_STREAM: &str = "orders.events";
const MAX_STREAM_NAME_BYTES: usize = 128;

impl EventsSettings {
    /// `None` without `events_redis_url`: events are recorded, not
    /// published.
    pub fn read(vars: &dyn Variables) -> Result<Option<Self>, ConfigError> {
        let redis_url = vars.get("events_redis_url")?;
        if !redis_url.is_empty() && !redis_url.starts_with("redis://") {
            return Err(fail(
                "events_redis_url",
                "must be empty (events not published) or a redis:// address",
            ));
        }
        let stream = match vars.get("events_stream")? {
            empty if empty.is_empty() => DEFAULT_STREAM.to_owned(),
            stream => stream,
        };
        if stream.len() > MAX_STREAM_NAME_BYTES
            || stream.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(fail(
                "events_stream",
                "must be at most 128 bytes, without spaces or control characters",
            ));
        }
        Ok((!redis_url.is_empty()).then_some(EventsSettings {
            redis_url: Secret(redis_url),
            stream,
        }))
    }
}

/// Entries the stream keeps, roughly (`XADD … MAXLEN ~`): weeks of orders,
/// so a consumer that was down for days still finds what it missed, and a
/// Redis that nobody trims stays bounded.
pub const STREAM_MAX_ENTRIES: i64 = 1_000_000;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The address is malformed or not in `allowed_outbound_hosts`.
    #[error("Redis address refused (malformed, or not in allowed_outbound_hosts)")]
    AddressRefused,
    #[error("Redis: too many connections")]
    TooManyConnections,
    /// Redis answered, but not with an entry id.
    #[error("Redis answered XADD without an entry id")]
    Unexpected,
    /// Unreachable, refused the command, or any other failure Redis or
    /// the host reports (the address is never part of the text).
    #[error("Redis: {0}")]
    Failed(String),
}

impl From<RedisError> for StreamError {
    fn from(error: RedisError) -> Self {
        match error {
            RedisError::InvalidAddress => StreamError::AddressRefused,
            RedisError::TooManyConnections => StreamError::TooManyConnections,
            RedisError::TypeError => StreamError::Unexpected,
            RedisError::Other(text) => StreamError::Failed(text),
        }
    }
}

/// An open connection to the stream's Redis.
pub struct EventStream<'a> {
    connection: Connection,
    stream: &'a str,
}

impl<'a> EventStream<'a> {
    pub fn open(settings: &'a EventsSettings) -> Result<Self, StreamError> {
        Ok(EventStream {
            connection: Connection::open(&settings.redis_url.0)?,
            stream: &settings.stream,
        })
    }

    /// Appends `event`; returns the entry id Redis gave it.
    pub fn append(&self, event: &OutboxEvent) -> Result<String, StreamError> {
        let answer = self
            .connection
            .execute("XADD", &xadd_arguments(self.stream, event))?;
        match answer.as_slice() {
            [RedisResult::Binary(id)] => Ok(String::from_utf8_lossy(id).into_owned()),
            [RedisResult::Status(id)] => Ok(id.clone()),
            _ => Err(StreamError::Unexpected),
        }
    }
}

/// `XADD <stream> MAXLEN ~ <n> * event_id … payload … [traceparent …]`.
fn xadd_arguments(stream: &str, event: &OutboxEvent) -> Vec<RedisParameter> {
    let text = |value: &str| RedisParameter::Binary(value.as_bytes().to_vec());
    let mut arguments = vec![
        text(stream),
        text("MAXLEN"),
        text("~"),
        RedisParameter::Int64(STREAM_MAX_ENTRIES),
        text("*"),
        text("event_id"),
        text(&event.event_id),
        text("type"),
        text(&event.kind),
        text("order_id"),
        RedisParameter::Int64(event.order_id),
        text("seq"),
        RedisParameter::Int64(event.seq),
        text("occurred_at"),
        text(&event.created_at),
        text("payload"),
        text(&event.payload),
    ];
    if let Some(traceparent) = &event.traceparent {
        arguments.extend([text("traceparent"), text(traceparent)]);
    }
    arguments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Fixed;

    #[test]
    fn events_are_published_only_with_a_redis_url_which_is_never_echoed() {
        let read = |vars: &[(&'static str, &str)]| EventsSettings::read(&Fixed::of(vars));
        assert_eq!(read(&[]), Ok(None));
        let url = ("events_redis_url", "redis://:s3cret@redis:6379");
        let settings = read(&[url]).unwrap().unwrap();
        assert_eq!(settings.stream, DEFAULT_STREAM);
        assert!(!format!("{settings:?}").contains("s3cret"));
        let named = read(&[url, ("events_stream", "shop.orders")])
            .unwrap()
            .unwrap();
        assert_eq!(named.stream, "shop.orders");
        let spaced = read(&[url, ("events_stream", "shop orders")]).unwrap_err();
        assert_eq!(spaced.name, "events_stream");
        let http = read(&[("events_redis_url", "http://:s3cret@redis:6379")]).unwrap_err();
        assert_eq!(http.name, "events_redis_url");
        assert!(!http.to_string().contains("s3cret"));
    }

    #[test]
    fn an_entry_carries_the_event_fields_flat_after_an_approximate_trim() {
        let event = OutboxEvent {
            id: 7,
            event_id: "e-1".into(),
            order_id: 42,
            seq: 2,
            kind: "order.paid".into(),
            payload: r#"{"order_id":42}"#.into(),
            created_at: "2026-11-26T10:00:00Z".into(),
            traceparent: None,
        };
        let rendered = |event: &OutboxEvent| {
            xadd_arguments("orders.events", event)
                .into_iter()
                .map(|p| match p {
                    RedisParameter::Binary(b) => String::from_utf8(b).unwrap(),
                    RedisParameter::Int64(n) => n.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let fields = "orders.events MAXLEN ~ 1000000 * event_id e-1 type order.paid order_id 42 \
                      seq 2 occurred_at 2026-11-26T10:00:00Z payload {\"order_id\":42}";
        // Recorded before events carried their request's trace: without it.
        assert_eq!(rendered(&event), fields);
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let traced = OutboxEvent {
            traceparent: Some(traceparent.into()),
            ..event
        };
        assert_eq!(
            rendered(&traced),
            format!("{fields} traceparent {traceparent}")
        );
    }
}
