//! SPEC §3 `GET /orders/openapi.json`: the document is served, documents
//! exactly the routes that are served, real responses — successes and
//! errors — match its schemas for their status, and the bodies the service
//! took match its request schemas. Every exchange is also
//! kept as a snapshot (status, the headers a client acts on, the body with
//! times redacted), the same for both backends: a change of what clients
//! see shows up in review as a snapshot diff (issue 34: only additions).

use crate::helpers::{json_body, order, spawn_app_on, token, Backend, TestApp, ADMIN_TOKEN};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// `~` and `/` escaped for a JSON pointer segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

struct Checker {
    doc: Value,
    exercised: BTreeSet<(String, String)>,
    /// Each exchange, in order, as the snapshot keeps it.
    exchanges: Vec<Value>,
    /// Bodies taken (2xx) that were checked against the request schema.
    requests_checked: usize,
}

/// The response headers a client acts on.
const SNAPSHOT_HEADERS: [&str; 7] = [
    "content-type",
    "location",
    "allow",
    "retry-after",
    "www-authenticate",
    "idempotent-replayed",
    "cache-control",
];

/// `value` with every time (a key ending in `_at`, or `at`), every
/// reservation id and every request id (random) redacted.
fn redact_times(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if (key.ends_with("_at") || key == "at") && inner.is_string() {
                    *inner = json!("[time]");
                } else if key == "reservation" && inner.is_string() {
                    *inner = json!("[reservation id]");
                } else if key == "request_id" && inner.is_string() {
                    *inner = json!("[request id]");
                } else {
                    redact_times(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_times),
        _ => {}
    }
}

impl Checker {
    /// Sends `request` for operation `method template`, checks that its
    /// status is documented there and that the body matches the schema.
    async fn check(
        &mut self,
        template: &str,
        method: Method,
        request: RequestBuilder,
    ) -> (u16, Value) {
        let (client, request) = request.build_split();
        let request = request.unwrap();
        let sent: Option<Value> = request
            .body()
            .and_then(|body| body.as_bytes())
            .and_then(|bytes| serde_json::from_slice(bytes).ok());
        let response = client.execute(request).await.unwrap();
        let status = response.status().as_u16();
        assert!(response.headers().contains_key("x-request-id"));
        let headers: serde_json::Map<String, Value> = SNAPSHOT_HEADERS
            .iter()
            .filter_map(|name| {
                let value = response.headers().get(*name)?.to_str().ok()?;
                Some((name.to_string(), json!(value)))
            })
            .collect();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let operation = format!(
            "/paths/{}/{}",
            escape(template),
            method.as_str().to_lowercase()
        );
        let documented = self
            .doc
            .pointer(&format!("{operation}/responses/{status}"))
            .unwrap_or_else(|| {
                panic!("{method} {template}: status {status} not documented: {body}")
            });
        let content = documented.get("content").and_then(Value::as_object);
        if let Some(other) = content.filter(|c| !c.contains_key("application/json")) {
            // Not JSON (the Prometheus text): the type is one documented.
            assert!(
                other.contains_key(&content_type) && !text.is_empty(),
                "{method} {template} {status}: {content_type} not in {other:?}"
            );
        } else if content.is_some() {
            let mut schema = self.doc.clone();
            // A URI fragment: `{`/`}` of path templates are percent-encoded.
            let pointer =
                format!("{operation}/responses/{status}/content/application~1json/schema")
                    .replace('{', "%7B")
                    .replace('}', "%7D");
            schema["$ref"] = json!(format!("#{pointer}"));
            let validator = jsonschema::draft202012::new(&schema).expect("the document compiles");
            let errors: Vec<String> = validator
                .iter_errors(&body)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{method} {template} {status}: {errors:?}\n{body}"
            );
        }
        // A body the service took matches the documented request schema
        // (those schemas are written for the document: this keeps them
        // true to what the parsers accept).
        let operation_pointer = operation.replace('{', "%7B").replace('}', "%7D");
        let request_schema =
            format!("#{operation_pointer}/requestBody/content/application~1json/schema");
        if let (true, Some(sent)) = ((200..300).contains(&status), &sent) {
            if self
                .doc
                .pointer(&format!("{operation}/requestBody"))
                .is_some()
            {
                let mut schema = self.doc.clone();
                schema["$ref"] = json!(request_schema);
                let validator =
                    jsonschema::draft202012::new(&schema).expect("the document compiles");
                let errors: Vec<String> =
                    validator.iter_errors(sent).map(|e| e.to_string()).collect();
                assert!(
                    errors.is_empty(),
                    "{method} {template}: the body taken does not match the request schema: \
                     {errors:?}\n{sent}"
                );
                self.requests_checked += 1;
            }
        }
        self.exercised
            .insert((template.to_owned(), method.to_string()));
        let mut shown = if template == "/orders/openapi.json" || template == "/orders/admin/metrics"
        {
            // The document and the exposition text have their own tests.
            json!("[not kept]")
        } else {
            body.clone()
        };
        redact_times(&mut shown);
        self.exchanges.push(json!({
            "operation": format!("{method} {template}"),
            "status": status,
            "headers": headers,
            "body": shown,
        }));
        (status, body)
    }
}

fn authed(app: &TestApp, method: Method, path: &str, user: i64) -> RequestBuilder {
    app.request(method, path).bearer_auth(token(user))
}

fn create(app: &TestApp, body: &str) -> RequestBuilder {
    authed(app, Method::POST, "/orders/orders/", 42)
        .header("content-type", "application/json")
        .body(body.to_owned())
}

crate::on_both_backends!(the_document_matches_the_routes_and_real_responses);

async fn the_document_matches_the_routes_and_real_responses(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let response = app.get("/orders/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc = json_body(response).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut checker = Checker {
        doc: doc.clone(),
        exercised: BTreeSet::new(),
        exchanges: Vec::new(),
        requests_checked: 0,
    };
    let c = &mut checker;
    exercise_public(c, &app).await;
    let created = exercise_create(c, &app).await;
    exercise_read(c, &app, &created).await;
    exercise_cancel(c, &app, &created).await;
    exercise_reconcile(c, &app).await;
    exercise_operator_list(c, &app).await;
    exercise_metrics(c, &app).await;
    exercise_settle(c, &app).await;
    exercise_payments(c, &app).await;
    exercise_fulfilments(c, &app).await;
    exercise_refunds(c, &app).await;

    // Every documented operation was exercised and answered as documented.
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.to_uppercase()))
        })
        .collect();
    assert_eq!(checker.exercised, documented);
    // Each operation with a request body had a taken body checked.
    assert!(
        checker.requests_checked >= 5,
        "{}",
        checker.requests_checked
    );
    // One snapshot for both backends: they answer alike.
    insta::assert_json_snapshot!("every_exchange", checker.exchanges);
}

/// `POST /orders/admin/releases/{id}/settle/`: a release owed by a cancel
/// against a Catalog without `/release/`, settled by hand.
async fn exercise_settle(c: &mut Checker, app: &TestApp) {
    app.catalog.set_faults(json!({"no_release": true})).await;
    let created = app.create(42, &[(3, 1)]).await;
    let cancel_path = format!("/orders/orders/{}/cancel/", created["id"]);
    let (status, cancelled) = c
        .check(
            "/orders/orders/{id}/cancel/",
            Method::POST,
            authed(app, Method::POST, &cancel_path, 42),
        )
        .await;
    assert_eq!(
        (status, cancelled["stock_release"].as_str()),
        (200, Some("pending"))
    );
    let release_id = app.pending_releases()[0].id;

    let settle = "/orders/admin/releases/{id}/settle/";
    let path = format!("/orders/admin/releases/{release_id}/settle/");
    let send = |body: &str| {
        app.request(Method::POST, &path)
            .bearer_auth(ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    let good = r#"{"outcome": "released_manually", "settled_by": "ops", "note": "Django admin"}"#;
    for (request, expected) in [
        (send(r#"{"outcome": "gone"}"#), 400),
        (send("{oops"), 400),
        (
            app.request(Method::POST, &path)
                .bearer_auth(ADMIN_TOKEN)
                .header("content-type", "text/plain")
                .body(good),
            415,
        ),
        (
            send(&format!(r#"{{"pad": "{}"}}"#, "x".repeat(70_000))),
            413,
        ),
        (authed(app, Method::POST, &path, 42), 403),
        (app.request(Method::POST, &path), 401),
        (send(good), 200),
        (send(good), 404),
    ] {
        assert_eq!(c.check(settle, Method::POST, request).await.0, expected);
    }
    app.catalog.set_faults(json!({})).await;
}

async fn exercise_public(c: &mut Checker, app: &TestApp) {
    c.check(
        "/orders/health/",
        Method::GET,
        app.request(Method::GET, "/orders/health/"),
    )
    .await;
    c.check(
        "/orders/openapi.json",
        Method::GET,
        app.request(Method::GET, "/orders/openapi.json"),
    )
    .await;
}

/// Every answer of create, successes and errors.
async fn exercise_create(c: &mut Checker, app: &TestApp) -> Value {
    let good = order(&[(1, 1), (2, 3)]).to_string();
    let orders = "/orders/orders/";
    let (status, created) = c
        .check(
            orders,
            Method::POST,
            create(app, &good).header("idempotency-key", "k"),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        c.check(
            orders,
            Method::POST,
            create(app, &good).header("idempotency-key", "k")
        )
        .await
        .0,
        201
    );
    assert_eq!(
        c.check(
            orders,
            Method::POST,
            create(app, &order(&[(1, 2)]).to_string()).header("idempotency-key", "k")
        )
        .await
        .0,
        422
    );
    assert_eq!(
        c.check(orders, Method::POST, create(app, r#"{"items": "x"}"#))
            .await
            .0,
        400
    );
    assert_eq!(
        c.check(orders, Method::POST, create(app, "{oops")).await.0,
        400
    );
    assert_eq!(
        c.check(
            orders,
            Method::POST,
            create(app, &order(&[(6, 1)]).to_string())
        )
        .await
        .0,
        400
    );
    assert_eq!(
        c.check(
            orders,
            Method::POST,
            create(app, &order(&[(4, 6)]).to_string())
        )
        .await
        .0,
        409
    );
    assert_eq!(
        c.check(
            orders,
            Method::POST,
            create(app, &good).header("idempotency-key", "bad key")
        )
        .await
        .0,
        400
    );
    assert_eq!(
        c.check(orders, Method::POST, app.request(Method::POST, orders))
            .await
            .0,
        401
    );
    assert_eq!(
        c.check(
            orders,
            Method::POST,
            authed(app, Method::POST, orders, 42).body("x")
        )
        .await
        .0,
        415
    );
    let huge = format!(r#"{{"items": [], "pad": "{}"}}"#, "x".repeat(70_000));
    assert_eq!(
        c.check(orders, Method::POST, create(app, &huge)).await.0,
        413
    );
    app.catalog.set_faults(json!({"status": 500})).await;
    assert_eq!(
        c.check(orders, Method::POST, create(app, &good)).await.0,
        503
    );
    app.catalog.set_faults(json!({"garbage": true})).await;
    assert_eq!(
        c.check(orders, Method::POST, create(app, &good)).await.0,
        502
    );
    app.catalog.set_faults(json!({})).await;

    assert_eq!(
        c.check(
            orders,
            Method::GET,
            authed(app, Method::GET, "/orders/orders/?limit=1", 42)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        c.check(
            orders,
            Method::GET,
            authed(app, Method::GET, "/orders/orders/?limit=0", 42)
        )
        .await
        .0,
        400
    );
    assert_eq!(
        c.check(orders, Method::GET, app.request(Method::GET, orders))
            .await
            .0,
        401
    );

    created
}

async fn exercise_read(c: &mut Checker, app: &TestApp, created: &Value) {
    let one = "/orders/orders/{id}/";
    let path = format!("/orders/orders/{}/", created["id"]);
    assert_eq!(
        c.check(one, Method::GET, authed(app, Method::GET, &path, 42))
            .await
            .0,
        200
    );
    assert_eq!(
        c.check(one, Method::GET, authed(app, Method::GET, &path, 7))
            .await
            .0,
        404
    );
}

async fn exercise_cancel(c: &mut Checker, app: &TestApp, created: &Value) {
    let cancel = "/orders/orders/{id}/cancel/";
    let cancel_path = format!("/orders/orders/{}/cancel/", created["id"]);
    assert_eq!(
        c.check(
            cancel,
            Method::POST,
            authed(app, Method::POST, &cancel_path, 42)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        c.check(
            cancel,
            Method::POST,
            authed(app, Method::POST, &cancel_path, 7)
        )
        .await
        .0,
        404
    );
    // A paid order is cancelled too (its refund owed): 200, as documented.
    let paid = app.create(42, &[(5, 1)]).await;
    app.force_status(paid["id"].as_i64().unwrap(), "PAID");
    let paid_path = format!("/orders/orders/{}/cancel/", paid["id"]);
    assert_eq!(
        c.check(
            cancel,
            Method::POST,
            authed(app, Method::POST, &paid_path, 42)
        )
        .await
        .0,
        200
    );
}

async fn exercise_reconcile(c: &mut Checker, app: &TestApp) {
    let admin = "/orders/admin/reconcile/";
    assert_eq!(
        c.check(
            admin,
            Method::POST,
            app.request(Method::POST, admin).bearer_auth(ADMIN_TOKEN)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        c.check(admin, Method::POST, authed(app, Method::POST, admin, 42))
            .await
            .0,
        403
    );
    assert_eq!(
        c.check(admin, Method::POST, app.request(Method::POST, admin))
            .await
            .0,
        401
    );
}

/// `GET /orders/admin/orders/`: anyone's orders, for operators.
async fn exercise_operator_list(c: &mut Checker, app: &TestApp) {
    let path = "/orders/admin/orders/";
    let get = |query: &str| app.request(Method::GET, &format!("{path}?{query}"));
    for (request, expected) in [
        (
            get("limit=1&status=CREATED,CANCELLED").bearer_auth(ADMIN_TOKEN),
            200,
        ),
        (
            get("user_id=42&created_from=2026-01-01T00:00:00Z").bearer_auth(ADMIN_TOKEN),
            200,
        ),
        (get("status=nope").bearer_auth(ADMIN_TOKEN), 400),
        (authed(app, Method::GET, path, 42), 403),
        (get(""), 401),
    ] {
        assert_eq!(c.check(path, Method::GET, request).await.0, expected);
    }
    let list = "/orders/orders/";
    let filtered = authed(
        app,
        Method::GET,
        "/orders/orders/?status=CANCELLED&limit=1",
        42,
    );
    assert_eq!(c.check(list, Method::GET, filtered).await.0, 200);
    let bad = authed(app, Method::GET, "/orders/orders/?created_before=soon", 42);
    assert_eq!(c.check(list, Method::GET, bad).await.0, 400);
}

/// `GET /orders/admin/metrics`: the operator's, in the Prometheus format.
async fn exercise_metrics(c: &mut Checker, app: &TestApp) {
    let path = "/orders/admin/metrics";
    let get = || app.request(Method::GET, path);
    assert_eq!(
        c.check(path, Method::GET, get().bearer_auth(ADMIN_TOKEN))
            .await
            .0,
        200
    );
    assert_eq!(
        c.check(path, Method::GET, authed(app, Method::GET, path, 42))
            .await
            .0,
        403
    );
    assert_eq!(c.check(path, Method::GET, get()).await.0, 401);
}

/// `POST /orders/payments/`: signed by the Payment Service.
async fn exercise_payments(c: &mut Checker, app: &TestApp) {
    let path = "/orders/payments/";
    let order = app.create(42, &[(5, 10)]).await;
    let body = |amount: &str| {
        json!({"payment_id": format!("p-{amount}"), "order_id": order["id"], "amount": amount,
               "currency": "EUR"})
        .to_string()
    };
    let signed = |body: String| {
        let signature = crate::helpers::payment_signature(
            crate::helpers::PAYMENT_SECRET,
            crate::helpers::unix_now(),
            &body,
        );
        app.request(Method::POST, path)
            .header("content-type", "application/json")
            .header("payment-signature", signature)
            .body(body)
    };
    for (request, expected) in [
        (signed(body("0.99")), 409),
        (signed(body("1.00")), 200),
        (signed(r#"{"payment_id": 1}"#.to_owned()), 400),
        (app.request(Method::POST, path).header("content-type", "application/json"), 401),
        (
            signed(
                json!({"payment_id": "p-x", "order_id": 999999, "amount": "1.00", "currency": "EUR"})
                    .to_string(),
            ),
            404,
        ),
    ] {
        assert_eq!(c.check(path, Method::POST, request).await.0, expected);
    }
}

/// A request to `path` signed with `secret` in `header`.
fn signed(app: &TestApp, path: &str, header: &str, secret: &str, body: Value) -> RequestBuilder {
    let body = body.to_string();
    let signature = crate::helpers::payment_signature(secret, crate::helpers::unix_now(), &body);
    app.request(Method::POST, path)
        .header("content-type", "application/json")
        .header(header, signature)
        .body(body)
}

/// A new order of user 42, paid.
async fn paid(app: &TestApp, payment_id: &str) -> i64 {
    let id = app.create(42, &[(5, 1)]).await["id"].as_i64().unwrap();
    let payment =
        json!({"payment_id": payment_id, "order_id": id, "amount": "0.10", "currency": "EUR"});
    assert_eq!(app.confirm_payment(&payment).await.status(), 200);
    id
}

/// `POST /orders/fulfilments/`, and a shipped order's cancel (409).
async fn exercise_fulfilments(c: &mut Checker, app: &TestApp) {
    let path = "/orders/fulfilments/";
    let id = paid(app, "p-ship").await;
    let update = |event: &str, status: &str| {
        signed(
            app,
            path,
            "fulfilment-signature",
            crate::helpers::FULFILMENT_SECRET,
            json!({"event_id": event, "order_id": id, "status": status, "carrier": "DHL",
                   "tracking_reference": "JD014600003SE"}),
        )
    };
    for (request, expected) in [
        (update("f-1", "DELIVERED"), 409),
        (update("f-2", "SHIPPED"), 200),
        (update("f-2", "DELIVERED"), 422),
        (update("f-3", "DELIVERED"), 200),
        (update("f-4", "PAID"), 400),
        (
            app.request(Method::POST, path)
                .header("content-type", "application/json"),
            401,
        ),
    ] {
        assert_eq!(c.check(path, Method::POST, request).await.0, expected);
    }
    let missing = signed(
        app,
        path,
        "fulfilment-signature",
        crate::helpers::FULFILMENT_SECRET,
        json!({"event_id": "f-5", "order_id": 999999, "status": "DELIVERED"}),
    );
    assert_eq!(c.check(path, Method::POST, missing).await.0, 404);
    let cancel = "/orders/orders/{id}/cancel/";
    let cancel_path = format!("/orders/orders/{id}/cancel/");
    let refused = authed(app, Method::POST, &cancel_path, 42);
    assert_eq!(c.check(cancel, Method::POST, refused).await.0, 409);
    let shown = check_shown(c, app, id).await;
    assert_eq!(shown["timeline"].as_array().unwrap().len(), 4);
}

/// `GET /orders/orders/{id}/` of user 42's order `id`, checked: its body.
async fn check_shown(c: &mut Checker, app: &TestApp, id: i64) -> Value {
    let path = format!("/orders/orders/{id}/");
    let request = authed(app, Method::GET, &path, 42);
    let (status, shown) = c.check("/orders/orders/{id}/", Method::GET, request).await;
    assert_eq!(status, 200, "{shown}");
    shown
}

/// `POST /orders/refunds/`: a cancelled paid order's refund.
async fn exercise_refunds(c: &mut Checker, app: &TestApp) {
    let path = "/orders/refunds/";
    let id = paid(app, "p-refund").await;
    assert_eq!(app.cancel(42, &json!(id)).await.status(), 200);
    let refund = |refund_id: &str, amount: &str| {
        signed(
            app,
            path,
            "payment-signature",
            crate::helpers::PAYMENT_SECRET,
            json!({"refund_id": refund_id, "payment_id": "p-refund", "order_id": id,
                   "amount": amount, "currency": "EUR"}),
        )
    };
    for (request, expected) in [
        (refund("r-1", "0.09"), 409),
        (refund("r-1", "0.10"), 200),
        (refund("r-1", "0.11"), 422),
        (refund("r-bad id", "0.10"), 400),
        (
            app.request(Method::POST, path)
                .header("content-type", "application/json"),
            401,
        ),
    ] {
        assert_eq!(c.check(path, Method::POST, request).await.0, expected);
    }
    let missing = signed(
        app,
        path,
        "payment-signature",
        crate::helpers::PAYMENT_SECRET,
        json!({"refund_id": "r-2", "payment_id": "p-none", "order_id": id, "amount": "0.10",
               "currency": "EUR"}),
    );
    assert_eq!(c.check(path, Method::POST, missing).await.0, 404);
    assert_eq!(check_shown(c, app, id).await["refund"], "refunded");
}
