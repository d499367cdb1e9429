//! Structured log lines (one JSON object per line). Request lines go to
//! stdout; operational events to stderr. Nothing here ever receives a token
//! or a key: callers pass ids, codes and error kinds only.

use crate::catalog::CatalogError;
use crate::domain::order_request::OrderLine;
use crate::domain::UserId;
use crate::store::releases::{ClaimedRelease, SettledRelease};
use serde_json::{json, Value};
use std::io::Write;

/// Writes `line` and its newline in one call: instances run concurrently
/// and share the host's stdout/stderr, and `eprintln!` would write the
/// pieces of a line separately, letting lines of two requests interleave.
fn write_line(mut out: impl Write, line: &Value) {
    let mut text = line.to_string();
    text.push('\n');
    let _ = out.write_all(text.as_bytes());
}

fn event(line: &Value) {
    write_line(std::io::stderr().lock(), line);
}

/// The per-request access log line (SPEC §6).
pub fn request(line: &Value) {
    write_line(std::io::stdout().lock(), line);
}

pub fn error(request_id: &str, event_name: &str, detail: &str) {
    event(
        &json!({"level": "error", "event": event_name, "request_id": request_id, "detail": detail}),
    );
}

pub fn warn(event_name: &str, detail: &str) {
    event(&json!({"level": "warn", "event": event_name, "detail": detail}));
}

/// The schema was brought to `version` by this request.
pub fn migrated(version: i64) {
    event(&json!({"level": "info", "event": "migrated", "schema_version": version}));
}

/// A release that failed now and stays stored for a later try.
pub fn release_deferred(request_id: &str, release: &ClaimedRelease, error: &CatalogError) {
    let (name, detail) = match error {
        CatalogError::ReleaseUnsupported(_) => (
            "release_endpoint_missing",
            format!("{error}; the units stay in pending_releases until an operator releases them"),
        ),
        _ => (
            "release_deferred",
            format!("stock release stored for retry: {error}"),
        ),
    };
    event(&json!({
        "level": "warn",
        "event": name,
        "request_id": request_id,
        "release_id": release.id,
        "user_id": release.user.get(),
        "product_id": release.product_id.get(),
        "quantity": release.quantity,
        "attempts": release.attempts,
        "detail": detail,
    }));
}

/// Units to give back that could not even be written down: the line holds
/// everything needed to release them by hand.
pub fn release_unrecorded(
    request_id: &str,
    user: UserId,
    lines: &[OrderLine],
    error: &dyn std::fmt::Display,
) {
    for line in lines {
        event(&json!({
            "level": "error",
            "event": "release_unrecorded",
            "request_id": request_id,
            "user_id": user.get(),
            "product_id": line.product_id.get(),
            "quantity": line.quantity.get(),
            "detail": format!("could not store the release ({error}); if the reservation intent is also gone, release by hand"),
        }));
    }
}

/// What a reconciliation pass did.
pub fn reconciled(request_id: &str, report: &Value) {
    event(
        &json!({"level": "info", "event": "reconciled", "request_id": request_id, "report": report}),
    );
}

/// An operator settled a pending release by hand: who, when, why and how.
pub fn release_settled(request_id: &str, settled: &SettledRelease) {
    event(&json!({
        "level": "warn",
        "event": "release_settled",
        "request_id": request_id,
        "release": settled,
    }));
}
