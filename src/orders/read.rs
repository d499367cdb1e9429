//! Reading the caller's orders: one, or a page of the list (keyset, newest
//! first). Someone else's order is as good as missing.

use super::{Deps, Gauges, OrderError};
use crate::domain::order::Order;
use crate::domain::page::PageRequest;
use crate::domain::UserId;

/// `user`'s order `id`.
pub fn order(deps: &Deps<'_>, user: UserId, id: i64) -> Result<Order, OrderError> {
    let found = deps
        .phases
        .timed_sync("db_read", || deps.store.order(user, id));
    found?.ok_or(OrderError::NotFound)
}

/// A page of `user`'s orders, and whether more follow.
pub fn page(
    deps: &Deps<'_>,
    user: UserId,
    page: &PageRequest,
) -> Result<(Vec<Order>, bool), OrderError> {
    let found = deps.phases.timed_sync("db_read", || {
        deps.store.list_orders(user, page.before_id, page.limit)
    });
    Ok(found?)
}

/// The service's own gauges, for the operator's metrics.
pub fn gauges(deps: &Deps<'_>) -> Result<Gauges, OrderError> {
    let found = deps.phases.timed_sync("db_read", || deps.store.gauges());
    Ok(found?)
}
