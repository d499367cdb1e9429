//! `GET /orders/admin/metrics`: what only this service knows, in the
//! Prometheus text exposition format (0.0.4), for alerting. Request rates
//! and latencies are Spin's and the gateway's to measure
//! (docs/operating.md, "Metrics"). Protected by the operator token like the other admin
//! paths, and off the gateway.
//!
//! Written by hand: nine gauges read in one statement per scrape have no
//! state to keep between requests, which is what metric libraries manage.

use super::error::ApiError;
use super::session::{authenticate_operator, dependencies};
use super::{AccessLog, Reply, RequestFacts};
use crate::domain::gauges::Gauges;
use crate::domain::order::OrderStatus;
use crate::orders::read;
use crate::orders::release::service_token_expiry;
use spin_sdk::http::Response;
use std::fmt::Write;
#[cfg(feature = "openapi")]
use {super::error as e, super::openapi::doc};

/// The exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg_attr(feature = "openapi", utoipa::path(
    get,
    path = "/orders/admin/metrics",
    operation_id = "metrics",
    tag = "operator",
    summary = "Operator: the service's own gauges, for Prometheus",
    description = "Orders by status, releases owed, expired intents, unpublished events, \
        refunds owed (counts and oldest ages) and stored Idempotency-Keys, read in one \
        indexed statement. Bearer `admin_token`, not a user JWT. Not routed by the gateway.",
    security(("adminToken" = [])),
    responses(
        (status = 200, body = String, content_type = "text/plain; version=0.0.4; charset=utf-8",
            description = "The service's gauges in the Prometheus text exposition format \
                0.0.4 (docs/operating.md)."),
        (status = 401, body = e::AuthenticationError, description = doc::OPERATOR_UNAUTHENTICATED),
        (status = 403, body = e::PermissionError, description = doc::OPERATOR_FORBIDDEN),
        (status = 503, body = e::UnavailableError, description = doc::DATABASE_UNAVAILABLE),
    ),
))]
pub async fn get(facts: &RequestFacts, access: &AccessLog) -> Result<Reply, ApiError> {
    let settings = authenticate_operator(facts)?;
    let deps = dependencies(facts, access, settings).await?;
    let gauges = read::gauges(&deps);
    deps.log_if_migrated();
    let token_expiry = service_token_expiry(&deps.settings.jwt, deps.request_id);
    let body = render(&gauges?, token_expiry);
    Ok(Response::builder()
        .status(200)
        .header("content-type", CONTENT_TYPE)
        .header("cache-control", "no-store")
        .body(body)
        .build()
        .into())
}

/// The exposition text: `# HELP`, `# TYPE` and the samples of each gauge
/// (the service token's expiry only when one is set).
pub fn render(gauges: &Gauges, service_token_expires_in: Option<i64>) -> String {
    let mut text = String::with_capacity(2048);
    let mut orders: Vec<(&str, i64)> = OrderStatus::ALL
        .iter()
        .map(|status| (status.as_str(), 0))
        .collect();
    for (status, count) in &gauges.orders_by_status {
        match orders.iter_mut().find(|(known, _)| known == status) {
            Some(entry) => entry.1 = *count,
            None => orders.push((status, *count)),
        }
    }
    family(
        &mut text,
        "order_service_orders",
        "Orders stored, by status.",
    );
    for (status, count) in orders {
        let _ = writeln!(
            text,
            "order_service_orders{{status=\"{}\"}} {count}",
            label_value(status)
        );
    }
    let single: [(&str, &str, i64); 9] = [
        (
            "order_service_releases_owed",
            "Stock releases owed to the Catalog, not yet confirmed.",
            gauges.releases_owed,
        ),
        (
            "order_service_releases_owed_oldest_age_seconds",
            "Age of the oldest release owed (0 when none).",
            gauges.releases_owed_oldest_seconds,
        ),
        (
            "order_service_intents_expired",
            "Reservation intents of creates that died, waiting for the reconciler to give their stock back.",
            gauges.intents_expired,
        ),
        (
            "order_service_events_unpublished",
            "Order events recorded and not yet published to the stream.",
            gauges.events_unpublished,
        ),
        (
            "order_service_events_unpublished_oldest_age_seconds",
            "Age of the oldest unpublished order event (0 when none).",
            gauges.events_unpublished_oldest_seconds,
        ),
        (
            "order_service_refunds_owed",
            "Payments owed back: refused confirmations and paid orders cancelled by their owner.",
            gauges.refunds_owed,
        ),
        (
            "order_service_refunds_owed_oldest_age_seconds",
            "Age of the oldest refund owed (0 when none).",
            gauges.refunds_owed_oldest_seconds,
        ),
        (
            "order_service_unpaid_orders_oldest_age_seconds",
            "Age of the oldest order waiting for payment (CREATED; 0 when none). How many wait: order_service_orders{status=\"CREATED\"}.",
            gauges.unpaid_orders_oldest_seconds,
        ),
        (
            "order_service_idempotency_keys",
            "Idempotency-Keys stored (kept for their retention window).",
            gauges.idempotency_keys,
        ),
    ];
    let token = service_token_expires_in.map(|seconds| {
        (
            "order_service_catalog_service_token_expires_in_seconds",
            "Seconds until catalog_service_token expires (negative: expired).",
            seconds,
        )
    });
    for (name, help, value) in single.into_iter().chain(token) {
        family(&mut text, name, help);
        let _ = writeln!(text, "{name} {value}");
    }
    text
}

fn family(text: &mut String, name: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}");
    let _ = writeln!(text, "# TYPE {name} gauge");
}

/// A label value as the format quotes it: `\`, `"` and newlines escaped.
fn label_value(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_shown_and_label_values_are_escaped() {
        let gauges = Gauges {
            orders_by_status: vec![("PAID".into(), 3), ("ODD\"\\\n".into(), 1)],
            releases_owed: 2,
            releases_owed_oldest_seconds: 61,
            ..Gauges::default()
        };
        let text = render(&gauges, None);
        assert!(
            text.contains("order_service_orders{status=\"CREATED\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("order_service_orders{status=\"PAID\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("order_service_orders{status=\"CANCELLED\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains(r#"order_service_orders{status="ODD\"\\\n"} 1"#),
            "{text}"
        );
        assert!(text.contains("order_service_releases_owed 2\n"), "{text}");
        assert!(text.contains("order_service_releases_owed_oldest_age_seconds 61\n"));
        assert_eq!(text.matches("# TYPE").count(), 10);
        let with_token = render(&gauges, Some(-5));
        assert!(with_token.contains("order_service_catalog_service_token_expires_in_seconds -5\n"));
    }
}
