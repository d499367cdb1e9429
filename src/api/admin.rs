//! `POST /orders/admin/reconcile/`: the operator's handle on stock owed to
//! the Catalog. Drains a batch now (back-off ignored: the operator asks
//! because something was fixed) and reports what is still pending.
//!
//! Protected by its own bearer token (`admin_token`, a secret variable),
//! not by a user JWT: users are minted by the Auth Service and any of them
//! could otherwise reach it. Unset, the endpoint refuses everyone. The
//! gateway does not route it at all; operators call the service directly.

use super::error::ApiError;
use super::session::{load_config, logged_store_error, open_store};
use super::{json_response, RequestContext};
use crate::reconcile::{self, OPERATOR_BATCH};
use serde_json::json;
use spin_sdk::http::Response;

/// Pending releases listed in the report.
const REPORT_LIMIT: u32 = 100;

pub async fn reconcile(ctx: &mut RequestContext) -> Result<Response, ApiError> {
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
