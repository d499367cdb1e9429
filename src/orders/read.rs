//! Reading the caller's orders: one, or a page of the list (keyset, newest
//! first). Someone else's order is as good as missing.

use super::{Deps, OrderError};
use crate::domain::gauges::Gauges;
use crate::domain::order::{Order, OrderHistory};
use crate::domain::page::PageRequest;
use crate::domain::UserId;

/// `user`'s order `id`, with its history: every status it reached (its
/// creation first) and where its refund stands.
pub fn order(deps: &Deps<'_>, user: UserId, id: i64) -> Result<(Order, OrderHistory), OrderError> {
    let found = deps.phases.timed_sync("db_read", || {
        let Some(order) = deps.store.order(user, id)? else {
            return Ok(None);
        };
        let (changes, refund) = deps.store.history(order.id)?;
        let history = OrderHistory::new(&order, changes, refund);
        Ok::<_, super::StoreError>(Some((order, history)))
    });
    found?.ok_or(OrderError::NotFound)
}

/// A page of `user`'s orders, and whether more follow.
pub fn page(
    deps: &Deps<'_>,
    user: UserId,
    page: &PageRequest,
) -> Result<(Vec<Order>, bool), OrderError> {
    // Only the caller's orders, ever, whatever the query said.
    let mut own = page.clone();
    own.filter.user = Some(user);
    any_page(deps, &own)
}

/// A page of anyone's orders (the filter's user's, if it names one): the
/// operator's listing for support staff.
pub fn any_page(deps: &Deps<'_>, page: &PageRequest) -> Result<(Vec<Order>, bool), OrderError> {
    let found = deps
        .phases
        .timed_sync("db_read", || deps.store.list_orders(page));
    Ok(found?)
}

/// The service's own gauges, for the operator's metrics.
pub fn gauges(deps: &Deps<'_>) -> Result<Gauges, OrderError> {
    let found = deps.phases.timed_sync("db_read", || deps.store.gauges());
    Ok(found?)
}
