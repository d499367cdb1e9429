//! The one API error type: each variant knows its status, its DRF-style
//! `code` and its client-facing text. Errors of the layers below convert
//! into it with `From`; a 5xx carries its cause, which the edge logs once
//! beside the request's id, and its body never carries internal text.

use crate::catalog::CatalogError;
use crate::config::ConfigError;
use crate::domain::order::{InvalidTransition, Refusal};
use crate::domain::order_request::FieldErrors;
use crate::domain::ProductId;
use crate::orders::OrderError;
use crate::orders::StoreError;
use serde_json::{json, Map, Value};
use spin_sdk::http::Response;

/// Why a request failed on our side: logged, never sent.
pub type Cause = Box<dyn std::error::Error>;

#[derive(Debug)]
pub enum ApiError {
    NotFound,
    MethodNotAllowed {
        allow: String,
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
    CatalogUnavailable(Cause),
    CatalogBadResponse(Cause),
    InvalidStatusTransition {
        from: &'static str,
        action: &'static str,
    },
    /// The Idempotency-Key was used before with a different body.
    IdempotencyKeyReused,
    /// The first request with this Idempotency-Key is still running.
    IdempotencyKeyInUse,
    /// A request is releasing this pending release right now.
    ReleaseInProgress,
    /// The Payment-Signature is malformed, stale or wrong.
    SignatureNotValid,
    /// The payment cannot be applied (recorded for a refund).
    PaymentRefused {
        reason: &'static str,
    },
    /// The payment id was confirmed before with other content.
    PaymentIdReused,
    /// The refund cannot be applied (nothing recorded).
    RefundRefused {
        reason: &'static str,
    },
    /// The refund id was confirmed before with other content.
    RefundIdReused,
    /// The fulfilment event id was recorded before with other content.
    FulfilmentEventReused,
    /// The database stayed locked past the busy timeout: retry shortly.
    Busy(Cause),
    /// The database is unreachable or restarting: retry shortly.
    DatabaseUnavailable(Cause),
    Internal(Cause),
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::Catalog(error) => error.into(),
            OrderError::Store(error) => error.into(),
            OrderError::TotalTooLarge => ApiError::Invalid(FieldErrors::from([(
                "items".to_owned(),
                vec!["Order total is too large.".to_owned()],
            )])),
            OrderError::KeyInUse => ApiError::IdempotencyKeyInUse,
            OrderError::KeyReused => ApiError::IdempotencyKeyReused,
            OrderError::NotFound => ApiError::NotFound,
            OrderError::InvalidTransition(refused) => refused.into(),
        }
    }
}

impl From<InvalidTransition> for ApiError {
    fn from(refused: InvalidTransition) -> Self {
        ApiError::InvalidStatusTransition {
            from: refused.from.as_str(),
            action: refused.action,
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::ProductNotFound(id) => ApiError::ProductNotFound(id),
            CatalogError::InsufficientStock(id) => ApiError::InsufficientStock(id),
            CatalogError::Unavailable { .. } => ApiError::CatalogUnavailable(error.into()),
            CatalogError::BadResponse(_)
            | CatalogError::Unconfirmed(_)
            | CatalogError::ReleaseUnsupported(_) => ApiError::CatalogBadResponse(error.into()),
            // Only releases retried without a caller meet it, never a request.
            CatalogError::NoCredential => ApiError::Internal(error.into()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Busy
            | StoreError::LeaseLost
            | StoreError::IdTaken
            | StoreError::Raced(_) => ApiError::Busy(error.into()),
            StoreError::Unavailable(_) => ApiError::DatabaseUnavailable(error.into()),
            _ => ApiError::Internal(error.into()),
        }
    }
}

impl From<ConfigError> for ApiError {
    fn from(error: ConfigError) -> Self {
        ApiError::Internal(error.into())
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::ProductNotFound(id) => ApiError::ProductNotFound(id),
            Refusal::InsufficientStock(id) => ApiError::InsufficientStock(id),
        }
    }
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
            | ApiError::ReleaseInProgress
            | ApiError::PaymentRefused { .. }
            | ApiError::RefundRefused { .. } => 409,
            ApiError::SignatureNotValid => 401,
            ApiError::PaymentIdReused
            | ApiError::RefundIdReused
            | ApiError::FulfilmentEventReused => 422,
            ApiError::IdempotencyKeyReused => 422,
            ApiError::CatalogBadResponse(_) => 502,
            ApiError::CatalogUnavailable(_)
            | ApiError::Busy(_)
            | ApiError::DatabaseUnavailable(_) => 503,
            ApiError::NotFound => 404,
            ApiError::Internal(_) => 500,
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
            ApiError::CatalogUnavailable(_) => "catalog_unavailable",
            ApiError::CatalogBadResponse(_) => "catalog_bad_response",
            ApiError::InvalidStatusTransition { .. } => "invalid_status_transition",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyKeyInUse => "idempotency_key_in_use",
            ApiError::ReleaseInProgress => "release_in_progress",
            ApiError::SignatureNotValid => "signature_not_valid",
            ApiError::PaymentRefused { .. } => "payment_refused",
            ApiError::PaymentIdReused => "payment_id_reused",
            ApiError::RefundRefused { .. } => "refund_refused",
            ApiError::RefundIdReused => "refund_id_reused",
            ApiError::FulfilmentEventReused => "fulfilment_event_reused",
            ApiError::Busy(_) => "service_busy",
            ApiError::DatabaseUnavailable(_) => "database_unavailable",
            ApiError::Internal(_) => "internal_error",
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
            ApiError::CatalogUnavailable(_) => {
                "The Catalog Service is unavailable; try again later.".into()
            }
            ApiError::CatalogBadResponse(_) => {
                "The Catalog Service gave an answer that could not be understood.".into()
            }
            ApiError::InvalidStatusTransition { from, action } => {
                format!("Cannot {action} an order that is {from}.")
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
            ApiError::SignatureNotValid => {
                "The signature is missing, malformed, stale or wrong.".into()
            }
            ApiError::PaymentRefused { reason } => {
                format!("The payment cannot be applied ({reason}); it is recorded for a refund.")
            }
            ApiError::PaymentIdReused => {
                "This payment id was confirmed before with another order, amount or currency."
                    .into()
            }
            ApiError::RefundRefused { reason } => {
                format!("The refund cannot be applied ({reason}).")
            }
            ApiError::RefundIdReused => {
                "This refund id was confirmed before for another payment, amount or currency."
                    .into()
            }
            ApiError::FulfilmentEventReused => {
                "This fulfilment event id was recorded before with another order or content.".into()
            }
            ApiError::Busy(_) => "The service is busy; try again shortly.".into(),
            ApiError::DatabaseUnavailable(_) => {
                "The database is unavailable; try again shortly.".into()
            }
            ApiError::Internal(_) => "Internal server error.".into(),
        }
    }

    /// What went wrong on our side, for the log (5xx only).
    pub fn cause(&self) -> Option<&dyn std::error::Error> {
        match self {
            ApiError::CatalogUnavailable(cause)
            | ApiError::CatalogBadResponse(cause)
            | ApiError::Busy(cause)
            | ApiError::DatabaseUnavailable(cause)
            | ApiError::Internal(cause) => Some(cause.as_ref()),
            _ => None,
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
            ApiError::InvalidStatusTransition { from, .. } => {
                body.insert("status".into(), (*from).into());
            }
            ApiError::RefundRefused { reason } => {
                body.insert("reason".into(), (*reason).into());
            }
            ApiError::PaymentRefused { reason } => {
                body.insert("reason".into(), (*reason).into());
                body.insert("refund_required".into(), true.into());
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
                builder.header("allow", allow.as_str());
            }
            ApiError::CatalogUnavailable(_)
            | ApiError::Busy(_)
            | ApiError::DatabaseUnavailable(_)
            | ApiError::IdempotencyKeyInUse => {
                builder.header("retry-after", "1");
            }
            _ => {}
        }
        builder.body(self.body().to_string()).build()
    }
}
