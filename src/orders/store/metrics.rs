//! What only this service knows, for `GET /orders/admin/metrics`: one
//! statement per backend, each part read through an index (the plans are
//! checked by tests/api/metrics.rs). Orders by status come from the
//! counts kept by triggers (migrations: SQLite 0012, PostgreSQL 0009); the
//! other parts count backlogs, bounded by what is owed or retained, never
//! the orders themselves.

use super::rows::Columns;
use super::sql::{sqlite_now, Sql};
use super::{Run, Store, StoreError};

/// Age in seconds of a stored time (SQLite's RFC 3339 text).
macro_rules! sqlite_age {
    ($column:literal) => {
        concat!(
            "CAST(strftime('%s', 'now') - strftime('%s', ",
            $column,
            ") AS INTEGER)"
        )
    };
}

/// The statement of [`Store::gauges`] in SQLite's dialect (public for the
/// plan tests, as [`GAUGES_POSTGRES`]).
pub const GAUGES_SQLITE: &str = concat!(
    "SELECT 'orders', status, sum(orders) FROM order_status_counts GROUP BY status \
         UNION ALL SELECT 'releases_owed', '', count(*) FROM pending_releases \
         UNION ALL SELECT 'releases_owed_oldest', '', coalesce((SELECT ",
    sqlite_age!("created_at"),
    " FROM pending_releases WHERE id = (SELECT min(id) FROM pending_releases)), 0) \
         UNION ALL SELECT 'intents_expired', '', count(*) FROM stock_intents \
         WHERE lease_until < ",
    sqlite_now!(),
    " UNION ALL SELECT 'events_unpublished', '', count(*) FROM events \
         WHERE published_at IS NULL \
         UNION ALL SELECT 'events_unpublished_oldest', '', coalesce((SELECT ",
    sqlite_age!("created_at"),
    " FROM events WHERE published_at IS NULL ORDER BY published_at, id LIMIT 1), 0) \
         UNION ALL SELECT 'refunds_owed', '', (SELECT count(*) FROM payments \
         WHERE outcome = 'refund_required' AND refunded_at IS NULL) + (SELECT count(*) FROM payments \
         WHERE refund_required_at IS NOT NULL AND refunded_at IS NULL) \
         UNION ALL SELECT 'refunds_owed_oldest', '', max(coalesce((SELECT ",
    sqlite_age!("created_at"),
    " FROM payments WHERE outcome = 'refund_required' AND refunded_at IS NULL ORDER BY created_at LIMIT 1), 0), \
         coalesce((SELECT ",
    sqlite_age!("refund_required_at"),
    " FROM payments WHERE refund_required_at IS NOT NULL AND refunded_at IS NULL \
         ORDER BY refund_required_at LIMIT 1), 0)) \
         UNION ALL SELECT 'idempotency_keys', '', count(*) FROM idempotency_keys"
);
pub const GAUGES_POSTGRES: &str =
    "SELECT 'orders', status, sum(orders)::bigint FROM order_status_counts GROUP BY status \
     UNION ALL SELECT 'releases_owed', '', count(*) FROM pending_releases \
     UNION ALL SELECT 'releases_owed_oldest', '', coalesce((SELECT \
     extract(epoch FROM now() - created_at)::bigint FROM pending_releases \
     WHERE id = (SELECT min(id) FROM pending_releases)), 0) \
     UNION ALL SELECT 'intents_expired', '', count(*) FROM stock_intents \
     WHERE lease_until < now() \
     UNION ALL SELECT 'events_unpublished', '', count(*) FROM events \
     WHERE published_at IS NULL \
     UNION ALL SELECT 'events_unpublished_oldest', '', coalesce((SELECT \
     extract(epoch FROM now() - created_at)::bigint FROM events \
     WHERE published_at IS NULL ORDER BY published_at, id LIMIT 1), 0) \
     UNION ALL SELECT 'refunds_owed', '', (SELECT count(*) FROM payments \
     WHERE outcome = 'refund_required' AND refunded_at IS NULL) + (SELECT count(*) FROM payments \
     WHERE refund_required_at IS NOT NULL AND refunded_at IS NULL) \
     UNION ALL SELECT 'refunds_owed_oldest', '', greatest(coalesce((SELECT \
     extract(epoch FROM now() - created_at)::bigint FROM payments \
     WHERE outcome = 'refund_required' AND refunded_at IS NULL ORDER BY created_at LIMIT 1), 0), \
     coalesce((SELECT extract(epoch FROM now() - refund_required_at)::bigint FROM payments \
     WHERE refund_required_at IS NOT NULL AND refunded_at IS NULL ORDER BY refund_required_at LIMIT 1), 0)) \
     UNION ALL SELECT 'idempotency_keys', '', count(*) FROM idempotency_keys";
const READ_GAUGES: Sql = Sql::fixed(GAUGES_SQLITE, GAUGES_POSTGRES);

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
    pub idempotency_keys: i64,
}

impl Store {
    /// Reads every gauge in one statement.
    pub fn gauges(&self) -> Result<Gauges, StoreError> {
        let rows = self.rows(&READ_GAUGES, &[], |row: &dyn Columns| {
            let bad = || StoreError::Malformed("a gauge");
            Ok((
                row.text(0).ok_or_else(bad)?.to_owned(),
                row.text(1).unwrap_or_default().to_owned(),
                row.int(2).ok_or_else(bad)?,
            ))
        })?;
        let mut gauges = Gauges::default();
        for (name, label, value) in rows {
            let field = match name.as_str() {
                "orders" => {
                    gauges.orders_by_status.push((label, value));
                    continue;
                }
                "releases_owed" => &mut gauges.releases_owed,
                "releases_owed_oldest" => &mut gauges.releases_owed_oldest_seconds,
                "intents_expired" => &mut gauges.intents_expired,
                "events_unpublished" => &mut gauges.events_unpublished,
                "events_unpublished_oldest" => &mut gauges.events_unpublished_oldest_seconds,
                "refunds_owed" => &mut gauges.refunds_owed,
                "refunds_owed_oldest" => &mut gauges.refunds_owed_oldest_seconds,
                "idempotency_keys" => &mut gauges.idempotency_keys,
                _ => return Err(StoreError::Malformed("a gauge's name")),
            };
            *field = value;
        }
        Ok(gauges)
    }
}
