//! `/orders/orders/…`: create an order.

use super::error::ApiError;
use super::{body, json_response, RequestContext};
use crate::auth::{AuthError, Verifier};
use crate::catalog::{CatalogClient, CatalogError};
use crate::config::{Config, RECOMMENDED_KEY_BYTES};
use crate::domain::order::Order;
use crate::domain::order_request::{FieldErrors, OrderRequest};
use crate::domain::UserId;
use crate::log;
use crate::ordering::{PhaseTimes, PlaceOrderError, Placement};
use crate::store::{Store, StoreError};
use serde_json::{json, Value};
use spin_sdk::http::{IncomingRequest, Response};
use std::time::Instant;

/// `POST /orders/orders/`.
pub async fn create(
    ctx: &mut RequestContext,
    request: IncomingRequest,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let config = load_config(ctx)?;
    let user = authenticate(ctx, &config)?;
    ctx.timings.push(("auth", started.elapsed()));
    let started = Instant::now();
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
    let started = Instant::now();
    let store = open_store(ctx, &config)?;
    ctx.timings.push(("db_open", started.elapsed()));
    let authorization = ctx.authorization.as_deref().unwrap_or_default();
    let catalog = CatalogClient::new(
        &config.catalog_url,
        config.catalog_timeout,
        authorization,
        &ctx.request_id,
    );
    let placement = Placement {
        store: &store,
        catalog: &catalog,
        user,
        request_id: &ctx.request_id,
    };
    let mut times = PhaseTimes::default();
    let placed = placement.place(&order_request, &mut times).await;
    ctx.timings.extend([
        ("catalog_read", times.catalog_read),
        ("reserve", times.reserve),
        ("db_write", times.persist),
    ]);
    let order = placed.map_err(|e| match e {
        PlaceOrderError::Catalog(error) => catalog_error(error),
        PlaceOrderError::TotalTooLarge => ApiError::Invalid(FieldErrors::from([(
            "items".to_owned(),
            vec!["Order total is too large.".to_owned()],
        )])),
        PlaceOrderError::Store(error) => store_error(error),
    })?;

    ctx.order_id = Some(order.id);
    Ok(json_response(201, &order_json(&order))
        .header("location", format!("/orders/orders/{}/", order.id))
        .build())
}

fn load_config(ctx: &RequestContext) -> Result<Config, ApiError> {
    Config::load().map_err(|error| {
        log::error(&ctx.request_id, "configuration", &error.to_string());
        ApiError::Internal
    })
}

fn authenticate(ctx: &mut RequestContext, config: &Config) -> Result<UserId, ApiError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let user = Verifier::new(&config.jwt)
        .authenticate(ctx.authorization.as_deref(), now)
        .map_err(|error| match error {
            AuthError::NotAuthenticated => ApiError::NotAuthenticated,
            AuthError::InvalidToken(_) => ApiError::TokenNotValid,
        })?;
    ctx.user_id = Some(user.get());
    Ok(user)
}

fn open_store(ctx: &RequestContext, config: &Config) -> Result<Store, ApiError> {
    let store = Store::open().map_err(store_error_logged(&ctx.request_id))?;
    if store.migrated_now() && config.jwt.signing_key.len() < RECOMMENDED_KEY_BYTES {
        // Spin has no start-up hook; the first request on a new database is
        // the closest moment to "start-up" a component can see.
        log::warn(
            "weak_signing_key",
            &format!(
                "jwt_signing_key is {} bytes; at least {RECOMMENDED_KEY_BYTES} are recommended",
                config.jwt.signing_key.len()
            ),
        );
    }
    Ok(store)
}

fn store_error_logged(request_id: &str) -> impl Fn(StoreError) -> ApiError + '_ {
    move |error| {
        log::error(request_id, "database", &error.to_string());
        store_error(error)
    }
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Busy => ApiError::Busy,
        StoreError::Failed(_) => ApiError::Internal,
    }
}

fn catalog_error(error: CatalogError) -> ApiError {
    match error {
        CatalogError::ProductNotFound(id) => ApiError::ProductNotFound(id),
        CatalogError::InsufficientStock(id) => ApiError::InsufficientStock(id),
        CatalogError::Unavailable { .. } => ApiError::CatalogUnavailable,
        CatalogError::BadResponse(_) => ApiError::CatalogBadResponse,
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
