//! The Catalog Service client (SPEC §4) and how its answers map to our
//! failures. Every call carries the caller's `Authorization` (the Catalog
//! wants a JWT on writes) and the request id, and always uses the trailing
//! slash (Django redirects without it).

use crate::domain::money::Money;
use crate::domain::ProductId;
use crate::outbound::{self, OutboundError};
use serde::Deserialize;
use spin_sdk::http::{Method, Request};
use std::time::Duration;

/// A Catalog answer larger than this is not one we understand.
const MAX_CATALOG_BODY: usize = 256 * 1024;

/// What this service needs to know about a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: ProductId,
    pub price: Money,
    /// `false` when the Catalog marks it inactive; absent means active.
    pub is_active: bool,
    /// Units on hand when the Catalog says so.
    pub in_stock: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("product {0} not found")]
    ProductNotFound(ProductId),
    #[error("not enough stock of product {0}")]
    InsufficientStock(ProductId),
    /// Unreachable, timed out, or a 5xx: worth retrying later.
    /// `outcome_unknown`: the request may have been applied (it was sent,
    /// but no clear answer came back), so a reservation must be undone.
    #[error("catalog unavailable: {detail}")]
    Unavailable {
        detail: String,
        outcome_unknown: bool,
    },
    /// The Catalog has no release endpoint (404/405, as the Django one):
    /// the units stay owed until an operator steps in.
    #[error("catalog has no release endpoint (HTTP {0})")]
    ReleaseUnsupported(u16),
    /// An answer we cannot use (unparseable, unexpected status).
    #[error("catalog answered unexpectedly: {0}")]
    BadResponse(String),
}

pub struct CatalogClient<'a> {
    base_url: &'a str,
    timeout: Duration,
    authorization: &'a str,
    request_id: &'a str,
}

#[derive(Deserialize)]
struct ProductBody {
    price: serde_json::Value,
    #[serde(default)]
    is_active: Option<bool>,
    #[serde(default)]
    in_stock: Option<i64>,
}

impl<'a> CatalogClient<'a> {
    pub fn new(
        base_url: &'a str,
        timeout: Duration,
        authorization: &'a str,
        request_id: &'a str,
    ) -> Self {
        Self {
            base_url,
            timeout,
            authorization,
            request_id,
        }
    }

    /// `GET /products/<id>/`.
    pub async fn product(&self, id: ProductId) -> Result<Product, CatalogError> {
        let reply = self
            .call(Method::Get, &format!("/products/{id}/"), None)
            .await?;
        match reply.status {
            200 => parse_product(id, &reply.body),
            404 => Err(CatalogError::ProductNotFound(id)),
            status => Err(unexpected(status)),
        }
    }

    /// `POST /products/<id>/reserve/`: atomically takes `quantity` units.
    pub async fn reserve(&self, id: ProductId, quantity: u32) -> Result<(), CatalogError> {
        let reply = self.stock_call("reserve", id, quantity).await?;
        match reply.status {
            200 => Ok(()),
            404 => Err(CatalogError::ProductNotFound(id)),
            409 => Err(CatalogError::InsufficientStock(id)),
            status => Err(unexpected(status)),
        }
    }

    /// `POST /products/<id>/release/`: gives `quantity` units back. A Catalog
    /// without this extension answers 404/405: `ReleaseUnsupported`.
    pub async fn release(&self, id: ProductId, quantity: u32) -> Result<(), CatalogError> {
        let reply = self.stock_call("release", id, quantity).await?;
        match reply.status {
            200 => Ok(()),
            status @ (404 | 405) => Err(CatalogError::ReleaseUnsupported(status)),
            status => Err(unexpected(status)),
        }
    }

    async fn stock_call(
        &self,
        action: &str,
        id: ProductId,
        quantity: u32,
    ) -> Result<outbound::Reply, CatalogError> {
        let body = serde_json::json!({ "quantity": quantity }).to_string();
        self.call(
            Method::Post,
            &format!("/products/{id}/{action}/"),
            Some(body.into_bytes()),
        )
        .await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<outbound::Reply, CatalogError> {
        let mut request = Request::builder();
        request
            .method(method)
            .uri(format!("{}{path}", self.base_url))
            .header("accept", "application/json")
            .header("x-request-id", self.request_id);
        if !self.authorization.is_empty() {
            request.header("authorization", self.authorization);
        }
        if let Some(body) = body {
            request
                .header("content-type", "application/json")
                .body(body);
        }
        outbound::send(request.build(), self.timeout, MAX_CATALOG_BODY)
            .await
            .map_err(|error| match error {
                OutboundError::BodyTooLarge(_) => CatalogError::BadResponse(error.to_string()),
                OutboundError::NotSent(_) => CatalogError::Unavailable {
                    detail: error.to_string(),
                    outcome_unknown: false,
                },
                OutboundError::TimedOut(_) | OutboundError::Broken(_) => {
                    CatalogError::Unavailable {
                        detail: error.to_string(),
                        outcome_unknown: true,
                    }
                }
            })
    }
}

impl CatalogError {
    /// Whether a failed write may still have taken effect at the Catalog.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            CatalogError::Unavailable {
                outcome_unknown: true,
                ..
            }
        )
    }
}

/// A 5xx from Django means the view failed and its transaction rolled
/// back, so the write did not happen.
fn unexpected(status: u16) -> CatalogError {
    if status >= 500 {
        CatalogError::Unavailable {
            detail: format!("HTTP {status}"),
            outcome_unknown: false,
        }
    } else {
        CatalogError::BadResponse(format!("HTTP {status}"))
    }
}

/// Reads the fields we use from a product body. The price may be a JSON
/// string (DRF's default for decimals) or a JSON number.
fn parse_product(id: ProductId, body: &[u8]) -> Result<Product, CatalogError> {
    let bad = |what: &str| CatalogError::BadResponse(format!("product {id}: {what}"));
    let parsed: ProductBody =
        serde_json::from_slice(body).map_err(|_| bad("body is not a product"))?;
    let price_text = match &parsed.price {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => return Err(bad("price is not a decimal")),
    };
    let price = Money::parse(&price_text).map_err(|_| bad("price is not a decimal"))?;
    Ok(Product {
        id,
        price,
        is_active: parsed.is_active.unwrap_or(true),
        in_stock: parsed.in_stock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: i64) -> ProductId {
        ProductId::new(raw).unwrap()
    }

    #[test]
    fn reads_a_django_product() {
        let body = br#"{"id": 1, "name": "Laptop", "description": "", "price": "999.99",
            "is_active": true, "in_stock": 10, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"}"#;
        let product = parse_product(id(1), body).unwrap();
        assert_eq!(product.price.to_string(), "999.99");
        assert!(product.is_active);
        assert_eq!(product.in_stock, Some(10));
    }

    #[test]
    fn missing_optional_fields_mean_active_and_unknown_stock() {
        let product = parse_product(id(2), br#"{"price": 5}"#).unwrap();
        assert_eq!(product.price.to_string(), "5.00");
        assert!(product.is_active);
        assert_eq!(product.in_stock, None);
    }

    #[test]
    fn garbage_is_a_bad_response() {
        for body in [
            &b"<html>oops</html>"[..],
            br#"{"price": "free"}"#,
            br#"{"price": null}"#,
            br#"{"name": "no price"}"#,
            br#"{"price": "1.00", "in_stock": "ten"}"#,
            br#"{"price": "-1.00"}"#,
        ] {
            assert!(
                matches!(
                    parse_product(id(1), body),
                    Err(CatalogError::BadResponse(_))
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn server_errors_are_unavailable_others_are_bad_responses() {
        assert!(matches!(unexpected(503), CatalogError::Unavailable { .. }));
        assert!(!unexpected(500).outcome_unknown());
        assert!(matches!(unexpected(401), CatalogError::BadResponse(_)));
        assert!(matches!(unexpected(302), CatalogError::BadResponse(_)));
    }
}
