//! The operator's endpoints:
//! - `GET /orders/admin/orders/` lists anyone's orders (support staff),
//!   with the filters of a user's list and `user_id`;
//! - `POST /orders/admin/reconcile/` drains a batch now (back-off ignored:
//!   the operator asks because something was fixed) and reports what is
//!   still pending;
//! - `POST /orders/admin/releases/<id>/settle/` closes one pending release
//!   the operator handled by hand (a Catalog without `/release/` can never
//!   confirm it), kept in `settled_releases` with who, when and why.
//!
//! Protected by its own bearer token (`admin_token`, a secret variable),
//! not by a user JWT: users are minted by the Auth Service and any of them
//! could otherwise reach it. Unset, the endpoints refuse everyone. The
//! gateway does not route them at all; operators call the service directly.

use super::body;
use super::error::ApiError;
use super::session::{authenticate_operator, dependencies};
use super::{json_response, AccessLog, Reply, RequestFacts};
use crate::domain::order_request::FieldErrors;
use crate::domain::page::{Lister, PageRequest};
use crate::domain::release::Settlement;
use crate::orders::read;
use crate::orders::release::{self, SettleRefused};
use serde_json::{json, Value};
use spin_sdk::http::IncomingRequest;

/// Longest `settled_by` and `note` of a settlement, in characters.
const MAX_SETTLED_BY_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 1000;

/// `GET /orders/admin/orders/`: anyone's orders for support staff, with
/// the user's list's filters and `user_id`.
pub async fn list_orders(facts: &RequestFacts, access: &AccessLog) -> Result<Reply, ApiError> {
    let config = authenticate_operator(facts)?;
    let page =
        PageRequest::from_query(&facts.query, Lister::Operator).map_err(ApiError::Invalid)?;
    let deps = dependencies(facts, access, config).await?;
    let listed = read::any_page(&deps, &page);
    deps.log_if_migrated();
    Ok(super::orders::page_response("/orders/admin/orders/", &page, listed?).into())
}

/// `POST /orders/admin/reconcile/`.
pub async fn reconcile(facts: &RequestFacts, access: &AccessLog) -> Result<Reply, ApiError> {
    let config = authenticate_operator(facts)?;
    let deps = dependencies(facts, access, config).await?;
    let report = release::reconcile_now(&deps).await;
    deps.log_if_migrated();
    let report = report?;
    Ok(json_response(200, &json!(report)).build().into())
}

/// `POST /orders/admin/releases/<id>/settle/` with
/// `{"outcome": "released_manually" | "written_off", "settled_by": "...",
/// "note": "..."}`: the pending release leaves the list for good.
pub async fn settle_release(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
    id: i64,
) -> Result<Reply, ApiError> {
    let config = authenticate_operator(facts)?;
    let body = body::read_json(
        request,
        facts.content_type.as_deref(),
        facts.content_length.as_deref(),
    )
    .await?;
    let (settlement, settled_by, note) = parse_settlement(&body).map_err(ApiError::Invalid)?;
    let deps = dependencies(facts, access, config).await?;
    let settled = release::settle(&deps, id, settlement, settled_by, note).await;
    deps.log_if_migrated();
    match settled? {
        Ok(settled) => {
            access.order_id.set(settled.order_id);
            Ok(json_response(200, &json!(settled)).build().into())
        }
        Err(SettleRefused::InProgress) => Err(ApiError::ReleaseInProgress),
        Err(SettleRefused::NotFound) => Err(ApiError::NotFound),
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

/// `body[field]` as a trimmed, non-empty string of at most `max` characters,
/// without U+0000: PostgreSQL's text cannot hold it, so neither backend
/// takes it (one rule above both, not a 500 on one and a 200 on the other).
fn bounded_text<'a>(
    body: &'a Value,
    field: &str,
    max: usize,
    errors: &mut FieldErrors,
) -> Option<&'a str> {
    let text = body.get(field).and_then(Value::as_str).map(str::trim);
    let valid = text.filter(|t| !t.is_empty() && t.chars().count() <= max && !t.contains('\0'));
    if valid.is_none() {
        errors.insert(
            field.to_owned(),
            vec![format!(
                "A non-empty string of at most {max} characters, without U+0000, is required."
            )],
        );
    }
    valid
}
