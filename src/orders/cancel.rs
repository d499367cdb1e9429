//! Cancelling an order (SPEC §3): the status rule is the domain's
//! ([`OrderStatus::cancel`]); here it is applied under the order's lock, and
//! the status change, its event, the releases it owes and, for a paid
//! order, its refund owed (`payment.refund_required`) are written in one
//! transaction; then the releases are tried with the caller's token.

use super::release::{self, Credentials};
use super::{Deps, OrderError};
use crate::domain::events::{OrderEvent, RefundReason};
use crate::domain::order::{Cancellation, ChangeSource, Order, OrderStatus};
use crate::domain::release::ORDER_CANCELLED;
use crate::domain::UserId;
use crate::store::ReleaseClaim;

/// A cancelled order, and whether some of its stock is still owed to the
/// Catalog (stored for a retry or an operator) rather than back already.
pub struct Cancelled {
    pub order: Order,
    pub stock_pending: bool,
}

pub async fn cancel_order(deps: &Deps<'_>, user: UserId, id: i64) -> Result<Cancelled, OrderError> {
    let claim = release::claim_seconds(&deps.settings);
    let (order, outcome, releases) = deps
        .phases
        .timed(
            "db_write",
            deps.store.write(|tx| {
                // Someone else's order is as good as missing (404, not 403).
                let Some(mut order) = tx.lock_own_order(user, id)? else {
                    return Ok(None);
                };
                let outcome = order.status.cancel();
                let mut releases = Vec::new();
                if let Ok(
                    cancellation @ (Cancellation::ReleaseStock
                    | Cancellation::ReleaseStockAndRefund),
                ) = outcome
                {
                    tx.set_status(
                        id,
                        (order.status, OrderStatus::Cancelled),
                        ChangeSource::Customer,
                        None,
                    )?;
                    order.status = OrderStatus::Cancelled;
                    tx.append_event(
                        &OrderEvent::Cancelled {
                            order_id: id,
                            user_id: user.get(),
                        }
                        .record(&deps.traceparent),
                    )?;
                    if cancellation == Cancellation::ReleaseStockAndRefund {
                        // A status set without a recorded payment (by hand)
                        // has nothing to refund.
                        if let Some(owed) = tx.require_refund(id)? {
                            tx.append_event(
                                &OrderEvent::RefundRequired {
                                    order_id: id,
                                    payment_id: owed.payment_id,
                                    amount: owed.amount,
                                    currency: owed.currency,
                                    reason: RefundReason::CancelledAfterPayment,
                                }
                                .record(&deps.traceparent),
                            )?;
                        }
                    }
                    // Claimed by this request, so two concurrent cancels
                    // (the second sees CANCELLED) release once.
                    releases = release::owe_order_stock(
                        tx,
                        &order,
                        deps.request_id,
                        ORDER_CANCELLED,
                        ReleaseClaim::ThisRequest { seconds: claim },
                    )?;
                }
                Ok(Some((order, outcome, releases)))
            }),
        )
        .await?
        .ok_or(OrderError::NotFound)?;
    let stock_pending = match outcome? {
        Cancellation::ReleaseStock | Cancellation::ReleaseStockAndRefund => {
            let released = deps
                .phases
                .timed(
                    "release",
                    release::release_claimed(deps, &releases, Credentials::Caller),
                )
                .await;
            released < releases.len()
        }
        Cancellation::AlreadyCancelled => deps.store.order_release_pending(id)?,
    };
    Ok(Cancelled {
        order,
        stock_pending,
    })
}
