//! SPEC §3 order events: every state change records its event in the same
//! transaction, with a unique id, the order's next sequence number and the
//! data consumers need — on both backends. Here `events_redis_url` is
//! empty: events are recorded only, and the operator report shows the
//! backlog (publishing: `event_stream.rs`).

use crate::helpers::{order, spawn_app_on, token, Backend, TestApp};
use serde_json::{json, Value};

crate::on_both_backends!(each_change_records_its_event_in_order);

/// `(seq, type, payload)` of `order`'s events, and their ids.
fn events(app: &TestApp, order: &Value) -> (Vec<(i64, String, Value)>, Vec<String>) {
    let mut events = Vec::new();
    let mut ids = Vec::new();
    for event in app.stored_events(order["id"].as_i64().unwrap()) {
        assert!(!event.published, "not published");
        events.push((event.seq, event.kind, event.payload));
        ids.push(event.event_id);
    }
    (events, ids)
}

async fn each_change_records_its_event_in_order(backend: Backend) {
    let app = spawn_app_on(backend).await;

    // create → pay → a second payment (refused, to be refunded)
    let paid = app.create(42, &[(2, 2)]).await;
    let payment = |id: &str| json!({"payment_id": id, "order_id": paid["id"], "amount": "39.98", "currency": "EUR"});
    assert_eq!(app.confirm_payment(&payment("pay-a")).await.status(), 200);
    assert_eq!(
        app.confirm_payment(&payment("pay-a")).await.status(),
        200,
        "a repeat"
    );
    assert_eq!(app.confirm_payment(&payment("pay-b")).await.status(), 409);
    let (recorded, ids) = events(&app, &paid);
    let kinds: Vec<(i64, &str)> = recorded.iter().map(|(s, k, _)| (*s, k.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (1, "order.created"),
            (2, "order.paid"),
            (3, "payment.refund_required")
        ]
    );
    let created = &recorded[0].2;
    assert_eq!(created, &paid, "the order as the API answered it");
    assert_eq!(created["user_id"], 42);
    assert_eq!(created["total_amount"], "39.98");
    assert_eq!(created["items"], paid["items"]);
    assert_eq!(
        recorded[1].2,
        json!({"order_id": paid["id"], "payment_id": "pay-a", "amount": "39.98", "currency": "EUR"})
    );
    assert_eq!(recorded[2].2["reason"], "already_paid");
    assert_eq!(recorded[2].2["payment_id"], "pay-b");

    // create → cancel (twice: one event)
    let cancelled = app.create(7, &[(3, 1)]).await;
    assert_eq!(app.cancel(7, &cancelled["id"]).await.status(), 200);
    assert_eq!(app.cancel(7, &cancelled["id"]).await.status(), 200);
    let (recorded, more_ids) = events(&app, &cancelled);
    let kinds: Vec<&str> = recorded.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["order.created", "order.cancelled"]);
    assert_eq!(
        recorded[1].2,
        json!({"order_id": cancelled["id"], "user_id": 7, "stock_release": "requested"})
    );

    // Event ids are unique UUIDs.
    let all: Vec<&String> = ids.iter().chain(more_ids.iter()).collect();
    assert!(all.iter().all(|id| uuid_shaped(id)), "{all:?}");
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len());

    // A create refused by the Catalog changes nothing, so announces nothing.
    let refused = app.post_order(Some(&token(9)), &order(&[(4, 99)])).await;
    assert_eq!(refused.status(), 409);
    assert_eq!(app.count("events"), 5);

    // The operator sees the backlog.
    assert_eq!(app.reconcile().await["events_unpublished"], 5);
}

fn uuid_shaped(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4
}
