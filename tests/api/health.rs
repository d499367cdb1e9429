use crate::helpers::{spawn_app, Calls};
use serde_json::json;

#[tokio::test]
async fn health_answers_without_auth_with_or_without_trailing_slash() {
    let app = spawn_app().await;
    for path in ["/orders/health/", "/orders/health"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap(),
            json!({"status": "order-service-up"})
        );
    }
    // Health touches neither the Catalog nor the database.
    assert_eq!(app.catalog.calls().await, Calls::NONE);
    assert!(!app.db_path().exists() || app.count("orders") == 0);
}
