//! SPEC §3: listing, reading and cancelling the caller's orders.

use crate::helpers::{json_body, spawn_app, spawn_app_on, token, Backend};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};

crate::on_both_backends!(
    the_list_pages_newest_first_through_only_the_callers_orders,
    an_order_is_visible_to_its_owner_only_and_404_otherwise,
    cancelling_releases_the_stock_once_and_repeats_are_harmless,
    a_paid_order_is_cancelled_with_its_refund_owed,
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
    let mut shown = json_body(response).await;
    // The order as created, with its history: created by its owner, no
    // refund.
    assert_eq!(
        shown["timeline"],
        json!([{"status": "CREATED", "at": created["created_at"], "source": "customer"}])
    );
    assert_eq!(shown["refund"], Value::Null);
    let fields = shown.as_object_mut().unwrap();
    fields.remove("timeline");
    fields.remove("refund");
    assert_eq!(shown, created);
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

/// SPEC §3: the owner may cancel a `PAID` order until it ships: it
/// becomes `CANCELLED`, its stock goes back as for a `CREATED` order, and
/// its payment is owed back — `payment.refund_required` recorded in the
/// same transaction as `order.cancelled`, with the payment's id and
/// amount, and counted in the metrics. A second cancel changes nothing; a
/// repeated payment confirmation still answers as the first time.
async fn a_paid_order_is_cancelled_with_its_refund_owed(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let created = app.create(42, &[(2, 2)]).await; // 2 × 19.99
    let id = created["id"].as_i64().unwrap();
    let payment =
        json!({"payment_id": "pay-7", "order_id": id, "amount": "39.98", "currency": "EUR"});
    let paid = app.confirm_payment(&payment).await;
    assert_eq!(paid.status(), 200);
    let paid_answer = json_body(paid).await;
    let stock = app.catalog.stock(2).await;

    let path = format!("/orders/orders/{id}/cancel/");
    let response = app.send_as(42, Method::POST, &path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(json_body(response).await["status"], "CANCELLED");
    assert_eq!(app.catalog.stock(2).await, stock + 2, "the stock is back");

    let events = app.rows(&format!(
        "SELECT seq, type, payload FROM events WHERE order_id = {id} ORDER BY seq"
    ));
    let types: Vec<&str> = events
        .iter()
        .map(|e| e.split('|').nth(1).unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "order.created",
            "order.paid",
            "order.cancelled",
            "payment.refund_required"
        ]
    );
    let refund: Value = serde_json::from_str(events[3].splitn(3, '|').nth(2).unwrap()).unwrap();
    assert_eq!(
        refund,
        json!({"order_id": id, "payment_id": "pay-7", "amount": "39.98", "currency": "EUR",
               "reason": "cancelled_after_payment"})
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("order_service_refunds_owed 1\n"),
        "{metrics}"
    );

    // Again: nothing more released, no second refund.
    let again = app.send_as(42, Method::POST, &path).await;
    assert_eq!(again.status(), 200);
    assert_eq!(app.catalog.stock(2).await, stock + 2);
    assert_eq!(app.catalog.calls().await.release, 1);
    assert_eq!(app.count("events"), 4);
    // The Payment Service retrying its confirmation gets its first answer.
    let replay = app.confirm_payment(&payment).await;
    assert_eq!(replay.status(), 200);
    assert_eq!(json_body(replay).await, paid_answer);
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
