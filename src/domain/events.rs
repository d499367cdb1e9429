//! Order events (SPEC §3 "Order events"): what other services learn about
//! an order's life. Each is recorded in the same transaction as the change
//! it describes (a transactional outbox), with a unique id for consumers to
//! deduplicate and a per-order sequence number for their order.

use super::money::Money;
use super::order::Order;
use super::payment::{PaymentConfirmation, PaymentRefusal};
use serde_json::{json, Value};

/// How long a published event stays recorded (for audits and replays)
/// before it is purged.
pub const RETENTION_SECONDS: u64 = 7 * 24 * 3600;

/// One change to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderEvent {
    /// A new order, with its items and total.
    Created(Order),
    /// The order was cancelled; its stock release is requested (done now
    /// or retried until done).
    Cancelled { order_id: i64, user_id: i64 },
    /// The order was not paid within the payment deadline; its stock
    /// release is requested (done now or retried until done).
    Expired { order_id: i64, user_id: i64 },
    /// The order was paid.
    Paid {
        order_id: i64,
        payment_id: String,
        amount: Money,
        currency: String,
    },
    /// A payment could not be applied, or its paid order was cancelled:
    /// the Payment Service must refund it.
    RefundRequired {
        order_id: i64,
        payment_id: String,
        amount: Money,
        currency: String,
        reason: RefundReason,
    },
    /// The order left the warehouse.
    Shipped {
        order_id: i64,
        fulfilment_event_id: String,
        carrier: String,
        tracking_reference: String,
    },
    /// The order reached its customer.
    Delivered {
        order_id: i64,
        fulfilment_event_id: String,
    },
    /// A payment owed back was refunded (the Payment Service confirmed).
    Refunded {
        order_id: i64,
        payment_id: String,
        refund_id: String,
        amount: Money,
        currency: String,
    },
}

/// Why a payment is owed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundReason {
    /// The confirmation was refused (wrong amount, order cancelled or
    /// already paid).
    Refused(PaymentRefusal),
    /// The owner cancelled the order after paying for it.
    CancelledAfterPayment,
}

impl RefundReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::Refused(refusal) => refusal.as_str(),
            RefundReason::CancelledAfterPayment => "cancelled_after_payment",
        }
    }
}

/// An event as the outbox stores it: what the storage writes, decided here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Unique, for consumers to deduplicate.
    pub event_id: String,
    pub order_id: i64,
    pub kind: &'static str,
    /// JSON.
    pub payload: String,
    /// The W3C `traceparent` of the request that caused it, published
    /// with it so a consumer continues the trace (as CloudEvents'
    /// distributed-tracing extension carries it).
    pub traceparent: String,
}

/// An event as the outbox holds it, claimed for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Outbox row id: recording order.
    pub id: i64,
    pub event_id: String,
    pub order_id: i64,
    /// 1, 2, … per order.
    pub seq: i64,
    /// `order.created`, …
    pub kind: String,
    /// JSON.
    pub payload: String,
    pub created_at: String,
    /// The request that caused it (`None` for events recorded before
    /// events carried it).
    pub traceparent: Option<String>,
}

impl OrderEvent {
    /// The event with a new id, caused by the request whose span
    /// `traceparent` names, ready to be recorded.
    pub fn record(&self, traceparent: &str) -> EventRecord {
        EventRecord {
            event_id: uuid::Uuid::new_v4().to_string(),
            order_id: self.order_id(),
            kind: self.kind(),
            payload: self.payload().to_string(),
            traceparent: traceparent.to_owned(),
        }
    }

    pub fn paid(payment: &PaymentConfirmation) -> Self {
        OrderEvent::Paid {
            order_id: payment.order_id,
            payment_id: payment.payment_id.clone(),
            amount: payment.amount,
            currency: payment.currency.clone(),
        }
    }

    pub fn refund_required(payment: &PaymentConfirmation, reason: PaymentRefusal) -> Self {
        OrderEvent::RefundRequired {
            order_id: payment.order_id,
            payment_id: payment.payment_id.clone(),
            amount: payment.amount,
            currency: payment.currency.clone(),
            reason: RefundReason::Refused(reason),
        }
    }

    /// The event type consumers switch on.
    pub fn kind(&self) -> &'static str {
        match self {
            OrderEvent::Created(_) => "order.created",
            OrderEvent::Cancelled { .. } => "order.cancelled",
            OrderEvent::Expired { .. } => "order.expired",
            OrderEvent::Paid { .. } => "order.paid",
            OrderEvent::RefundRequired { .. } => "payment.refund_required",
            OrderEvent::Shipped { .. } => "order.shipped",
            OrderEvent::Delivered { .. } => "order.delivered",
            OrderEvent::Refunded { .. } => "payment.refunded",
        }
    }

    pub fn order_id(&self) -> i64 {
        match self {
            OrderEvent::Created(order) => order.id,
            OrderEvent::Cancelled { order_id, .. }
            | OrderEvent::Expired { order_id, .. }
            | OrderEvent::Paid { order_id, .. }
            | OrderEvent::RefundRequired { order_id, .. }
            | OrderEvent::Shipped { order_id, .. }
            | OrderEvent::Delivered { order_id, .. }
            | OrderEvent::Refunded { order_id, .. } => *order_id,
        }
    }

    /// The event's data (money as strings with two places, as in the API;
    /// a new order exactly as the API shows it).
    pub fn payload(&self) -> Value {
        match self {
            OrderEvent::Created(order) => order.to_json(),
            OrderEvent::Cancelled { order_id, user_id } => json!({
                "order_id": order_id,
                "user_id": user_id,
                "stock_release": "requested",
            }),
            OrderEvent::Expired { order_id, user_id } => json!({
                "order_id": order_id,
                "user_id": user_id,
                "stock_release": "requested",
            }),
            OrderEvent::Paid {
                order_id,
                payment_id,
                amount,
                currency,
            } => json!({
                "order_id": order_id,
                "payment_id": payment_id,
                "amount": amount.to_string(),
                "currency": currency,
            }),
            OrderEvent::RefundRequired {
                order_id,
                payment_id,
                amount,
                currency,
                reason,
            } => json!({
                "order_id": order_id,
                "payment_id": payment_id,
                "amount": amount.to_string(),
                "currency": currency,
                "reason": reason.as_str(),
            }),
            OrderEvent::Shipped {
                order_id,
                fulfilment_event_id,
                carrier,
                tracking_reference,
            } => json!({
                "order_id": order_id,
                "fulfilment_event_id": fulfilment_event_id,
                "carrier": carrier,
                "tracking_reference": tracking_reference,
            }),
            OrderEvent::Delivered {
                order_id,
                fulfilment_event_id,
            } => json!({
                "order_id": order_id,
                "fulfilment_event_id": fulfilment_event_id,
            }),
            OrderEvent::Refunded {
                order_id,
                payment_id,
                refund_id,
                amount,
                currency,
            } => json!({
                "order_id": order_id,
                "payment_id": payment_id,
                "refund_id": refund_id,
                "amount": amount.to_string(),
                "currency": currency,
            }),
        }
    }
}
