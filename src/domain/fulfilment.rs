//! An update from the Fulfilment (shipping) Service (SPEC §3 "Fulfilment
//! and refunds"), parsed once at the edge. The rule itself is the order's
//! state machine ([`OrderStatus::fulfil`](super::order::OrderStatus::fulfil)).

use super::order::Fulfilment;
use super::order_request::FieldErrors;
use super::payment::Fields;
use serde_json::Value;

/// Longest carrier name, in characters.
const MAX_CARRIER: usize = 64;

/// What the Fulfilment Service reports about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilmentUpdate {
    /// The Fulfilment Service's id of this update: updates are
    /// deduplicated by it.
    pub event_id: String,
    pub order_id: i64,
    pub step: Fulfilment,
    /// `(carrier, tracking reference)`: a shipment's, `None` for a delivery.
    pub shipment: Option<(String, String)>,
}

impl FulfilmentUpdate {
    /// `{"event_id": "...", "order_id": 1, "status": "SHIPPED", "carrier":
    /// "DHL", "tracking_reference": "JD014600003SE"}`, or `"status":
    /// "DELIVERED"` (carrier and reference then ignored); unknown fields
    /// are ignored.
    pub fn parse(body: &Value) -> Result<Self, FieldErrors> {
        let mut fields = Fields::of(body);
        let event_id = fields.id("event_id");
        let order_id = fields.order_id();
        let step = match body.get("status").and_then(Value::as_str) {
            Some("SHIPPED") => Some(Fulfilment::Shipped),
            Some("DELIVERED") => Some(Fulfilment::Delivered),
            _ => fields.fail("status", "\"SHIPPED\" or \"DELIVERED\" is required."),
        };
        let mut shipment = None;
        if step == Some(Fulfilment::Shipped) {
            let carrier = body.get("carrier").and_then(Value::as_str).filter(|c| {
                let count = c.chars().count();
                (1..=MAX_CARRIER).contains(&count)
                    && c.trim() == *c
                    && !c.chars().any(char::is_control)
            });
            let carrier = match carrier {
                Some(carrier) => Some(carrier.to_owned()),
                None => fields.fail(
                    "carrier",
                    "A carrier name of 1 to 64 characters is required to ship.",
                ),
            };
            shipment = carrier.zip(fields.id("tracking_reference"));
        }
        match (event_id, order_id, step) {
            (Some(event_id), Some(order_id), Some(step)) if fields.errors.is_empty() => Ok(Self {
                event_id,
                order_id,
                step,
                shipment,
            }),
            _ => Err(fields.errors),
        }
    }
}

/// A fulfilment update as recorded: the first answer for its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilmentRecord {
    pub update: FulfilmentUpdate,
    pub recorded_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_shipment_and_a_delivery_parse() {
        let shipped = FulfilmentUpdate::parse(&json!({
            "event_id": "ful_1", "order_id": 7, "status": "SHIPPED",
            "carrier": "La Poste", "tracking_reference": "6A12345678901", "extra": 1
        }))
        .unwrap();
        assert_eq!(shipped.step, Fulfilment::Shipped);
        assert_eq!(
            shipped.shipment,
            Some(("La Poste".to_owned(), "6A12345678901".to_owned()))
        );
        let delivered = FulfilmentUpdate::parse(&json!({
            "event_id": "ful_2", "order_id": 7, "status": "DELIVERED", "carrier": "x"
        }))
        .unwrap();
        assert_eq!(
            (delivered.step, delivered.shipment),
            (Fulfilment::Delivered, None)
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = FulfilmentUpdate::parse(&json!({
            "event_id": "has space", "order_id": 0, "status": "shipped"
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["event_id", "order_id", "status"]);
        let errors = FulfilmentUpdate::parse(&json!({
            "event_id": "e", "order_id": 1, "status": "SHIPPED",
            "carrier": " DHL", "tracking_reference": "a b"
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["carrier", "tracking_reference"]);
        for status in ["PAID", "CANCELLED", "CREATED"] {
            let errors = FulfilmentUpdate::parse(&json!({
                "event_id": "e", "order_id": 1, "status": status
            }))
            .unwrap_err();
            assert!(errors.contains_key("status"), "{status}");
        }
    }
}
