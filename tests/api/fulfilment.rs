//! SPEC §3 "Fulfilment and refunds": a paid order ships and is delivered
//! through the Fulfilment Service's signed updates, its timeline shows
//! every change, a shipped order cannot be cancelled, and the Payment
//! Service's refund confirmation settles what a cancelled paid order owes.
//! Every transition, refusal and race on both backends.

use crate::helpers::{
    json_body, payment_signature, spawn_app_on, spawn_app_with, unix_now, AppOptions, Backend,
    TestApp, FULFILMENT_SECRET, PAYMENT_SECRET,
};
use futures::future::join;
use reqwest::Method;
use serde_json::{json, Value};

crate::on_both_backends!(
    a_paid_order_ships_and_is_delivered_with_its_timeline,
    fulfilment_updates_that_do_not_fit_are_refused_and_record_nothing,
    a_refund_owed_is_confirmed_once,
    refunds_not_owed_are_refused,
    a_cancel_racing_a_shipment_lets_exactly_one_win,
    the_same_fulfilment_update_twice_at_once_applies_once,
);

/// A new order of user 42 for one unit of product 2 (19.99), paid.
async fn paid_order(app: &TestApp, payment_id: &str) -> i64 {
    let id = app.create(42, &[(2, 1)]).await["id"].as_i64().unwrap();
    let payment =
        json!({"payment_id": payment_id, "order_id": id, "amount": "19.99", "currency": "EUR"});
    assert_eq!(app.confirm_payment(&payment).await.status(), 200);
    id
}

fn shipment(event_id: &str, order_id: i64) -> Value {
    json!({"event_id": event_id, "order_id": order_id, "status": "SHIPPED",
           "carrier": "La Poste", "tracking_reference": "6A12345678901"})
}

fn delivery(event_id: &str, order_id: i64) -> Value {
    json!({"event_id": event_id, "order_id": order_id, "status": "DELIVERED"})
}

/// `(status, body)` of an answer.
async fn answer(response: reqwest::Response) -> (u16, Value) {
    (response.status().as_u16(), json_body(response).await)
}

/// The order as its owner (42) sees it.
async fn shown(app: &TestApp, id: i64) -> Value {
    let response = app
        .send_as(42, Method::GET, &format!("/orders/orders/{id}/"))
        .await;
    assert_eq!(response.status(), 200);
    json_body(response).await
}

fn kinds(app: &TestApp, id: i64) -> Vec<String> {
    app.stored_events(id).into_iter().map(|e| e.kind).collect()
}

fn timeline(order: &Value) -> Vec<(String, String)> {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["status"].as_str().unwrap().to_owned(),
                entry["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_paid_order_ships_and_is_delivered_with_its_timeline(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let id = paid_order(&app, "pay-1").await;

    let (status, shipped) = answer(app.fulfil(&shipment("ful-1", id)).await).await;
    assert_eq!(status, 200, "{shipped}");
    assert_eq!(shipped["status"], "SHIPPED");
    assert_eq!(shipped["carrier"], "La Poste");
    assert_eq!(shipped["tracking_reference"], "6A12345678901");
    // The Fulfilment Service retrying gets its first answer, nothing more.
    assert_eq!(
        answer(app.fulfil(&shipment("ful-1", id)).await).await,
        (200, shipped.clone())
    );
    // The same id with other content is not a repeat.
    let mut other = shipment("ful-1", id);
    other["tracking_reference"] = json!("OTHER");
    let (status, reused) = answer(app.fulfil(&other).await).await;
    assert_eq!(
        (status, &reused["code"]),
        (422, &json!("fulfilment_event_reused"))
    );
    // Shipping again under another id: the order has shipped.
    let (status, again) = answer(app.fulfil(&shipment("ful-2", id)).await).await;
    assert_eq!(status, 409);
    assert_eq!(again["code"], "invalid_status_transition");
    assert_eq!(again["status"], "SHIPPED");

    // Shipped: the owner can no longer cancel, and nothing is released.
    let stock = app.catalog.stock(2).await;
    let (status, refused) = answer(app.cancel(42, &json!(id)).await).await;
    assert_eq!(status, 409);
    assert_eq!(refused["code"], "invalid_status_transition");
    assert_eq!(refused["status"], "SHIPPED");
    assert_eq!(app.catalog.stock(2).await, stock);

    let (status, delivered) = answer(app.fulfil(&delivery("ful-3", id)).await).await;
    assert_eq!(status, 200, "{delivered}");
    assert_eq!(delivered["status"], "DELIVERED");
    assert!(delivered.get("carrier").is_none());
    let (status, refused) = answer(app.cancel(42, &json!(id)).await).await;
    assert_eq!((status, &refused["status"]), (409, &json!("DELIVERED")));
    // A payment for a delivered order is refused and owed back.
    let late = json!({"payment_id": "pay-late", "order_id": id, "amount": "19.99",
                      "currency": "EUR"});
    let (status, late) = answer(app.confirm_payment(&late).await).await;
    assert_eq!((status, &late["reason"]), (409, &json!("already_paid")));

    let order = shown(&app, id).await;
    assert_eq!(order["status"], "DELIVERED");
    assert_eq!(
        timeline(&order),
        [
            ("CREATED".into(), "customer".into()),
            ("PAID".into(), "payment".into()),
            ("SHIPPED".into(), "fulfilment".into()),
            ("DELIVERED".into(), "fulfilment".into()),
        ]
    );
    let entries = order["timeline"].as_array().unwrap();
    assert_eq!(entries[0]["at"], order["created_at"]);
    assert_eq!(entries[2]["carrier"], "La Poste");
    assert_eq!(entries[2]["tracking_reference"], "6A12345678901");
    assert!(entries[3].get("carrier").is_none());
    assert_eq!(order["refund"], Value::Null);
    // The list stays as it was: no timeline there.
    let list = json_body(app.send_as(42, Method::GET, "/orders/orders/").await).await;
    assert!(list["results"][0].get("timeline").is_none(), "{list}");

    let events = app.stored_events(id);
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "order.created",
            "order.paid",
            "order.shipped",
            "order.delivered",
            "payment.refund_required"
        ]
    );
    assert_eq!(
        events[2].payload,
        json!({"order_id": id, "fulfilment_event_id": "ful-1", "carrier": "La Poste",
               "tracking_reference": "6A12345678901"})
    );
    assert_eq!(
        events[3].payload,
        json!({"order_id": id, "fulfilment_event_id": "ful-3"})
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("order_service_orders{status=\"DELIVERED\"} 1\n"),
        "{metrics}"
    );
}

async fn fulfilment_updates_that_do_not_fit_are_refused_and_record_nothing(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let unpaid = app.create(42, &[(2, 1)]).await["id"].as_i64().unwrap();
    let paid = paid_order(&app, "pay-2").await;
    let cancelled = app.create(42, &[(2, 1)]).await["id"].as_i64().unwrap();
    assert_eq!(app.cancel(42, &json!(cancelled)).await.status(), 200);

    for (update, current) in [
        (shipment("f-a", unpaid), "CREATED"),
        (delivery("f-b", unpaid), "CREATED"),
        (delivery("f-c", paid), "PAID"),
        (shipment("f-d", cancelled), "CANCELLED"),
    ] {
        let (status, body) = answer(app.fulfil(&update).await).await;
        assert_eq!(status, 409, "{update}: {body}");
        assert_eq!(body["code"], "invalid_status_transition");
        assert_eq!(body["status"], current, "{update}");
    }
    let (status, body) = answer(app.fulfil(&shipment("f-e", 999_999)).await).await;
    assert_eq!((status, &body["code"]), (404, &json!("not_found")));
    let (status, body) = answer(
        app.fulfil(&json!({"event_id": "f-f", "order_id": paid, "status": "SHIPPED"}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["errors"]["carrier"].is_array(), "{body}");

    // Signed with the wrong secret (the Payment Service's), unsigned, stale.
    let body = shipment("f-g", paid).to_string();
    let send = |signature: Option<String>| {
        let mut request = app
            .request(Method::POST, "/orders/fulfilments/")
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(signature) = signature {
            request = request.header("fulfilment-signature", signature);
        }
        request.send()
    };
    let payments_key = payment_signature(PAYMENT_SECRET, unix_now(), &body);
    let stale = payment_signature(FULFILMENT_SECRET, unix_now() - 600, &body);
    for (signature, code) in [
        (Some(payments_key), "signature_not_valid"),
        (Some(stale), "signature_not_valid"),
        (None, "not_authenticated"),
    ] {
        let (status, answer) = answer(send(signature).await.unwrap()).await;
        assert_eq!((status, answer["code"].as_str().unwrap()), (401, code));
    }

    // Under the payment confirmation's header name, the same scheme with
    // the fulfilment secret is taken too (the secret decides).
    let signer = ("payment-signature", FULFILMENT_SECRET);
    let same_scheme = shipment("f-h", paid).to_string();
    let shipped = app
        .post_signed("/orders/fulfilments/", signer, &same_scheme, unix_now())
        .await;
    assert_eq!(shipped.status(), 200);
    // A refused update was not recorded: the delivery sent too early
    // applies once the order has shipped.
    assert_eq!(app.fulfil(&delivery("f-c", paid)).await.status(), 200);
    assert_eq!(kinds(&app, unpaid), ["order.created"]);
    assert_eq!(kinds(&app, cancelled), ["order.created", "order.cancelled"]);
    assert_eq!(shown(&app, paid).await["status"], "DELIVERED");

    // Without its secret the endpoint refuses everyone.
    let closed = spawn_app_with(AppOptions {
        backend,
        variables: vec![("fulfilment_webhook_secret", String::new())],
        ..Default::default()
    })
    .await;
    let (status, body) = answer(closed.fulfil(&shipment("f-i", 1)).await).await;
    assert_eq!((status, &body["code"]), (403, &json!("permission_denied")));
}

async fn a_refund_owed_is_confirmed_once(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let id = paid_order(&app, "pay-3").await;
    assert_eq!(app.cancel(42, &json!(id)).await.status(), 200);
    assert_eq!(shown(&app, id).await["refund"], "owed");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("order_service_refunds_owed 1\n"),
        "{metrics}"
    );
    // The operator's report says the same, with the age of the oldest.
    let report = app.reconcile().await;
    assert_eq!(report["refunds_owed"], 1, "{report}");
    assert!(report["refunds_owed_oldest_seconds"].as_i64().unwrap() >= 0);

    let refund = json!({"refund_id": "re-1", "payment_id": "pay-3", "order_id": id,
                        "amount": "19.99", "currency": "EUR"});
    let (status, refunded) = answer(app.confirm_refund(&refund).await).await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(refunded["refund"], "refunded");
    assert_eq!(refunded["payment_id"], "pay-3");
    // Retried: the first answer (also without the optional order id); the
    // same id for other content: 422; another refund of the same payment:
    // refused.
    assert_eq!(
        answer(app.confirm_refund(&refund).await).await,
        (200, refunded.clone())
    );
    let mut without_order = refund.clone();
    without_order.as_object_mut().unwrap().remove("order_id");
    assert_eq!(
        answer(app.confirm_refund(&without_order).await).await,
        (200, refunded.clone())
    );
    let mut other = refund.clone();
    other["amount"] = json!("1.00");
    let (status, body) = answer(app.confirm_refund(&other).await).await;
    assert_eq!((status, &body["code"]), (422, &json!("refund_id_reused")));
    let mut second = refund.clone();
    second["refund_id"] = json!("re-2");
    let (status, body) = answer(app.confirm_refund(&second).await).await;
    assert_eq!((status, &body["code"]), (409, &json!("refund_refused")));
    assert_eq!(body["reason"], "already_refunded");

    let order = shown(&app, id).await;
    assert_eq!(order["refund"], "refunded");
    assert_eq!(
        timeline(&order),
        [
            ("CREATED".into(), "customer".into()),
            ("PAID".into(), "payment".into()),
            ("CANCELLED".into(), "customer".into()),
        ]
    );
    let events = app.stored_events(id);
    let last = events.last().unwrap();
    assert_eq!(last.kind, "payment.refunded");
    assert_eq!(
        last.payload,
        json!({"order_id": id, "payment_id": "pay-3", "refund_id": "re-1",
               "amount": "19.99", "currency": "EUR"})
    );
    assert_eq!(
        kinds(&app, id),
        [
            "order.created",
            "order.paid",
            "order.cancelled",
            "payment.refund_required",
            "payment.refunded"
        ]
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("order_service_refunds_owed 0\n"),
        "{metrics}"
    );
    let report = app.reconcile().await;
    assert_eq!(
        (
            &report["refunds_owed"],
            &report["refunds_owed_oldest_seconds"]
        ),
        (&json!(0), &json!(0))
    );
}

async fn refunds_not_owed_are_refused(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let paid = paid_order(&app, "pay-4").await;
    let refund = |refund_id: &str, payment_id: &str, order_id: i64, amount: &str| {
        json!({"refund_id": refund_id, "payment_id": payment_id, "order_id": order_id,
               "amount": amount, "currency": "EUR"})
    };
    // The order stands: nothing is owed.
    let (status, body) = answer(
        app.confirm_refund(&refund("r1", "pay-4", paid, "19.99"))
            .await,
    )
    .await;
    assert_eq!((status, &body["reason"]), (409, &json!("refund_not_owed")));
    // Unknown payment (with or without its order), or a payment of
    // another order: 404.
    let mut unnamed = refund("r2", "pay-none", paid, "19.99");
    unnamed.as_object_mut().unwrap().remove("order_id");
    let (status, body) = answer(app.confirm_refund(&unnamed).await).await;
    assert_eq!((status, &body["code"]), (404, &json!("not_found")));
    for (payment, order) in [("pay-none", paid), ("pay-4", paid + 1_000)] {
        let (status, body) = answer(
            app.confirm_refund(&refund("r2", payment, order, "19.99"))
                .await,
        )
        .await;
        assert_eq!((status, &body["code"]), (404, &json!("not_found")));
    }
    // A refused payment (a second one for the paid order) is owed back:
    // whole, in its currency.
    let second = json!({"payment_id": "pay-5", "order_id": paid, "amount": "19.99",
                        "currency": "EUR"});
    assert_eq!(app.confirm_payment(&second).await.status(), 409);
    let (status, body) = answer(
        app.confirm_refund(&refund("r3", "pay-5", paid, "9.99"))
            .await,
    )
    .await;
    assert_eq!((status, &body["reason"]), (409, &json!("amount_mismatch")));
    // Without its order id: the payment names it.
    let mut r4 = refund("r4", "pay-5", paid, "19.99");
    r4.as_object_mut().unwrap().remove("order_id");
    let (status, body) = answer(app.confirm_refund(&r4).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order_id"], paid);
    // Refused ones recorded nothing: r1 is free for another refund.
    assert_eq!(
        app.stored_events(paid).last().unwrap().kind,
        "payment.refunded"
    );
    let (status, body) = answer(
        app.confirm_refund(&refund("r1", "pay-5", paid, "19.99"))
            .await,
    )
    .await;
    assert_eq!((status, &body["reason"]), (409, &json!("already_refunded")));
    // The order's own refund field speaks of its own payment only.
    assert_eq!(shown(&app, paid).await["refund"], Value::Null);
    // Unsigned: 401, nothing applied.
    let unsigned = app
        .request(Method::POST, "/orders/refunds/")
        .header("content-type", "application/json")
        .body(refund("r5", "pay-5", paid, "19.99").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
}

async fn a_cancel_racing_a_shipment_lets_exactly_one_win(backend: Backend) {
    let app = spawn_app_on(backend).await;
    for round in 0..4 {
        let id = paid_order(&app, &format!("pay-race-{round}")).await;
        let stock = app.catalog.stock(2).await;
        let (cancel, ship) = join(
            app.cancel(42, &json!(id)),
            app.fulfil(&shipment(&format!("ful-race-{round}"), id)),
        )
        .await;
        let (cancel, ship) = (answer(cancel).await, answer(ship).await);
        let order = shown(&app, id).await;
        match (cancel.0, ship.0) {
            (200, 409) => {
                assert_eq!(ship.1["status"], "CANCELLED");
                assert_eq!(order["status"], "CANCELLED");
                assert_eq!(order["refund"], "owed");
                assert_eq!(app.catalog.stock(2).await, stock + 1);
            }
            (409, 200) => {
                assert_eq!(cancel.1["status"], "SHIPPED");
                assert_eq!(order["status"], "SHIPPED");
                assert_eq!(app.catalog.stock(2).await, stock);
            }
            other => panic!("round {round}: both or neither won: {other:?} {cancel:?} {ship:?}"),
        }
        let kinds = kinds(&app, id);
        assert_eq!(
            kinds.len(),
            if order["status"] == "CANCELLED" { 4 } else { 3 }
        );
    }
}

async fn the_same_fulfilment_update_twice_at_once_applies_once(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let id = paid_order(&app, "pay-6").await;
    let update = shipment("ful-twice", id);
    let (first, second) = join(app.fulfil(&update), app.fulfil(&update)).await;
    let (first, second) = (answer(first).await, answer(second).await);
    assert_eq!(first.0, 200, "{first:?}");
    assert_eq!(first, second, "a repeat answers as the first");
    // Two different shipments at once: one applies, the other is refused.
    let other = paid_order(&app, "pay-7").await;
    let (a, b) = join(
        app.fulfil(&shipment("ful-x", other)),
        app.fulfil(&shipment("ful-y", other)),
    )
    .await;
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    for order in [id, other] {
        assert_eq!(
            kinds(&app, order),
            ["order.created", "order.paid", "order.shipped"]
        );
        assert_eq!(timeline(&shown(&app, order).await).len(), 3);
    }
}

/// What both migration tests check once the service moved a database of
/// the previous schema forward: order 1 (paid by `pay-old`) and order 2
/// (cancelled) show the history recorded before, the paid one ships, and
/// new orders and items take ids past the old ones.
async fn the_old_orders_live_on(app: &TestApp) {
    let paid = shown(app, 1).await;
    assert_eq!(
        timeline(&paid),
        [
            ("CREATED".into(), "customer".into()),
            ("PAID".into(), "payment".into())
        ]
    );
    assert_eq!(paid["timeline"][1]["at"], "2026-01-01T00:05:00Z");
    assert_eq!(paid["items"][0]["price"], "19.99");
    let cancelled = shown(app, 2).await;
    assert_eq!(
        timeline(&cancelled),
        [
            ("CREATED".into(), "customer".into()),
            ("CANCELLED".into(), "customer".into())
        ]
    );
    assert_eq!(cancelled["timeline"][1]["at"], "2026-01-02T00:00:00Z");
    assert_eq!(app.fulfil(&shipment("ful-old", 1)).await.status(), 200);
    assert_eq!(shown(app, 1).await["status"], "SHIPPED");
    let created = app.create(42, &[(2, 1)]).await;
    assert!(created["id"].as_i64().unwrap() > 2, "{created}");
}

/// Migration SQLite 0015 (orders and order_items rebuilt for the new
/// statuses, timeline filled in) from 0014 with orders in it.
#[tokio::test]
async fn sqlite_orders_of_the_previous_schema_move_forward() {
    let app = crate::helpers::spawn_app().await;
    let db = app.db(); // before the app's first request
    let files = crate::persistence::migration_files();
    for sql in &files[..14] {
        db.execute_batch(sql).unwrap();
    }
    db.execute_batch(
        "INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at) VALUES \
         (1, 42, '19.99', 'PAID', '2026-01-01T00:00:00Z', '2026-01-01T00:05:00Z'), \
         (2, 42, '19.99', 'CANCELLED', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'); \
         INSERT INTO order_items (id, order_id, product_id, quantity, price) VALUES \
         (70, 1, 2, 1, '19.99'), (71, 2, 2, 1, '19.99'); \
         INSERT INTO payments (payment_id, order_id, amount, currency, outcome, reason, \
         created_at) VALUES ('pay-old', 1, '19.99', 'EUR', 'paid', NULL, '2026-01-01T00:05:00Z');",
    )
    .unwrap();
    drop(db);

    the_old_orders_live_on(&app).await;
    let items = app.rows("SELECT max(id) FROM order_items");
    assert!(items[0].parse::<i64>().unwrap() > 71, "{items:?}");
    assert_eq!(app.rows("PRAGMA foreign_key_check"), Vec::<String>::new());
    assert_eq!(app.rows("PRAGMA user_version"), [files.len().to_string()]);
}

/// Migration PostgreSQL 0012 (the status constraint widened, timeline
/// filled in) from 0011 with orders in it.
#[tokio::test]
async fn postgres_orders_of_the_previous_schema_move_forward() {
    let app = spawn_app_on(Backend::Postgres).await;
    let url = app.database_url.clone().unwrap();
    let files = crate::postgres::migration_files();
    crate::postgres::apply_by_hand(&url, &files[..11]);
    crate::helpers::psql(
        &url,
        "INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at) \
         OVERRIDING SYSTEM VALUE VALUES \
         (1, 42, 19.99, 'PAID', '2026-01-01T00:00:00Z', '2026-01-01T00:05:00Z'), \
         (2, 42, 19.99, 'CANCELLED', '2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'); \
         SELECT setval(pg_get_serial_sequence('orders', 'id'), 2); \
         INSERT INTO order_items (order_id, product_id, quantity, price) VALUES \
         (1, 2, 1, 19.99), (2, 2, 1, 19.99); \
         INSERT INTO payments (payment_id, order_id, amount, currency, outcome, reason, \
         created_at) VALUES ('pay-old', 1, 19.99, 'EUR', 'paid', NULL, '2026-01-01T00:05:00Z');",
    )
    .unwrap();

    the_old_orders_live_on(&app).await;
}
