//! `POST /orders/payments/` and `POST /orders/refunds/`: the Payment
//! Service confirms that an order was paid, or that a payment owed back
//! was refunded. Not user endpoints: authenticated by an HMAC-SHA256
//! signature of the exact body ([`crate::webhook_signature`]) in
//! `Payment-Signature`, with the shared `payment_webhook_secret`; unset,
//! the endpoints refuse everyone. The gateway does not route them; the
//! Payment Service calls the service directly.

use super::error::ApiError;
use super::session::dependencies;
use super::{body, json_response, AccessLog, Reply, RequestFacts};
use crate::clock::unix_now;
use crate::config::{Config, Secret};
use crate::domain::payment::{PaymentConfirmation, RefundConfirmation};
use crate::domain::payment::{PaymentRecord, RefundRecord};
use crate::orders::payment::{confirm_payment, confirm_refund};
use crate::orders::{PaymentResult, RefundResult};
use crate::webhook_signature::{self, SignatureError};
use serde_json::{json, Value};
use spin_sdk::http::IncomingRequest;

pub async fn confirm(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let config = Config::load()?;
    let secret = config.payment_webhook_secret.clone();
    let body = read_signed(facts, request, secret, facts.payment_signature.as_deref()).await?;
    let payment = PaymentConfirmation::parse(&body).map_err(ApiError::Invalid)?;
    access.order_id.set(Some(payment.order_id));
    let deps = dependencies(facts, access, config).await?;
    let response = match confirm_payment(&deps, &payment).await? {
        // Both outcomes recorded an event (paid, or refund required): the
        // follow-up publishes it.
        PaymentResult::Recorded(record) => match record.outcome {
            Ok(()) => json_response(200, &paid_json(&record)).build(),
            Err(refusal) => ApiError::PaymentRefused {
                reason: refusal.as_str(),
            }
            .into_response(),
        },
        PaymentResult::NoSuchOrder => return Err(ApiError::NotFound),
        PaymentResult::IdReused => return Err(ApiError::PaymentIdReused),
    };
    Ok(Reply {
        response,
        follow_up: Some(deps.into_follow_up()),
    })
}

/// `POST /orders/refunds/`: a payment owed back (refused, or its paid order
/// cancelled) was refunded, whole.
pub async fn refund(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let config = Config::load()?;
    let secret = config.payment_webhook_secret.clone();
    let body = read_signed(facts, request, secret, facts.payment_signature.as_deref()).await?;
    let refund = RefundConfirmation::parse(&body).map_err(ApiError::Invalid)?;
    access.order_id.set(refund.order_id);
    let deps = dependencies(facts, access, config).await?;
    let response = match confirm_refund(&deps, &refund).await? {
        RefundResult::Recorded(record) => json_response(200, &refunded_json(&record)).build(),
        RefundResult::NoSuchPayment => return Err(ApiError::NotFound),
        RefundResult::IdReused => return Err(ApiError::RefundIdReused),
        RefundResult::Refused(refusal) => {
            return Err(ApiError::RefundRefused {
                reason: refusal.as_str(),
            })
        }
    };
    Ok(Reply {
        response,
        follow_up: Some(deps.into_follow_up()),
    })
}

/// The body of a request signed by a peer service with `secret` in
/// `signature` (see [`crate::webhook_signature`]), as JSON. No secret
/// configured: 403 for everyone; no signature: 401 `not_authenticated`;
/// a bad one: 401 `signature_not_valid`.
pub(super) async fn read_signed(
    facts: &RequestFacts,
    request: IncomingRequest,
    secret: Option<Secret>,
    signature: Option<&str>,
) -> Result<Value, ApiError> {
    let secret = secret.ok_or(ApiError::PermissionDenied)?;
    let body = body::read_bytes(
        request,
        facts.content_type.as_deref(),
        facts.content_length.as_deref(),
    )
    .await?;
    webhook_signature::verify(secret.0.as_bytes(), signature, &body, unix_now()).map_err(
        |error| match error {
            SignatureError::Missing => ApiError::NotAuthenticated,
            _ => ApiError::SignatureNotValid,
        },
    )?;
    serde_json::from_slice(&body).map_err(|_| ApiError::ParseError)
}

fn paid_json(record: &PaymentRecord) -> Value {
    json!({
        "payment_id": record.payment_id,
        "order_id": record.order_id,
        "amount": record.amount.to_string(),
        "currency": record.currency,
        "status": "PAID",
        "confirmed_at": record.created_at,
    })
}

fn refunded_json(record: &RefundRecord) -> Value {
    let payment = &record.payment;
    json!({
        "refund_id": record.refund_id,
        "payment_id": payment.payment_id,
        "order_id": payment.order_id,
        "amount": payment.amount.to_string(),
        "currency": payment.currency,
        "refund": "refunded",
        "refunded_at": record.refunded_at,
    })
}
