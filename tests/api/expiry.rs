//! SPEC §3 "Stock nobody pays for", the payment deadline
//! (`payment_deadline_seconds`, issue 35): an unpaid order older than it
//! becomes `EXPIRED` with its event and a `system` timeline entry, its
//! stock goes back exactly once, a late payment is refused and owed back,
//! a cancel is refused; the operator pass and any write's follow-up drive
//! it; a payment or a cancel racing it wins or loses whole.

use crate::helpers::{json_body, spawn_app_with, AppOptions, Backend};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

crate::on_both_backends!(
    an_unpaid_order_expires_and_its_stock_comes_back_once,
    a_write_s_follow_up_expires_what_is_due,
    payments_and_cancels_racing_the_expiry_win_or_lose_whole,
    a_pass_whose_releases_fail_is_finished_by_the_next,
);

/// Times are kept to the second: an order is past a 1-second deadline
/// once its creation second is over by more than one second.
const DEADLINE: &str = "1";
const PAST_DEADLINE: Duration = Duration::from_millis(2100);

fn with_deadline(backend: Backend) -> AppOptions {
    AppOptions {
        backend,
        variables: vec![("payment_deadline_seconds", DEADLINE.into())],
        ..Default::default()
    }
}

fn payment(id: &str, order: &Value) -> Value {
    json!({"payment_id": id, "order_id": order["id"], "amount": order["total_amount"],
           "currency": "EUR"})
}

async fn detail(app: &crate::helpers::TestApp, user: i64, order: &Value) -> Value {
    let path = format!("/orders/orders/{}/", order["id"]);
    json_body(app.send_as(user, Method::GET, &path).await).await
}

async fn an_unpaid_order_expires_and_its_stock_comes_back_once(backend: Backend) {
    let app = spawn_app_with(with_deadline(backend)).await;
    let stock = app.catalog.stock(2).await;
    let unpaid = app.create(42, &[(2, 3)]).await;
    let paid = app.create(42, &[(2, 1)]).await;
    assert_eq!(
        app.confirm_payment(&payment("pay-1", &paid)).await.status(),
        200
    );
    assert_eq!(app.catalog.stock(2).await, stock - 4);
    tokio::time::sleep(PAST_DEADLINE).await;

    let report = app.reconcile().await;
    assert_eq!(report["expired_orders"], 1, "{report}");
    assert_eq!(
        report["released"], 1,
        "the expired order's one line: {report}"
    );
    assert_eq!(
        app.catalog.stock(2).await,
        stock - 1,
        "the paid order keeps its unit"
    );
    let expired = detail(&app, 42, &unpaid).await;
    assert_eq!(expired["status"], "EXPIRED", "{expired}");
    let last = expired["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (&last["status"], &last["source"]),
        (&json!("EXPIRED"), &json!("system"))
    );
    assert_eq!(detail(&app, 42, &paid).await["status"], "PAID");
    assert_eq!(app.count("events WHERE type = 'order.expired'"), 1);
    let payload: Value = serde_json::from_str(
        &app.rows("SELECT payload FROM events WHERE type = 'order.expired'")[0],
    )
    .unwrap();
    assert_eq!(
        payload,
        json!({"order_id": unpaid["id"], "user_id": 42, "stock_release": "requested"})
    );

    // Once: a second pass finds nothing, releases nothing.
    let releases = app.catalog.calls().await.release;
    let again = app.reconcile().await;
    assert_eq!(again["expired_orders"], 0, "{again}");
    assert_eq!(app.catalog.calls().await.release, releases);
    assert_eq!(app.catalog.stock(2).await, stock - 1);

    // A payment that comes late is refused, recorded, and owed back.
    let late = app.confirm_payment(&payment("pay-2", &unpaid)).await;
    assert_eq!(late.status(), 409);
    let late = json_body(late).await;
    assert_eq!(
        (&late["code"], &late["reason"]),
        (&json!("payment_refused"), &json!("order_expired"))
    );
    assert_eq!(app.count("payments WHERE outcome = 'refund_required'"), 1);
    assert_eq!(
        app.count("events WHERE type = 'payment.refund_required'"),
        1
    );
    // A cancel of an expired order is refused with its status.
    let cancel = json_body(app.cancel(42, &unpaid["id"]).await).await;
    assert_eq!(cancel["code"], "invalid_status_transition", "{cancel}");
    assert_eq!(cancel["status"], "EXPIRED");
    // Listed and counted as expired.
    let listed = json_body(
        app.send_as(42, Method::GET, "/orders/orders/?status=EXPIRED")
            .await,
    )
    .await;
    assert_eq!(listed["results"].as_array().unwrap().len(), 1, "{listed}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("order_service_orders{status=\"EXPIRED\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("order_service_unpaid_orders_oldest_age_seconds 0\n"));
}

/// Where no operator calls: any write request's follow-up sees that an
/// order is due (one indexed read) and expires it after its answer.
async fn a_write_s_follow_up_expires_what_is_due(backend: Backend) {
    let app = spawn_app_with(with_deadline(backend)).await;
    let stock = app.catalog.stock(3).await;
    let forgotten = app.create(42, &[(3, 2)]).await;
    tokio::time::sleep(PAST_DEADLINE).await;
    app.create(43, &[(5, 1)]).await; // someone else's write
    let mut status = Value::Null;
    for _ in 0..50 {
        status = detail(&app, 42, &forgotten).await["status"].clone();
        if status == "EXPIRED" && app.catalog.stock(3).await == stock {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "EXPIRED");
    assert_eq!(app.catalog.stock(3).await, stock, "its stock is back");
}

/// Orders past their deadline, each confirmed paid or cancelled while
/// two operator passes expire: every order ends in exactly one of the two
/// outcomes, its answer says which, and the stock is exact.
async fn payments_and_cancels_racing_the_expiry_win_or_lose_whole(backend: Backend) {
    let app = spawn_app_with(with_deadline(backend)).await;
    let stock = app.catalog.stock(5).await;
    let mut orders = Vec::new();
    for _ in 0..8 {
        orders.push(app.create(42, &[(5, 1)]).await);
    }
    tokio::time::sleep(PAST_DEADLINE).await;
    let (paid, cancelled) = orders.split_at(4);
    let app = &app;
    let payments = join_all(paid.iter().enumerate().map(|(n, order)| {
        let body = payment(&format!("race-{n}"), order);
        async move { app.confirm_payment(&body).await.status().as_u16() }
    }));
    let cancels = join_all(cancelled.iter().map(|order| app.cancel(42, &order["id"])));
    let passes = join_all((0..2).map(|_| app.reconcile()));
    let (payments, cancels, _) = tokio::join!(payments, cancels, passes);
    app.reconcile().await; // the releases of whatever expired last

    let mut kept = 0;
    for (order, answer) in paid.iter().zip(payments) {
        let status = detail(app, 42, order).await["status"].clone();
        match answer {
            200 => {
                assert_eq!(status, "PAID");
                kept += 1;
            }
            409 => assert_eq!(status, "EXPIRED"),
            other => panic!("payment answered {other}"),
        }
    }
    for (order, answer) in cancelled.iter().zip(cancels) {
        let status = detail(app, 42, order).await["status"].clone();
        match answer.status().as_u16() {
            200 => assert_eq!(status, "CANCELLED"),
            409 => assert_eq!(status, "EXPIRED"),
            other => panic!("cancel answered {other}"),
        }
    }
    assert_eq!(app.count("orders WHERE status = 'CREATED'"), 0);
    assert_eq!(app.count("pending_releases"), 0);
    assert_eq!(
        app.catalog.stock(5).await,
        stock - kept,
        "each unit back once"
    );
}

/// The expiry and its releases are one transaction; the releases are then
/// tried. When the Catalog refuses them, they stay owed, and a later pass
/// gives the stock back: nothing is lost, nothing released twice.
async fn a_pass_whose_releases_fail_is_finished_by_the_next(backend: Backend) {
    let app = spawn_app_with(with_deadline(backend)).await;
    let stock = app.catalog.stock(2).await;
    let order = app.create(42, &[(2, 2), (3, 1)]).await;
    tokio::time::sleep(PAST_DEADLINE).await;
    app.catalog.set_faults(json!({"release_status": 503})).await;
    let first = app.reconcile().await;
    assert_eq!(first["expired_orders"], 1, "{first}");
    assert_eq!(first["failed"], 2, "{first}");
    assert_eq!(detail(&app, 42, &order).await["status"], "EXPIRED");
    assert_eq!(app.catalog.stock(2).await, stock - 2);
    assert_eq!(app.count("pending_releases"), 2);

    app.catalog.set_faults(json!({})).await;
    let next = app.reconcile().await;
    assert_eq!(next["expired_orders"], 0, "{next}");
    assert_eq!(next["released"], 2, "{next}");
    assert_eq!(app.catalog.stock(2).await, stock);
    assert_eq!(app.count("pending_releases"), 0);
}
