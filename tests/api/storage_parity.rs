//! One set of values for both backends: what one stores the other stores,
//! no id is ever reused, and text one refuses the other refuses too.

use crate::helpers::{
    json_body, products, spawn_app_on, spawn_app_with, AppOptions, Backend, TestApp,
};
use crate::on_both_backends;
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    the_largest_total_the_limits_allow_is_stored,
    release_ids_are_never_reused,
    settlement_text_with_nul_is_refused_alike,
);

/// 100 lines of 99,999 units at 12,345,678.91: within SPEC's limits, so
/// 201 with the exact total on both (PostgreSQL's money columns were
/// `numeric(12,2)` and refused it).
async fn the_largest_total_the_limits_allow_is_stored(backend: Backend) {
    let app = spawn_app_with(AppOptions {
        backend,
        // SPEC's limits: 100 lines of up to 100,000 units.
        catalog_products: Some(products(100, "12345678.91", 100_000)),
        ..Default::default()
    })
    .await;
    let items: Vec<(i64, i64)> = (1..=100).map(|id| (id, 99_999)).collect();
    let created = app.create(42, &items).await;
    assert_eq!(created["total_amount"], "123455554532109.00");
    let path = format!("/orders/orders/{}/", created["id"]);
    let shown = json_body(app.send_as(42, Method::GET, &path).await).await;
    assert_eq!(shown["total_amount"], "123455554532109.00");
    assert_eq!(shown["items"][99]["price"], "12345678.91");
}

/// An order cancelled against a Catalog without `/release/`: its units
/// become one owed release; returns that release's id.
async fn owe_one_release(app: &TestApp) -> i64 {
    let created = app.create(42, &[(2, 1)]).await;
    let cancelled = json_body(app.cancel(42, &created["id"]).await).await;
    assert_eq!(cancelled["stock_release"], "pending");
    let report = app.reconcile().await;
    assert_eq!(report["pending_total"], 1, "{report}");
    report["pending"][0]["id"].as_i64().unwrap()
}

fn settlement(note: &str) -> Value {
    json!({"outcome": "released_manually", "settled_by": "ops@example.com", "note": note})
}

/// Settled, then owed again: the new release has a new id, and settling it
/// works (SQLite reused id 1 and answered 500 for ever).
async fn release_ids_are_never_reused(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog.set_faults(json!({"no_release": true})).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = owe_one_release(&app).await;
        assert!(!ids.contains(&id), "release id {id} reused: {ids:?}");
        ids.push(id);
        let settled = app.settle_release(id, settlement("handled by hand")).await;
        assert_eq!(settled.status(), 200);
        assert_eq!(app.reconcile().await["pending_total"], 0);
    }
}

/// U+0000 cannot be stored in PostgreSQL's text: refused with 400 on both
/// backends, and nothing is settled.
async fn settlement_text_with_nul_is_refused_alike(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog.set_faults(json!({"no_release": true})).await;
    let id = owe_one_release(&app).await;
    for (field, body) in [
        ("note", settlement("a\u{0}b")),
        (
            "settled_by",
            json!({"outcome": "written_off", "settled_by": "\u{0}", "note": "n"}),
        ),
    ] {
        let refused = app.settle_release(id, body).await;
        assert_eq!(refused.status(), 400, "{field}");
        let errors = json_body(refused).await["errors"].clone();
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    assert_eq!(app.reconcile().await["pending_total"], 1);
}
