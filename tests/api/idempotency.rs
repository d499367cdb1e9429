//! SPEC §3 Idempotency-Key: a retried create is answered from the stored
//! outcome, never placed twice.

use crate::helpers::{json_body, spawn_app_on, token, Backend};
use futures::future::join_all;
use serde_json::json;
use std::time::Duration;

crate::on_both_backends!(
    auth_and_validation_failures_are_not_stored_and_bad_keys_are_400,
    keys_older_than_a_day_are_forgotten_and_purged,
);

crate::on_both_backends!(
    a_repeat_replays_the_stored_answer_and_calls_nothing,
    a_different_body_under_the_same_key_is_422,
    keys_belong_to_one_user,
    a_repeat_while_the_first_runs_is_409_and_parallel_repeats_place_once,
    refusals_from_the_catalog_are_stored_and_failures_are_not,
);

const BODY: &str =
    r#"{"items": [{"product_id": 1, "quantity": 2}, {"product_id": 3, "quantity": 1}]}"#;
/// BODY plus a field create ignores: still a different JSON document.
const BODY_WITH_EXTRA_FIELD: &str =
    r#"{"items":[{"quantity":2,"product_id":1},{"product_id":3,"quantity":1}],"note":null}"#;

async fn a_repeat_replays_the_stored_answer_and_calls_nothing(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let first = app.post_order_with_key(&token(42), "key-1", BODY).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let created = json_body(first).await;
    let calls = app.catalog.calls().await;

    for body in [
        BODY,
        r#"{ "items" : [ {"product_id":1,"quantity":2}, {"product_id":3,"quantity":1} ] }"#,
    ] {
        let again = app.post_order_with_key(&token(42), "key-1", body).await;
        assert_eq!(again.status(), 201);
        assert_eq!(again.headers()["idempotent-replayed"], "true");
        assert_eq!(again.headers()["location"], location);
        assert_eq!(json_body(again).await, created);
    }
    assert_eq!(
        app.catalog.calls().await,
        calls,
        "the Catalog saw nothing new"
    );
    assert_eq!(app.count("orders"), 1);
    assert_eq!(app.catalog.stock(1).await, 8);
}

async fn a_different_body_under_the_same_key_is_422(backend: Backend) {
    let app = spawn_app_on(backend).await;
    assert_eq!(
        app.post_order_with_key(&token(42), "k", BODY)
            .await
            .status(),
        201
    );
    // Unknown fields are ignored by create but still part of the body.
    let response = app
        .post_order_with_key(&token(42), "k", BODY_WITH_EXTRA_FIELD)
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(json_body(response).await["code"], "idempotency_key_reused");
    let response = app
        .post_order_with_key(
            &token(42),
            "k",
            r#"{"items": [{"product_id": 1, "quantity": 3}]}"#,
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(app.count("orders"), 1);
}

async fn keys_belong_to_one_user(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let mine = json_body(app.post_order_with_key(&token(42), "shared", BODY).await).await;
    let response = app.post_order_with_key(&token(7), "shared", BODY).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("idempotent-replayed").is_none());
    let theirs = json_body(response).await;
    assert_ne!(mine["id"], theirs["id"]);
    assert_eq!(theirs["user_id"], 7);
}

async fn a_repeat_while_the_first_runs_is_409_and_parallel_repeats_place_once(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog
        .set_faults(json!({"reserve_latency_ms": 800}))
        .await;
    let first = {
        let request = app
            .client
            .post(format!("{}/orders/orders/", app.address))
            .header("content-type", "application/json")
            .header("idempotency-key", "slow")
            .bearer_auth(token(42))
            .body(BODY);
        tokio::spawn(async move { request.send().await.unwrap() })
    };
    // Its reservations have reached the Catalog (so its key is claimed) and
    // are held there for 1.5 s.
    while app.catalog.calls().await.reserve == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = app.post_order_with_key(&token(42), "slow", BODY).await;
    assert_eq!(response.status(), 409);
    assert_eq!(json_body(response).await["code"], "idempotency_key_in_use");
    assert_eq!(first.await.unwrap().status(), 201);
    let replayed = app.post_order_with_key(&token(42), "slow", BODY).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");

    // Twelve identical requests at once: one order, one reservation per item.
    app.catalog
        .set_faults(json!({"reserve_latency_ms": 100}))
        .await;
    let reserves_before = app.catalog.calls().await.reserve;
    let statuses = join_all((0..12).map(|_| async {
        let response = app.post_order_with_key(&token(42), "race", BODY).await;
        let replayed = response.headers().contains_key("idempotent-replayed");
        (response.status().as_u16(), replayed)
    }))
    .await;
    let placed = statuses.iter().filter(|s| **s == (201, false)).count();
    assert_eq!(placed, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == (201, false) || *s == (201, true) || *s == (409, false)),
        "{statuses:?}"
    );
    assert_eq!(
        app.catalog.calls().await.reserve - reserves_before,
        2,
        "two items, reserved once"
    );
    assert_eq!(app.count("orders"), 2);
}

async fn refusals_from_the_catalog_are_stored_and_failures_are_not(backend: Backend) {
    let app = spawn_app_on(backend).await;
    // product 6 is inactive: 400 product_not_found, stored.
    let inactive = r#"{"items": [{"product_id": 6, "quantity": 1}]}"#;
    let first = app
        .post_order_with_key(&token(42), "inactive", inactive)
        .await;
    assert_eq!(first.status(), 400);
    let refusal = json_body(first).await;
    assert_eq!(refusal["code"], "product_not_found");
    let calls = app.catalog.calls().await;
    let again = app
        .post_order_with_key(&token(42), "inactive", inactive)
        .await;
    assert_eq!(again.status(), 400);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json_body(again).await, refusal);
    assert_eq!(app.catalog.calls().await, calls);

    // Too much: 409 insufficient_stock, stored.
    let too_many = r#"{"items": [{"product_id": 4, "quantity": 6}]}"#;
    assert_eq!(
        app.post_order_with_key(&token(42), "short", too_many)
            .await
            .status(),
        409
    );
    let again = app.post_order_with_key(&token(42), "short", too_many).await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.headers()["idempotent-replayed"], "true");

    // Catalog down: 503, not stored, so the retry runs for real.
    app.catalog.set_faults(json!({"status": 500})).await;
    assert_eq!(
        app.post_order_with_key(&token(42), "flaky", BODY)
            .await
            .status(),
        503
    );
    app.catalog.set_faults(json!({})).await;
    let retry = app.post_order_with_key(&token(42), "flaky", BODY).await;
    assert_eq!(retry.status(), 201);
    assert!(retry.headers().get("idempotent-replayed").is_none());
}

async fn auth_and_validation_failures_are_not_stored_and_bad_keys_are_400(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let unauthenticated = app
        .client
        .post(format!("{}/orders/orders/", app.address))
        .header("content-type", "application/json")
        .header("idempotency-key", "k1")
        .body(BODY)
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let invalid = app
        .post_order_with_key(&token(42), "k1", r#"{"items": []}"#)
        .await;
    assert_eq!(invalid.status(), 400);
    // Same key, now a good body: neither failure was stored, so no 422.
    let response = app.post_order_with_key(&token(42), "k1", BODY).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("idempotent-replayed").is_none());

    for bad in ["has space".to_owned(), "k".repeat(256)] {
        let response = app.post_order_with_key(&token(42), &bad, BODY).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body = json_body(response).await;
        assert_eq!(body["code"], "invalid");
        assert!(body["errors"]["Idempotency-Key"].is_array());
    }
    assert_eq!(app.count("orders"), 1);
}

async fn keys_older_than_a_day_are_forgotten_and_purged(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let first = json_body(app.post_order_with_key(&token(42), "yesterday", BODY).await).await;
    // Age the stored key past the 24 h retention.
    app.age_idempotency_keys(25);
    // An expired key is a new key: the request runs again.
    let again = app.post_order_with_key(&token(42), "yesterday", BODY).await;
    assert_eq!(again.status(), 201);
    assert!(again.headers().get("idempotent-replayed").is_none());
    assert_ne!(json_body(again).await["id"], first["id"]);

    // A key stored long ago is purged by the next pass.
    app.insert_old_key(7, "old");
    assert_eq!(app.count("idempotency_keys"), 2);
    // The operator's pass, or the after-response pass of the create above
    // if it ran later than its response, purges it.
    let operator_purged = app.reconcile().await["purged_idempotency_keys"]
        .as_u64()
        .unwrap();
    let purged: u64 = app
        .stderr
        .events("reconciled")
        .iter()
        .filter_map(|line| line["report"]["purged_idempotency_keys"].as_u64())
        .sum();
    assert!(operator_purged <= 1 && purged >= 1, "{purged}");
    assert_eq!(app.count("idempotency_keys"), 1, "the fresh key stays");
    assert!(!app.key_stored("old"));
}
