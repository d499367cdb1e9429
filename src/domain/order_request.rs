//! The create-order body, parsed once at the edge into an [`OrderRequest`]
//! whose lines are valid by construction (SPEC §3 "POST /orders/orders/").

use super::ProductId;
use serde_json::Value;
use std::collections::BTreeMap;

pub const MAX_ITEMS: usize = 100;
pub const MAX_QUANTITY: u32 = 100_000;

/// Units of one product: 1..=[`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

impl Quantity {
    pub fn new(raw: i64) -> Option<Self> {
        u32::try_from(raw)
            .ok()
            .filter(|q| (1..=MAX_QUANTITY).contains(q))
            .map(Self)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// One product and how many units of it; product ids are unique in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub quantity: Quantity,
}

/// A valid order request: 1..=100 lines with distinct products, in the order
/// each product first appeared in the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    lines: Vec<OrderLine>,
}

/// Field path → messages, shaped like DRF's validation errors.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

impl OrderRequest {
    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }

    /// Validates a parsed JSON body. Unknown fields are ignored; entries for
    /// the same product are merged by summing their quantities.
    pub fn parse(body: &Value) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let Some(object) = body.as_object() else {
            errors.insert(
                "non_field_errors".into(),
                vec!["Expected a JSON object.".into()],
            );
            return Err(errors);
        };
        let entries = match object.get("items") {
            None => return Err(single("items", "This field is required.")),
            Some(Value::Array(entries)) => entries,
            Some(_) => return Err(single("items", "Expected a list of items.")),
        };
        if entries.is_empty() {
            return Err(single("items", "Ensure this field has at least 1 item."));
        }
        if entries.len() > MAX_ITEMS {
            return Err(single(
                "items",
                &format!("Ensure this field has no more than {MAX_ITEMS} items."),
            ));
        }

        let mut lines: Vec<OrderLine> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let Some(entry) = entry.as_object() else {
                errors.insert(
                    format!("items[{index}]"),
                    vec!["Expected an object with product_id and quantity.".into()],
                );
                continue;
            };
            let product_id =
                integer_field(entry, "product_id", index, &mut errors).and_then(|raw| {
                    ProductId::new(raw).or_else(|| {
                        push(
                            &mut errors,
                            format!("items[{index}].product_id"),
                            "Ensure this value is greater than or equal to 1.",
                        );
                        None
                    })
                });
            let quantity = integer_field(entry, "quantity", index, &mut errors).and_then(|raw| {
                Quantity::new(raw).or_else(|| {
                    push(
                        &mut errors,
                        format!("items[{index}].quantity"),
                        &format!("Ensure this value is between 1 and {MAX_QUANTITY}."),
                    );
                    None
                })
            });
            if let (Some(product_id), Some(quantity)) = (product_id, quantity) {
                merge(&mut lines, product_id, quantity, &mut errors);
            }
        }
        if errors.is_empty() {
            Ok(Self { lines })
        } else {
            Err(errors)
        }
    }
}

fn merge(
    lines: &mut Vec<OrderLine>,
    product_id: ProductId,
    quantity: Quantity,
    errors: &mut FieldErrors,
) {
    match lines.iter_mut().find(|line| line.product_id == product_id) {
        None => lines.push(OrderLine {
            product_id,
            quantity,
        }),
        Some(line) => {
            let total = i64::from(line.quantity.get()) + i64::from(quantity.get());
            match Quantity::new(total) {
                Some(total) => line.quantity = total,
                None => push(
                    errors,
                    "items".into(),
                    &format!(
                        "Total quantity for product {product_id} must not exceed {MAX_QUANTITY}."
                    ),
                ),
            }
        }
    }
}

/// A JSON integer (not a string, float or boolean) in the i64 range.
fn integer_field(
    entry: &serde_json::Map<String, Value>,
    name: &str,
    index: usize,
    errors: &mut FieldErrors,
) -> Option<i64> {
    let path = format!("items[{index}].{name}");
    match entry.get(name) {
        None => {
            push(errors, path, "This field is required.");
            None
        }
        Some(Value::Number(number)) if number.is_i64() => number.as_i64(),
        Some(Value::Number(number)) if number.is_u64() => {
            push(errors, path, "Ensure this value is within range.");
            None
        }
        Some(_) => {
            push(errors, path, "A valid integer is required.");
            None
        }
    }
}

fn push(errors: &mut FieldErrors, path: String, message: &str) {
    errors.entry(path).or_default().push(message.to_owned());
}

fn single(path: &str, message: &str) -> FieldErrors {
    FieldErrors::from([(path.to_owned(), vec![message.to_owned()])])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(body: Value) -> Vec<(i64, u32)> {
        OrderRequest::parse(&body)
            .expect("valid body")
            .lines()
            .iter()
            .map(|l| (l.product_id.get(), l.quantity.get()))
            .collect()
    }

    fn error_paths(body: Value) -> Vec<String> {
        OrderRequest::parse(&body)
            .expect_err("invalid body")
            .into_keys()
            .collect()
    }

    #[test]
    fn accepts_a_minimal_order() {
        assert_eq!(
            lines(json!({"items": [{"product_id": 1, "quantity": 2}]})),
            [(1, 2)]
        );
    }

    #[test]
    fn ignores_unknown_fields_including_attempts_to_set_price_or_user() {
        let body = json!({"user_id": 7, "total_amount": "0.01", "status": "PAID",
            "items": [{"product_id": 3, "quantity": 1, "price": "0.01"}]});
        assert_eq!(lines(body), [(3, 1)]);
    }

    #[test]
    fn merges_duplicate_products_keeping_first_seen_order() {
        let body = json!({"items": [
            {"product_id": 2, "quantity": 1},
            {"product_id": 1, "quantity": 5},
            {"product_id": 2, "quantity": 3}]});
        assert_eq!(lines(body), [(2, 4), (1, 5)]);
    }

    #[test]
    fn accepts_the_bounds() {
        let hundred: Vec<Value> = (1..=100)
            .map(|id| json!({"product_id": id, "quantity": 100_000}))
            .collect();
        assert_eq!(lines(json!({ "items": hundred })).len(), 100);
        assert_eq!(
            lines(json!({"items": [{"product_id": i64::MAX, "quantity": 1}]})),
            [(i64::MAX, 1)]
        );
    }

    #[test]
    fn rejects_bad_shapes_with_field_paths() {
        let cases = [
            (json!([]), "non_field_errors"),
            (json!("items"), "non_field_errors"),
            (json!({}), "items"),
            (json!({"items": null}), "items"),
            (json!({"items": {}}), "items"),
            (json!({"items": []}), "items"),
            (json!({"items": [1]}), "items[0]"),
            (json!({"items": [{"quantity": 1}]}), "items[0].product_id"),
            (json!({"items": [{"product_id": 1}]}), "items[0].quantity"),
        ];
        for (body, path) in cases {
            assert_eq!(error_paths(body.clone()), [path], "{body}");
        }
    }

    #[test]
    fn rejects_values_that_are_not_plain_integers_in_range() {
        for bad in [
            json!("1"),
            json!(1.5),
            json!(2.0),
            json!(true),
            json!(null),
            json!([1]),
            json!(0),
            json!(-1),
            json!(u64::MAX),
        ] {
            let body = json!({"items": [{"product_id": bad, "quantity": 1}]});
            assert_eq!(error_paths(body), ["items[0].product_id"], "{bad}");
            let body = json!({"items": [{"product_id": 1, "quantity": bad}]});
            assert_eq!(error_paths(body), ["items[0].quantity"], "{bad}");
        }
        let body = json!({"items": [{"product_id": 1, "quantity": 100_001}]});
        assert_eq!(error_paths(body), ["items[0].quantity"]);
    }

    #[test]
    fn rejects_more_than_a_hundred_items() {
        let many: Vec<Value> = (1..=101)
            .map(|id| json!({"product_id": id, "quantity": 1}))
            .collect();
        assert_eq!(error_paths(json!({ "items": many })), ["items"]);
    }

    #[test]
    fn rejects_a_merged_quantity_above_the_limit() {
        let body = json!({"items": [
            {"product_id": 1, "quantity": 60_000},
            {"product_id": 1, "quantity": 60_000}]});
        assert_eq!(error_paths(body), ["items"]);
    }

    #[test]
    fn reports_every_bad_entry_at_once() {
        let body = json!({"items": [
            {"product_id": "x", "quantity": 1},
            {"product_id": 1, "quantity": 0}]});
        assert_eq!(
            error_paths(body),
            ["items[0].product_id", "items[1].quantity"]
        );
    }
}
