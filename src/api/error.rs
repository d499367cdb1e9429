//! The one API error type: each variant knows its status, its DRF-style
//! `code` and its client-facing text. Errors of the layers below convert
//! into it with `From`; a 5xx carries its cause, which the edge logs once
//! beside the request's id, and its body never carries internal text.

use super::orders::StatusName;
use crate::catalog::CatalogError;
use crate::domain::order::{InvalidTransition, OrderStatus, Refusal};
use crate::domain::order_request::FieldErrors;
use crate::domain::payment::{PaymentRefusal, RefundRefusal};
use crate::domain::ProductId;
use crate::orders::OrderError;
use crate::orders::StoreError;
use crate::settings::ConfigError;
use serde::Serialize;
use spin_sdk::http::Response;
use std::collections::BTreeMap;

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
        from: OrderStatus,
        action: &'static str,
    },
    /// The Idempotency-Key was used before with a different body.
    IdempotencyKeyReused,
    /// The first request with this Idempotency-Key is still running.
    IdempotencyKeyInUse,
    /// A request is releasing this pending release right now.
    ReleaseInProgress,
    /// The customer holds `limit` unpaid orders already.
    UnpaidOrderLimit {
        limit: u32,
    },
    /// The Payment-Signature is malformed, stale or wrong.
    SignatureNotValid,
    /// The payment cannot be applied (recorded for a refund).
    PaymentRefused {
        reason: PaymentRefusalName,
    },
    /// The payment id was confirmed before with other content.
    PaymentIdReused,
    /// The refund cannot be applied (nothing recorded).
    RefundRefused {
        reason: RefundRefusalName,
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
            OrderError::UnpaidOrderLimit { limit } => ApiError::UnpaidOrderLimit { limit },
            OrderError::InvalidTransition(refused) => refused.into(),
        }
    }
}

impl From<InvalidTransition> for ApiError {
    fn from(refused: InvalidTransition) -> Self {
        ApiError::InvalidStatusTransition {
            from: refused.from,
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
            | ApiError::UnpaidOrderLimit { .. }
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
            ApiError::UnpaidOrderLimit { .. } => "unpaid_order_limit",
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
                format!("Cannot {action} an order that is {}.", from.as_str())
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
            ApiError::UnpaidOrderLimit { limit } => {
                format!("You have {limit} orders waiting for payment; pay or cancel one first.")
            }
            ApiError::SignatureNotValid => {
                "The signature is missing, malformed, stale or wrong.".into()
            }
            ApiError::PaymentRefused { reason } => format!(
                "The payment cannot be applied ({}); it is recorded for a refund.",
                reason.as_str()
            ),
            ApiError::PaymentIdReused => {
                "This payment id was confirmed before with another order, amount or currency."
                    .into()
            }
            ApiError::RefundRefused { reason } => {
                format!("The refund cannot be applied ({}).", reason.as_str())
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

    /// The answer's body: the error's family, with its code and fields.
    pub fn body(&self) -> ErrorBody {
        use ErrorBody as E;
        let detail = self.detail();
        match self {
            ApiError::NotAuthenticated => {
                E::authentication(detail, AuthenticationCode::NotAuthenticated)
            }
            ApiError::TokenNotValid => E::authentication(detail, AuthenticationCode::TokenNotValid),
            ApiError::SignatureNotValid => {
                E::authentication(detail, AuthenticationCode::SignatureNotValid)
            }
            ApiError::PermissionDenied => E::Permission(PermissionError {
                detail,
                code: PermissionCode::PermissionDenied,
            }),
            ApiError::NotFound => E::NotFound(NotFoundError {
                detail,
                code: NotFoundCode::NotFound,
            }),
            ApiError::ParseError => E::request(detail, RequestCode::ParseError),
            ApiError::UnsupportedMediaType => E::request(detail, RequestCode::UnsupportedMediaType),
            ApiError::RequestTooLarge { .. } => E::request(detail, RequestCode::RequestTooLarge),
            ApiError::MethodNotAllowed { .. } => E::request(detail, RequestCode::MethodNotAllowed),
            ApiError::Invalid(errors) => E::Validation(ValidationError {
                detail,
                code: ValidationCode::Invalid,
                errors: errors.clone(),
            }),
            ApiError::ProductNotFound(id) => E::product(detail, ProductCode::ProductNotFound, *id),
            ApiError::InsufficientStock(id) => {
                E::product(detail, ProductCode::InsufficientStock, *id)
            }
            ApiError::InvalidStatusTransition { from, .. } => E::Transition(TransitionError {
                detail,
                code: TransitionCode::InvalidStatusTransition,
                status: (*from).into(),
            }),
            ApiError::IdempotencyKeyReused => {
                E::conflict(detail, ConflictCode::IdempotencyKeyReused)
            }
            ApiError::IdempotencyKeyInUse => E::conflict(detail, ConflictCode::IdempotencyKeyInUse),
            ApiError::ReleaseInProgress => E::conflict(detail, ConflictCode::ReleaseInProgress),
            ApiError::UnpaidOrderLimit { limit } => E::UnpaidLimit(UnpaidLimitError {
                detail,
                code: UnpaidLimitCode::UnpaidOrderLimit,
                limit: *limit,
            }),
            ApiError::PaymentIdReused => E::conflict(detail, ConflictCode::PaymentIdReused),
            ApiError::RefundIdReused => E::conflict(detail, ConflictCode::RefundIdReused),
            ApiError::FulfilmentEventReused => {
                E::conflict(detail, ConflictCode::FulfilmentEventReused)
            }
            ApiError::PaymentRefused { reason } => E::PaymentRefused(PaymentRefused {
                detail,
                code: PaymentRefusedCode::PaymentRefused,
                reason: *reason,
                refund_required: true,
            }),
            ApiError::RefundRefused { reason } => E::RefundRefused(RefundRefused {
                detail,
                code: RefundRefusedCode::RefundRefused,
                reason: *reason,
            }),
            ApiError::CatalogUnavailable(_) => {
                E::unavailable(detail, UnavailableCode::CatalogUnavailable)
            }
            ApiError::CatalogBadResponse(_) => {
                E::unavailable(detail, UnavailableCode::CatalogBadResponse)
            }
            ApiError::Busy(_) => E::unavailable(detail, UnavailableCode::ServiceBusy),
            ApiError::DatabaseUnavailable(_) => {
                E::unavailable(detail, UnavailableCode::DatabaseUnavailable)
            }
            ApiError::Internal(_) => E::Internal(InternalError {
                detail,
                code: InternalCode::InternalError,
            }),
        }
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
        let body = serde_json::to_string(&self.body()).unwrap_or_default();
        builder.body(body).build()
    }
}

// --- The error answers, one schema per family (SPEC §3: `{detail, code,
// …}`): each family's `code` is an enum of its codes, so a generated client
// reads each as its own type. ---------------------------------------------

/// A family's code enum: its values as sent (`snake_case`).
macro_rules! codes {
    ($(#[$doc:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }
    };
}

codes!(
    /// No credentials (`not_authenticated`), an invalid token
    /// (`token_not_valid`), or a peer service's bad signature
    /// (`signature_not_valid`).
    AuthenticationCode { NotAuthenticated, TokenNotValid, SignatureNotValid }
);
codes!(PermissionCode { PermissionDenied });
codes!(NotFoundCode { NotFound });
codes!(
    /// The request itself: not JSON (`parse_error`), not
    /// `application/json` (`unsupported_media_type`), over its size limit
    /// (`request_too_large`), another method (`method_not_allowed`).
    RequestCode { ParseError, UnsupportedMediaType, RequestTooLarge, MethodNotAllowed }
);
codes!(ValidationCode { Invalid });
codes!(
    /// The Catalog refused a product: unknown or inactive (400), or short
    /// of stock (409).
    ProductCode { ProductNotFound, InsufficientStock }
);
codes!(TransitionCode {
    InvalidStatusTransition
});
codes!(
    /// An id used before with other content, or a request with the same
    /// key still running: `idempotency_key_reused` and
    /// `idempotency_key_in_use` (creates), `release_in_progress`
    /// (settlements), `payment_id_reused`, `refund_id_reused`,
    /// `fulfilment_event_reused` (peer services).
    ConflictCode {
        IdempotencyKeyReused,
        IdempotencyKeyInUse,
        ReleaseInProgress,
        PaymentIdReused,
        RefundIdReused,
        FulfilmentEventReused,
    }
);
codes!(UnpaidLimitCode { UnpaidOrderLimit });
#[cfg(feature = "openapi")]
codes!(
    /// DRF's code for a throttled request; the gateway's, not the service's.
    ThrottledCode { Throttled }
);
codes!(PaymentRefusedCode { PaymentRefused });
codes!(RefundRefusedCode { RefundRefused });
codes!(
    /// Something the service depends on failed; retry (`Retry-After`
    /// except for `catalog_bad_response`).
    UnavailableCode { CatalogUnavailable, CatalogBadResponse, ServiceBusy, DatabaseUnavailable }
);
codes!(InternalCode { InternalError });

codes!(
    /// Why a payment cannot be applied.
    PaymentRefusalName { AmountMismatch, OrderCancelled, OrderExpired, AlreadyPaid }
);
codes!(
    /// Why a refund cannot be applied.
    RefundRefusalName { RefundNotOwed, AlreadyRefunded, AmountMismatch }
);

impl From<PaymentRefusal> for PaymentRefusalName {
    fn from(refusal: PaymentRefusal) -> Self {
        match refusal {
            PaymentRefusal::AmountMismatch => PaymentRefusalName::AmountMismatch,
            PaymentRefusal::OrderCancelled => PaymentRefusalName::OrderCancelled,
            PaymentRefusal::OrderExpired => PaymentRefusalName::OrderExpired,
            PaymentRefusal::AlreadyPaid => PaymentRefusalName::AlreadyPaid,
        }
    }
}

impl PaymentRefusalName {
    fn as_str(self) -> &'static str {
        match self {
            PaymentRefusalName::AmountMismatch => "amount_mismatch",
            PaymentRefusalName::OrderCancelled => "order_cancelled",
            PaymentRefusalName::OrderExpired => "order_expired",
            PaymentRefusalName::AlreadyPaid => "already_paid",
        }
    }
}

impl From<RefundRefusal> for RefundRefusalName {
    fn from(refusal: RefundRefusal) -> Self {
        match refusal {
            RefundRefusal::NotOwed => RefundRefusalName::RefundNotOwed,
            RefundRefusal::AlreadyRefunded => RefundRefusalName::AlreadyRefunded,
            RefundRefusal::AmountMismatch => RefundRefusalName::AmountMismatch,
        }
    }
}

impl RefundRefusalName {
    fn as_str(self) -> &'static str {
        match self {
            RefundRefusalName::RefundNotOwed => "refund_not_owed",
            RefundRefusalName::AlreadyRefunded => "already_refunded",
            RefundRefusalName::AmountMismatch => "amount_mismatch",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthenticationError {
    pub detail: String,
    pub code: AuthenticationCode,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PermissionError {
    pub detail: String,
    pub code: PermissionCode,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotFoundError {
    pub detail: String,
    pub code: NotFoundCode,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestError {
    pub detail: String,
    pub code: RequestCode,
}

/// The body is not a valid one: each field path with its messages.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidationError {
    pub detail: String,
    pub code: ValidationCode,
    /// Field path (`items[0].quantity`, `Idempotency-Key`) → messages.
    pub errors: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductError {
    pub detail: String,
    pub code: ProductCode,
    /// The product the Catalog refused.
    pub product_id: i64,
}

/// The order's status does not allow the change.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransitionError {
    pub detail: String,
    pub code: TransitionCode,
    /// The order's status.
    pub status: StatusName,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConflictError {
    pub detail: String,
    pub code: ConflictCode,
}

/// The customer already holds as many unpaid orders as
/// `max_unpaid_orders_per_user` allows: nothing was reserved or stored, and
/// the same request goes through once one is paid, cancelled or expired.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnpaidLimitError {
    pub detail: String,
    pub code: UnpaidLimitCode,
    /// The cap: unpaid orders one customer may hold.
    pub limit: u32,
}

/// The payment is recorded and owed back (a `payment.refund_required`
/// event tells the Payment Service).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PaymentRefused {
    pub detail: String,
    pub code: PaymentRefusedCode,
    pub reason: PaymentRefusalName,
    /// Always `true`.
    pub refund_required: bool,
}

/// Nothing is recorded.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefundRefused {
    pub detail: String,
    pub code: RefundRefusedCode,
    pub reason: RefundRefusalName,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnavailableError {
    pub detail: String,
    pub code: UnavailableCode,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InternalError {
    pub detail: String,
    pub code: InternalCode,
}

/// Any error answer, as sent: one of the families.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Error))]
#[serde(untagged)]
pub enum ErrorBody {
    Authentication(AuthenticationError),
    Permission(PermissionError),
    NotFound(NotFoundError),
    Request(RequestError),
    Validation(ValidationError),
    Product(ProductError),
    Transition(TransitionError),
    Conflict(ConflictError),
    UnpaidLimit(UnpaidLimitError),
    PaymentRefused(PaymentRefused),
    RefundRefused(RefundRefused),
    Unavailable(UnavailableError),
    Internal(InternalError),
}

/// A 400 of a create: its body is not JSON, not valid, or names a product
/// the Catalog refused.
#[cfg(feature = "openapi")]
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum CreateOrderBadRequest {
    Validation(ValidationError),
    Product(ProductError),
    Request(RequestError),
}

/// A 409 of a create: short of stock, the same Idempotency-Key running,
/// or the customer's unpaid orders at their cap.
#[cfg(feature = "openapi")]
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum CreateOrderConflict {
    Product(ProductError),
    Conflict(ConflictError),
    UnpaidLimit(UnpaidLimitError),
}

/// The gateway's answer over its per-client limit on creates
/// (deploy/nginx/nginx.conf writes it; the service never does).
#[cfg(feature = "openapi")]
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ThrottledError {
    pub detail: String,
    pub code: ThrottledCode,
}

/// A 400 of a request with a JSON body: not JSON, or not valid.
#[cfg(feature = "openapi")]
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum BadBody {
    Validation(ValidationError),
    Request(RequestError),
}

impl ErrorBody {
    fn authentication(detail: String, code: AuthenticationCode) -> Self {
        ErrorBody::Authentication(AuthenticationError { detail, code })
    }

    fn request(detail: String, code: RequestCode) -> Self {
        ErrorBody::Request(RequestError { detail, code })
    }

    fn product(detail: String, code: ProductCode, product: ProductId) -> Self {
        ErrorBody::Product(ProductError {
            detail,
            code,
            product_id: product.get(),
        })
    }

    fn conflict(detail: String, code: ConflictCode) -> Self {
        ErrorBody::Conflict(ConflictError { detail, code })
    }

    fn unavailable(detail: String, code: UnavailableCode) -> Self {
        ErrorBody::Unavailable(UnavailableError { detail, code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each error's body carries the code its family's enum names, which
    /// is the one the log line gives (`ApiError::code`).
    #[test]
    fn every_body_says_its_own_code() {
        let cause = || -> Cause { "cause".into() };
        let errors = [
            ApiError::NotFound,
            ApiError::MethodNotAllowed {
                allow: "GET".into(),
            },
            ApiError::NotAuthenticated,
            ApiError::TokenNotValid,
            ApiError::PermissionDenied,
            ApiError::UnsupportedMediaType,
            ApiError::RequestTooLarge { limit: 1 },
            ApiError::ParseError,
            ApiError::Invalid(FieldErrors::new()),
            ApiError::ProductNotFound(ProductId::new(1).unwrap()),
            ApiError::InsufficientStock(ProductId::new(1).unwrap()),
            ApiError::CatalogUnavailable(cause()),
            ApiError::CatalogBadResponse(cause()),
            ApiError::InvalidStatusTransition {
                from: OrderStatus::Shipped,
                action: "cancel",
            },
            ApiError::IdempotencyKeyReused,
            ApiError::IdempotencyKeyInUse,
            ApiError::ReleaseInProgress,
            ApiError::UnpaidOrderLimit { limit: 3 },
            ApiError::SignatureNotValid,
            ApiError::PaymentRefused {
                reason: PaymentRefusalName::AlreadyPaid,
            },
            ApiError::PaymentIdReused,
            ApiError::RefundRefused {
                reason: RefundRefusalName::RefundNotOwed,
            },
            ApiError::RefundIdReused,
            ApiError::FulfilmentEventReused,
            ApiError::Busy(cause()),
            ApiError::DatabaseUnavailable(cause()),
            ApiError::Internal(cause()),
        ];
        for error in errors {
            let body = serde_json::to_value(error.body()).unwrap();
            assert_eq!(body["code"], error.code(), "{body}");
            assert!(body["detail"].is_string(), "{body}");
        }
    }
}
