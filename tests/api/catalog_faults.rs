//! SPEC §3/§4 failure handling: the Catalog down, slow, failing or talking
//! nonsense, and the compensation that keeps stock from being lost.

use crate::helpers::{
    json_body, order, spawn_app, spawn_app_on, spawn_app_with, token, AppOptions, Backend,
};
use serde_json::json;
use std::time::{Duration, Instant};

crate::on_both_backends!(
    an_unreachable_catalog_is_503_and_nothing_is_written,
    a_slow_catalog_times_out_as_503,
    catalog_server_errors_are_503_and_garbage_is_502,
    catalog_answers_nested_deep_are_read_without_trapping,
    when_one_reservation_fails_the_others_are_released,
    a_reservation_that_timed_out_is_released_too,
    releases_that_cannot_be_made_are_stored_not_dropped,
);

async fn an_unreachable_catalog_is_503_and_nothing_is_written(backend: Backend) {
    // Port 1 (tcpmux) is never served here: a connection is refused. (A
    // free port picked and let go could be taken by a parallel test's
    // Catalog, as CI once saw: the order was then placed.)
    let app = spawn_app_with(AppOptions {
        backend,
        catalog_url: Some("http://127.0.0.1:1".to_owned()),
        ..Default::default()
    })
    .await;
    let response = app.post_order(Some(&token(42)), &order(&[(1, 1)])).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body = json_body(response).await;
    assert_eq!(body["code"], "catalog_unavailable");
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals in the body: {body}"
    );
    assert_eq!(app.count("orders"), 0);
}

async fn a_slow_catalog_times_out_as_503(backend: Backend) {
    let app = spawn_app_with(AppOptions {
        backend,
        variables: vec![("catalog_timeout_ms", "300".into())],
        ..Default::default()
    })
    .await;
    app.catalog.set_faults(json!({"latency_ms": 3000})).await;
    let started = Instant::now();
    let response = app.post_order(Some(&token(42)), &order(&[(1, 1)])).await;
    assert_eq!(response.status(), 503);
    assert_eq!(json_body(response).await["code"], "catalog_unavailable");
    // Functional check that the configured timeout, not the Catalog, ended it.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.count("orders"), 0);
}

async fn catalog_server_errors_are_503_and_garbage_is_502(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog.set_faults(json!({"status": 500})).await;
    let response = app.post_order(Some(&token(42)), &order(&[(1, 1)])).await;
    assert_eq!(response.status(), 503);
    assert_eq!(json_body(response).await["code"], "catalog_unavailable");

    app.catalog.set_faults(json!({"garbage": true})).await;
    let response = app.post_order(Some(&token(42)), &order(&[(1, 1)])).await;
    assert_eq!(response.status(), 502);
    assert_eq!(json_body(response).await["code"], "catalog_bad_response");

    assert_eq!(app.catalog.calls().await.reserve, 0, "nothing reserved");
    assert_eq!(app.count("orders"), 0);
}

/// The release component has a 128 KiB stack (build.rs): a Catalog answer
/// with a member nested deeper than any parser limit is still read (the
/// member is skipped without recursion), never a trapped instance.
async fn catalog_answers_nested_deep_are_read_without_trapping(backend: Backend) {
    let app = spawn_app_on(backend).await;
    for depth in [120, 50_000] {
        app.catalog.set_faults(json!({"nested_depth": depth})).await;
        let response = app.post_order(Some(&token(42)), &order(&[(1, 1)])).await;
        assert_eq!(response.status(), 201, "depth {depth}");
    }
    assert_eq!(app.catalog.calls().await.reserve, 2);
}

async fn when_one_reservation_fails_the_others_are_released(backend: Backend) {
    let app = spawn_app_on(backend).await;
    for (status, expected_status, code) in [
        (409, 409, "insufficient_stock"),
        (503, 503, "catalog_unavailable"),
    ] {
        app.catalog
            .set_faults(json!({"reserve_status": {"3": status}}))
            .await;
        let response = app
            .post_order(Some(&token(42)), &order(&[(1, 2), (3, 1), (2, 4)]))
            .await;
        assert_eq!(response.status(), expected_status);
        assert_eq!(json_body(response).await["code"], code);
        assert_eq!(app.catalog.stock(1).await, 10, "product 1 given back");
        assert_eq!(app.catalog.stock(2).await, 100, "product 2 given back");
        assert_eq!(app.catalog.stock(3).await, 25, "product 3 never taken");
    }
    assert_eq!(
        app.catalog.calls().await.release,
        4,
        "two releases per attempt"
    );
    assert_eq!(app.count("orders"), 0);
    assert_eq!(app.count("pending_releases"), 0);
    assert_eq!(app.count("stock_intents"), 0, "each intent closed");
}

async fn a_reservation_that_timed_out_is_released_too(backend: Backend) {
    let app = spawn_app_with(AppOptions {
        backend,
        variables: vec![("catalog_timeout_ms", "400".into())],
        ..Default::default()
    })
    .await;
    app.catalog
        .set_faults(json!({"reserve_latency_ms": 1200}))
        .await;
    let response = app.post_order(Some(&token(42)), &order(&[(1, 3)])).await;
    assert_eq!(response.status(), 503);
    // The Catalog applies the late reservation after we gave up; the
    // release we sent balances it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.catalog.stock(1).await, 10);
    assert_eq!(app.count("orders"), 0);
}

async fn releases_that_cannot_be_made_are_stored_not_dropped(backend: Backend) {
    let app = spawn_app_on(backend).await;
    // Like the stock Django Catalog: no /release/ endpoint.
    app.catalog
        .set_faults(json!({"no_release": true, "reserve_status": {"3": 409}}))
        .await;
    let response = app
        .post_order(Some(&token(42)), &order(&[(1, 2), (3, 1)]))
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        app.catalog.stock(1).await,
        8,
        "the Catalog could not take it back"
    );

    let pending = app.pending_releases();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let release = &pending[0];
    assert_eq!(
        (release.user_id, release.product_id, release.quantity),
        (42, 1, 2)
    );
    assert_eq!(release.reason, "reservation_failed");
    assert!(release.last_error.contains("404"), "{release:?}");

    let logged = app.stderr.json_lines().into_iter().any(|l| {
        l["event"] == "release_endpoint_missing" && l["product_id"] == 1 && l["quantity"] == 2
    });
    assert!(logged, "operators are told: {:?}", app.stderr.lines());
}

/// SQLite only: the file's one write lock; PostgreSQL's row locks have no
/// busy budget (`tests/api/postgres.rs` covers its outages).
#[tokio::test]
async fn a_database_locked_past_the_busy_budget_is_503_and_gives_stock_back() {
    let app = spawn_app().await;
    app.create(42, &[(2, 1)]).await;

    // Another writer takes the database once the reservation is under way
    // and holds it past the 5 s a write waits: the order cannot be saved.
    app.catalog
        .set_faults(json!({"reserve_latency_ms": 300}))
        .await;
    let (caller, body) = (token(42), order(&[(1, 4)]));
    let request = app.post_order(Some(&caller), &body);
    let blocker = async {
        while app.catalog.calls().await.reserve < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let db = app.db();
        db.execute_batch("BEGIN IMMEDIATE").unwrap();
        tokio::time::sleep(Duration::from_secs(7)).await;
        db.execute_batch("ROLLBACK").unwrap();
    };
    let (response, ()) = tokio::join!(request, blocker);

    assert_eq!(response.status(), 503);
    assert_eq!(json_body(response).await["code"], "service_busy");
    assert_eq!(
        app.catalog.stock(1).await,
        10,
        "the reservation was released"
    );
    assert_eq!(app.count("orders"), 1);
    assert_eq!(app.count("stock_intents"), 0);
    assert_eq!(app.count("pending_releases"), 0);
}
