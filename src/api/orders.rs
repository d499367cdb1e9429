//! `/orders/orders/…`: create, list, read and cancel the caller's orders.
//! Each handler parses, authenticates, calls a workflow and renders one of
//! the body types below, converted from the domain's order.

use super::error::ApiError;
use super::session::{authenticate, dependencies};
use super::{body, json_response, AccessLog, Reply, RequestFacts};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::order::StatusChange;
use crate::domain::order::{ChangeSource, Order, OrderHistory, OrderStatus, PricedLine};
use crate::domain::order_request::{FieldErrors, OrderRequest};
use crate::domain::page::{Lister, PageRequest};
use crate::domain::payment::RefundState;
use crate::orders::cancel::cancel_order;
use crate::orders::idempotency::place_once;
use crate::orders::read;
use serde::Serialize;
use spin_sdk::http::IncomingRequest;
#[cfg(feature = "openapi")]
use {super::error as e, super::openapi::doc};

/// An order (SPEC §3's body).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Order))]
pub struct OrderBody {
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub id: i64,
    /// The owner: from the creating request's token, never from a body.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub user_id: i64,
    /// The sum of each line's price × quantity, exact.
    #[cfg_attr(feature = "openapi", schema(value_type = Money))]
    pub total_amount: String,
    pub status: StatusName,
    #[cfg_attr(feature = "openapi", schema(value_type = Timestamp))]
    pub created_at: String,
    /// The `X-Request-ID` of the request that created it (what to quote
    /// to support: the service's log lines carry it); `null` for an order
    /// created before it was kept.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub request_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub items: Vec<OrderItemBody>,
}

/// One line of an order.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OrderItem))]
pub struct OrderItemBody {
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub product_id: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100000))]
    pub quantity: u32,
    /// The unit price the Catalog quoted when the order was placed.
    #[cfg_attr(feature = "openapi", schema(value_type = Money))]
    pub price: String,
}

/// An order's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OrderStatus))]
#[serde(rename_all = "UPPERCASE")]
pub enum StatusName {
    Created,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
    Expired,
}

impl From<OrderStatus> for StatusName {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Created => StatusName::Created,
            OrderStatus::Paid => StatusName::Paid,
            OrderStatus::Shipped => StatusName::Shipped,
            OrderStatus::Delivered => StatusName::Delivered,
            OrderStatus::Cancelled => StatusName::Cancelled,
            OrderStatus::Expired => StatusName::Expired,
        }
    }
}

/// An amount: an exact decimal with exactly two places, no sign and no
/// superfluous leading zero; the one way the service writes an amount and
/// the only one it takes (a payment's amount).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, pattern = r"^(0|[1-9][0-9]*)\.[0-9]{2}$", examples("1999.98"))]
pub struct Money(#[allow(dead_code)] String);

/// A time as the API writes it: RFC 3339, UTC (`Z`), to the second.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = DateTime, pattern = "Z$", examples("2026-12-07T17:50:11Z"))]
pub struct Timestamp(#[allow(dead_code)] String);

impl From<&Order> for OrderBody {
    fn from(order: &Order) -> Self {
        OrderBody {
            id: order.id,
            user_id: order.user_id.get(),
            total_amount: order.total.to_string(),
            status: order.status.into(),
            created_at: order.created_at.clone(),
            request_id: order.request_id.clone(),
            items: order.lines.iter().map(OrderItemBody::from).collect(),
        }
    }
}

impl From<&PricedLine> for OrderItemBody {
    fn from(line: &PricedLine) -> Self {
        OrderItemBody {
            product_id: line.product_id.get(),
            quantity: line.quantity.get(),
            price: line.unit_price.to_string(),
        }
    }
}

/// A page of orders, newest first.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderPage {
    pub results: Vec<OrderBody>,
    /// The next page: this path and query with `cursor` set (the filters
    /// kept); `null` on the last page.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next: Option<String>,
}

/// One order with its timeline and where its refund stands.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderDetail {
    #[serde(flatten)]
    pub order: OrderBody,
    /// Every status the order reached, oldest first; its creation is the
    /// first entry.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub timeline: Vec<TimelineEntry>,
    /// For a paid order its owner cancelled: `owed` until the Payment
    /// Service confirms the refund, then `refunded`; `null` otherwise.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub refund: Option<RefundStateName>,
}

/// A status the order reached, when, and who moved it there.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = StatusChange))]
pub struct TimelineEntry {
    pub status: StatusName,
    #[cfg_attr(feature = "openapi", schema(value_type = Timestamp))]
    pub at: String,
    pub source: SourceName,
    /// A shipment's carrier (SHIPPED only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// A shipment's tracking reference (SHIPPED only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_reference: Option<String>,
}

/// Who moved the order: its owner (placing, cancelling), the Payment
/// Service, the Fulfilment Service, an operator, or the service itself
/// (`system`: the payment deadline passed).
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ChangeSource))]
#[serde(rename_all = "snake_case")]
pub enum SourceName {
    Customer,
    Payment,
    Fulfilment,
    Operator,
    System,
}

/// Where a cancelled paid order's refund stands.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RefundState))]
#[serde(rename_all = "snake_case")]
pub enum RefundStateName {
    Owed,
    Refunded,
}

impl OrderDetail {
    fn new(order: &Order, history: &OrderHistory) -> Self {
        OrderDetail {
            order: order.into(),
            timeline: history.timeline.iter().map(TimelineEntry::from).collect(),
            refund: match history.refund {
                RefundState::NotOwed => None,
                RefundState::Owed => Some(RefundStateName::Owed),
                RefundState::Refunded => Some(RefundStateName::Refunded),
            },
        }
    }
}

impl From<&StatusChange> for TimelineEntry {
    fn from(change: &StatusChange) -> Self {
        let (carrier, tracking_reference) = match &change.shipment {
            Some((carrier, tracking)) => (Some(carrier.clone()), Some(tracking.clone())),
            None => (None, None),
        };
        TimelineEntry {
            status: change.status.into(),
            at: change.at.clone(),
            source: match change.source {
                ChangeSource::Customer => SourceName::Customer,
                ChangeSource::Payment => SourceName::Payment,
                ChangeSource::Fulfilment => SourceName::Fulfilment,
                ChangeSource::Operator => SourceName::Operator,
                ChangeSource::System => SourceName::System,
            },
            carrier,
            tracking_reference,
        }
    }
}

/// A cancelled order, and where its stock stands.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelledOrder {
    #[serde(flatten)]
    pub order: OrderBody,
    pub stock_release: StockRelease,
}

/// `released`: the Catalog confirmed the order's stock is back.
/// `pending`: the release is stored and retried (or waits for an operator,
/// when the Catalog has no release endpoint); see
/// `POST /orders/admin/reconcile/`.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StockRelease {
    Released,
    Pending,
}

/// A new order. Lines naming the same product are merged; unknown fields
/// are ignored (`user_id`, `price` and `status` too: the user comes from
/// the token, prices from the Catalog).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = OrderRequest)]
#[allow(dead_code)]
pub struct OrderRequestBody {
    #[schema(min_items = 1, max_items = 100)]
    items: Vec<OrderLineBody>,
}

/// A product and how many of it. Both are written as JSON integers:
/// digits only, no fraction or exponent (`2`, not `2.0` or `2e0`, which
/// JSON Schema also counts as integers); the service reads the number as
/// written and refuses a float (SPEC §3).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(as = OrderLine)]
#[allow(dead_code)]
pub struct OrderLineBody {
    #[schema(minimum = 1)]
    product_id: i64,
    #[schema(minimum = 1, maximum = 100000)]
    quantity: u32,
}

/// The filters and page of an order list (`GET /orders/orders/`, and the
/// operator's list with `user_id`).
#[cfg(feature = "openapi")]
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListQuery {
    /// Orders per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// Opaque; take it from `next`.
    #[param(max_length = 64)]
    cursor: Option<String>,
    /// Only orders in these statuses: repeated
    /// (`status=PAID&status=SHIPPED`) or comma-separated
    /// (`status=PAID,SHIPPED`).
    #[param(style = Form, explode)]
    status: Option<Vec<StatusName>>,
    /// Only orders created at or after this time (UTC, to the second, as
    /// the API writes it).
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")]
    created_from: Option<String>,
    /// Only orders created before this time.
    #[param(pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")]
    created_before: Option<String>,
}

/// `POST /orders/orders/`.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/orders/orders/",
    operation_id = "createOrder",
    tag = "orders",
    summary = "Create an order",
    description = "Checks each product at the Catalog, reserves its stock and stores the \
        order at the Catalog's prices. Nothing is kept when any line is refused: stock \
        already reserved goes back.",
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
        pattern = r"^[\x21-\x7E]+$",
        description = "1..=255 visible ASCII characters. Scoped to the user, kept 24 h. A \
            repeat with the same body replays the stored answer with \
            `Idempotent-Replayed: true`.")),
    request_body = OrderRequestBody,
    responses(
        (status = 201, description = "Created.", body = OrderBody, headers(
            ("Location" = String, description = "`/orders/orders/<id>/`"),
            ("Idempotent-Replayed" = String, description = "`true` when the answer is the \
                stored one of an earlier request with the same Idempotency-Key."),
        )),
        (status = 400, body = e::CreateOrderBadRequest, description = "Bad JSON \
            (`parse_error`), an invalid body or Idempotency-Key (`invalid`, with `errors`), \
            an unknown or inactive product (`product_not_found`, with `product_id`)."),
        (status = 401, body = e::AuthenticationError, description = doc::USER_UNAUTHENTICATED),
        (status = 409, body = e::CreateOrderConflict, description = "Not enough stock \
            (`insufficient_stock`, with `product_id`), or the first request with this \
            Idempotency-Key is still running (`idempotency_key_in_use`, with `Retry-After`), \
            or the customer holds `max_unpaid_orders_per_user` unpaid orders already \
            (`unpaid_order_limit`, with `limit`; nothing reserved or stored, not kept for \
            the Idempotency-Key)."),
        (status = 413, body = e::RequestError, description = doc::TOO_LARGE),
        (status = 415, body = e::RequestError, description = doc::NOT_JSON),
        (status = 422, body = e::ConflictError, description = "This Idempotency-Key was \
            used with a different body (`idempotency_key_reused`)."),
        (status = 429, body = e::ThrottledError, description = "From the gateway, not the \
            service: this client address sent more than 10 creates a second (bursts of 20); \
            nothing reached the service (`throttled`, with `Retry-After`)."),
        (status = 502, body = e::UnavailableError, description = "The Catalog's answer could \
            not be understood (`catalog_bad_response`)."),
        (status = 503, body = e::UnavailableError, description = "The Catalog unreachable, \
            slow or failing (`catalog_unavailable`), or the database busy (`service_busy`) or \
            unavailable (`database_unavailable`). Retry after `Retry-After`."),
    ),
))]
pub async fn create(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let (settings, user) = authenticate(facts, access).await?;
    let key = parse_idempotency_key(facts)?;
    let body = access
        .phases
        .timed(
            "body",
            body::read_json(
                request,
                facts.content_type.as_deref(),
                facts.content_length.as_deref(),
            ),
        )
        .await?;
    let order_request = OrderRequest::parse(&body).map_err(ApiError::Invalid)?;
    // The database opens before the Catalog is called: if storage is
    // broken, nothing is reserved. The order's first statement checks the
    // schema (and migrates it before any reservation), saving a round trip.
    let deps = dependencies(facts, access, settings).await?;
    let answer = place_once(&deps, user, &order_request, &body, key.as_ref()).await;
    deps.log_if_migrated();
    let answer = answer?;
    let response = match answer.placed {
        Ok(order) => {
            access.order_id.set(Some(order.id));
            let mut builder = json_response(201, &OrderBody::from(&order));
            builder.header("location", location(order.id));
            if answer.replayed {
                builder.header("idempotent-replayed", "true");
            }
            builder.build()
        }
        Err(refusal) => {
            let mut response = ApiError::from(refusal).into_response();
            if answer.replayed {
                response.set_header("idempotent-replayed", "true");
            }
            response
        }
    };
    Ok(Reply {
        response,
        follow_up: Some(deps.into_follow_up()),
    })
}

fn parse_idempotency_key(facts: &RequestFacts) -> Result<Option<IdempotencyKey>, ApiError> {
    facts
        .idempotency_key
        .as_deref()
        .map(IdempotencyKey::parse)
        .transpose()
        .map_err(|message| {
            ApiError::Invalid(FieldErrors::from([(
                "Idempotency-Key".to_owned(),
                vec![message.to_owned()],
            )]))
        })
}

/// `GET /orders/orders/?limit=&cursor=&status=&created_from=&created_before=`.
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/orders/orders/",
    operation_id = "listOrders",
    tag = "orders",
    summary = "The caller's orders, newest first (keyset pagination)",
    description = "Filters by status and creation time; `next` keeps them. Served by an \
        index on both backends.",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of orders.", body = OrderPage),
        (status = 400, body = e::ValidationError, description = "`limit` out of range, a bad \
            `cursor`, `status`, `created_from` or `created_before` (`invalid`, with `errors`)."),
        (status = 401, body = e::AuthenticationError, description = doc::USER_UNAUTHENTICATED),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn list(facts: &RequestFacts, access: &AccessLog) -> Result<Reply, ApiError> {
    let (settings, user) = authenticate(facts, access).await?;
    let page = PageRequest::from_query(&facts.query, Lister::User).map_err(ApiError::Invalid)?;
    let deps = dependencies(facts, access, settings).await?;
    let listed = read::page(&deps, user, &page);
    deps.log_if_migrated();
    Ok(page_response("/orders/orders/", &page, listed?).into())
}

/// `{"results": [...], "next": "<path>?<same filters>&cursor=..." | null}`.
pub(super) fn page_response(
    path: &str,
    page: &PageRequest,
    (orders, more): (Vec<Order>, bool),
) -> spin_sdk::http::Response {
    let next = match orders.last() {
        Some(last) if more => Some(format!("{path}?{}", page.next_query(last.id))),
        _ => None,
    };
    let results = orders.iter().map(OrderBody::from).collect();
    json_response(200, &OrderPage { results, next }).build()
}

/// `GET /orders/orders/<id>/`: the caller's order, or 404 (never 403).
#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/orders/orders/{id}/",
    operation_id = "getOrder",
    tag = "orders",
    summary = "One of the caller's orders",
    params(("id" = i64, Path, minimum = 1, description = "Order id.")),
    responses(
        (status = 200, body = OrderDetail,
            description = "The order, with its timeline and where its refund stands."),
        (status = 401, body = e::AuthenticationError, description = doc::USER_UNAUTHENTICATED),
        (status = 404, body = e::NotFoundError, description = "No such order of the \
            caller's (`not_found`); another user's order is 404 too."),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn get(facts: &RequestFacts, access: &AccessLog, id: i64) -> Result<Reply, ApiError> {
    let (settings, user) = authenticate(facts, access).await?;
    let deps = dependencies(facts, access, settings).await?;
    let found = read::order(&deps, user, id);
    deps.log_if_migrated();
    let (order, history) = found?;
    access.order_id.set(Some(order.id));
    Ok(json_response(200, &OrderDetail::new(&order, &history))
        .build()
        .into())
}

/// `POST /orders/orders/<id>/cancel/`: CREATED or PAID → CANCELLED, stock released
/// (or stored for a later release); CANCELLED again is a no-op.
#[cfg_attr(feature = "openapi", utoipa::path(
    post,
    path = "/orders/orders/{id}/cancel/",
    operation_id = "cancelOrder",
    tag = "orders",
    summary = "Cancel an order; its stock goes back to the Catalog",
    params(("id" = i64, Path, minimum = 1, description = "Order id.")),
    responses(
        (status = 200, body = CancelledOrder, description = "Cancelled (also when it \
            already was; stock is released once). A PAID order is cancelled too, and its \
            payment is owed back: `payment.refund_required` (reason \
            `cancelled_after_payment`) is recorded with the change. `stock_release` says \
            whether the stock is back at the Catalog now or still owed: a release that \
            fails now is stored and retried."),
        (status = 401, body = e::AuthenticationError, description = doc::USER_UNAUTHENTICATED),
        (status = 404, body = e::NotFoundError,
            description = "No such order of the caller's (`not_found`)."),
        (status = 409, body = e::TransitionError, description = "The order has shipped or \
            was delivered (`invalid_status_transition`, with its `status`)."),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn cancel(facts: &RequestFacts, access: &AccessLog, id: i64) -> Result<Reply, ApiError> {
    let (settings, user) = authenticate(facts, access).await?;
    let deps = dependencies(facts, access, settings).await?;
    let cancelled = cancel_order(&deps, user, id).await;
    if !matches!(cancelled, Err(crate::orders::OrderError::NotFound)) {
        access.order_id.set(Some(id));
    }
    let cancelled = cancelled?;
    // Honest about the stock: back at the Catalog now, or owed and
    // retried (visible to operators) until it is.
    let body = CancelledOrder {
        order: (&cancelled.order).into(),
        stock_release: if cancelled.stock_pending {
            StockRelease::Pending
        } else {
            StockRelease::Released
        },
    };
    Ok(Reply {
        response: json_response(200, &body).build(),
        follow_up: Some(deps.into_follow_up()),
    })
}

fn location(id: i64) -> String {
    format!("/orders/orders/{id}/")
}
