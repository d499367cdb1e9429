//! The service's own state as operators watch it (SPEC §3
//! "Observability"): what only this service knows, read by the metrics
//! endpoint.

/// The service's own state, as operators alert on it. Ages are in whole
/// seconds, 0 when nothing waits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gauges {
    /// `(status, orders)` for each status any order ever had.
    pub orders_by_status: Vec<(String, i64)>,
    pub releases_owed: i64,
    pub releases_owed_oldest_seconds: i64,
    /// Intents whose create died: stock the reconciler will give back.
    pub intents_expired: i64,
    pub events_unpublished: i64,
    pub events_unpublished_oldest_seconds: i64,
    /// Payments owed back and not yet refunded: refused confirmations
    /// (`refund_required`) and the payments of paid orders cancelled by
    /// their owner.
    pub refunds_owed: i64,
    pub refunds_owed_oldest_seconds: i64,
    /// Age of the oldest order waiting for payment (`CREATED`); how many
    /// wait is `orders_by_status`' `CREATED`.
    pub unpaid_orders_oldest_seconds: i64,
    pub idempotency_keys: i64,
}
