//! `POST /orders/fulfilments/`: the Fulfilment (shipping) Service reports
//! that an order shipped or was delivered. Not a user endpoint: signed
//! like the payment confirmation, in `Fulfilment-Signature` (or
//! `Payment-Signature`, the same scheme) with its own
//! `fulfilment_webhook_secret` (unset: the endpoint refuses everyone), and
//! not routed by the gateway.

use super::error::ApiError;
use super::payments::read_signed;
use super::session::dependencies;
use super::{json_response, AccessLog, Reply, RequestFacts};
use crate::config::Config;
use crate::domain::fulfilment::FulfilmentRecord;
use crate::domain::fulfilment::FulfilmentUpdate;
use crate::orders::fulfilment::apply_fulfilment;
use crate::orders::FulfilmentResult;
use serde_json::{json, Value};
use spin_sdk::http::IncomingRequest;

pub async fn confirm(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let config = Config::load()?;
    let secret = config.fulfilment_webhook_secret.clone();
    // Its own header, or the payment confirmation's name for the same
    // scheme ("signed like the payment confirmation"): the secret decides.
    let signature = facts
        .fulfilment_signature
        .as_deref()
        .or(facts.payment_signature.as_deref());
    let body = read_signed(facts, request, secret, signature).await?;
    let update = FulfilmentUpdate::parse(&body).map_err(ApiError::Invalid)?;
    access.order_id.set(Some(update.order_id));
    let deps = dependencies(facts, access, config).await?;
    let response = match apply_fulfilment(&deps, &update).await? {
        FulfilmentResult::Recorded(record) => json_response(200, &recorded_json(&record)).build(),
        FulfilmentResult::NoSuchOrder => return Err(ApiError::NotFound),
        FulfilmentResult::IdReused => return Err(ApiError::FulfilmentEventReused),
        FulfilmentResult::Refused(refused) => return Err(refused.into()),
    };
    Ok(Reply {
        response,
        follow_up: Some(deps.into_follow_up()),
    })
}

fn recorded_json(record: &FulfilmentRecord) -> Value {
    let update = &record.update;
    let mut body = json!({
        "event_id": update.event_id,
        "order_id": update.order_id,
        "status": update.step.status().as_str(),
        "recorded_at": record.recorded_at,
    });
    if let Some((carrier, tracking)) = &update.shipment {
        body["carrier"] = carrier.as_str().into();
        body["tracking_reference"] = tracking.as_str().into();
    }
    body
}
