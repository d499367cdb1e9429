//! `POST /orders/payments/`: the Payment Service confirms that an order was
//! paid. Not a user endpoint: authenticated by an HMAC-SHA256 signature of
//! the exact body ([`crate::payment_signature`]) with the shared
//! `payment_webhook_secret`; unset, the endpoint refuses everyone. The
//! gateway does not route it; the Payment Service calls the service
//! directly.

use super::body;
use super::error::ApiError;
use super::session::dependencies;
use super::{json_response, AccessLog, Reply, RequestFacts};
use crate::config::Config;
use crate::domain::payment::PaymentConfirmation;
use crate::orders::payment::confirm_payment;
use crate::orders::release::unix_now;
use crate::orders::{PaymentRecord, PaymentResult};
use crate::payment_signature::{self, SignatureError};
use serde_json::json;
use spin_sdk::http::IncomingRequest;

pub async fn confirm(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let config = Config::load()?;
    let secret = config
        .payment_webhook_secret
        .clone()
        .ok_or(ApiError::PermissionDenied)?;
    let body = body::read_bytes(
        request,
        facts.content_type.as_deref(),
        facts.content_length.as_deref(),
    )
    .await?;
    payment_signature::verify(
        secret.0.as_bytes(),
        facts.payment_signature.as_deref(),
        &body,
        unix_now(),
    )
    .map_err(|error| match error {
        SignatureError::Missing => ApiError::NotAuthenticated,
        _ => ApiError::SignatureNotValid,
    })?;
    let body = serde_json::from_slice(&body).map_err(|_| ApiError::ParseError)?;
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

fn paid_json(record: &PaymentRecord) -> serde_json::Value {
    json!({
        "payment_id": record.payment_id,
        "order_id": record.order_id,
        "amount": record.amount.to_string(),
        "currency": record.currency,
        "status": "PAID",
        "confirmed_at": record.created_at,
    })
}
