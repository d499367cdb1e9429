//! Credentials as the real peers make them: SimpleJWT access tokens and
//! the Payment Service's signature.

use super::*;

/// Claims exactly as Django SimpleJWT 5.5 writes an access token.
pub fn simplejwt_claims(user_id: Value) -> JWTClaims<serde_json::Map<String, Value>> {
    let custom = json!({"token_type": "access", "user_id": user_id});
    Claims::with_custom_claims(custom.as_object().unwrap().clone(), Duration::from_mins(5))
        .with_jwt_id(uuid_hex())
}

/// `{"a": {"a": … 0 …}}`, `depth` objects deep: JSON as deep as a parser
/// may be asked to go (serde_json stops at 128 levels). Objects, because
/// they take the most stack per level to parse (53 KiB for 126 levels in
/// the release component).
pub fn nested_objects(depth: usize) -> Value {
    (0..depth).fold(json!(0), |inner, _| json!({ "a": inner }))
}

/// Signs claims with the shared key.
pub fn sign(claims: JWTClaims<serde_json::Map<String, Value>>) -> String {
    HS256Key::from_bytes(SIGNING_KEY.as_bytes())
        .authenticate(claims)
        .unwrap()
}

/// A valid access token for `user_id` (SimpleJWT 5.5 writes it as a string).
pub fn token(user_id: i64) -> String {
    sign(simplejwt_claims(json!(user_id.to_string())))
}

fn uuid_hex() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    format!("{:032x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// `Payment-Signature` for `body` at `at`, as the Payment Service computes
/// it (`printf '%s' "<t>.<body>" | openssl dgst -sha256 -hmac <secret>`).
pub fn payment_signature(secret: &str, at: u64, body: &str) -> String {
    let mac = hmac_sha256::HMAC::mac(format!("{at}.{body}").as_bytes(), secret.as_bytes());
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={at},v1={hex}")
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
