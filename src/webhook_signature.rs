//! A peer service's signature on what it reports (the Payment Service's
//! `Payment-Signature` with `payment_webhook_secret`, the Fulfilment
//! Service's `Fulfilment-Signature` with `fulfilment_webhook_secret`):
//! `t=<unix seconds>,v1=<hex HMAC-SHA256>`, the MAC taken over
//! `"<t>.<exact body bytes>"` with the shared secret. Timestamps more than [`TOLERANCE_SECONDS`]
//! away from now are refused (replays of old confirmations), and MACs are
//! compared in constant time. The secret is never logged or echoed.

use crate::settings::{non_empty, ConfigError, Secret, Variables};

/// How far a signature's timestamp may be from now, either way.
pub const TOLERANCE_SECONDS: u64 = 300;

/// A peer service's signing key.
#[derive(Debug, Clone)]
pub struct PeerSecret {
    /// `None`: the peer's endpoints refuse everyone.
    pub secret: Option<Secret>,
}

impl PeerSecret {
    /// The Payment Service's (`payment_webhook_secret`).
    pub fn payment(vars: &dyn Variables) -> Result<Self, ConfigError> {
        Self::read(vars, "payment_webhook_secret")
    }

    /// The Fulfilment Service's (`fulfilment_webhook_secret`).
    pub fn fulfilment(vars: &dyn Variables) -> Result<Self, ConfigError> {
        Self::read(vars, "fulfilment_webhook_secret")
    }

    fn read(vars: &dyn Variables, name: &'static str) -> Result<Self, ConfigError> {
        Ok(PeerSecret {
            secret: non_empty(vars.get(name)?).map(Secret),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature header")]
    Missing,
    #[error("the signature is not t=<seconds>,v1=<hex>")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Expired,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks `header` against `body` at time `now`.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<u64>().ok(),
            Some(("v1", value)) => {
                signatures.push(decode_hex(value).ok_or(SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS {
        return Err(SignatureError::Expired);
    }
    let expected = sign(secret, timestamp, body);
    // Every v1 is compared (a sender rotating its secret may send two).
    let matched = signatures.iter().fold(false, |found, candidate| {
        found | constant_time_eq(candidate, &expected)
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The MAC of `"<timestamp>.<body>"` with `secret`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> [u8; 32] {
    let mut message = timestamp.to_string().into_bytes();
    message.push(b'.');
    message.extend_from_slice(body);
    hmac_sha256::HMAC::mac(&message, secret)
}

/// Equal length and bytes, in time that depends only on the length.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Fixed;

    #[test]
    fn each_peer_has_its_own_secret_never_printed() {
        let vars = Fixed::of(&[("payment_webhook_secret", "pay-s3cret")]);
        let payment = PeerSecret::payment(&vars).unwrap();
        assert_eq!(
            payment.secret.as_ref().map(|s| s.0.as_str()),
            Some("pay-s3cret")
        );
        assert!(!format!("{payment:?}").contains("s3cret"));
        assert!(PeerSecret::fulfilment(&vars).unwrap().secret.is_none());
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const SECRET: &[u8] = b"whsec-test-0123456789";
    const BODY: &[u8] = br#"{"payment_id":"p1","order_id":1,"amount":"19.99","currency":"EUR"}"#;

    fn header(t: u64, mac: &[u8]) -> String {
        format!("t={t},v1={}", hex(mac))
    }

    #[test]
    fn a_fresh_signature_of_the_exact_body_verifies() {
        let mac = sign(SECRET, 1_000, BODY);
        assert_eq!(
            verify(SECRET, Some(&header(1_000, &mac)), BODY, 1_200),
            Ok(())
        );
    }

    /// docs/api.md's worked example, computed there with
    /// `printf '%s.%s' 1700000000 "$BODY" | openssl dgst -sha256 -hmac whsec-example`.
    #[test]
    fn matches_the_documented_example_computed_with_openssl() {
        let body = br#"{"payment_id":"pay_1","order_id":1,"amount":"1999.98","currency":"EUR"}"#;
        assert_eq!(
            hex(&sign(b"whsec-example", 1_700_000_000, body)),
            "c509961409152b6269b053b221e41e87b98c722c2ba5e02734dcadb0a1e940c4"
        );
    }

    #[test]
    fn anything_else_is_refused() {
        let mac = sign(SECRET, 1_000, BODY);
        assert_eq!(
            verify(SECRET, None, BODY, 1_000),
            Err(SignatureError::Missing)
        );
        for bad in ["", "t=1000", "v1=00", "t=x,v1=00", "t=1000,v1=zz"] {
            assert_eq!(
                verify(SECRET, Some(bad), BODY, 1_000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(SECRET, Some(&header(1_000, &mac)), BODY, 1_301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(SECRET, Some(&header(1_000, &mac)), b"{}", 1_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&header(1_000, &mac)), BODY, 1_000),
            Err(SignatureError::Mismatch)
        );
        let rotated = format!("{},v1={}", header(1_000, &[0; 32]), hex(&mac));
        assert_eq!(verify(SECRET, Some(&rotated), BODY, 1_000), Ok(()));
    }
}
