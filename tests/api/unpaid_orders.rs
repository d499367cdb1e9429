//! SPEC §3 "Stock nobody pays for", the cap per customer
//! (`max_unpaid_orders_per_user`, issue 35): a create beyond it is refused
//! before any Catalog call, reserves and stores nothing, is not kept for
//! its Idempotency-Key, and of two concurrent creates at the cap exactly
//! one is placed.

use crate::helpers::{
    json_body, order, post_order_to, spawn_app_with, token, AppOptions, Backend, Calls,
};
use futures::future::join_all;
use serde_json::json;

crate::on_both_backends!(
    a_create_beyond_the_cap_is_refused_before_the_catalog_is_asked,
    a_refused_create_is_not_kept_for_its_idempotency_key,
    two_creates_at_the_cap_place_exactly_one,
);

fn capped(backend: Backend, cap: &str) -> AppOptions {
    AppOptions {
        backend,
        variables: vec![("max_unpaid_orders_per_user", cap.into())],
        ..Default::default()
    }
}

async fn a_create_beyond_the_cap_is_refused_before_the_catalog_is_asked(backend: Backend) {
    let app = spawn_app_with(capped(backend, "2")).await;
    let first = app.create(42, &[(1, 1)]).await;
    app.create(42, &[(2, 1)]).await;
    let stock = app.catalog.stock(3).await;
    let calls = app.catalog.calls().await;

    let refused = app.post_order(Some(&token(42)), &order(&[(3, 5)])).await;
    assert_eq!(refused.status(), 409);
    let body = json_body(refused).await;
    assert_eq!(body["code"], "unpaid_order_limit", "{body}");
    assert_eq!(body["limit"], 2, "{body}");
    assert!(body["detail"].as_str().unwrap().contains('2'), "{body}");
    assert_eq!(app.catalog.calls().await, calls, "no Catalog call");
    assert_eq!(app.catalog.stock(3).await, stock, "nothing reserved");
    assert_eq!(app.count("orders"), 2, "nothing stored");
    assert_eq!(app.count("stock_intents"), 0);

    // Another customer is not limited by this one's orders.
    let other = app.post_order(Some(&token(43)), &order(&[(3, 1)])).await;
    assert_eq!(other.status(), 201);

    // Once an order is cancelled (or paid), the customer may order again.
    assert_eq!(app.cancel(42, &first["id"]).await.status(), 200);
    let placed = app.post_order(Some(&token(42)), &order(&[(3, 5)])).await;
    assert_eq!(placed.status(), 201);
    assert_eq!(app.catalog.stock(3).await, stock - 1 - 5);
}

async fn a_refused_create_is_not_kept_for_its_idempotency_key(backend: Backend) {
    let app = spawn_app_with(capped(backend, "1")).await;
    let held = app.create(42, &[(1, 1)]).await;
    let body = order(&[(2, 2)]).to_string();
    let refused = app
        .post_order_with_key(&token(42), "checkout-7", &body)
        .await;
    assert_eq!(refused.status(), 409);
    assert!(!refused.headers().contains_key("idempotent-replayed"));
    assert_eq!(json_body(refused).await["code"], "unpaid_order_limit");
    assert_eq!(app.count("idempotency_keys"), 0, "the key is free again");

    // The customer cancels the order they held; the retry goes through.
    assert_eq!(app.cancel(42, &held["id"]).await.status(), 200);
    let retried = app
        .post_order_with_key(&token(42), "checkout-7", &body)
        .await;
    assert_eq!(retried.status(), 201);
    assert!(!retried.headers().contains_key("idempotent-replayed"));
    let replayed = app
        .post_order_with_key(&token(42), "checkout-7", &body)
        .await;
    assert_eq!(replayed.status(), 201, "now the outcome is kept");
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
}

/// Both creates pass the first check (no order yet), then wait for their
/// product reads (slowed to 300 ms), then open their intents at about the
/// same time: the count under the customer's lock lets one through. On
/// PostgreSQL they go to two instances, each its own connection.
async fn two_creates_at_the_cap_place_exactly_one(backend: Backend) {
    let app = spawn_app_with(capped(backend, "1")).await;
    let second = match backend {
        Backend::Postgres => Some(app.start_instance().await),
        Backend::Sqlite => None,
    };
    let second_url = second.as_ref().map_or(app.address.as_str(), |i| &i.address);
    let stock = app.catalog.stock(4).await;
    app.catalog.set_faults(json!({"latency_ms": 300})).await;

    let user = token(42);
    let answers = join_all(
        [app.address.as_str(), second_url]
            .into_iter()
            .map(|url| post_order_to(url, &user, &[(4, 2)])),
    )
    .await;
    let mut statuses = Vec::new();
    let mut refusals = Vec::new();
    for answer in answers {
        statuses.push(answer.status().as_u16());
        let body = json_body(answer).await;
        if body["code"] == "unpaid_order_limit" {
            refusals.push(body);
        }
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{refusals:?}");
    assert_eq!(refusals.len(), 1);
    app.catalog.set_faults(json!({})).await;
    assert_eq!(app.count("orders"), 1);
    assert_eq!(app.count("stock_intents"), 0);
    assert_eq!(
        app.count("pending_releases"),
        0,
        "the refused one reserved nothing"
    );
    assert_eq!(app.catalog.stock(4).await, stock - 2);
    let calls = app.catalog.calls().await;
    assert_eq!(calls.reserve, 1, "one reservation: {calls:?}");
    assert_ne!(calls, Calls::NONE);
}
