//! Server-side failures: every 5xx answer writes exactly one error line,
//! carrying its request id and the cause, and its body says nothing
//! internal.

use crate::helpers::{order, spawn_app_on, token, Backend, TestApp};
use serde_json::{json, Value};

crate::on_both_backends!(every_5xx_writes_exactly_one_error_line_with_its_request_id,);

/// Sends a create with `request_id`; returns the status and the error
/// lines the service wrote for it.
async fn create_as(app: &TestApp, request_id: &str, items: &[(i64, i64)]) -> (u16, Vec<Value>) {
    let response = app
        .request(reqwest::Method::POST, "/orders/orders/")
        .bearer_auth(token(42))
        .header("x-request-id", request_id)
        .json(&order(items))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("HTTP ") && !body.contains("SQLite") && !body.contains("no such table"),
        "{body}"
    );
    let errors = app
        .stderr
        .json_lines()
        .into_iter()
        .filter(|line| line["request_id"] == request_id && line["level"] == "error")
        .collect();
    (status, errors)
}

async fn every_5xx_writes_exactly_one_error_line_with_its_request_id(backend: Backend) {
    let app = spawn_app_on(backend).await;

    // Two reservations fail: one line, not one per Catalog call.
    app.catalog
        .set_faults(json!({"reserve_status": {"1": 503, "2": 503}}))
        .await;
    let (status, errors) = create_as(&app, "five-0-3", &[(1, 1), (2, 1)]).await;
    assert_eq!(status, 503);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["code"], "catalog_unavailable");
    assert!(errors[0]["cause"].as_str().unwrap().contains("HTTP 503"));

    app.catalog.set_faults(json!({"garbage": true})).await;
    let (status, errors) = create_as(&app, "five-0-2", &[(1, 1)]).await;
    assert_eq!(status, 502);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["code"], "catalog_bad_response");

    // Storage that breaks after the reservation: 500, one line, stock back.
    app.catalog.set_faults(json!({})).await;
    app.drop_table("order_items");
    let (status, errors) = create_as(&app, "five-0-0", &[(3, 2)]).await;
    assert_eq!(status, 500);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["code"], "internal_error");
    assert!(
        errors[0]["cause"]
            .as_str()
            .unwrap()
            .contains(match backend {
                Backend::Sqlite => "no such table",
                Backend::Postgres => "does not exist",
            }),
        "{errors:?}"
    );
    assert_eq!(
        app.catalog.stock(3).await,
        25,
        "the reservation was released"
    );

    // And the 4xx answers write none.
    let (status, errors) = create_as(&app, "four-0-9", &[(4, 99)]).await;
    assert_eq!(status, 409);
    assert!(errors.is_empty(), "{errors:?}");
}
