//! `/orders/orders/…`: create, list, read and cancel the caller's orders.
//! Each handler parses, authenticates, calls a workflow and renders.

use super::error::ApiError;
use super::session::{authenticate, dependencies};
use super::{body, json_response, AccessLog, Reply, RequestFacts};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::order::Order;
use crate::domain::order_request::{FieldErrors, OrderRequest};
use crate::domain::page::{Lister, PageRequest};
use crate::orders::cancel::cancel_order;
use crate::orders::idempotency::place_once;
use crate::orders::read;
use serde_json::{json, Value};
use spin_sdk::http::IncomingRequest;

/// `POST /orders/orders/`.
pub async fn create(
    facts: &RequestFacts,
    access: &AccessLog,
    request: IncomingRequest,
) -> Result<Reply, ApiError> {
    let (config, user) = authenticate(facts, access).await?;
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
    let deps = dependencies(facts, access, config).await?;
    let answer = place_once(&deps, user, &order_request, &body, key.as_ref()).await;
    deps.log_if_migrated();
    let answer = answer?;
    let response = match answer.placed {
        Ok(order) => {
            access.order_id.set(Some(order.id));
            let mut builder = json_response(201, &order.to_json());
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
pub async fn list(facts: &RequestFacts, access: &AccessLog) -> Result<Reply, ApiError> {
    let (config, user) = authenticate(facts, access).await?;
    let page = PageRequest::from_query(&facts.query, Lister::User).map_err(ApiError::Invalid)?;
    let deps = dependencies(facts, access, config).await?;
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
        Some(last) if more => json!(format!("{path}?{}", page.next_query(last.id))),
        _ => Value::Null,
    };
    let results: Vec<Value> = orders.iter().map(Order::to_json).collect();
    json_response(200, &json!({"results": results, "next": next})).build()
}

/// `GET /orders/orders/<id>/`: the caller's order, or 404 (never 403).
pub async fn get(facts: &RequestFacts, access: &AccessLog, id: i64) -> Result<Reply, ApiError> {
    let (config, user) = authenticate(facts, access).await?;
    let deps = dependencies(facts, access, config).await?;
    let found = read::order(&deps, user, id);
    deps.log_if_migrated();
    let (order, history) = found?;
    access.order_id.set(Some(order.id));
    let mut body = order.to_json();
    history.add_to(&mut body);
    Ok(json_response(200, &body).build().into())
}

/// `POST /orders/orders/<id>/cancel/`: CREATED or PAID → CANCELLED, stock released
/// (or stored for a later release); CANCELLED again is a no-op.
pub async fn cancel(facts: &RequestFacts, access: &AccessLog, id: i64) -> Result<Reply, ApiError> {
    let (config, user) = authenticate(facts, access).await?;
    let deps = dependencies(facts, access, config).await?;
    let cancelled = cancel_order(&deps, user, id).await;
    if !matches!(cancelled, Err(crate::orders::OrderError::NotFound)) {
        access.order_id.set(Some(id));
    }
    let cancelled = cancelled?;
    // Honest about the stock: back at the Catalog now, or owed and
    // retried (visible to operators) until it is.
    let mut body = cancelled.order.to_json();
    body["stock_release"] = json!(if cancelled.stock_pending {
        "pending"
    } else {
        "released"
    });
    Ok(Reply {
        response: json_response(200, &body).build(),
        follow_up: Some(deps.into_follow_up()),
    })
}

fn location(id: i64) -> String {
    format!("/orders/orders/{id}/")
}
