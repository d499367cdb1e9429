//! Placing an order (SPEC §3 steps): read every product from the Catalog,
//! refuse before reserving anything if one is missing, inactive or short,
//! durably note the intent to reserve, reserve all lines, price them
//! exactly, then write order and items, close the intent and record the
//! Idempotency-Key's outcome in one transaction. If anything fails after a
//! reservation, every unit reserved is given back; a release that cannot be
//! made now stays stored and is retried ([`super::release`]).

use super::release::{self, Credentials};
use super::{Deps, OrderError};
use crate::catalog::{CatalogError, Product};
use crate::domain::events::OrderEvent;
use crate::domain::order::{Order, PricedOrder, Refusal};
use crate::domain::order_request::{OrderLine, OrderRequest};
use crate::domain::release::{
    new_reservation_key, reservation_id, ORDER_NOT_PERSISTED, RESERVATION_FAILED,
};
use crate::domain::{ProductId, UserId};
use crate::store::{
    IntentId, NewIntent, NewOrder, NewReleases, OwnedKey, ReleaseClaim, StoreError,
};
use futures::future::join_all;
use std::collections::HashMap;

/// A placement's outcome: the new order, or a refusal the Catalog gave
/// (stored for Idempotency-Key replays like an order). Everything else is
/// an [`OrderError`].
pub type Placed = Result<Order, Refusal>;

/// Places `request` for `user`; with `key`, records the outcome for it.
pub async fn place_order(
    deps: &Deps<'_>,
    user: UserId,
    request: &OrderRequest,
    key: Option<OwnedKey<'_>>,
) -> Result<Placed, OrderError> {
    let lines = request.lines();
    // The cap is checked before any Catalog call, and again, under the
    // customer's lock, where the intent is written: before any reservation.
    let cap = deps.settings.max_unpaid_orders;
    if let Some(limit) = cap {
        if deps.store.unpaid_orders(user)? >= i64::from(limit) {
            return Err(OrderError::UnpaidOrderLimit { limit });
        }
    }
    let checked = deps
        .phases
        .timed("catalog_read", check_products(deps, lines))
        .await;
    let products = match checked {
        Ok(products) => products,
        Err(error) => return refusal_or_error(error),
    };
    let priced =
        PricedOrder::new(lines, |id| products[&id].price).map_err(|_| OrderError::TotalTooLarge)?;

    let lease = deps.settings.intent_lease.as_secs();
    let reservation_key = new_reservation_key();
    let new_intent = NewIntent {
        user,
        request_id: deps.request_id,
        lines,
        reservation_key: &reservation_key,
        lease_seconds: lease,
    };
    let intent = match cap {
        None => {
            deps.phases
                .timed(
                    "intent",
                    deps.store
                        .open_intent(user, deps.request_id, lines, &reservation_key, lease),
                )
                .await?
        }
        Some(limit) => deps
            .phases
            .timed("intent", deps.store.open_intent_within(&new_intent, limit))
            .await?
            .ok_or(OrderError::UnpaidOrderLimit { limit })?,
    };
    let reserved = deps
        .phases
        .timed(
            "reserve",
            reserve_all(deps, user, lines, intent, &reservation_key),
        )
        .await;
    if let Err(error) = reserved {
        return refusal_or_error(error);
    }
    // The order as the API will show it, and its event; the database
    // fills in the two fields it assigns.
    let mut order = priced.unsaved(user, deps.request_id);
    let created = OrderEvent::Created(order.clone()).record(&deps.traceparent);
    let stored = deps
        .phases
        .timed(
            "db_write",
            deps.store.insert_order(&NewOrder {
                user,
                status: order.status,
                order: &priced,
                intent,
                key,
                created: &created,
            }),
        )
        .await;
    match stored {
        Ok((id, created_at)) => {
            order.id = id;
            order.created_at = created_at;
            Ok(Ok(order))
        }
        // The reconciler took the intent over and gives the units back.
        Err(StoreError::LeaseLost) => Err(StoreError::LeaseLost.into()),
        Err(error) => {
            give_back(deps, user, intent, lines, ORDER_NOT_PERSISTED).await;
            Err(error.into())
        }
    }
}

/// A Catalog answer that refuses the order is an outcome; anything else is
/// an error.
fn refusal_or_error(error: CatalogError) -> Result<Placed, OrderError> {
    match error {
        CatalogError::ProductNotFound(id) => Ok(Err(Refusal::ProductNotFound(id))),
        CatalogError::InsufficientStock(id) => Ok(Err(Refusal::InsufficientStock(id))),
        other => Err(other.into()),
    }
}

/// Reads all products concurrently and applies the pre-check: the first
/// problem in item order wins.
async fn check_products(
    deps: &Deps<'_>,
    lines: &[OrderLine],
) -> Result<HashMap<ProductId, Product>, CatalogError> {
    let answers = join_all(lines.iter().map(|l| deps.catalog.product(l.product_id))).await;
    let mut products = HashMap::with_capacity(lines.len());
    for (line, answer) in lines.iter().zip(answers) {
        let product = answer?;
        if !product.is_active {
            return Err(CatalogError::ProductNotFound(line.product_id));
        }
        if product
            .in_stock
            .is_some_and(|stock| stock < i64::from(line.quantity.get()))
        {
            return Err(CatalogError::InsufficientStock(line.product_id));
        }
        products.insert(line.product_id, product);
    }
    Ok(products)
}

/// Reserves every line concurrently, each under its reservation id. If any
/// reservation fails, the ones that were (or may have been) made are
/// released before answering.
async fn reserve_all(
    deps: &Deps<'_>,
    user: UserId,
    lines: &[OrderLine],
    intent: IntentId,
    reservation_key: &str,
) -> Result<(), CatalogError> {
    let outcomes = join_all(
        lines
            .iter()
            .map(|line| reserve_line(deps, line, reservation_key)),
    )
    .await;
    let mut first_error = None;
    let mut taken = Vec::new();
    for (line, outcome) in lines.iter().zip(outcomes) {
        match outcome {
            Ok(()) => taken.push(*line),
            Err(error) => {
                if error.outcome_unknown() {
                    taken.push(*line);
                }
                first_error.get_or_insert(error);
            }
        }
    }
    match first_error {
        None => Ok(()),
        Some(error) => {
            give_back(deps, user, intent, &taken, RESERVATION_FAILED).await;
            Err(error)
        }
    }
}

/// Reserves one line. A Catalog that honours reservation ids answers a
/// repeat with its first answer, so an unclear outcome (timeout, dropped
/// connection, garbage) is asked again once under the same id rather than
/// guessed (SPEC §4); without that promise a repeat could take the units
/// twice, so the outcome stays unknown and the units are given back.
async fn reserve_line(
    deps: &Deps<'_>,
    line: &OrderLine,
    reservation_key: &str,
) -> Result<(), CatalogError> {
    let reservation = reservation_id(reservation_key, line.product_id);
    let (product, quantity) = (line.product_id, line.quantity.get());
    let first = deps.catalog.reserve(product, quantity, &reservation).await;
    match first {
        Err(error) if error.outcome_unknown() && deps.settings.catalog.honours_reservations => {
            deps.catalog.reserve(product, quantity, &reservation).await
        }
        other => other,
    }
}

/// Closes the intent by turning `lines` into pending releases claimed by
/// this request, in one transaction, then tries them at once. What fails
/// stays stored. Nothing is claimed if the intent was already taken over.
async fn give_back(
    deps: &Deps<'_>,
    user: UserId,
    intent: IntentId,
    lines: &[OrderLine],
    reason: &'static str,
) {
    let claim = release::claim_seconds(&deps.settings);
    let owed: Vec<_> = lines
        .iter()
        .map(|l| (l.product_id, l.quantity.get()))
        .collect();
    let recorded = deps
        .store
        .write(|tx| {
            let Some(intent) = tx.take_intent(intent)? else {
                return Ok(Vec::new()); // the reconciler owns these units now
            };
            tx.insert_releases(&NewReleases {
                user: intent.user,
                request_id: &intent.request_id,
                reason,
                order_id: None,
                lines: &owed,
                reservation_key: intent.reservation_key.as_deref(),
                claim: ReleaseClaim::ThisRequest { seconds: claim },
            })
        })
        .await;
    match recorded {
        Ok(claimed) => {
            release::release_claimed(deps, &claimed, Credentials::Caller).await;
        }
        // The intent is still there: once its lease runs out the
        // reconciler releases every unit it names.
        Err(error) => release::log_unrecorded(deps.request_id, user, lines, &error),
    }
}
