//! SPEC §6: the service behind the real NGINX gateway, using the project's
//! `deploy/nginx/nginx.conf` with only addresses and paths rewritten.
//! `./dev test` installs Debian's nginx when it is missing.

use crate::helpers::{
    customer_client, eventually, json_body, nginx_binary, order, post_order_to, spawn_app,
    spawn_app_on, spawn_app_with, token, AppOptions, Backend, CatalogKind, Gateway, RedisServer,
};
use futures::future::join_all;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

crate::on_both_backends!(the_gateway_limits_order_creation_per_client);

/// SPEC §3 "Stock nobody pays for": the gateway limits order creation per
/// client address (10 a second, bursts of 20 at once); over it, 429 in the
/// service's error shape with `Retry-After`, and the service never sees
/// the request. Other clients, reads and other routes are not limited.
async fn the_gateway_limits_order_creation_per_client(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let gateway = Gateway::start(nginx_binary(), &app.address).await;
    let creates = format!("{}/orders/orders/", gateway.url);
    // An order of customer 42, placed from another address.
    let placed = customer_client(142)
        .build()
        .unwrap()
        .post(&creates)
        .bearer_auth(token(42))
        .json(&order(&[(5, 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let held = json_body(placed).await;
    let one = customer_client(42).build().unwrap();
    // 30 creates at once. Their bodies are refused by the service (400,
    // no items): what passes the gateway costs it no write, so the count
    // depends on the gateway alone, however loaded the machine.
    let answers = join_all((0..30).map(|_| {
        one.post(&creates)
            .bearer_auth(token(42))
            .json(&serde_json::json!({"items": []}))
            .send()
    }))
    .await;
    let mut passed: usize = 0;
    let mut throttled = 0;
    for answer in answers {
        let answer = answer.unwrap();
        match answer.status().as_u16() {
            400 => {
                passed += 1;
                assert_eq!(json_body(answer).await["code"], "invalid");
            }
            429 => {
                throttled += 1;
                assert_eq!(answer.headers()["retry-after"], "1");
                assert!(answer.headers().contains_key("x-request-id"));
                let body = json_body(answer).await;
                assert_eq!(body["code"], "throttled", "{body}");
                assert!(body["detail"].as_str().unwrap().contains("throttled"));
            }
            other => panic!("{other}: {}", answer.text().await.unwrap()),
        }
    }
    // The first and a burst of 20 at once, perhaps one more refilled.
    assert!((21..=23).contains(&passed), "{passed} passed");
    assert_eq!(passed + throttled, 30);
    let posts = || {
        app.request_logs()
            .iter()
            .filter(|line| line["method"] == "POST")
            .count()
    };
    // The service's access lines follow its answers.
    eventually(Duration::from_secs(2), || async { posts() > passed }).await;
    assert_eq!(
        posts(),
        passed + 1,
        "a throttled create never reached the service (one placed before)"
    );

    // Another client is not limited by this one, …
    let other = customer_client(43)
        .build()
        .unwrap()
        .post(&creates)
        .bearer_auth(token(43))
        .json(&order(&[(5, 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
    // … nor are this client's reads and other routes.
    for _ in 0..25 {
        let listed = one
            .get(&creates)
            .bearer_auth(token(42))
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 200);
    }
    let id = &held["id"];
    let cancelled = one
        .post(format!("{creates}{id}/cancel/"))
        .bearer_auth(token(42))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    // A moment later the bucket has refilled: the client may create again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = one
        .post(&creates)
        .bearer_auth(token(42))
        .json(&order(&[(5, 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
}

/// W3C Trace Context through the gateway (issue 22): a client's
/// `traceparent` reaches the service untouched; without one, NGINX starts
/// the trace from its `$request_id` (health only: no storage).
#[tokio::test]
async fn the_gateway_passes_a_trace_on_or_starts_one() {
    let app = spawn_app().await;
    let gateway = Gateway::start(nginx_binary(), &app.address).await;
    let client = reqwest::Client::new();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let passed = client
        .get(format!("{}/orders/health/", gateway.url))
        .header("x-request-id", "traced-through-the-gateway")
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(passed.status(), 200);
    let started = client
        .get(format!("{}/orders/health/", gateway.url))
        .send()
        .await
        .unwrap();
    let nginx_request_id = started.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let line = |request_id: String| {
        let app = &app;
        async move {
            let mut found = None;
            for _ in 0..50 {
                found = app
                    .request_logs()
                    .into_iter()
                    .find(|line| line["request_id"] == request_id.as_str());
                if found.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            found.expect("the service's access line")
        }
    };
    let passed = line("traced-through-the-gateway".to_owned()).await;
    assert_eq!(passed["trace_id"], trace, "{passed}");
    assert_eq!(passed["parent_span_id"], parent, "{passed}");
    let started = line(nginx_request_id.clone()).await;
    assert_eq!(started["trace_id"], nginx_request_id.as_str(), "{started}");
    assert_eq!(
        started["parent_span_id"],
        &nginx_request_id[16..],
        "the gateway's span: {started}"
    );
}

/// On SQLite (one instance); PostgreSQL through the gateway is
/// `postgres::two_instances_behind_the_gateway_share_one_database_safely`
/// and the Django-Catalog flow below, on both.
#[tokio::test]
async fn orders_flow_through_the_nginx_gateway() {
    let nginx = nginx_binary();
    let mut app = spawn_app().await;
    let gateway = Gateway::start(nginx, &app.address).await;
    let client = reqwest::Client::new();

    let health = client
        .get(format!("{}/orders/health/", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let generated_id = health.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated_id.len(), 32, "NGINX's $request_id");

    // Create through the gateway; the id the client sent reaches the
    // service and the Catalog and comes back.
    let created = client
        .post(format!("{}/orders/orders/", gateway.url))
        .bearer_auth(token(42))
        .header("x-request-id", "through-the-gateway-1")
        .json(&order(&[(1, 2)]))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["x-request-id"], "through-the-gateway-1");
    assert!(created.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/orders/orders/"));
    assert_eq!(json_body(created).await["total_amount"], "1999.98");
    let seen = app.catalog.state().await["calls"]["request_ids"].clone();
    assert!(seen
        .as_array()
        .unwrap()
        .iter()
        .all(|id| id == "through-the-gateway-1"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(app
        .request_logs()
        .iter()
        .any(|l| l["request_id"] == generated_id && l["path"] == "/orders/health/"));

    // The caller's list, through the gateway (its `next` is a gateway path too).
    let list = client
        .get(format!("{}/orders/orders/?limit=1", gateway.url))
        .bearer_auth(token(42))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let list = json_body(list).await;
    assert_eq!(list["results"][0]["total_amount"], "1999.98");
    assert_eq!(list["next"], serde_json::Value::Null);

    // The operator endpoints are not reachable from outside, even with
    // their token: neither the pass nor the metrics.
    for (method, path) in [
        (reqwest::Method::POST, "/orders/admin/reconcile/"),
        (reqwest::Method::GET, "/orders/admin/metrics"),
    ] {
        let admin = client
            .request(method, format!("{}{path}", gateway.url))
            .bearer_auth(crate::helpers::ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(admin.status(), 404, "{path}");
        assert_eq!(json_body(admin).await["code"], "not_found");
    }
    // Nor are the Payment and Fulfilment Services' endpoints, with or
    // without the trailing slash the service accepts.
    for path in [
        "/orders/payments/",
        "/orders/payments",
        "/orders/refunds/",
        "/orders/refunds",
        "/orders/fulfilments/",
        "/orders/fulfilments",
        "/orders/admin/metrics/",
    ] {
        let peer = client
            .post(format!("{}{path}", gateway.url))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(peer.status(), 404, "{path}");
        assert_eq!(json_body(peer).await["code"], "not_found", "{path}");
    }

    // The service's own errors pass through unchanged.
    let unauthenticated = client
        .request(Method::POST, format!("{}/orders/orders/", gateway.url))
        .json(&order(&[(1, 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(
        json_body(unauthenticated).await["code"],
        "not_authenticated"
    );

    // The gateway's own errors are JSON too.
    let elsewhere = client
        .get(format!("{}/admin/", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
    assert_eq!(json_body(elsewhere).await["code"], "not_found");
    let huge = client
        .post(format!("{}/orders/orders/", gateway.url))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(json_body(huge).await["code"], "request_too_large");

    app.stop_host().await;
    let down = client
        .get(format!("{}/orders/health/", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(down.status(), 502);
    assert!(down.headers().contains_key("x-request-id"));
    assert_eq!(json_body(down).await["code"], "bad_gateway");
}

crate::on_both_backends!(a_create_through_the_gateway_against_the_django_catalog);

/// The system as a user meets it: a token minted by SimpleJWT, the
/// project's gateway in front of the service, the Catalog on Django, on
/// either database, and the order events reaching a real Redis stream.
async fn a_create_through_the_gateway_against_the_django_catalog(backend: Backend) {
    let redis = RedisServer::start();
    let app = spawn_app_with(AppOptions {
        catalog: CatalogKind::Django { release: false },
        backend,
        variables: redis.variables(),
        ..Default::default()
    })
    .await;
    let gateway = Gateway::start(nginx_binary(), &app.address).await;
    let token = app.catalog.token(42).await;
    let created = post_order_to(&gateway.url, &token, &[(1, 2), (3, 5)]).await;
    assert_eq!(created.status(), 201);
    let body = json_body(created).await;
    assert_eq!(body["total_amount"], "2247.48");
    assert_eq!(app.catalog.stock(1).await, 8);
    assert_eq!(app.catalog.stock(3).await, 20);

    // Cancelled through the gateway: Django has no release endpoint, so
    // the stock stays owed (pending), and the stream tells the story.
    let cancelled = reqwest::Client::new()
        .post(format!(
            "{}/orders/orders/{}/cancel/",
            gateway.url, body["id"]
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    assert_eq!(json_body(cancelled).await["stock_release"], "pending");
    assert!(
        eventually(Duration::from_secs(10), || async {
            redis.entries("orders.events").len() == 2
        })
        .await,
        "both events published after their responses"
    );
    let entries = redis.entries("orders.events");
    let kinds: Vec<&str> = entries.iter().map(|e| e.field("type")).collect();
    assert_eq!(kinds, ["order.created", "order.cancelled"]);
    let payload: serde_json::Value = serde_json::from_str(entries[0].field("payload")).unwrap();
    assert_eq!(payload, body, "the order as the user was answered");
}

crate::on_both_backends!(an_order_lives_its_whole_life_through_the_gateway_against_django);

/// Issue 24's two flows as the system runs them: the user through the
/// gateway with SimpleJWT tokens, the Django Catalog (with the release
/// endpoint), the Payment and Fulfilment Services calling the service
/// directly (the gateway hides their endpoints), and a real Redis stream.
/// create → pay → ship → deliver; create → pay → cancel → refund.
async fn an_order_lives_its_whole_life_through_the_gateway_against_django(backend: Backend) {
    let redis = RedisServer::start();
    let app = spawn_app_with(AppOptions {
        catalog: CatalogKind::Django { release: true },
        backend,
        variables: redis.variables(),
        ..Default::default()
    })
    .await;
    let gateway = Gateway::start(nginx_binary(), &app.address).await;
    let token = app.catalog.token(42).await;
    let client = reqwest::Client::new();
    let (laptops, keyboards) = (app.catalog.stock(1).await, app.catalog.stock(3).await);

    // Delivered: two laptops leave the stock for good.
    let shipped = json_body(post_order_to(&gateway.url, &token, &[(1, 2)]).await).await;
    let shipped_id = shipped["id"].as_i64().unwrap();
    let pay = |id: i64, payment_id: &str, amount: &str| json!({"payment_id": payment_id, "order_id": id, "amount": amount, "currency": "EUR"});
    assert_eq!(
        app.confirm_payment(&pay(shipped_id, "pay-a", "1999.98"))
            .await
            .status(),
        200
    );
    let ship = json!({"event_id": "ful-a", "order_id": shipped_id, "status": "SHIPPED",
                      "carrier": "DHL", "tracking_reference": "JD014600003SE"});
    assert_eq!(app.fulfil(&ship).await.status(), 200);
    let deliver = json!({"event_id": "ful-b", "order_id": shipped_id, "status": "DELIVERED"});
    assert_eq!(app.fulfil(&deliver).await.status(), 200);

    // Cancelled after payment: three keyboards come back, the payment is
    // owed and then refunded.
    let refunded = json_body(post_order_to(&gateway.url, &token, &[(3, 3)]).await).await;
    let refunded_id = refunded["id"].as_i64().unwrap();
    assert_eq!(
        app.confirm_payment(&pay(refunded_id, "pay-b", "148.50"))
            .await
            .status(),
        200
    );
    let cancel = |id: i64| {
        client
            .post(format!("{}/orders/orders/{id}/cancel/", gateway.url))
            .bearer_auth(&token)
            .send()
    };
    let cancelled = cancel(refunded_id).await.unwrap();
    assert_eq!(cancelled.status(), 200);
    assert_eq!(json_body(cancelled).await["stock_release"], "released");
    let refund = json!({"refund_id": "re-b", "payment_id": "pay-b", "order_id": refunded_id,
                        "amount": "148.50", "currency": "EUR"});
    assert_eq!(app.confirm_refund(&refund).await.status(), 200);
    // The delivered order cannot be cancelled through the gateway either.
    let refused = cancel(shipped_id).await.unwrap();
    assert_eq!(refused.status(), 409);
    assert_eq!(json_body(refused).await["status"], "DELIVERED");

    assert_eq!(app.catalog.stock(1).await, laptops - 2);
    assert_eq!(app.catalog.stock(3).await, keyboards, "all three came back");
    let shown = |id: i64| {
        client
            .get(format!("{}/orders/orders/{id}/", gateway.url))
            .bearer_auth(&token)
            .send()
    };
    let delivered = json_body(shown(shipped_id).await.unwrap()).await;
    let statuses: Vec<&str> = delivered["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["CREATED", "PAID", "SHIPPED", "DELIVERED"]);
    assert_eq!(
        json_body(shown(refunded_id).await.unwrap()).await["refund"],
        "refunded"
    );

    // The stream: each order's events in order, nothing else.
    assert!(
        eventually(Duration::from_secs(10), || async {
            redis.entries("orders.events").len() == 9
        })
        .await,
        "{:?}",
        redis.entries("orders.events")
    );
    let entries = redis.entries("orders.events");
    let of = |id: i64| -> Vec<String> {
        entries
            .iter()
            .filter(|e| {
                let payload: Value = serde_json::from_str(e.field("payload")).unwrap();
                payload["order_id"] == id || payload["id"] == id
            })
            .map(|e| e.field("type").to_owned())
            .collect()
    };
    assert_eq!(
        of(shipped_id),
        [
            "order.created",
            "order.paid",
            "order.shipped",
            "order.delivered"
        ]
    );
    assert_eq!(
        of(refunded_id),
        [
            "order.created",
            "order.paid",
            "order.cancelled",
            "payment.refund_required",
            "payment.refunded"
        ]
    );
}
