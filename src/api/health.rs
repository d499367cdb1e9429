//! `GET /orders/health/`: liveness, no auth, no database or Catalog call.

use spin_sdk::http::Response;

pub fn get() -> Response {
    super::json_response(200, &serde_json::json!({"status": "order-service-up"})).build()
}
