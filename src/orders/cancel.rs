//! Cancelling an order (SPEC §3): the status rule is the domain's
//! ([`OrderStatus::cancel`](crate::domain::order::OrderStatus::cancel));
//! the status change and the releases it owes are written in one
//! transaction, then the releases are tried with the caller's token.

use super::release::{self, Credentials};
use super::{Deps, OrderError};
use crate::domain::order::{Cancellation, Order};
use crate::domain::UserId;

/// A cancelled order, and whether some of its stock is still owed to the
/// Catalog (stored for a retry or an operator) rather than back already.
pub struct Cancelled {
    pub order: Order,
    pub stock_pending: bool,
}

pub async fn cancel_order(deps: &Deps<'_>, user: UserId, id: i64) -> Result<Cancelled, OrderError> {
    let claim = release::claim_seconds(&deps.config);
    let cancelled = deps
        .phases
        .timed(
            "db_write",
            deps.store.cancel_order(user, id, deps.request_id, claim),
        )
        .await?
        .ok_or(OrderError::NotFound)?;
    let stock_pending = match cancelled.outcome? {
        Cancellation::ReleaseStock => {
            let released = deps
                .phases
                .timed(
                    "release",
                    release::release_claimed(deps, &cancelled.releases, Credentials::Caller),
                )
                .await;
            released < cancelled.releases.len()
        }
        Cancellation::AlreadyCancelled => deps.store.order_release_pending(id)?,
    };
    Ok(Cancelled {
        order: cancelled.order,
        stock_pending,
    })
}
