//! SPEC §4's extension for exact stock: every reserve and release carries
//! its reservation id, so against a Catalog honouring it (the demo one) a
//! write whose outcome was unclear is neither lost nor applied twice.
//! Each test's fault is the demo Catalog's: a connection dropped before or
//! after the write was applied, or a reserve applied after its caller gave
//! up. Before reservation ids, the first two gave back units never taken
//! (stock oversold) or gave them back twice.

use crate::helpers::{
    eventually, json_body, order, spawn_app_on, spawn_app_with, token, AppOptions, Backend, TestApp,
};
use serde_json::{json, Value};
use std::time::Duration;

crate::on_both_backends!(
    a_reserve_dropped_before_it_was_applied_gives_back_nothing,
    a_reserve_dropped_after_it_was_applied_is_given_back_exactly,
    a_release_applied_then_dropped_is_not_applied_again,
    a_reserve_arriving_after_its_release_takes_nothing,
    a_catalog_honouring_ids_is_asked_again_and_the_order_placed,
);

/// Product 1 starts with 10 units, product 2 with 100 (catalog/seed.json).
const STOCK_1: i64 = 10;
const STOCK_2: i64 = 100;

async fn catalog_counter(app: &TestApp, name: &str) -> u64 {
    app.catalog.state().await["calls"][name].as_u64().unwrap()
}

/// The wire shape: the reserve names its reservation in `Idempotency-Key`,
/// the release in its body; both name the same id.
async fn reservation_ids_sent(app: &TestApp) -> Vec<Value> {
    app.catalog.state().await["reservations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn a_reserve_dropped_before_it_was_applied_gives_back_nothing(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog
        .set_faults(json!({"reserve_drop": "before_apply"}))
        .await;
    let response = app
        .post_order(Some(&token(42)), &order(&[(1, 2), (2, 3)]))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(json_body(response).await["code"], "catalog_unavailable");
    // Both outcomes were unknown, both releases named their reservation,
    // and the Catalog said it never applied them: nothing added.
    assert_eq!(app.catalog.stock(1).await, STOCK_1);
    assert_eq!(app.catalog.stock(2).await, STOCK_2);
    assert_eq!(catalog_counter(&app, "dropped").await, 2);
    assert_eq!(app.catalog.calls().await.release, 2);
    assert_eq!(app.count("pending_releases"), 0);
    assert_eq!(app.count("stock_intents"), 0);
    assert_eq!(app.count("orders"), 0);
    let ids = reservation_ids_sent(&app).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    for id in &ids {
        assert_eq!(id["state"], "released", "{ids:?}");
        assert_eq!(id["released"], 0, "{ids:?}");
    }
}

async fn a_reserve_dropped_after_it_was_applied_is_given_back_exactly(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog
        .set_faults(json!({"reserve_drop": "after_apply"}))
        .await;
    let response = app
        .post_order(Some(&token(42)), &order(&[(1, 2), (2, 3)]))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(app.catalog.stock(1).await, STOCK_1);
    assert_eq!(app.catalog.stock(2).await, STOCK_2);
    let ids = reservation_ids_sent(&app).await;
    let mut released: Vec<i64> = ids
        .iter()
        .map(|id| id["released"].as_i64().unwrap())
        .collect();
    released.sort();
    assert_eq!(released, [2, 3], "{ids:?}");
    assert_eq!(app.count("pending_releases"), 0);
}

async fn a_release_applied_then_dropped_is_not_applied_again(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let placed = app.post_order(Some(&token(42)), &order(&[(1, 4)])).await;
    assert_eq!(placed.status(), 201);
    let id = json_body(placed).await["id"].clone();
    assert_eq!(app.catalog.stock(1).await, STOCK_1 - 4);

    app.catalog
        .set_faults(json!({"release_drop": "after_apply"}))
        .await;
    let cancelled = app.cancel(42, &id).await;
    assert_eq!(cancelled.status(), 200);
    // The Catalog gave the units back; the service could not know, so the
    // release stays stored with its reservation id.
    assert_eq!(app.catalog.stock(1).await, STOCK_1);
    assert_eq!(app.count("pending_releases"), 1);

    app.catalog.set_faults(json!({})).await;
    let report = app.reconcile().await;
    assert_eq!(report["released"], 1, "{report}");
    assert_eq!(report["pending_total"], 0, "{report}");
    // Asked again, the Catalog answered with its first answer: not twice.
    assert_eq!(app.catalog.stock(1).await, STOCK_1);
    assert_eq!(catalog_counter(&app, "repeats").await, 1);
}

async fn a_reserve_arriving_after_its_release_takes_nothing(backend: Backend) {
    let app = spawn_app_with(AppOptions {
        backend,
        variables: vec![("catalog_timeout_ms", "300".into())],
        ..Default::default()
    })
    .await;
    // The reserve reaches the Catalog's write only after its caller gave
    // up and released it, as a slow Django worker would.
    app.catalog
        .set_faults(json!({"reserve_latency_ms": 1200}))
        .await;
    let response = app.post_order(Some(&token(42)), &order(&[(1, 2)])).await;
    assert_eq!(response.status(), 503);
    assert!(
        eventually(Duration::from_secs(5), || async {
            reservation_ids_sent(&app)
                .await
                .first()
                .map(|id| id["late_reserves_refused"].clone())
                == Some(json!(1))
        })
        .await,
        "the late reserve never arrived: {:?}",
        reservation_ids_sent(&app).await
    );
    assert_eq!(app.catalog.stock(1).await, STOCK_1);
    assert_eq!(app.count("pending_releases"), 0);
}

async fn a_catalog_honouring_ids_is_asked_again_and_the_order_placed(backend: Backend) {
    let app = spawn_app_with(AppOptions {
        backend,
        variables: vec![("catalog_honours_reservations", "true".into())],
        ..Default::default()
    })
    .await;
    for (point, placed_so_far) in [("after_apply", 1), ("before_apply", 2)] {
        // Only the first reserve of the order is cut off.
        app.catalog
            .set_faults(json!({"reserve_drop": point, "drop_limit": 1}))
            .await;
        let response = app.post_order(Some(&token(42)), &order(&[(1, 2)])).await;
        assert_eq!(response.status(), 201, "{point}");
        assert_eq!(app.count("orders"), placed_so_far, "{point}");
        assert_eq!(
            app.catalog.stock(1).await,
            STOCK_1 - 2 * placed_so_far,
            "{point}: taken once"
        );
    }
    assert_eq!(app.catalog.calls().await.reserve, 4);
    assert_eq!(app.catalog.calls().await.release, 0);
    // After the apply-then-drop, the second ask got the first answer.
    assert_eq!(catalog_counter(&app, "repeats").await, 1);
}
