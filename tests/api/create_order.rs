//! SPEC §3 `POST /orders/orders/`.

use crate::helpers::{json_body, nested_objects, order, spawn_app_on, token, Backend, Calls};
use reqwest::Method;
use serde_json::{json, Value};

crate::on_both_backends!(
    creates_an_order_with_price_snapshots_and_reserves_stock,
    the_body_cannot_set_user_price_total_or_status,
    invalid_bodies_are_400_with_field_errors_and_touch_nothing,
    malformed_json_wrong_media_type_and_large_bodies_are_refused,
    bodies_nested_as_deep_as_the_parser_goes_are_answered,
    a_chunked_body_over_the_limit_is_cut_off_while_streaming,
    unknown_or_inactive_products_are_400_and_reserve_nothing,
    short_stock_is_409_and_reserves_nothing_for_the_other_items,
    oversized_bodies_always_get_their_whole_413,
    an_order_keeps_the_request_id_that_created_it,
);

async fn creates_an_order_with_price_snapshots_and_reserves_stock(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let response = app
        .post_order(Some(&token(42)), &order(&[(1, 2), (5, 3)]))
        .await;

    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body = json_body(response).await;
    let id = body["id"].as_i64().unwrap();
    assert_eq!(location, format!("/orders/orders/{id}/"));
    assert_eq!(body["user_id"], 42);
    assert_eq!(body["status"], "CREATED");
    assert_eq!(body["total_amount"], "2000.28"); // 2 × 999.99 + 3 × 0.10, exactly
    assert_eq!(
        body["items"],
        json!([
            {"product_id": 1, "quantity": 2, "price": "999.99"},
            {"product_id": 5, "quantity": 3, "price": "0.10"}
        ])
    );
    let created_at = body["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 20,
        "{created_at}"
    );

    assert_eq!(app.catalog.stock(1).await, 8);
    assert_eq!(app.catalog.stock(5).await, 997);
    let calls = app.catalog.calls().await;
    assert_eq!((calls.get, calls.reserve, calls.release), (2, 2, 0));

    // What is stored is what was answered.
    assert_eq!(
        app.stored_order(id),
        Some((42, "2000.28".into(), "CREATED".into()))
    );
    assert_eq!(
        app.stored_items(id),
        [(1, 2, "999.99".into()), (5, 3, "0.10".into())]
    );
}

async fn the_body_cannot_set_user_price_total_or_status(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let body = json!({
        "user_id": 1, "total_amount": "0.01", "status": "PAID", "id": 999,
        "items": [{"product_id": 1, "quantity": 1, "price": "0.01", "unknown": true}]
    });
    let response = app.post_order(Some(&token(42)), &body).await;
    assert_eq!(response.status(), 201);
    let body = json_body(response).await;
    assert_eq!(body["user_id"], 42);
    assert_eq!(body["total_amount"], "999.99");
    assert_eq!(body["status"], "CREATED");
    assert_eq!(body["items"][0]["price"], "999.99");
}

async fn invalid_bodies_are_400_with_field_errors_and_touch_nothing(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let hundred_and_one: Vec<Value> = (1..=101)
        .map(|id| json!({"product_id": id, "quantity": 1}))
        .collect();
    let cases = [
        (json!({}), "items"),
        (json!({"items": []}), "items"),
        (json!({"items": "1"}), "items"),
        (json!({ "items": hundred_and_one }), "items"),
        (json!([1, 2]), "non_field_errors"),
        (
            json!({"items": [{"product_id": "1", "quantity": 1}]}),
            "items[0].product_id",
        ),
        (
            json!({"items": [{"product_id": 1.0, "quantity": 1}]}),
            "items[0].product_id",
        ),
        (
            json!({"items": [{"product_id": 1, "quantity": 2.0}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"product_id": true, "quantity": 1}]}),
            "items[0].product_id",
        ),
        (
            json!({"items": [{"product_id": 0, "quantity": 1}]}),
            "items[0].product_id",
        ),
        (json!({"items": [{"product_id": 1}]}), "items[0].quantity"),
        (
            json!({"items": [{"product_id": 1, "quantity": 0}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"product_id": 1, "quantity": 100001}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"product_id": 1, "quantity": -3}]}),
            "items[0].quantity",
        ),
        (
            json!({"items": [{"product_id": 1, "quantity": 60000}, {"product_id": 1, "quantity": 50000}]}),
            "items",
        ),
    ];
    for (body, field) in cases {
        let response = app.post_order(Some(&token(42)), &body).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer = json_body(response).await;
        assert_eq!(answer["code"], "invalid", "{body}");
        assert!(answer["errors"][field].is_array(), "{body} → {answer}");
    }
    assert_eq!(app.catalog.calls().await, Calls::NONE);
    assert_eq!(app.count("orders"), 0);
}

async fn malformed_json_wrong_media_type_and_large_bodies_are_refused(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let send = |content_type: &'static str, body: Vec<u8>| {
        app.request(Method::POST, "/orders/orders/")
            .bearer_auth(token(42))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let response = send("application/json", b"{\"items\": [".to_vec())
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(json_body(response).await["code"], "parse_error");

    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = send(content_type, order(&[(1, 1)]).to_string().into_bytes())
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
        assert_eq!(json_body(response).await["code"], "unsupported_media_type");
    }
    let response = app
        .request(Method::POST, "/orders/orders/")
        .bearer_auth(token(42))
        .body(order(&[(1, 1)]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415, "no content type");

    // Just over 64 KiB of valid JSON: refused as too large, not parsed.
    let padding = "x".repeat(64 * 1024);
    let big = json!({"items": [{"product_id": 1, "quantity": 1}], "pad": padding}).to_string();
    let response = send("application/json", big.into_bytes()).await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(json_body(response).await["code"], "request_too_large");

    // Just under the limit is fine.
    let padding = "x".repeat(64 * 1024 - 200);
    let fits = json!({"items": [{"product_id": 1, "quantity": 1}], "pad": padding}).to_string();
    assert!(fits.len() <= 64 * 1024);
    let response = send("application/json; charset=utf-8", fits.into_bytes())
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    assert_eq!(app.count("orders"), 1);
}

/// The release component has a 128 KiB stack (build.rs); the deepest JSON
/// the parser accepts must be answered, never trap the instance.
async fn bodies_nested_as_deep_as_the_parser_goes_are_answered(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let mut body = order(&[(1, 1)]);
    // 3 levels of order + 120: under the parser's limit, an unknown member.
    body["items"][0]["note"] = nested_objects(120);
    let response = app.post_order(Some(&token(42)), &body).await;
    assert_eq!(response.status(), 201);

    body["items"][0]["note"] = nested_objects(200);
    let response = app.post_order(Some(&token(42)), &body).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json_body(response).await["code"], "parse_error");
    assert_eq!(app.catalog.calls().await.reserve, 1, "only the first");
    assert_eq!(app.count("orders"), 1);
}

async fn a_chunked_body_over_the_limit_is_cut_off_while_streaming(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..20).map(|_| Ok(vec![b' '; 8 * 1024])).collect();
    let response = app
        .request(Method::POST, "/orders/orders/")
        .bearer_auth(token(42))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

async fn unknown_or_inactive_products_are_400_and_reserve_nothing(backend: Backend) {
    let app = spawn_app_on(backend).await;
    for (missing, items) in [(99, vec![(1, 1), (99, 1)]), (6, vec![(6, 1), (2, 1)])] {
        let response = app.post_order(Some(&token(42)), &order(&items)).await;
        assert_eq!(response.status(), 400);
        let body = json_body(response).await;
        assert_eq!(body["code"], "product_not_found");
        assert_eq!(body["product_id"], missing);
    }
    assert_eq!(app.catalog.calls().await.reserve, 0);
    assert_eq!(app.catalog.stock(1).await, 10);
    assert_eq!(app.count("orders"), 0);
}

async fn short_stock_is_409_and_reserves_nothing_for_the_other_items(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let response = app
        .post_order(Some(&token(42)), &order(&[(1, 1), (4, 6)]))
        .await;
    assert_eq!(response.status(), 409);
    let body = json_body(response).await;
    assert_eq!(body["code"], "insufficient_stock");
    assert_eq!(body["product_id"], 4);
    assert_eq!(
        app.catalog.calls().await.reserve,
        0,
        "no reservation was attempted"
    );
    assert_eq!(app.catalog.stock(1).await, 10);
    assert_eq!(app.count("orders"), 0);
}

/// A body over the limit is answered 413 whole, every time: the service
/// reads the rest of it (up to the gateway's 1 MiB) before answering, so
/// the runtime never closes the connection on unread bytes, which resets
/// it and can cut the answer off (4 in 200 under Spin 4.1 before).
async fn oversized_bodies_always_get_their_whole_413(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let padding = "x".repeat(64 * 1024 + 100);
    let big = json!({"items": [{"product_id": 1, "quantity": 1}], "pad": padding}).to_string();
    let sends = (0..8).map(|_| {
        let (address, big) = (app.address.clone(), big.clone());
        tokio::spawn(async move {
            let mut cut = 0;
            for _ in 0..20 {
                // A connection per request: each one closes after its 413.
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(0)
                    .build()
                    .unwrap();
                let answer = client
                    .post(format!("{address}/orders/orders/"))
                    .bearer_auth(token(42))
                    .header("content-type", "application/json")
                    .body(big.clone())
                    .send()
                    .await;
                match answer {
                    Ok(response) if response.status() == 413 => match response.text().await {
                        Ok(text) if text.contains("request_too_large") => {}
                        _ => cut += 1,
                    },
                    _ => cut += 1,
                }
            }
            cut
        })
    });
    let cut: i32 = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(cut, 0, "413 answers cut off");
    assert_eq!(app.count("orders"), 0);
}

/// The order keeps the `X-Request-ID` of the request that created it (the
/// add-a-column recipe's column, issue 33): answered by the create, by
/// reads and lists, and by a replay of the same Idempotency-Key sent with
/// another request id.
async fn an_order_keeps_the_request_id_that_created_it(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let create = |request_id: &'static str| {
        app.request(Method::POST, "/orders/orders/")
            .bearer_auth(token(42))
            .header("x-request-id", request_id)
            .header("idempotency-key", "checkout-1")
            .json(&order(&[(1, 1)]))
            .send()
    };
    let created = json_body(create("support-ticket-7f3a").await.unwrap()).await;
    assert_eq!(created["request_id"], "support-ticket-7f3a", "{created}");
    let replayed = json_body(create("a-retry").await.unwrap()).await;
    assert_eq!(replayed["request_id"], "support-ticket-7f3a");
    let path = format!("/orders/orders/{}/", created["id"]);
    let shown = json_body(app.send_as(42, Method::GET, &path).await).await;
    assert_eq!(shown["request_id"], "support-ticket-7f3a");
    let listed = json_body(app.send_as(42, Method::GET, "/orders/orders/").await).await;
    assert_eq!(listed["results"][0]["request_id"], "support-ticket-7f3a");
    // Without an acceptable X-Request-ID the service makes one, and keeps it.
    let other = app
        .request(Method::POST, "/orders/orders/")
        .bearer_auth(token(42))
        .json(&order(&[(2, 1)]))
        .send()
        .await
        .unwrap();
    let made = other.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(json_body(other).await["request_id"], made.as_str());
}
