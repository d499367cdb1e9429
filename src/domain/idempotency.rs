//! `Idempotency-Key` rules (SPEC §3): what a key may look like, and the
//! fingerprint that tells "the same request again" from "a different
//! request under a reused key".

use serde_json::Value;

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
