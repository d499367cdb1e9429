//! The Catalog Service client (SPEC §4) and how its answers map to our
//! failures. One client per request: every call carries the caller's
//! `Authorization` (the Catalog wants a JWT on writes; a retried release
//! brings its own minted token) and the request id, and always uses the
//! trailing slash (Django redirects without it).

use crate::domain::money::Money;
use crate::domain::ProductId;
use crate::outbound::{self, OutboundError};
use crate::settings::{fail, is_http_url, parse_number, ConfigError, Variables};
use crate::trace::TraceContext;
use serde::Deserialize;
use spin_sdk::http::{Method, Request};
use std::time::Duration;

/// Where the Catalog is and how it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSettings {
    /// Base URL without a trailing slash, e.g. `http://catalog-service:9001`.
    pub url: String,
    /// How long one call may take (`catalog_timeout_ms`).
    pub timeout: Duration,
    /// The Catalog honours SPEC §4's reservation ids (the demo Catalog
    /// does, the Django one does not): a reserve with an unclear outcome
    /// is then asked again under the same id instead of given up.
    pub honours_reservations: bool,
}

const DEFAULT_TIMEOUT_MS: u64 = 3000;
const MAX_TIMEOUT_MS: u64 = 60_000;

impl CatalogSettings {
    pub fn read(vars: &dyn Variables) -> Result<Self, ConfigError> {
        let timeout_ms = parse_number(
            &vars.get("catalog_timeout_ms")?,
            DEFAULT_TIMEOUT_MS,
            1..=MAX_TIMEOUT_MS,
        )
        .map_err(|p| fail("catalog_timeout_ms", p))?;
        let url = vars.get("catalog_url")?.trim_end_matches('/').to_owned();
        if !is_http_url(&url) {
            return Err(fail(
                "catalog_url",
                "must be an http:// or https:// URL, e.g. http://catalog-service:9001",
            ));
        }
        let honours_reservations = match vars.get("catalog_honours_reservations")?.as_str() {
            "" | "false" => false,
            "true" => true,
            _ => {
                return Err(fail(
                    "catalog_honours_reservations",
                    "must be true or false",
                ))
            }
        };
        Ok(CatalogSettings {
            url,
            timeout: Duration::from_millis(timeout_ms),
            honours_reservations,
        })
    }
}

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
    /// A reserve or release answered 2xx, but not with the contract's
    /// `{"remaining_stock": <int>}`: whatever answered may or may not have
    /// applied it (a web server answering 200 to everything, a proxy page),
    /// so a reservation counts as maybe taken and a release as not done.
    #[error("catalog write not confirmed: {0}")]
    Unconfirmed(String),
    /// A release retried after its request needs a token for the Catalog,
    /// and with public keys only this service cannot mint one: set
    /// `catalog_service_token` (not sent, so nothing was applied).
    #[error("no credential for a release without its caller: set catalog_service_token")]
    NoCredential,
}

pub struct CatalogClient {
    base_url: String,
    timeout: Duration,
    /// The caller's `Authorization` header (empty: none).
    authorization: String,
    request_id: String,
    /// Each request is a child span of this request's.
    trace: TraceContext,
}

#[derive(Deserialize)]
struct ProductBody {
    price: serde_json::Value,
    #[serde(default)]
    is_active: Option<bool>,
    #[serde(default)]
    in_stock: Option<i64>,
}

impl CatalogClient {
    pub fn new(
        settings: &CatalogSettings,
        authorization: &str,
        request_id: &str,
        trace: TraceContext,
    ) -> Self {
        Self {
            base_url: settings.url.clone(),
            timeout: settings.timeout,
            authorization: authorization.to_owned(),
            request_id: request_id.to_owned(),
            trace,
        }
    }

    /// `GET /products/<id>/`.
    pub async fn product(&self, id: ProductId) -> Result<Product, CatalogError> {
        let reply = self
            .call(
                Method::Get,
                &format!("/products/{id}/"),
                None,
                &self.authorization,
            )
            .await?;
        match reply.status {
            200 => parse_product(id, &reply.body),
            404 => Err(CatalogError::ProductNotFound(id)),
            status => Err(unexpected(status, &reply.body)),
        }
    }

    /// `POST /products/<id>/reserve/`: atomically takes `quantity` units,
    /// as `reservation` (sent as `Idempotency-Key`: a Catalog honouring
    /// SPEC §4's extension applies it at most once and answers a repeat
    /// with its first answer; the Django one ignores the header).
    pub async fn reserve(
        &self,
        id: ProductId,
        quantity: u32,
        reservation: &str,
    ) -> Result<(), CatalogError> {
        let body = format!("{{\"quantity\": {quantity}}}");
        let reply = self
            .call(
                Method::Post,
                &format!("/products/{id}/reserve/"),
                Some((body.into_bytes(), Some(reservation))),
                &self.authorization,
            )
            .await?;
        match reply.status {
            200..=299 => confirm_stock_write(id, "reserve", &reply),
            404 => Err(CatalogError::ProductNotFound(id)),
            409 => Err(CatalogError::InsufficientStock(id)),
            status => Err(unexpected(status, &reply.body)),
        }
    }

    /// `POST /products/<id>/release/` with the caller's token, or with
    /// `authorization` when given (a retry minting its own): gives
    /// `quantity` units back, naming `reservation` when the units were
    /// reserved under one. A Catalog without the release endpoint answers
    /// 404/405: `ReleaseUnsupported`.
    pub async fn release(
        &self,
        id: ProductId,
        quantity: u32,
        reservation: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Released, CatalogError> {
        let authorization = authorization.unwrap_or(&self.authorization);
        let body = match reservation {
            Some(reservation) => {
                serde_json::json!({"quantity": quantity, "reservation": reservation})
            }
            None => serde_json::json!({"quantity": quantity}),
        };
        let reply = self
            .call(
                Method::Post,
                &format!("/products/{id}/release/"),
                Some((body.to_string().into_bytes(), None)),
                authorization,
            )
            .await?;
        match reply.status {
            200..=299 => {
                confirm_stock_write(id, "release", &reply)?;
                Ok(released(&reply.body))
            }
            status @ (404 | 405) => Err(CatalogError::ReleaseUnsupported(status)),
            status => Err(unexpected(status, &reply.body)),
        }
    }

    /// One request; a body goes with its `Idempotency-Key`, if any.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, Option<&str>)>,
        authorization: &str,
    ) -> Result<outbound::Reply, CatalogError> {
        let mut request = Request::builder();
        request
            .method(method)
            .uri(format!("{}{path}", self.base_url))
            .header("accept", "application/json")
            .header("x-request-id", &self.request_id);
        for (name, value) in self.trace.outbound_headers() {
            request.header(name, value);
        }
        if !authorization.is_empty() {
            request.header("authorization", authorization);
        }
        if let Some((body, idempotency_key)) = body {
            if let Some(key) = idempotency_key {
                request.header("idempotency-key", key);
            }
            // Django (WSGI) reads a body only through Content-Length: sent
            // chunked, which is what the SDK does without it, the body reads
            // as empty and the Catalog answers `400 Invalid quantity`.
            request
                .header("content-type", "application/json")
                .header("content-length", body.len().to_string())
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
            } | CatalogError::Unconfirmed(_)
        )
    }
}

/// The contract's answer to a reserve or release.
#[derive(Deserialize)]
struct StockBody {
    remaining_stock: i64,
}

/// What a confirmed release gave back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The units (what a Catalog without reservation ids always says).
    Units,
    /// Nothing: a Catalog honouring reservation ids never applied the
    /// reservation (`"released": 0`), so nothing was owed.
    NothingTaken,
}

/// `"released": 0` means the reservation was never applied; any other
/// answer (or none, from a Catalog without the extension) gave units back.
fn released(body: &[u8]) -> Released {
    #[derive(Deserialize)]
    struct ReleaseBody {
        released: Option<i64>,
    }
    match serde_json::from_slice::<ReleaseBody>(body) {
        Ok(ReleaseBody { released: Some(0) }) => Released::NothingTaken,
        _ => Released::Units,
    }
}

/// A 2xx to a stock write counts only with the contract's body.
fn confirm_stock_write(
    id: ProductId,
    action: &str,
    reply: &outbound::Reply,
) -> Result<(), CatalogError> {
    match serde_json::from_slice::<StockBody>(&reply.body) {
        Ok(StockBody { remaining_stock }) if remaining_stock >= 0 => Ok(()),
        _ => Err(CatalogError::Unconfirmed(format!(
            "{action} of product {id}: HTTP {} without remaining_stock: {}",
            reply.status,
            excerpt(&reply.body)
        ))),
    }
}

/// A 5xx from Django means the view failed and its transaction rolled
/// back, so the write did not happen. The detail carries a short excerpt
/// of the body, so an operator reads `Invalid quantity` in the log.
fn unexpected(status: u16, body: &[u8]) -> CatalogError {
    let detail = format!("HTTP {status}: {}", excerpt(body));
    if status >= 500 {
        CatalogError::Unavailable {
            detail,
            outcome_unknown: false,
        }
    } else {
        CatalogError::BadResponse(detail)
    }
}

/// Longest body excerpt put in a log line or an operator report.
const EXCERPT_CHARS: usize = 160;

/// A peer's body made fit for a log line: control characters and runs of
/// white space folded to one space, anything shaped like a JWT or a bearer
/// credential replaced, cut at [`EXCERPT_CHARS`].
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut words = Vec::new();
    let mut after_bearer = false;
    for word in text.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        let secret = after_bearer || looks_like_jwt(word);
        after_bearer = word
            .trim_matches(|c: char| !c.is_alphanumeric())
            .eq_ignore_ascii_case("bearer");
        words.push(if secret { "[redacted]" } else { word });
    }
    let folded = words.join(" ");
    if folded.is_empty() {
        return "(empty body)".to_owned();
    }
    match folded.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &folded[..cut]),
        None => folded,
    }
}

/// Three dot-separated base64url runs, the first starting like a JSON
/// header: a JWT, whatever quotes or punctuation surround it.
fn looks_like_jwt(word: &str) -> bool {
    word.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .any(|run| run.starts_with("eyJ") && run.split('.').count() >= 3)
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
    use crate::settings::Fixed;

    fn id(raw: i64) -> ProductId {
        ProductId::new(raw).unwrap()
    }

    const URL: (&str, &str) = ("catalog_url", "http://catalog-service:9001/");

    fn settings(vars: &[(&'static str, &str)]) -> Result<CatalogSettings, ConfigError> {
        CatalogSettings::read(&Fixed::of(vars))
    }

    #[test]
    fn the_url_is_required_and_the_rest_defaults() {
        let read = settings(&[URL]).unwrap();
        assert_eq!(read.url, "http://catalog-service:9001");
        assert_eq!(read.timeout, Duration::from_millis(3000));
        assert!(!read.honours_reservations);
        assert_eq!(settings(&[]).unwrap_err().name, "catalog_url");
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        let with = |extra| settings(&[URL, extra]).map_err(|e| e.name);
        assert_eq!(with(("catalog_url", "catalog:9001")), Err("catalog_url"));
        assert_eq!(with(("catalog_timeout_ms", "0")), Err("catalog_timeout_ms"));
        assert_eq!(
            with(("catalog_timeout_ms", "60001")),
            Err("catalog_timeout_ms")
        );
        let honours = |value| with(("catalog_honours_reservations", value));
        assert_eq!(honours("true").map(|s| s.honours_reservations), Ok(true));
        assert_eq!(honours("false").map(|s| s.honours_reservations), Ok(false));
        assert_eq!(honours("yes"), Err("catalog_honours_reservations"));
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
        assert!(matches!(
            unexpected(503, b""),
            CatalogError::Unavailable { .. }
        ));
        assert!(!unexpected(500, b"").outcome_unknown());
        assert!(matches!(unexpected(401, b""), CatalogError::BadResponse(_)));
        assert!(matches!(unexpected(302, b""), CatalogError::BadResponse(_)));
        assert!(!unexpected(400, b"").outcome_unknown());
    }

    #[test]
    fn an_unexpected_status_carries_what_the_catalog_said() {
        let error = unexpected(400, br#"{"detail": "Invalid quantity"}"#);
        assert_eq!(
            error.to_string(),
            r#"catalog answered unexpectedly: HTTP 400: {"detail": "Invalid quantity"}"#
        );
    }

    fn reply(status: u16, body: &[u8]) -> outbound::Reply {
        outbound::Reply {
            status,
            body: body.to_vec(),
        }
    }

    #[test]
    fn a_stock_write_is_confirmed_only_by_the_contracts_body() {
        assert!(
            confirm_stock_write(id(1), "reserve", &reply(200, br#"{"remaining_stock": 0}"#))
                .is_ok()
        );
        for body in [
            &b""[..],
            b"OK",
            b"<html><body>It works!</body></html>",
            br#"{}"#,
            br#"{"remaining_stock": "7"}"#,
            br#"{"remaining_stock": -1}"#,
            br#"{"status": "ok"}"#,
        ] {
            let error = confirm_stock_write(id(1), "reserve", &reply(200, body)).unwrap_err();
            assert!(
                matches!(error, CatalogError::Unconfirmed(_)) && error.outcome_unknown(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn a_release_of_a_reservation_never_applied_gave_nothing_back() {
        assert_eq!(
            released(br#"{"remaining_stock": 4, "released": 0}"#),
            Released::NothingTaken
        );
        for body in [
            &br#"{"remaining_stock": 4, "released": 2}"#[..],
            br#"{"remaining_stock": 4}"#,
            br#"{"remaining_stock": 4, "released": null}"#,
        ] {
            assert_eq!(released(body), Released::Units);
        }
    }

    #[test]
    fn excerpts_are_short_single_line_and_free_of_credentials() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoiNDIifQ.c2lnbmF0dXJl";
        let body = format!(
            "<html>\n<h1>Bad   Request</h1>\r\n token={jwt} \"{jwt}\" Authorization: Bearer abc.def {}</html>",
            "x".repeat(500)
        );
        let text = excerpt(body.as_bytes());
        assert!(!text.contains("eyJ"), "{text}");
        assert!(!text.contains("abc.def"), "{text}");
        assert!(
            text.starts_with("<html> <h1>Bad Request</h1> [redacted] [redacted]"),
            "{text}"
        );
        assert!(!text.contains('\n') && !text.contains('\r'));
        assert!(text.chars().count() <= EXCERPT_CHARS + 1, "{}", text.len());
        assert_eq!(excerpt(b""), "(empty body)");
    }
}
