//! `GET /orders/health/`: liveness, no auth, no database or Catalog call.

use serde::Serialize;
use spin_sdk::http::Response;

/// The service is up.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: Up,
}

/// Always `order-service-up`.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Up {
    #[serde(rename = "order-service-up")]
    Up,
}

#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/orders/health/",
    operation_id = "health",
    tag = "service",
    summary = "Liveness",
    security(),
    responses((status = 200, body = Health, description = "The service is up.")),
))]
pub fn get() -> Response {
    super::json_response(200, &Health { status: Up::Up }).build()
}
