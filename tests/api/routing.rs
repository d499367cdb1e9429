use crate::helpers::{json_body, order, spawn_app, spawn_app_on, token, Backend};
use reqwest::Method;

#[tokio::test]
async fn unknown_paths_are_404_json_even_without_auth() {
    let app = spawn_app().await;
    for path in ["/orders/", "/orders/unknown/", "/orders/orders/1/extra/x/"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let body = json_body(response).await;
        assert_eq!(body["code"], "not_found", "{path}");
        assert!(body["detail"].is_string());
    }
}

#[tokio::test]
async fn other_methods_are_405_with_allow_before_authentication() {
    let app = spawn_app().await;
    let cases = [
        (Method::DELETE, "/orders/health/", "GET"),
        (Method::POST, "/orders/health", "GET"),
        (Method::PUT, "/orders/orders/", "GET, POST"),
        (Method::PATCH, "/orders/orders", "GET, POST"),
        (Method::DELETE, "/orders/orders/1/", "GET"),
        (Method::GET, "/orders/orders/1/cancel/", "POST"),
        (Method::GET, "/orders/admin/reconcile", "POST"),
    ];
    for (method, path, allow) in cases {
        let response = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow);
        assert_eq!(json_body(response).await["code"], "method_not_allowed");
    }
}

crate::on_both_backends!(every_response_carries_a_request_id_and_the_catalog_gets_it);

async fn every_response_carries_a_request_id_and_the_catalog_gets_it(backend: Backend) {
    let app = spawn_app_on(backend).await;

    // A new id when the client sends none.
    let generated = app.get("/orders/health/").await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(generated.len() >= 16);
    let again = app.get("/orders/health/").await.headers()["x-request-id"].clone();
    assert_ne!(generated, again.to_str().unwrap());

    // The incoming id is kept, on success and on errors, and sent to the Catalog.
    let response = app
        .request(Method::POST, "/orders/orders/")
        .header("x-request-id", "req-abc-123")
        .bearer_auth(token(42))
        .json(&order(&[(1, 1)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-request-id"], "req-abc-123");
    let seen = app.catalog.state().await["calls"]["request_ids"].clone();
    assert_eq!(seen, serde_json::json!(["req-abc-123", "req-abc-123"]));

    let response = app
        .request(Method::GET, "/orders/nowhere/")
        .header("x-request-id", "req-404")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-404");

    // An id that could inject into logs is replaced.
    let response = app
        .request(Method::GET, "/orders/health/")
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "bad id with spaces");
}
