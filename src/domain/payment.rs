//! A payment confirmation from the Payment Service (SPEC §3), parsed once
//! at the edge, and why one cannot be applied. The rule itself is the
//! order's state machine ([`OrderStatus::pay`](super::order::OrderStatus::pay)).

use super::money::Money;
use super::order_request::FieldErrors;
use serde_json::Value;

/// Longest id a peer service sends (payment, refund, fulfilment event), in
/// bytes (visible ASCII only).
const MAX_ID: usize = 128;

/// A confirmed payment as the Payment Service reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentConfirmation {
    /// The Payment Service's id: confirmations are deduplicated by it.
    pub payment_id: String,
    pub order_id: i64,
    pub amount: Money,
    /// ISO 4217 code as sent (three upper-case letters); recorded, not
    /// converted: orders carry no currency of their own.
    pub currency: String,
}

/// Why a payment does not move an order to `PAID`: each is recorded so
/// that the Payment Service can refund it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentRefusal {
    /// The amount differs from the order's total.
    AmountMismatch,
    /// The order was cancelled.
    OrderCancelled,
    /// The order expired unpaid (its payment deadline passed).
    OrderExpired,
    /// The order was paid already, by another payment.
    AlreadyPaid,
}

impl PaymentRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentRefusal::AmountMismatch => "amount_mismatch",
            PaymentRefusal::OrderCancelled => "order_cancelled",
            PaymentRefusal::OrderExpired => "order_expired",
            PaymentRefusal::AlreadyPaid => "already_paid",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "amount_mismatch" => Some(PaymentRefusal::AmountMismatch),
            "order_cancelled" => Some(PaymentRefusal::OrderCancelled),
            "order_expired" => Some(PaymentRefusal::OrderExpired),
            "already_paid" => Some(PaymentRefusal::AlreadyPaid),
            _ => None,
        }
    }
}

/// Reads the fields peer services send, naming each bad one in `errors`.
pub(super) struct Fields<'a> {
    body: &'a Value,
    pub errors: FieldErrors,
}

impl<'a> Fields<'a> {
    pub fn of(body: &'a Value) -> Self {
        Fields {
            body,
            errors: FieldErrors::new(),
        }
    }

    pub fn fail<T>(&mut self, field: &str, message: &str) -> Option<T> {
        self.errors
            .insert(field.to_owned(), vec![message.to_owned()]);
        None
    }

    /// An id of the sender's, or a carrier's reference: 1 to 128 visible
    /// ASCII characters.
    pub fn id(&mut self, field: &str) -> Option<String> {
        match self.body.get(field).and_then(Value::as_str) {
            Some(id)
                if (1..=MAX_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Some(id.to_owned())
            }
            _ => self.fail(field, "1 to 128 visible ASCII characters are required."),
        }
    }

    /// `order_id`: a positive JSON integer.
    pub fn order_id(&mut self) -> Option<i64> {
        let id = self.body.get("order_id").and_then(Value::as_i64);
        match id.filter(|id| *id >= 1) {
            Some(id) => Some(id),
            None => self.fail("order_id", "A positive integer is required."),
        }
    }

    /// `order_id` when present.
    pub fn optional_order_id(&mut self) -> Option<Option<i64>> {
        match self.body.get("order_id") {
            None => Some(None),
            Some(_) => self.order_id().map(Some),
        }
    }

    fn amount(&mut self) -> Option<Money> {
        let amount = self.body.get("amount").and_then(Value::as_str);
        match amount.and_then(Money::parse_exact) {
            Some(amount) => Some(amount),
            None => self.fail(
                "amount",
                "An amount as the service writes it is required: digits, a point and exactly two places (\"24.60\").",
            ),
        }
    }

    fn currency(&mut self) -> Option<String> {
        let currency = self.body.get("currency").and_then(Value::as_str);
        match currency.filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())) {
            Some(currency) => Some(currency.to_owned()),
            None => self.fail("currency", "A three-letter ISO 4217 code is required."),
        }
    }
}

impl PaymentConfirmation {
    /// `{"payment_id": "...", "order_id": 1, "amount": "19.99",
    /// "currency": "EUR"}`; unknown fields are ignored.
    pub fn parse(body: &Value) -> Result<Self, FieldErrors> {
        let mut fields = Fields::of(body);
        let parsed = (
            fields.id("payment_id"),
            fields.order_id(),
            fields.amount(),
            fields.currency(),
        );
        match parsed {
            (Some(payment_id), Some(order_id), Some(amount), Some(currency)) => Ok(Self {
                payment_id,
                order_id,
                amount,
                currency,
            }),
            _ => Err(fields.errors),
        }
    }
}

/// The Payment Service's report that a payment owed back was refunded,
/// whole: the payment by its id (and, optionally, its order), its amount
/// and currency, and the refund's own id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundConfirmation {
    /// The Payment Service's id of the refund: confirmations are
    /// deduplicated by it.
    pub refund_id: String,
    pub payment_id: String,
    /// The payment's order, when the Payment Service names it: then it
    /// must be the payment's.
    pub order_id: Option<i64>,
    pub amount: Money,
    pub currency: String,
}

impl RefundConfirmation {
    /// `{"refund_id": "...", "payment_id": "...", "amount": "19.99",
    /// "currency": "EUR"}`, `"order_id": 1` optional; each field as in a
    /// payment confirmation; unknown fields are ignored.
    pub fn parse(body: &Value) -> Result<Self, FieldErrors> {
        let mut fields = Fields::of(body);
        let parsed = (
            fields.id("refund_id"),
            fields.id("payment_id"),
            fields.optional_order_id(),
            fields.amount(),
            fields.currency(),
        );
        match parsed {
            (Some(refund_id), Some(payment_id), Some(order_id), Some(amount), Some(currency)) => {
                Ok(Self {
                    refund_id,
                    payment_id,
                    order_id,
                    amount,
                    currency,
                })
            }
            _ => Err(fields.errors),
        }
    }

    /// Whether this confirmation says what `payment` (as recorded) is: the
    /// same id, its order (when named), amount and currency.
    pub fn matches(&self, payment: &PaymentConfirmation) -> bool {
        self.payment_id == payment.payment_id
            && self.order_id.is_none_or(|id| id == payment.order_id)
            && self.amount == payment.amount
            && self.currency == payment.currency
    }
}

/// Where a recorded payment stands with its refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundState {
    /// It paid its order, which still stands.
    NotOwed,
    /// Refused, or its paid order was cancelled: to be refunded.
    Owed,
    /// Refunded, as the Payment Service confirmed.
    Refunded,
}

/// Why a refund confirmation is not applied (nothing is recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundRefusal {
    /// The payment is not owed back: its order stands.
    NotOwed,
    /// The payment was refunded already, under another refund id.
    AlreadyRefunded,
    /// Refunds are whole: the amount or currency differs from the payment's.
    AmountMismatch,
}

impl RefundRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundRefusal::NotOwed => "refund_not_owed",
            RefundRefusal::AlreadyRefunded => "already_refunded",
            RefundRefusal::AmountMismatch => "amount_mismatch",
        }
    }
}

impl RefundState {
    /// The refund transition: a payment owed back becomes refunded by a
    /// confirmation of its whole amount, once.
    pub fn refund(
        self,
        refund: &RefundConfirmation,
        paid: &PaymentConfirmation,
    ) -> Result<(), RefundRefusal> {
        match self {
            RefundState::NotOwed => Err(RefundRefusal::NotOwed),
            RefundState::Refunded => Err(RefundRefusal::AlreadyRefunded),
            RefundState::Owed if !refund.matches(paid) => Err(RefundRefusal::AmountMismatch),
            RefundState::Owed => Ok(()),
        }
    }

    /// The order's answer shows it as `refund`: `None` when not owed.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            RefundState::NotOwed => None,
            RefundState::Owed => Some("owed"),
            RefundState::Refunded => Some("refunded"),
        }
    }
}

/// A payment confirmation as recorded: the first answer for its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub payment_id: String,
    pub order_id: i64,
    pub amount: Money,
    pub currency: String,
    /// `Ok`: the order became `PAID`; `Err`: refused, to be refunded.
    pub outcome: Result<(), PaymentRefusal>,
    pub created_at: String,
}

/// A refund as recorded: the first answer for its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub refund_id: String,
    /// The payment refunded, as it was confirmed.
    pub payment: PaymentConfirmation,
    pub refunded_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_well_formed_confirmation_parses() {
        let parsed = PaymentConfirmation::parse(&json!({
            "payment_id": "pay_123", "order_id": 7, "amount": "19.99", "currency": "EUR",
            "extra": true
        }))
        .unwrap();
        assert_eq!(parsed.payment_id, "pay_123");
        assert_eq!(parsed.amount.to_string(), "19.99");
    }

    #[test]
    fn a_refund_applies_once_to_a_payment_owed_back_in_full() {
        let paid = PaymentConfirmation::parse(&json!({
            "payment_id": "p", "order_id": 1, "amount": "19.99", "currency": "EUR"
        }))
        .unwrap();
        let refund = |body: Value| RefundConfirmation::parse(&body).unwrap();
        let whole = refund(json!({
            "refund_id": "r", "payment_id": "p", "amount": "19.99", "currency": "EUR"
        }));
        assert_eq!(whole.order_id, None, "the order is optional");
        assert_eq!(RefundState::Owed.refund(&whole, &paid), Ok(()));
        assert_eq!(
            RefundState::NotOwed.refund(&whole, &paid),
            Err(RefundRefusal::NotOwed)
        );
        assert_eq!(
            RefundState::Refunded.refund(&whole, &paid),
            Err(RefundRefusal::AlreadyRefunded)
        );
        for other in [
            json!({"refund_id": "r", "payment_id": "p", "amount": "19.98", "currency": "EUR"}),
            json!({"refund_id": "r", "payment_id": "p", "amount": "19.99", "currency": "USD"}),
        ] {
            assert_eq!(
                RefundState::Owed.refund(&refund(other), &paid),
                Err(RefundRefusal::AmountMismatch)
            );
        }
        let named = refund(json!({
            "refund_id": "r", "payment_id": "p", "order_id": 1, "amount": "19.99", "currency": "EUR"
        }));
        assert!(named.matches(&paid));
        let elsewhere = refund(json!({
            "refund_id": "r", "payment_id": "p", "order_id": 2, "amount": "19.99", "currency": "EUR"
        }));
        assert!(!elsewhere.matches(&paid));
        let errors = RefundConfirmation::parse(&json!({
            "payment_id": "p", "order_id": 1, "amount": "1.00", "currency": "EUR"
        }))
        .unwrap_err();
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["refund_id"]);
        let errors =
            RefundConfirmation::parse(&json!({"refund_id": "r r", "order_id": 0})).unwrap_err();
        assert_eq!(errors.len(), 5, "{errors:?}");
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = PaymentConfirmation::parse(&json!({
            "payment_id": "has space", "order_id": 0, "amount": 19.99, "currency": "eur"
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["amount", "currency", "order_id", "payment_id"]);
        for amount in [
            "19.999", "-1", "1e3", "", "24.6", "24.680", "024.68", "-24.68", "12.345",
        ] {
            let errors = PaymentConfirmation::parse(&json!({
                "payment_id": "p", "order_id": 1, "amount": amount, "currency": "USD"
            }))
            .unwrap_err();
            assert!(errors.contains_key("amount"), "{amount}");
        }
    }
}
