//! `/orders/orders/…`: create, list, read and cancel the caller's orders.

use super::error::ApiError;
use super::session::{authenticate, logged_store_error, open_store, store_error};
use super::{body, json_response, FollowUp, RequestContext};
use crate::catalog::{CatalogClient, CatalogError};
use crate::domain::idempotency::{fingerprint, IdempotencyKey};
use crate::domain::order::{Cancellation, Order};
use crate::domain::order_request::{FieldErrors, OrderRequest};
use crate::domain::page::{encode_cursor, PageRequest};
use crate::log;
use crate::ordering::{PhaseTimes, PlaceOrderError, Placement};
use crate::reconcile::{self, Credentials};
use crate::store::idempotency::{KeyClaim, OwnedKey};
use crate::store::orders::KeyCompletion;
use serde_json::{json, Value};
use spin_sdk::http::{IncomingRequest, Response};
use std::time::Instant;

/// `POST /orders/orders/`.
pub async fn create(
    ctx: &mut RequestContext,
    request: IncomingRequest,
) -> Result<Response, ApiError> {
    let (config, user) = authenticate(ctx)?;
    let started = Instant::now();
    let key = ctx
        .idempotency_key
        .as_deref()
        .map(IdempotencyKey::parse)
        .transpose()
        .map_err(|message| {
            ApiError::Invalid(FieldErrors::from([(
                "Idempotency-Key".to_owned(),
                vec![message.to_owned()],
            )]))
        })?;
    let body = body::read_json(
        request,
        ctx.content_type.as_deref(),
        ctx.content_length.as_deref(),
    )
    .await?;
    let order_request = OrderRequest::parse(&body).map_err(ApiError::Invalid)?;
    ctx.timings.push(("body", started.elapsed()));

    // Open the database before touching the Catalog: if storage is broken,
    // fail before any stock is reserved.
    let store = open_store(ctx, &config).await?;
    let owned = key.as_ref().map(|key| OwnedKey { user, key });
    if let Some(owned) = owned {
        let started = Instant::now();
        let claim = store
            .claim_key(owned, &fingerprint(&body), config.intent_lease.as_secs())
            .await
            .map_err(|error| logged_store_error(&ctx.request_id, error))?;
        ctx.timings.push(("idempotency", started.elapsed()));
        match claim {
            KeyClaim::Claimed => {}
            KeyClaim::Replay {
                status,
                body,
                order_id,
            } => {
                ctx.order_id = order_id;
                return Ok(replay(status, body, order_id));
            }
            KeyClaim::InUse => return Err(ApiError::IdempotencyKeyInUse),
            KeyClaim::Reused => return Err(ApiError::IdempotencyKeyReused),
        }
    }

    let authorization = ctx.authorization.clone().unwrap_or_default();
    let catalog = CatalogClient::new(
        &config.catalog_url,
        config.catalog_timeout,
        &authorization,
        &ctx.request_id,
    );
    let placement = Placement {
        store: &store,
        catalog: &catalog,
        config: &config,
        user,
        request_id: &ctx.request_id,
        authorization: &authorization,
    };
    let render = |order: &Order| order_json(order).to_string();
    let completion = owned.map(|key| KeyCompletion {
        key,
        render: &render,
    });
    let mut times = PhaseTimes::default();
    let placed = placement
        .place(&order_request, completion, &mut times)
        .await;
    ctx.timings.extend([
        ("catalog_read", times.catalog_read),
        ("intent", times.intent),
        ("reserve", times.reserve),
        ("db_write", times.persist),
    ]);
    let result = match placed {
        Ok(order) => {
            ctx.order_id = Some(order.id);
            Ok(json_response(201, &order_json(&order))
                .header("location", location(order.id))
                .build())
        }
        Err(error) => {
            let error = placement_error(error);
            if let Some(owned) = owned {
                settle_refused_key(&store, owned, &error, &ctx.request_id).await;
            }
            Err(error)
        }
    };
    ctx.follow_up = Some(FollowUp {
        store,
        config,
        request_id: ctx.request_id.clone(),
    });
    result
}

/// A refusal that reached the Catalog is stored for replay; any other
/// failure frees the key so that a retry runs again (SPEC §3).
async fn settle_refused_key(
    store: &crate::store::Store,
    owned: OwnedKey<'_>,
    error: &ApiError,
    request_id: &str,
) {
    let stored = match error {
        ApiError::ProductNotFound(_) | ApiError::InsufficientStock(_) => {
            store
                .complete_key(owned, error.status(), &error.body().to_string())
                .await
        }
        _ => store.release_key(owned).await,
    };
    if let Err(failure) = stored {
        // The claim then ends with its lease and a retry runs again.
        log::error(
            request_id,
            "idempotency_key_unsettled",
            &failure.to_string(),
        );
    }
}

/// The stored answer of an earlier request with the same key.
fn replay(status: u16, body: String, order_id: Option<i64>) -> Response {
    let mut builder = Response::builder();
    builder
        .status(status)
        .header("content-type", "application/json")
        .header("idempotent-replayed", "true");
    if let (201, Some(id)) = (status, order_id) {
        builder.header("location", location(id));
    }
    builder.body(body).build()
}

/// `GET /orders/orders/?limit=&cursor=`.
pub async fn list(ctx: &mut RequestContext) -> Result<Response, ApiError> {
    let (config, user) = authenticate(ctx)?;
    let page = PageRequest::from_query(&ctx.query).map_err(ApiError::Invalid)?;
    let store = open_store(ctx, &config).await?;
    let started = Instant::now();
    let (orders, more) = store
        .list_orders(user, page.before_id, page.limit)
        .map_err(|error| logged_store_error(&ctx.request_id, error))?;
    ctx.timings.push(("db_read", started.elapsed()));
    let next = match orders.last() {
        Some(last) if more => json!(format!(
            "/orders/orders/?limit={}&cursor={}",
            page.limit,
            encode_cursor(last.id)
        )),
        _ => Value::Null,
    };
    let results: Vec<Value> = orders.iter().map(order_json).collect();
    Ok(json_response(200, &json!({"results": results, "next": next})).build())
}

/// `GET /orders/orders/<id>/`: the caller's order, or 404 (never 403).
pub async fn get(ctx: &mut RequestContext, id: i64) -> Result<Response, ApiError> {
    let (config, user) = authenticate(ctx)?;
    let store = open_store(ctx, &config).await?;
    let order = store
        .order(user, id)
        .map_err(|error| logged_store_error(&ctx.request_id, error))?
        .ok_or(ApiError::NotFound)?;
    ctx.order_id = Some(order.id);
    Ok(json_response(200, &order_json(&order)).build())
}

/// `POST /orders/orders/<id>/cancel/`: CREATED → CANCELLED, stock released
/// (or stored for a later release); CANCELLED again is a no-op.
pub async fn cancel(ctx: &mut RequestContext, id: i64) -> Result<Response, ApiError> {
    let (config, user) = authenticate(ctx)?;
    let store = open_store(ctx, &config).await?;
    let started = Instant::now();
    let cancelled = store
        .cancel_order(user, id, &ctx.request_id, reconcile::claim_seconds(&config))
        .await
        .map_err(|error| logged_store_error(&ctx.request_id, error))?
        .ok_or(ApiError::NotFound)?;
    ctx.timings.push(("db_write", started.elapsed()));
    ctx.order_id = Some(cancelled.order.id);
    match cancelled.outcome {
        Err(refused) => Err(ApiError::InvalidStatusTransition {
            from: refused.from.as_str(),
        }),
        Ok(outcome) => {
            let release_pending = if outcome == Cancellation::ReleaseStock {
                let started = Instant::now();
                let authorization = ctx.authorization.clone().unwrap_or_default();
                let released = reconcile::release_claimed(
                    &store,
                    &config,
                    &ctx.request_id,
                    &cancelled.releases,
                    &Credentials::Caller(&authorization),
                )
                .await;
                ctx.timings.push(("release", started.elapsed()));
                released < cancelled.releases.len()
            } else {
                store
                    .order_release_pending(cancelled.order.id)
                    .map_err(|error| logged_store_error(&ctx.request_id, error))?
            };
            // Honest about the stock: back at the Catalog now, or owed and
            // retried (visible to operators) until it is.
            let mut body = order_json(&cancelled.order);
            body["stock_release"] = json!(if release_pending {
                "pending"
            } else {
                "released"
            });
            let response = json_response(200, &body).build();
            ctx.follow_up = Some(FollowUp {
                store,
                config,
                request_id: ctx.request_id.clone(),
            });
            Ok(response)
        }
    }
}

fn location(id: i64) -> String {
    format!("/orders/orders/{id}/")
}

fn placement_error(error: PlaceOrderError) -> ApiError {
    match error {
        PlaceOrderError::Catalog(error) => catalog_error(error),
        PlaceOrderError::TotalTooLarge => ApiError::Invalid(FieldErrors::from([(
            "items".to_owned(),
            vec!["Order total is too large.".to_owned()],
        )])),
        PlaceOrderError::Store(error) => store_error(error),
    }
}

fn catalog_error(error: CatalogError) -> ApiError {
    match error {
        CatalogError::ProductNotFound(id) => ApiError::ProductNotFound(id),
        CatalogError::InsufficientStock(id) => ApiError::InsufficientStock(id),
        CatalogError::Unavailable { .. } => ApiError::CatalogUnavailable,
        CatalogError::BadResponse(_)
        | CatalogError::Unconfirmed(_)
        | CatalogError::ReleaseUnsupported(_) => ApiError::CatalogBadResponse,
    }
}

/// The order as the API shows it (SPEC §3).
fn order_json(order: &Order) -> Value {
    json!({
        "id": order.id,
        "user_id": order.user_id.get(),
        "total_amount": order.total.to_string(),
        "status": order.status.as_str(),
        "created_at": order.created_at,
        "items": order.lines.iter().map(|line| json!({
            "product_id": line.product_id.get(),
            "quantity": line.quantity.get(),
            "price": line.unit_price.to_string(),
        })).collect::<Vec<_>>(),
    })
}
