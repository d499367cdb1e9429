//! SPEC §3/§4 "no stock is ever lost": releases that fail now happen later,
//! exactly once; a create that dies between reserving and saving leaves an
//! intent that gives the stock back; the operator endpoint drains and
//! reports, and only the operator can call it.

use crate::helpers::{
    eventually, json_body, order, spawn_app_on, spawn_app_with, token, AppOptions, Backend,
    SettledAudit, TestApp, ADMIN_TOKEN,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::on_both_backends!(
    a_create_killed_between_reserving_and_saving_gives_its_stock_back,
    without_a_release_endpoint_releases_stay_visible_to_the_operator,
    only_the_operator_token_reaches_the_reconcile_endpoint,
    an_operator_settlement_is_audited_and_refused_while_a_release_runs,
);

crate::on_both_backends!(
    a_release_that_failed_is_made_later_exactly_once,
    a_create_whose_intent_was_taken_over_writes_no_order,
);

/// Starts user 42's create of 3 × product 1 and returns once its
/// reservation has reached the (slowed) Catalog; the answer is awaited
/// from the handle.
async fn create_waiting_at_the_catalog(
    app: &TestApp,
) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
    let request = app
        .client
        .post(format!("{}/orders/orders/", app.address))
        .header("content-type", "application/json")
        .bearer_auth(token(42))
        .body(order(&[(1, 3)]).to_string());
    let pending = tokio::spawn(async move { request.send().await });
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.catalog.calls().await.reserve == 1
        })
        .await
    );
    pending
}

/// The reconciler takes over an intent whose lease ran out while its
/// create was still reserving (here: the intent row is removed behind the
/// request's back, as the pass does): the create must not write its order
/// (the units are being given back), and says so with a 503.
async fn a_create_whose_intent_was_taken_over_writes_no_order(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog
        .set_faults(json!({"reserve_latency_ms": 500}))
        .await;
    let pending = create_waiting_at_the_catalog(&app).await;
    app.delete_intents();
    let response = pending.await.unwrap().unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(json_body(response).await["code"], "service_busy");
    assert_eq!(app.count("orders"), 0);
    assert_eq!(app.count("order_items"), 0);
    assert_eq!(app.count("events"), 0);
    assert_eq!(
        app.count("pending_releases"),
        0,
        "the release is the reconciler's"
    );
}

async fn a_release_that_failed_is_made_later_exactly_once(backend: Backend) {
    let app = spawn_app_on(backend).await;
    // Reserving product 3 fails, and the Catalog cannot take product 1 back yet.
    app.catalog
        .set_faults(json!({"reserve_status": {"3": 409}, "release_status": 503}))
        .await;
    let response = app
        .post_order(Some(&token(42)), &order(&[(1, 2), (3, 1)]))
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(app.catalog.stock(1).await, 8);
    assert_eq!(app.count("pending_releases"), 1);
    assert_eq!(
        app.count("stock_intents"),
        0,
        "the intent became the release"
    );

    // The Catalog is back. During the row's back-off a write finds nothing
    // due (the create's own statement answers that).
    app.catalog.set_faults(json!({})).await;
    app.create(42, &[(2, 1)]).await;
    // The row is due after its back-off; move it into the past rather than
    // wait. The next write request drains it after answering.
    app.make_releases_due();
    app.create(42, &[(2, 1)]).await;
    // Each pass logs its report when it ends.
    let passes = || -> Vec<Value> {
        app.stderr
            .events("reconciled")
            .into_iter()
            .map(|line| line["report"].clone())
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(5), || async {
            passes().iter().any(|report| report["released"] == 1)
        })
        .await,
        "drained after the response"
    );
    assert_eq!(app.count("pending_releases"), 0);
    assert_eq!(
        passes().len(),
        1,
        "only the write after the row came due ran a pass"
    );
    assert_eq!(app.catalog.stock(1).await, 10, "released once, not twice");
    assert_eq!(
        app.catalog.calls().await.release,
        2,
        "one failed try, one success"
    );

    // Nothing left: the operator's pass finds nothing to do.
    let report = app.reconcile().await;
    assert_eq!(report["attempted"], 0);
    assert_eq!(report["pending_total"], 0);
    assert_eq!(app.catalog.stock(1).await, 10);
}

async fn a_create_killed_between_reserving_and_saving_gives_its_stock_back(backend: Backend) {
    let mut app = spawn_app_with(AppOptions {
        backend,
        variables: vec![
            ("catalog_timeout_ms", "1000".into()),
            ("stock_intent_lease_seconds", "10".into()),
        ],
        ..Default::default()
    })
    .await;
    // The Catalog applies the reservation 300 ms after receiving it; the
    // host dies in between, so the order is never written.
    app.catalog
        .set_faults(json!({"reserve_latency_ms": 300}))
        .await;
    let pending = create_waiting_at_the_catalog(&app).await;
    app.restart().await; // SIGKILL mid-request, then a fresh host
    assert!(
        pending.await.unwrap().is_err(),
        "the client lost its answer"
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.catalog.stock(1).await == 7
        })
        .await,
        "the Catalog took the units"
    );
    assert_eq!(app.count("orders"), 0);
    assert_eq!(
        app.count("stock_intents"),
        1,
        "the durable record of the reservation"
    );

    // Within the lease the intent may still belong to a live request.
    let report = app.reconcile().await;
    assert_eq!(report["expired_intents"], 0);
    assert_eq!(app.catalog.stock(1).await, 7);

    // Once the lease has run out, a pass turns the intent into a release.
    app.catalog.set_faults(json!({})).await;
    let started = Instant::now();
    let report = loop {
        let report = app.reconcile().await;
        if report["expired_intents"] == 1 || started.elapsed() > Duration::from_secs(30) {
            break report;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(report["expired_intents"], 1);
    assert_eq!(report["released"], 1);
    assert_eq!(app.catalog.stock(1).await, 10);
    assert_eq!(app.count("stock_intents"), 0);
    assert_eq!(app.count("pending_releases"), 0);
    assert_eq!(app.reconcile().await["attempted"], 0, "released once");
    assert_eq!(app.catalog.stock(1).await, 10);
}

async fn without_a_release_endpoint_releases_stay_visible_to_the_operator(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog.set_faults(json!({"no_release": true})).await;
    let created = app.create(42, &[(1, 2)]).await;
    let cancel = app
        .send_as(
            42,
            Method::POST,
            &format!("/orders/orders/{}/cancel/", created["id"]),
        )
        .await;
    assert_eq!(cancel.status(), 200, "the cancel stands; the release waits");
    assert_eq!(json_body(cancel).await["status"], "CANCELLED");

    let report = app.reconcile().await;
    assert_eq!(report["attempted"], 1);
    assert_eq!(report["failed"], 1);
    assert_eq!(report["pending_total"], 1);
    let pending = &report["pending"][0];
    assert_eq!(pending["product_id"], 1);
    assert_eq!(pending["quantity"], 2);
    assert_eq!(pending["order_id"], created["id"]);
    assert_eq!(pending["reason"], "order_cancelled");
    assert!(pending["last_error"].as_str().unwrap().contains("404"));
    assert_eq!(pending["attempts"], 2);
    let logged = app
        .stderr
        .json_lines()
        .into_iter()
        .any(|l| l["event"] == "release_endpoint_missing" && l["quantity"] == 2);
    assert!(logged, "{:?}", app.stderr.lines());

    // Once the Catalog has the endpoint, the operator's next pass releases.
    app.catalog.set_faults(json!({})).await;
    let report = app.reconcile().await;
    assert_eq!(report["released"], 1);
    assert_eq!(report["pending_total"], 0);
    assert_eq!(app.catalog.stock(1).await, 10);
}

async fn only_the_operator_token_reaches_the_reconcile_endpoint(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let path = "/orders/admin/reconcile/";
    let anonymous = app.request(Method::POST, path).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    for credential in [token(42), "not-the-operator-token-at-all".to_owned()] {
        let response = app
            .request(Method::POST, path)
            .bearer_auth(credential)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(json_body(response).await["code"], "permission_denied");
    }
    assert_eq!(app.reconcile().await["pending_total"], 0);
    // The scheme in any case, as for a user's token (RFC 9110).
    let lower_case = app
        .request(Method::POST, path)
        .header("authorization", format!("bearer {ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lower_case.status(), 200);

    let disabled = spawn_app_with(AppOptions {
        backend,
        variables: vec![("admin_token", String::new())],
        ..Default::default()
    })
    .await;
    let response = disabled
        .request(Method::POST, path)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        403,
        "no token configured: nobody gets in"
    );
}

async fn an_operator_settlement_is_audited_and_refused_while_a_release_runs(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog.set_faults(json!({"no_release": true})).await;
    let created = app.create(42, &[(1, 1), (2, 2)]).await;
    let cancelled = app.cancel(42, &created["id"]).await;
    assert_eq!(json_body(cancelled).await["stock_release"], "pending");
    let ids: Vec<i64> = app.pending_releases().iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 2);

    // A release some request is trying right now cannot be settled.
    app.hold_release_claim(ids[1]);
    let busy = app
        .settle_release(
            ids[1],
            json!({"outcome": "written_off", "settled_by": "ops", "note": "n"}),
        )
        .await;
    assert_eq!(busy.status(), 409);
    assert_eq!(json_body(busy).await["code"], "release_in_progress");

    let missing_fields = app
        .settle_release(ids[0], json!({"outcome": "written_off"}))
        .await;
    assert_eq!(missing_fields.status(), 400);
    let errors = json_body(missing_fields).await["errors"].clone();
    assert!(errors.get("settled_by").is_some() && errors.get("note").is_some());
    assert_eq!(
        app.count("pending_releases"),
        2,
        "nothing settled by a refusal"
    );

    let settled = app
        .settle_release(
            ids[0],
            json!({"outcome": "written_off", "settled_by": "alice", "note": "counted as lost"}),
        )
        .await;
    assert_eq!(settled.status(), 200);
    let body = json_body(settled).await;
    assert_eq!(body["outcome"], "written_off");
    assert_eq!(body["order_id"], created["id"]);
    assert_eq!(body["product_id"], 1);
    assert_eq!(
        app.settled_release(ids[0]),
        Some(SettledAudit {
            outcome: "written_off".into(),
            settled_by: "alice".into(),
            note: "counted as lost".into(),
            quantity: 1,
        })
    );
    assert_eq!(app.count("pending_releases"), 1);
    let logged = app
        .stderr
        .json_lines()
        .into_iter()
        .find(|line| line["event"] == "release_settled")
        .expect("a release_settled line");
    assert_eq!(logged["release"]["settled_by"], "alice");
    assert_eq!(logged["release"]["note"], "counted as lost");
    assert!(logged["release"]["settled_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
}
