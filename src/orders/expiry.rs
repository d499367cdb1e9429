//! Stock nobody pays for (SPEC §3): with `payment_deadline_seconds` set, a
//! `CREATED` order older than the deadline becomes `EXPIRED`. The status
//! rule is the domain's ([`OrderStatus::expires`]); here a batch of such
//! orders is taken under their locks and each is moved, with its
//! `order.expired` event, its timeline entry (source `system`) and the
//! releases of its stock, in one transaction. The releases are then tried
//! by the same reconciliation pass, like any release owed.
//!
//! No client waits for this: it runs in the follow-up after a write
//! request's response (when an order is past its deadline) and in the
//! operator's pass, which a scheduler calls where no traffic comes
//! (docs/operating.md).

use super::release;
use crate::domain::events::OrderEvent;
use crate::domain::order::{ChangeSource, OrderStatus};
use crate::domain::release::{EXPIRED_DETAIL, ORDER_EXPIRED};
use crate::store::{ReleaseClaim, Store, StoreError};
use std::time::Duration;

/// Expires up to `limit` orders past `deadline`, oldest first; how many.
/// Exactly once per order: an order is moved only from `CREATED`, under
/// its lock (another instance's pass skips it on PostgreSQL; SQLite's
/// writers take turns), so a payment or a cancel racing it either comes
/// first (the order is no longer `CREATED`) or finds it `EXPIRED`.
pub async fn expire_unpaid(
    store: &Store,
    deadline: Duration,
    limit: u32,
    request_id: &str,
    traceparent: &str,
) -> Result<usize, StoreError> {
    store
        .write(|tx| {
            let orders = tx.lock_expirable_orders(deadline.as_secs(), limit)?;
            // The statement selected CREATED orders; the rule is still the
            // domain's to state.
            let orders: Vec<_> = orders.iter().filter(|o| o.status.expires()).collect();
            for order in &orders {
                tx.append_event(
                    &OrderEvent::Expired {
                        order_id: order.id,
                        user_id: order.user_id.get(),
                    }
                    .record(traceparent),
                )?;
                release::owe_order_stock(
                    tx,
                    order,
                    request_id,
                    ORDER_EXPIRED,
                    ReleaseClaim::Nobody {
                        last_error: EXPIRED_DETAIL,
                    },
                )?;
            }
            // The status changes last: they update the per-status counters
            // that creates update too, so their row locks are held for the
            // commit alone and creates beside a pass barely wait.
            for order in &orders {
                tx.set_status(
                    order.id,
                    (order.status, OrderStatus::Expired),
                    ChangeSource::System,
                    None,
                )?;
            }
            Ok(orders.len())
        })
        .await
}
