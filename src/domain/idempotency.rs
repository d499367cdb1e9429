//! `Idempotency-Key` rules (SPEC §3): what a key may look like, and the
//! fingerprint that tells "the same request again" from "a different
//! request under a reused key".

use super::order::Refusal;
use super::ProductId;
use serde_json::{json, Value};

pub const MAX_KEY_LENGTH: usize = 255;
/// Stored outcomes are replayed for at least this long.
pub const RETENTION_SECONDS: i64 = 24 * 3600;

/// A client-chosen key, 1..=255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(header: &str) -> Result<Self, &'static str> {
        let valid = (1..=MAX_KEY_LENGTH).contains(&header.len())
            && header.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(header.to_owned()))
        } else {
            Err("Must be 1 to 255 visible ASCII characters without spaces.")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The outcome a key keeps: the order's id (its answer is the order as
/// created, rebuilt from its immutable rows) or the Catalog's refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    Created { order_id: i64 },
    Refused(Refusal),
}

impl KeyOutcome {
    /// A refusal as stored in the key's `body`: `{"code", "product_id"}`
    /// (rows written before this layout hold the whole answer there, which
    /// carries the same two members). An order is stored as `order_id`.
    pub fn refusal_body(refusal: Refusal) -> String {
        json!({"code": refusal.code(), "product_id": refusal.product_id().get()}).to_string()
    }

    /// The outcome of a finished key from its stored `order_id` and
    /// `body`; `None` when they name none.
    pub fn from_stored(order_id: Option<i64>, body: Option<&str>) -> Option<Self> {
        if let Some(order_id) = order_id {
            return Some(KeyOutcome::Created { order_id });
        }
        let body: Value = serde_json::from_str(body?).ok()?;
        let product = body["product_id"].as_i64().and_then(ProductId::new)?;
        Refusal::from_code(body["code"].as_str()?, product).map(KeyOutcome::Refused)
    }
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// This request owns the key now and must settle it.
    Claimed,
    /// The first request finished: answer with its outcome.
    Replay(KeyOutcome),
    /// The first request is still running (or died less than a lease ago).
    InUse,
    /// The key was used with a different request body.
    Reused,
}

/// A key's row as stored, read under its lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub fingerprint: String,
    /// Its first request finished (`state = 'done'`).
    pub done: bool,
    pub order_id: Option<i64>,
    pub body: Option<String>,
    /// The first request's lease ran out (it died, or is about to).
    pub lease_over: bool,
    /// Older than [`RETENTION_SECONDS`]: as good as new.
    pub expired: bool,
}

/// What to do with a key found stored, for a request with `fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDecision {
    /// Answer without running the request.
    Answer(KeyClaim),
    /// Expired, or its first request died: this request takes it over.
    TakeOver,
}

impl StoredKey {
    /// `Err` names what is malformed about the row.
    pub fn decide(&self, fingerprint: &str) -> Result<KeyDecision, &'static str> {
        if self.expired {
            return Ok(KeyDecision::TakeOver);
        }
        if self.fingerprint != fingerprint {
            return Ok(KeyDecision::Answer(KeyClaim::Reused));
        }
        if self.done {
            return KeyOutcome::from_stored(self.order_id, self.body.as_deref())
                .map(|outcome| KeyDecision::Answer(KeyClaim::Replay(outcome)))
                .ok_or("idempotency_keys outcome");
        }
        Ok(if self.lease_over {
            KeyDecision::TakeOver
        } else {
            KeyDecision::Answer(KeyClaim::InUse)
        })
    }
}

/// SHA-256 (hex) of the body as parsed JSON: key order and whitespace do not
/// matter, values do.
pub fn fingerprint(body: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(body, &mut canonical);
    hmac_sha256::Hash::hash(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// JSON with object keys sorted at every level, whatever order serde_json's
/// map keeps.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(IdempotencyKey::parse("order-2026-11-26_#1").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in ["", "has space", "tab\t", "é", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn stored(fingerprint: &str, done: bool) -> StoredKey {
        StoredKey {
            fingerprint: fingerprint.into(),
            done,
            order_id: done.then_some(7),
            body: None,
            lease_over: false,
            expired: false,
        }
    }

    #[test]
    fn a_stored_key_answers_replays_refuses_or_is_taken_over() {
        let replay = KeyDecision::Answer(KeyClaim::Replay(KeyOutcome::Created { order_id: 7 }));
        assert_eq!(stored("f", true).decide("f"), Ok(replay));
        assert_eq!(
            stored("f", true).decide("g"),
            Ok(KeyDecision::Answer(KeyClaim::Reused))
        );
        assert_eq!(
            stored("f", false).decide("f"),
            Ok(KeyDecision::Answer(KeyClaim::InUse))
        );
        let died = StoredKey {
            lease_over: true,
            ..stored("f", false)
        };
        assert_eq!(died.decide("f"), Ok(KeyDecision::TakeOver));
        let old = StoredKey {
            expired: true,
            ..stored("f", true)
        };
        assert_eq!(old.decide("another body"), Ok(KeyDecision::TakeOver));
        let broken = StoredKey {
            order_id: None,
            body: Some("{}".into()),
            ..stored("f", true)
        };
        assert!(broken.decide("f").is_err());
    }

    #[test]
    fn a_refusal_is_stored_and_read_back_with_code_and_product() {
        let refusal = Refusal::InsufficientStock(ProductId::new(3).unwrap());
        let body = KeyOutcome::refusal_body(refusal);
        assert_eq!(
            KeyOutcome::from_stored(None, Some(&body)),
            Some(KeyOutcome::Refused(refusal))
        );
        // Rows of the earlier layout: the whole answer.
        let legacy = r#"{"code":"product_not_found","product_id":9,"detail":"gone"}"#;
        assert!(KeyOutcome::from_stored(None, Some(legacy)).is_some());
        assert_eq!(KeyOutcome::from_stored(None, None), None);
    }

    #[test]
    fn the_fingerprint_ignores_key_order_and_whitespace_only() {
        let a: Value =
            serde_json::from_str(r#"{"items":[{"product_id":1,"quantity":2}]}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{ "items" : [ { "quantity" : 2, "product_id" : 1 } ] }"#)
                .unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let other = json!({"items": [{"product_id": 1, "quantity": 3}]});
        assert_ne!(fingerprint(&a), fingerprint(&other));
        let reordered =
            json!({"items": [{"product_id": 2, "quantity": 1}, {"product_id": 1, "quantity": 2}]});
        let original =
            json!({"items": [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}]});
        assert_ne!(
            fingerprint(&reordered),
            fingerprint(&original),
            "arrays keep order"
        );
        assert_eq!(fingerprint(&a).len(), 64);
    }
}
