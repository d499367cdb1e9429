//! Structured log lines (one JSON object per line). Request lines go to
//! stdout; operational events to stderr. Nothing here ever receives a token
//! or a key: callers pass ids, codes and error kinds only.

use crate::domain::UserId;
use crate::store::releases::OwedRelease;
use serde_json::{json, Value};

/// The per-request access log line (SPEC §6).
pub fn request(line: &Value) {
    println!("{line}");
}

pub fn error(request_id: &str, event: &str, detail: &str) {
    eprintln!(
        "{}",
        json!({"level": "error", "event": event, "request_id": request_id, "detail": detail})
    );
}

pub fn warn(event: &str, detail: &str) {
    eprintln!(
        "{}",
        json!({"level": "warn", "event": event, "detail": detail})
    );
}

pub fn release_deferred(request_id: &str, release: &OwedRelease) {
    eprintln!(
        "{}",
        json!({
            "level": "warn",
            "event": "release_deferred",
            "request_id": request_id,
            "product_id": release.product_id.get(),
            "quantity": release.quantity,
            "detail": format!("stock release stored for retry: {}", release.last_error),
        })
    );
}

pub fn release_unrecorded(
    request_id: &str,
    user: UserId,
    release: &OwedRelease,
    error: &dyn std::fmt::Display,
) {
    eprintln!(
        "{}",
        json!({
            "level": "error",
            "event": "release_unrecorded",
            "request_id": request_id,
            "user_id": user.get(),
            "product_id": release.product_id.get(),
            "quantity": release.quantity,
            "detail": format!("release failed ({}) and could not be stored ({error}); release by hand", release.last_error),
        })
    );
}
