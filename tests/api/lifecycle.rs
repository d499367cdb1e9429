//! SPEC §3: listing, reading and cancelling the caller's orders.

use crate::helpers::{json_body, spawn_app, spawn_app_on, token, Backend};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

crate::on_both_backends!(
    the_list_pages_newest_first_through_only_the_callers_orders,
    an_order_is_visible_to_its_owner_only_and_404_otherwise,
    cancelling_releases_the_stock_once_and_repeats_are_harmless,
    a_paid_order_cannot_be_cancelled,
    concurrent_cancels_release_once,
);

fn ids(page: &Value) -> Vec<i64> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

async fn the_list_pages_newest_first_through_only_the_callers_orders(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let mut mine = Vec::new();
    for n in 0..5 {
        mine.push(app.create(42, &[(2, 1 + n)]).await["id"].as_i64().unwrap());
        app.create(7, &[(5, 1)]).await; // interleaved orders of someone else
    }
    mine.reverse(); // newest first

    let mut seen = Vec::new();
    let mut path = "/orders/orders/?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let response = app.send_as(42, Method::GET, &path).await;
        assert_eq!(response.status(), 200);
        let page = json_body(response).await;
        assert!(ids(&page).len() <= 2);
        seen.extend(ids(&page));
        pages += 1;
        match page["next"].as_str() {
            Some(next) => path = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, mine);
    assert_eq!(pages, 3);

    let everything = json_body(app.send_as(42, Method::GET, "/orders/orders").await).await;
    assert_eq!(ids(&everything), mine, "default limit covers all five");
    assert_eq!(everything["next"], Value::Null);
    let first = &everything["results"][4];
    assert_eq!(
        first["items"],
        json!([{"product_id": 2, "quantity": 1, "price": "19.99"}])
    );
    assert_eq!(first["user_id"], 42);

    let theirs = json_body(app.send_as(7, Method::GET, "/orders/orders/").await).await;
    assert_eq!(ids(&theirs).len(), 5);
    assert!(ids(&theirs).iter().all(|id| !mine.contains(id)));
    let nobody = json_body(app.send_as(99, Method::GET, "/orders/orders/").await).await;
    assert_eq!(nobody, json!({"results": [], "next": null}));
}

#[tokio::test]
async fn bad_limits_and_cursors_are_400_and_the_list_needs_a_token() {
    let app = spawn_app().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=", "cursor"),
    ] {
        let response = app
            .send_as(42, Method::GET, &format!("/orders/orders/?{query}"))
            .await;
        assert_eq!(response.status(), 400, "{query}");
        let body = json_body(response).await;
        assert_eq!(body["code"], "invalid");
        assert!(body["errors"][field].is_array(), "{query}: {body}");
    }
    let response = app.get("/orders/orders/").await;
    assert_eq!(response.status(), 401);
}

async fn an_order_is_visible_to_its_owner_only_and_404_otherwise(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let created = app.create(42, &[(1, 1), (3, 2)]).await;
    let path = format!("/orders/orders/{}/", created["id"]);

    let response = app.send_as(42, Method::GET, &path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_body(response).await, created);
    let without_slash = app
        .send_as(42, Method::GET, path.trim_end_matches('/'))
        .await;
    assert_eq!(without_slash.status(), 200);

    for (user, path) in [
        (7, path.as_str()),          // someone else's: not confirmed to exist
        (42, "/orders/orders/999/"), // nobody's
    ] {
        let response = app.send_as(user, Method::GET, path).await;
        assert_eq!(response.status(), 404, "{user} {path}");
        assert_eq!(json_body(response).await["code"], "not_found");
    }
    assert_eq!(app.get(&path).await.status(), 401);
}

async fn cancelling_releases_the_stock_once_and_repeats_are_harmless(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let created = app.create(42, &[(1, 2), (3, 5)]).await;
    assert_eq!(app.catalog.stock(1).await, 8);
    assert_eq!(app.catalog.stock(3).await, 20);
    let path = format!("/orders/orders/{}/cancel/", created["id"]);

    assert_eq!(app.send_as(7, Method::POST, &path).await.status(), 404);
    let response = app.send_as(42, Method::POST, &path).await;
    assert_eq!(response.status(), 200);
    let cancelled = json_body(response).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["items"], created["items"]);
    assert_eq!(app.catalog.stock(1).await, 10);
    assert_eq!(app.catalog.stock(3).await, 25);
    assert_eq!(app.catalog.calls().await.release, 2, "one release per item");

    let again = app.send_as(42, Method::POST, &path).await;
    assert_eq!(again.status(), 200);
    assert_eq!(json_body(again).await["status"], "CANCELLED");
    assert_eq!(
        app.catalog.calls().await.release,
        2,
        "nothing released again"
    );
    assert_eq!(app.catalog.stock(1).await, 10);

    let read = app
        .send_as(
            42,
            Method::GET,
            &format!("/orders/orders/{}/", created["id"]),
        )
        .await;
    assert_eq!(json_body(read).await["status"], "CANCELLED");
    assert_eq!(app.count("pending_releases"), 0);
}

async fn a_paid_order_cannot_be_cancelled(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let created = app.create(42, &[(1, 1)]).await;
    // Payment is another service's business; mark it paid in the database.
    app.force_status(created["id"].as_i64().unwrap(), "PAID");
    let path = format!("/orders/orders/{}/cancel/", created["id"]);
    let response = app.send_as(42, Method::POST, &path).await;
    assert_eq!(response.status(), 409);
    let body = json_body(response).await;
    assert_eq!(body["code"], "invalid_status_transition");
    assert_eq!(body["status"], "PAID");
    assert_eq!(app.catalog.stock(1).await, 9, "no stock went back");
    assert_eq!(app.catalog.calls().await.release, 0);
}

async fn concurrent_cancels_release_once(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let created = app.create(42, &[(4, 3)]).await;
    assert_eq!(app.catalog.stock(4).await, 2);
    let path = format!("/orders/orders/{}/cancel/", created["id"]);
    let statuses = join_all((0..12).map(|_| {
        let request = app.request(Method::POST, &path).bearer_auth(token(42));
        async move { request.send().await.unwrap().status().as_u16() }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.catalog.stock(4).await, 5);
    assert_eq!(app.catalog.calls().await.release, 1);
}
