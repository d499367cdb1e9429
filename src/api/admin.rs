//! The operator's handle on stock owed to the Catalog:
//! - `POST /orders/admin/reconcile/` drains a batch now (back-off ignored:
//!   the operator asks because something was fixed) and reports what is
//!   still pending;
//! - `POST /orders/admin/releases/<id>/settle/` closes one pending release
//!   the operator handled by hand (a Catalog without `/release/` can never
//!   confirm it), kept in `settled_releases` with who, when and why.
//!
//! Protected by its own bearer token (`admin_token`, a secret variable),
//! not by a user JWT: users are minted by the Auth Service and any of them
//! could otherwise reach it. Unset, the endpoint refuses everyone. The
//! gateway does not route it at all; operators call the service directly.

use super::body;
use super::error::ApiError;
use super::session::{load_config, logged_store_error, open_store};
use super::{json_response, RequestContext};
use crate::config::Config;
use crate::domain::order_request::FieldErrors;
use crate::reconcile::{self, OPERATOR_BATCH};
use crate::store::releases::{SettleResult, Settlement};
use serde_json::{json, Value};
use spin_sdk::http::{IncomingRequest, Response};

/// Pending releases listed in the report.
const REPORT_LIMIT: u32 = 100;
/// Longest `settled_by` and `note` of a settlement, in characters.
const MAX_SETTLED_BY_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 1000;

pub async fn reconcile(ctx: &mut RequestContext) -> Result<Response, ApiError> {
    let config = operator(ctx)?;
    let store = open_store(ctx, &config).await?;
    let report = reconcile::run(&store, &config, &ctx.request_id, OPERATOR_BATCH, true)
        .await
        .map_err(|error| logged_store_error(&ctx.request_id, error))?;
    let (pending_total, pending) = store
        .pending_releases(REPORT_LIMIT)
        .map_err(|error| logged_store_error(&ctx.request_id, error))?;
    let mut body = json!(report);
    body["pending_total"] = json!(pending_total);
    body["pending"] = json!(pending);
    crate::log::reconciled(&ctx.request_id, &body);
    Ok(json_response(200, &body).build())
}

/// `POST /orders/admin/releases/<id>/settle/` with
/// `{"outcome": "released_manually" | "written_off", "settled_by": "...",
/// "note": "..."}`: the pending release leaves the list for good.
pub async fn settle_release(
    ctx: &mut RequestContext,
    request: IncomingRequest,
    id: i64,
) -> Result<Response, ApiError> {
    let config = operator(ctx)?;
    let body = body::read_json(
        request,
        ctx.content_type.as_deref(),
        ctx.content_length.as_deref(),
    )
    .await?;
    let (settlement, settled_by, note) = parse_settlement(&body).map_err(ApiError::Invalid)?;
    let store = open_store(ctx, &config).await?;
    let settled = store
        .settle_release(id, settlement, settled_by, note)
        .await
        .map_err(|error| logged_store_error(&ctx.request_id, error))?;
    match settled {
        SettleResult::Settled(settled) => {
            ctx.order_id = settled.order_id;
            crate::log::release_settled(&ctx.request_id, &settled);
            Ok(json_response(200, &json!(settled)).build())
        }
        SettleResult::InProgress => Err(ApiError::ReleaseInProgress),
        SettleResult::NotFound => Err(ApiError::NotFound),
    }
}

/// The settlement's fields, or the field errors.
fn parse_settlement(body: &Value) -> Result<(Settlement, &str, &str), FieldErrors> {
    let mut errors = FieldErrors::new();
    let outcome = body
        .get("outcome")
        .and_then(Value::as_str)
        .and_then(Settlement::parse);
    if outcome.is_none() {
        errors.insert(
            "outcome".to_owned(),
            vec![r#"Must be "released_manually" or "written_off"."#.to_owned()],
        );
    }
    let settled_by = bounded_text(body, "settled_by", MAX_SETTLED_BY_CHARS, &mut errors);
    let note = bounded_text(body, "note", MAX_NOTE_CHARS, &mut errors);
    match (outcome, settled_by, note) {
        (Some(outcome), Some(settled_by), Some(note)) => Ok((outcome, settled_by, note)),
        _ => Err(errors),
    }
}

/// `body[field]` as a trimmed, non-empty string of at most `max` characters.
fn bounded_text<'a>(
    body: &'a Value,
    field: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<&'a str> {
    let text = body.get(field).and_then(Value::as_str).map(str::trim);
    let valid = text.filter(|t| !t.is_empty() && t.chars().count() <= max);
    if valid.is_none() {
        errors.insert(
            field.to_owned(),
            vec![format!(
                "A non-empty string of at most {max} characters is required."
            )],
        );
    }
    valid
}

/// Settings, once the caller has shown the operator token.
fn operator(ctx: &RequestContext) -> Result<Config, ApiError> {
    let config = load_config(ctx)?;
    let presented = ctx
        .authorization
        .as_deref()
        .and_then(|header| header.strip_prefix("Bearer "))
        .ok_or(ApiError::NotAuthenticated)?;
    let expected = config
        .admin_token
        .as_ref()
        .ok_or(ApiError::PermissionDenied)?;
    // Compare digests, so the time taken says nothing about the token.
    if hmac_sha256::Hash::hash(presented.trim().as_bytes())
        != hmac_sha256::Hash::hash(expected.0.as_bytes())
    {
        return Err(ApiError::PermissionDenied);
    }
    Ok(config)
}
