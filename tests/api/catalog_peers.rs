//! The order flows against both Catalog peers — the demo stand-in and a
//! Catalog on the reference stack (Django + DRF + SimpleJWT under
//! gunicorn, `tests/django_catalog/`), with tokens minted by SimpleJWT
//! itself on the Django runs — and on both storage backends (SQLite and
//! PostgreSQL). Each flow is written once and run in all four pairings, so
//! a behaviour the demo accepts and Django does not, or one backend gets
//! and the other does not, fails here.

use crate::helpers::{json_body, order, spawn_app_with, AppOptions, Backend, CatalogKind, TestApp};
use reqwest::Method;
use serde_json::json;

const DJANGO: CatalogKind = CatalogKind::Django { release: true };

/// Runs each flow once per Catalog peer and storage backend.
macro_rules! on_both_catalogs_and_backends {
    ($($flow:ident),* $(,)?) => {$(
        mod $flow {
            use crate::helpers::{Backend, CatalogKind};

            #[tokio::test]
            async fn demo_sqlite() {
                super::$flow(CatalogKind::Demo, Backend::Sqlite).await
            }
            #[tokio::test]
            async fn django_sqlite() {
                super::$flow(super::DJANGO, Backend::Sqlite).await
            }
            #[tokio::test]
            async fn demo_postgres() {
                super::$flow(CatalogKind::Demo, Backend::Postgres).await
            }
            #[tokio::test]
            async fn django_postgres() {
                super::$flow(super::DJANGO, Backend::Postgres).await
            }
        }
    )*};
}

on_both_catalogs_and_backends!(
    create,
    multi_item,
    insufficient_stock,
    inactive_product,
    cancel,
    no_release_endpoint,
);

async fn app_on(catalog: CatalogKind, backend: Backend) -> TestApp {
    spawn_app_with(AppOptions {
        catalog,
        backend,
        ..Default::default()
    })
    .await
}

async fn create(catalog: CatalogKind, backend: Backend) {
    let app = app_on(catalog, backend).await;
    let token = app.catalog.token(42).await;
    let response = app.post_order(Some(&token), &order(&[(1, 2)])).await;
    assert_eq!(response.status(), 201);
    let body = json_body(response).await;
    assert_eq!(body["user_id"], 42);
    assert_eq!(body["total_amount"], "1999.98");
    assert_eq!(
        body["items"],
        json!([{"product_id": 1, "quantity": 2, "price": "999.99"}])
    );
    assert_eq!(app.catalog.stock(1).await, 8, "exactly the quantity taken");
    assert_eq!(app.count("orders"), 1);
    assert_eq!(app.count("stock_intents"), 0);
}

/// Several items; a product listed twice is merged into one line.
async fn multi_item(catalog: CatalogKind, backend: Backend) {
    let app = app_on(catalog, backend).await;
    let token = app.catalog.token(7).await;
    let response = app
        .post_order(Some(&token), &order(&[(2, 1), (3, 1), (2, 4)]))
        .await;
    assert_eq!(response.status(), 201);
    let body = json_body(response).await;
    assert_eq!(
        body["items"],
        json!([
            {"product_id": 2, "quantity": 5, "price": "19.99"},
            {"product_id": 3, "quantity": 1, "price": "49.50"}
        ])
    );
    assert_eq!(body["total_amount"], "149.45");
    assert_eq!(app.catalog.stock(2).await, 95);
    assert_eq!(app.catalog.stock(3).await, 24);
}

async fn insufficient_stock(catalog: CatalogKind, backend: Backend) {
    let app = app_on(catalog, backend).await;
    let token = app.catalog.token(42).await;
    let response = app
        .post_order(Some(&token), &order(&[(1, 1), (4, 6)]))
        .await;
    assert_eq!(response.status(), 409);
    let body = json_body(response).await;
    assert_eq!(body["code"], "insufficient_stock");
    assert_eq!(body["product_id"], 4);
    assert_eq!(app.catalog.stock(1).await, 10, "nothing reserved");
    assert_eq!(app.catalog.stock(4).await, 5);
    assert_eq!(app.count("orders"), 0);
}

/// The reference Catalog hides inactive products from GET but would still
/// reserve them: the pre-check is what keeps them out of orders.
async fn inactive_product(catalog: CatalogKind, backend: Backend) {
    let app = app_on(catalog, backend).await;
    let token = app.catalog.token(42).await;
    let response = app
        .post_order(Some(&token), &order(&[(1, 1), (6, 1)]))
        .await;
    assert_eq!(response.status(), 400);
    let body = json_body(response).await;
    assert_eq!(body["code"], "product_not_found");
    assert_eq!(body["product_id"], 6);
    assert_eq!(app.catalog.stock(6).await, 50);
    assert_eq!(app.catalog.stock(1).await, 10);
}

async fn cancel(catalog: CatalogKind, backend: Backend) {
    let app = app_on(catalog, backend).await;
    let created = app.create(42, &[(1, 3), (3, 1)]).await;
    assert_eq!(app.catalog.stock(1).await, 7);
    let token = app.catalog.token(42).await;
    let path = format!("/orders/orders/{}/cancel/", created["id"]);
    let cancelled = app
        .request(Method::POST, &path)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    let body = json_body(cancelled).await;
    assert_eq!(body["status"], "CANCELLED");
    assert_eq!(body["stock_release"], "released");
    assert_eq!(app.catalog.stock(1).await, 10);
    assert_eq!(app.catalog.stock(3).await, 25);
    assert_eq!(app.count("pending_releases"), 0);
}

/// Against a Catalog without `/release/` (the reference one answers
/// Django's HTML 404), a cancel stands, says its stock is pending, and the
/// operator can settle it once handled by hand: the pending list reaches 0.
async fn no_release_endpoint(catalog: CatalogKind, backend: Backend) {
    let catalog = match catalog {
        CatalogKind::Django { .. } => CatalogKind::Django { release: false },
        demo => demo,
    };
    let app = app_on(catalog, backend).await;
    if catalog == CatalogKind::Demo {
        app.catalog.set_faults(json!({"no_release": true})).await;
    }
    let created = app.create(42, &[(2, 4)]).await;
    let token = app.catalog.token(42).await;
    let path = format!("/orders/orders/{}/cancel/", created["id"]);
    let cancel = || app.request(Method::POST, &path).bearer_auth(&token).send();
    let cancelled = cancel().await.unwrap();
    assert_eq!(cancelled.status(), 200);
    let body = json_body(cancelled).await;
    assert_eq!(body["status"], "CANCELLED");
    assert_eq!(body["stock_release"], "pending");
    // Asked again, the answer stays honest.
    assert_eq!(
        json_body(cancel().await.unwrap()).await["stock_release"],
        "pending"
    );
    assert_eq!(app.catalog.stock(2).await, 96, "the units are still out");

    let report = app.reconcile().await;
    // The same report whichever Catalog refused the release.
    insta::assert_json_snapshot!("no_release_report", report, {
        ".pending[].id" => "[id]",
        ".pending[].order_id" => "[order id]",
        ".pending[].request_id" => "[request id]",
        ".pending[].created_at" => "[time]",
        ".pending[].next_attempt_at" => "[time]",
        ".pending[].reservation" => "[reservation id]",
    });
    let pending = &report["pending"][0];

    let settled = app
        .settle_release(
            pending["id"].as_i64().unwrap(),
            json!({"outcome": "released_manually", "settled_by": "ops@example.com",
                   "note": "stock corrected in the Catalog admin"}),
        )
        .await;
    assert_eq!(settled.status(), 200);
    assert_eq!(app.reconcile().await["pending_total"], 0);
    assert_eq!(
        json_body(cancel().await.unwrap()).await["stock_release"],
        "released"
    );
}
