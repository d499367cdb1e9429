//! The one API error type: each variant knows its status, its DRF-style
//! `code` and its client-facing text. 5xx bodies never carry internal text;
//! the cause is logged where it happens.

use crate::domain::order_request::FieldErrors;
use crate::domain::ProductId;
use serde_json::{json, Map, Value};
use spin_sdk::http::Response;

#[derive(Debug)]
pub enum ApiError {
    NotFound,
    MethodNotAllowed {
        allow: &'static str,
    },
    NotAuthenticated,
    TokenNotValid,
    /// Authenticated, but not allowed here (a user token on an operator endpoint).
    PermissionDenied,
    UnsupportedMediaType,
    RequestTooLarge {
        limit: usize,
    },
    ParseError,
    Invalid(FieldErrors),
    ProductNotFound(ProductId),
    InsufficientStock(ProductId),
    CatalogUnavailable,
    CatalogBadResponse,
    InvalidStatusTransition {
        from: &'static str,
    },
    /// The Idempotency-Key was used before with a different body.
    IdempotencyKeyReused,
    /// The first request with this Idempotency-Key is still running.
    IdempotencyKeyInUse,
    /// A request is releasing this pending release right now.
    ReleaseInProgress,
    /// The database stayed locked past the busy timeout: retry shortly.
    Busy,
    Internal,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::NotAuthenticated | ApiError::TokenNotValid => 401,
            ApiError::PermissionDenied => 403,
            ApiError::UnsupportedMediaType => 415,
            ApiError::RequestTooLarge { .. } => 413,
            ApiError::ParseError | ApiError::Invalid(_) | ApiError::ProductNotFound(_) => 400,
            ApiError::InsufficientStock(_)
            | ApiError::InvalidStatusTransition { .. }
            | ApiError::IdempotencyKeyInUse
            | ApiError::ReleaseInProgress => 409,
            ApiError::IdempotencyKeyReused => 422,
            ApiError::CatalogBadResponse => 502,
            ApiError::CatalogUnavailable | ApiError::Busy => 503,
            ApiError::NotFound => 404,
            ApiError::Internal => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::NotAuthenticated => "not_authenticated",
            ApiError::TokenNotValid => "token_not_valid",
            ApiError::PermissionDenied => "permission_denied",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RequestTooLarge { .. } => "request_too_large",
            ApiError::ParseError => "parse_error",
            ApiError::Invalid(_) => "invalid",
            ApiError::ProductNotFound(_) => "product_not_found",
            ApiError::InsufficientStock(_) => "insufficient_stock",
            ApiError::CatalogUnavailable => "catalog_unavailable",
            ApiError::CatalogBadResponse => "catalog_bad_response",
            ApiError::InvalidStatusTransition { .. } => "invalid_status_transition",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyKeyInUse => "idempotency_key_in_use",
            ApiError::ReleaseInProgress => "release_in_progress",
            ApiError::Busy => "service_busy",
            ApiError::Internal => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::NotFound => "Not found.".into(),
            ApiError::MethodNotAllowed { .. } => "Method not allowed.".into(),
            ApiError::NotAuthenticated => "Authentication credentials were not provided.".into(),
            ApiError::TokenNotValid => "Given token not valid for any token type".into(),
            ApiError::PermissionDenied => {
                "You do not have permission to perform this action.".into()
            }
            ApiError::UnsupportedMediaType => {
                "Unsupported media type; send Content-Type: application/json.".into()
            }
            ApiError::RequestTooLarge { limit } => {
                format!("Request body is larger than {limit} bytes.")
            }
            ApiError::ParseError => "JSON parse error.".into(),
            ApiError::Invalid(_) => "Invalid input.".into(),
            ApiError::ProductNotFound(id) => format!("Product {id} does not exist."),
            ApiError::InsufficientStock(id) => format!("Not enough stock for product {id}."),
            ApiError::CatalogUnavailable => {
                "The Catalog Service is unavailable; try again later.".into()
            }
            ApiError::CatalogBadResponse => {
                "The Catalog Service gave an answer that could not be understood.".into()
            }
            ApiError::InvalidStatusTransition { from } => {
                format!("An order that is {from} cannot be cancelled.")
            }
            ApiError::IdempotencyKeyReused => {
                "This Idempotency-Key was already used with a different request body.".into()
            }
            ApiError::IdempotencyKeyInUse => {
                "A request with this Idempotency-Key is still being processed; retry shortly."
                    .into()
            }
            ApiError::ReleaseInProgress => {
                "This release is being tried right now; ask again shortly.".into()
            }
            ApiError::Busy => "The service is busy; try again shortly.".into(),
            ApiError::Internal => "Internal server error.".into(),
        }
    }

    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("detail".into(), self.detail().into());
        body.insert("code".into(), self.code().into());
        match self {
            ApiError::Invalid(errors) => {
                body.insert("errors".into(), json!(errors));
            }
            ApiError::ProductNotFound(id) | ApiError::InsufficientStock(id) => {
                body.insert("product_id".into(), id.get().into());
            }
            ApiError::InvalidStatusTransition { from } => {
                body.insert("status".into(), (*from).into());
            }
            _ => {}
        }
        Value::Object(body)
    }

    pub fn into_response(self) -> Response {
        let mut builder = Response::builder();
        builder
            .status(self.status())
            .header("content-type", "application/json");
        match &self {
            ApiError::NotAuthenticated | ApiError::TokenNotValid => {
                builder.header("www-authenticate", r#"Bearer realm="api""#);
            }
            ApiError::MethodNotAllowed { allow } => {
                builder.header("allow", *allow);
            }
            ApiError::CatalogUnavailable | ApiError::Busy | ApiError::IdempotencyKeyInUse => {
                builder.header("retry-after", "1");
            }
            _ => {}
        }
        builder.body(self.body().to_string()).build()
    }
}
