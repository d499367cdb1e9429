//! `POST /orders/fulfilments/`: the Fulfilment (shipping) Service reports
//! that an order shipped or was delivered. Not a user endpoint: signed
//! like the payment confirmation, in `Fulfilment-Signature` (or
//! `Payment-Signature`, the same scheme) with its own
//! `fulfilment_webhook_secret` (unset: the endpoint refuses everyone), and
//! not routed by the gateway.

use super::error::ApiError;
use super::payments::read_signed;
use super::session::{dependencies, settings};
use super::{json_response, AccessLog, Reply, RequestFacts};
use crate::domain::fulfilment::FulfilmentRecord;
use crate::domain::fulfilment::FulfilmentUpdate;
use crate::domain::order::Fulfilment;
use crate::orders::fulfilment::apply_fulfilment;
use crate::orders::FulfilmentResult;
use crate::settings::SpinVariables;
use crate::webhook_signature::PeerSecret;
use serde::Serialize;
use spin_sdk::http::IncomingRequest;
#[cfg(feature = "openapi")]
use {super::error as e, super::openapi::doc};

/// A fulfilment step the service recorded.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FulfilmentRecorded {
    pub event_id: String,
    pub order_id: i64,
    pub status: FulfilmentStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_reference: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = super::orders::Timestamp))]
    pub recorded_at: String,
}

/// The status a fulfilment step moves an order to.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum FulfilmentStatus {
    Shipped,
    Delivered,
}

impl From<&FulfilmentRecord> for FulfilmentRecorded {
    fn from(record: &FulfilmentRecord) -> Self {
        let update = &record.update;
        let (carrier, tracking_reference) = match &update.shipment {
            Some((carrier, tracking)) => (Some(carrier.clone()), Some(tracking.clone())),
            None => (None, None),
        };
        FulfilmentRecorded {
            event_id: update.event_id.clone(),
            order_id: update.order_id,
            status: match update.step {
                Fulfilment::Shipped => FulfilmentStatus::Shipped,
                Fulfilment::Delivered => FulfilmentStatus::Delivered,
            },
            carrier,
            tracking_reference,
            recorded_at: record.recorded_at.clone(),
        }
    }
}

/// The Fulfilment Service's update. Unknown fields are ignored; so are
/// `carrier` and `tracking_reference` of a delivery.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = FulfilmentUpdate)]
#[allow(dead_code)]
pub struct FulfilmentUpdateBody {
    /// The Fulfilment Service's id of this update, visible ASCII; a repeat
    /// gets the first answer.
    #[schema(min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
    event_id: String,
    /// A JSON integer as written (`2`, not `2.0`).
    #[schema(minimum = 1)]
    order_id: i64,
    status: FulfilmentStatus,
    /// Required to ship; no leading or trailing space, no control
    /// characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 64)]
    carrier: Option<String>,
    /// Required to ship.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
    tracking_reference: Option<String>,
}

#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/orders/fulfilments/",
    operation_id = "recordFulfilment",
    tag = "peer services",
    summary = "Fulfilment Service: an order shipped or was delivered",
    description = "`PAID` → `SHIPPED` (with carrier and tracking reference) → `DELIVERED`; \
        `order.shipped` / `order.delivered` recorded with the change. Any other transition \
        is 409 `invalid_status_transition` with the current status, and records nothing \
        (sent again once the order can move, it applies). The same event id again answers \
        as the first time. Signed with `Fulfilment-Signature` \
        (`fulfilment_webhook_secret`); disabled (403) without it; not routed by the gateway.",
    security(("fulfilmentSignature" = [])),
    request_body = FulfilmentUpdateBody,
    responses(
        (status = 200, body = FulfilmentRecorded,
            description = "Recorded (now, or by this event id before)."),
        (status = 400, body = e::BadBody, description = doc::BAD_BODY),
        (status = 401, body = e::AuthenticationError, description = "No \
            `Fulfilment-Signature` (`not_authenticated`), or a malformed, stale or wrong one \
            (`signature_not_valid`)."),
        (status = 403, body = e::PermissionError,
            description = "Fulfilment updates are disabled (`permission_denied`)."),
        (status = 404, body = e::NotFoundError, description = "No such order (`not_found`)."),
        (status = 409, body = e::TransitionError, description = "The order's status does not \
            allow it (`invalid_status_transition`, with its `status`)."),
        (status = 413, body = e::RequestError, description = doc::TOO_LARGE),
        (status = 415, body = e::RequestError, description = doc::NOT_JSON),
        (status = 422, body = e::ConflictError, description = "This event id was recorded \
            with another order or content (`fulfilment_event_reused`)."),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn confirm(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let secret = PeerSecret::fulfilment(&SpinVariables)?.secret;
    // Its own header, or the payment confirmation's name for the same
    // scheme ("signed like the payment confirmation"): the secret decides.
    let signature = facts
        .fulfilment_signature
        .as_deref()
        .or(facts.payment_signature.as_deref());
    let body = read_signed(facts, request, secret, signature).await?;
    let update = FulfilmentUpdate::parse(&body).map_err(ApiError::Invalid)?;
    access.order_id.set(Some(update.order_id));
    let deps = dependencies(facts, access, settings()?).await?;
    let response = match apply_fulfilment(&deps, &update).await? {
        FulfilmentResult::Recorded(record) => {
            json_response(200, &FulfilmentRecorded::from(&record)).build()
        }
        FulfilmentResult::NoSuchOrder => return Err(ApiError::NotFound),
        FulfilmentResult::IdReused => return Err(ApiError::FulfilmentEventReused),
        FulfilmentResult::Refused(refused) => return Err(refused.into()),
    };
    Ok(Reply {
        response,
        follow_up: Some(deps.into_follow_up()),
    })
}
