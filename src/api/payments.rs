//! `POST /orders/payments/` and `POST /orders/refunds/`: the Payment
//! Service confirms that an order was paid, or that a payment owed back
//! was refunded. Not user endpoints: authenticated by an HMAC-SHA256
//! signature of the exact body ([`crate::webhook_signature`]) in
//! `Payment-Signature`, with the shared `payment_webhook_secret`; unset,
//! the endpoints refuse everyone. The gateway does not route them; the
//! Payment Service calls the service directly.

use super::error::ApiError;
use super::session::{dependencies, settings};
use super::{body, json_response, AccessLog, Reply, RequestFacts};
use crate::clock::unix_now;
use crate::domain::payment::{PaymentConfirmation, RefundConfirmation};
use crate::domain::payment::{PaymentRecord, RefundRecord};
use crate::orders::payment::{confirm_payment, confirm_refund};
use crate::orders::{PaymentResult, RefundResult};
use crate::settings::{Secret, SpinVariables};
use crate::webhook_signature::{self, PeerSecret, SignatureError};
use serde::Serialize;
use serde_json::Value;
use spin_sdk::http::IncomingRequest;
#[cfg(feature = "openapi")]
use {super::error as e, super::openapi::doc};

/// A payment the service took: the order is `PAID`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentAccepted {
    pub payment_id: String,
    pub order_id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = super::orders::Money))]
    pub amount: String,
    pub currency: String,
    pub status: Paid,
    #[cfg_attr(feature = "openapi", schema(value_type = super::orders::Timestamp))]
    pub confirmed_at: String,
}

/// Always `PAID`.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Paid {
    #[serde(rename = "PAID")]
    Paid,
}

impl From<&PaymentRecord> for PaymentAccepted {
    fn from(record: &PaymentRecord) -> Self {
        PaymentAccepted {
            payment_id: record.payment_id.clone(),
            order_id: record.order_id,
            amount: record.amount.to_string(),
            currency: record.currency.clone(),
            status: Paid::Paid,
            confirmed_at: record.created_at.clone(),
        }
    }
}

/// A refund the service recorded: the payment is no longer owed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundRecorded {
    pub refund_id: String,
    pub payment_id: String,
    pub order_id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = super::orders::Money))]
    pub amount: String,
    pub currency: String,
    pub refund: Refunded,
    #[cfg_attr(feature = "openapi", schema(value_type = super::orders::Timestamp))]
    pub refunded_at: String,
}

/// Always `refunded`.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Refunded {
    Refunded,
}

impl From<&RefundRecord> for RefundRecorded {
    fn from(record: &RefundRecord) -> Self {
        let payment = &record.payment;
        RefundRecorded {
            refund_id: record.refund_id.clone(),
            payment_id: payment.payment_id.clone(),
            order_id: payment.order_id,
            amount: payment.amount.to_string(),
            currency: payment.currency.clone(),
            refund: Refunded::Refunded,
            refunded_at: record.refunded_at.clone(),
        }
    }
}

/// The Payment Service's confirmation of a payment.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = PaymentConfirmation)]
#[allow(dead_code)]
pub struct PaymentConfirmationBody {
    /// The Payment Service's id, visible ASCII; a repeat gets the first
    /// answer.
    #[schema(min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
    payment_id: String,
    /// A JSON integer as written (`2`, not `2.0`).
    #[schema(minimum = 1)]
    order_id: i64,
    #[schema(value_type = super::orders::Money)]
    amount: String,
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
}

/// The Payment Service's confirmation that a payment owed back was
/// refunded, whole.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = RefundConfirmation)]
#[allow(dead_code)]
pub struct RefundConfirmationBody {
    /// The Payment Service's id of the refund, visible ASCII; a repeat gets
    /// the first answer.
    #[schema(min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
    refund_id: String,
    /// The payment refunded: its id, order, amount and currency as it was
    /// confirmed.
    #[schema(min_length = 1, max_length = 128, pattern = "^[!-~]+$")]
    payment_id: String,
    /// Optional: the payment's order; when given it must be the
    /// payment's (else 404). A JSON integer as written (`2`, not `2.0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1)]
    order_id: Option<i64>,
    #[schema(value_type = super::orders::Money)]
    amount: String,
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: String,
}

#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/orders/payments/",
    operation_id = "confirmPayment",
    tag = "peer services",
    summary = "Payment Service: confirm that an order was paid",
    description = "`CREATED` → `PAID` when the amount equals the order's total exactly. A \
        cancelled order, a paid one, or another amount is refused with 409 and recorded for \
        a refund; nothing changes. The same payment id again answers as the first time. \
        Signed with `Payment-Signature`; disabled (403) without `payment_webhook_secret`; \
        not routed by the gateway.",
    security(("paymentSignature" = [])),
    request_body = PaymentConfirmationBody,
    responses(
        (status = 200, body = PaymentAccepted,
            description = "Paid (now, or by this payment id before)."),
        (status = 400, body = e::BadBody, description = doc::BAD_BODY),
        (status = 401, body = e::AuthenticationError, description = doc::PAYMENT_UNSIGNED),
        (status = 403, body = e::PermissionError,
            description = "Payment confirmation is disabled (`permission_denied`)."),
        (status = 404, body = e::NotFoundError, description = "No such order (`not_found`)."),
        (status = 409, body = e::PaymentRefused, description = "Refused and recorded for a \
            refund (`payment_refused`, with `reason`)."),
        (status = 413, body = e::RequestError, description = doc::TOO_LARGE),
        (status = 415, body = e::RequestError, description = doc::NOT_JSON),
        (status = 422, body = e::ConflictError, description = "This payment id was \
            confirmed with another order, amount or currency (`payment_id_reused`)."),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn confirm(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let secret = PeerSecret::payment(&SpinVariables)?.secret;
    let body = read_signed(facts, request, secret, facts.payment_signature.as_deref()).await?;
    let payment = PaymentConfirmation::parse(&body).map_err(ApiError::Invalid)?;
    access.order_id.set(Some(payment.order_id));
    let deps = dependencies(facts, access, settings()?).await?;
    let response = match confirm_payment(&deps, &payment).await? {
        // Both outcomes recorded an event (paid, or refund required): the
        // follow-up publishes it.
        PaymentResult::Recorded(record) => match record.outcome {
            Ok(()) => json_response(200, &PaymentAccepted::from(&record)).build(),
            Err(refusal) => ApiError::PaymentRefused {
                reason: refusal.into(),
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
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/orders/refunds/",
    operation_id = "confirmRefund",
    tag = "peer services",
    summary = "Payment Service: confirm that a payment owed back was refunded",
    description = "A payment owed back (a refused confirmation, or the payment of a paid \
        order its owner cancelled) is marked refunded, whole, once: `payment.refunded` is \
        recorded with it, and the order's answer shows `refund: refunded`. The same refund \
        id again answers as the first time; nothing is recorded for a refusal. Signed with \
        `Payment-Signature` (`payment_webhook_secret`); disabled (403) without it; not \
        routed by the gateway.",
    security(("paymentSignature" = [])),
    request_body = RefundConfirmationBody,
    responses(
        (status = 200, body = RefundRecorded,
            description = "Refunded (now, or by this refund id before)."),
        (status = 400, body = e::BadBody, description = doc::BAD_BODY),
        (status = 401, body = e::AuthenticationError, description = doc::PAYMENT_UNSIGNED),
        (status = 403, body = e::PermissionError,
            description = "Refund confirmation is disabled (`permission_denied`)."),
        (status = 404, body = e::NotFoundError,
            description = "No such payment for that order (`not_found`)."),
        (status = 409, body = e::RefundRefused, description = "Not applied, nothing recorded \
            (`refund_refused`, with `reason`): the payment is not owed back, was refunded \
            under another id, or the amount or currency differs from the payment's."),
        (status = 413, body = e::RequestError, description = doc::TOO_LARGE),
        (status = 415, body = e::RequestError, description = doc::NOT_JSON),
        (status = 422, body = e::ConflictError, description = "This refund id was confirmed \
            for another payment, amount or currency (`refund_id_reused`)."),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn refund(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let secret = PeerSecret::payment(&SpinVariables)?.secret;
    let body = read_signed(facts, request, secret, facts.payment_signature.as_deref()).await?;
    let refund = RefundConfirmation::parse(&body).map_err(ApiError::Invalid)?;
    access.order_id.set(refund.order_id);
    let deps = dependencies(facts, access, settings()?).await?;
    let response = match confirm_refund(&deps, &refund).await? {
        RefundResult::Recorded(record) => {
            json_response(200, &RefundRecorded::from(&record)).build()
        }
        RefundResult::NoSuchPayment => return Err(ApiError::NotFound),
        RefundResult::IdReused => return Err(ApiError::RefundIdReused),
        RefundResult::Refused(refusal) => {
            return Err(ApiError::RefundRefused {
                reason: refusal.into(),
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
