//! Reading stored rows into records, once for both backends: each backend
//! says how a column of its own type reads ([`Columns`]); what a row means,
//! and what makes it malformed, is written here.

use super::{
    ClaimedRelease, OutboxEvent, PaymentRecord, PendingRelease, SettledRelease, StoreError,
};
use crate::domain::idempotency::StoredKey;
use crate::domain::money::Money;
use crate::domain::order::{ChangeSource, Order, OrderStatus, PricedLine, StatusChange};
use crate::domain::order_request::Quantity;
use crate::domain::{ProductId, UserId};

/// One row as a backend returns it, read by column index.
pub(super) trait Columns {
    fn int(&self, index: usize) -> Option<i64>;
    fn text(&self, index: usize) -> Option<&str>;
    fn flag(&self, index: usize) -> Option<bool>;
    /// An amount: text on SQLite, `numeric` on PostgreSQL.
    fn money(&self, index: usize) -> Option<Money>;
    /// A time as the API shows it: RFC 3339 UTC to the second.
    fn time(&self, index: usize) -> Option<String>;
}

fn malformed(what: &'static str) -> impl Fn() -> StoreError {
    move || StoreError::Malformed(what)
}

/// `id, user_id, total_amount, status, created_at`, without its items.
pub(super) fn order(row: &(impl Columns + ?Sized)) -> Result<Order, StoreError> {
    let bad = malformed("orders row");
    Ok(Order {
        id: row.int(0).ok_or_else(&bad)?,
        user_id: row.int(1).and_then(UserId::new).ok_or_else(&bad)?,
        total: row.money(2).ok_or_else(&bad)?,
        status: row.text(3).and_then(OrderStatus::parse).ok_or_else(&bad)?,
        created_at: row.time(4).ok_or_else(&bad)?,
        lines: Vec::new(),
    })
}

/// `status, source, changed_at, carrier, tracking_reference` of a status
/// change (the last two only for a shipment).
pub(super) fn status_change(row: &(impl Columns + ?Sized)) -> Result<StatusChange, StoreError> {
    let bad = malformed("order_status_changes row");
    let shipment = match (row.text(3), row.text(4)) {
        (Some(carrier), Some(tracking)) => Some((carrier.to_owned(), tracking.to_owned())),
        _ => None,
    };
    Ok(StatusChange {
        status: row.text(0).and_then(OrderStatus::parse).ok_or_else(&bad)?,
        source: row.text(1).and_then(ChangeSource::parse).ok_or_else(&bad)?,
        at: row.time(2).ok_or_else(&bad)?,
        shipment,
    })
}

/// An item `order_id, product_id, quantity, price`, with its order's id.
pub(super) fn order_item(row: &(impl Columns + ?Sized)) -> Result<(i64, PricedLine), StoreError> {
    let bad = malformed("order_items row");
    let order_id = row.int(0).ok_or_else(&bad)?;
    let line = PricedLine {
        product_id: row.int(1).and_then(ProductId::new).ok_or_else(&bad)?,
        quantity: row.int(2).and_then(Quantity::new).ok_or_else(&bad)?,
        unit_price: row.money(3).ok_or_else(&bad)?,
    };
    Ok((order_id, line))
}

/// Adds items to their orders, in the order given.
pub(super) fn attach_items(orders: &mut [Order], items: Vec<(i64, PricedLine)>) {
    for (order_id, line) in items {
        if let Some(order) = orders.iter_mut().find(|o| o.id == order_id) {
            order.lines.push(line);
        }
    }
}

/// `count(*)` or another single integer.
pub(super) fn one_int(row: &(impl Columns + ?Sized)) -> Result<i64, StoreError> {
    row.int(0).ok_or(StoreError::Malformed("a count"))
}

/// A single boolean (SQLite: 0 or 1).
pub(super) fn one_flag(row: &(impl Columns + ?Sized)) -> Result<bool, StoreError> {
    row.flag(0).ok_or(StoreError::Malformed("a boolean"))
}

/// `user_id, request_id, items, reservation_key` of an intent taken back.
pub(super) fn intent(row: &(impl Columns + ?Sized)) -> Result<super::TakenIntent, StoreError> {
    super::TakenIntent::from_row(row.int(0), row.text(1), row.text(2), row.text(3))
}

/// `id, user_id, product_id, quantity, attempts, reservation`.
pub(super) fn claimed_release(row: &(impl Columns + ?Sized)) -> Result<ClaimedRelease, StoreError> {
    let bad = malformed("pending_releases row");
    Ok(ClaimedRelease {
        id: row.int(0).ok_or_else(&bad)?,
        user: row.int(1).and_then(UserId::new).ok_or_else(&bad)?,
        product_id: row.int(2).and_then(ProductId::new).ok_or_else(&bad)?,
        quantity: row
            .int(3)
            .and_then(|q| u32::try_from(q).ok())
            .ok_or_else(&bad)?,
        attempts: row.int(4).ok_or_else(&bad)?,
        reservation: row.text(5).map(str::to_owned),
    })
}

/// `id, user_id, product_id, quantity, order_id, reason, request_id,
/// attempts, last_error, created_at, next_attempt_at, reservation`.
pub(super) fn pending_release(row: &(impl Columns + ?Sized)) -> Result<PendingRelease, StoreError> {
    let bad = malformed("pending_releases row");
    let text = |i| row.text(i).map(str::to_owned).ok_or_else(&bad);
    Ok(PendingRelease {
        id: row.int(0).ok_or_else(&bad)?,
        user_id: row.int(1).ok_or_else(&bad)?,
        product_id: row.int(2).ok_or_else(&bad)?,
        quantity: row.int(3).ok_or_else(&bad)?,
        order_id: row.int(4),
        reason: text(5)?,
        request_id: text(6)?,
        attempts: row.int(7).ok_or_else(&bad)?,
        last_error: text(8)?,
        created_at: row.time(9).ok_or_else(&bad)?,
        next_attempt_at: row.time(10).ok_or_else(&bad)?,
        reservation: row.text(11).map(str::to_owned),
    })
}

/// `id, user_id, product_id, quantity, order_id, reason, outcome,
/// settled_by, note, settled_at, reservation`.
pub(super) fn settled_release(row: &(impl Columns + ?Sized)) -> Result<SettledRelease, StoreError> {
    let bad = malformed("settled_releases row");
    let text = |i| row.text(i).map(str::to_owned).ok_or_else(&bad);
    Ok(SettledRelease {
        id: row.int(0).ok_or_else(&bad)?,
        user_id: row.int(1).ok_or_else(&bad)?,
        product_id: row.int(2).ok_or_else(&bad)?,
        quantity: row.int(3).ok_or_else(&bad)?,
        order_id: row.int(4),
        reason: text(5)?,
        outcome: text(6)?,
        settled_by: text(7)?,
        note: text(8)?,
        settled_at: row.time(9).ok_or_else(&bad)?,
        reservation: row.text(10).map(str::to_owned),
    })
}

/// `fingerprint, state = 'done', order_id, body, lease over, expired`.
pub(super) fn stored_key(row: &(impl Columns + ?Sized)) -> Result<StoredKey, StoreError> {
    let bad = malformed("idempotency_keys row");
    Ok(StoredKey {
        fingerprint: row.text(0).ok_or_else(&bad)?.to_owned(),
        done: row.flag(1).ok_or_else(&bad)?,
        order_id: row.int(2),
        body: row.text(3).map(str::to_owned),
        lease_over: row.flag(4).ok_or_else(&bad)?,
        expired: row.flag(5).ok_or_else(&bad)?,
    })
}

/// `payment_id, order_id, amount, currency, reason, created_at`.
pub(super) fn payment(row: &(impl Columns + ?Sized)) -> Result<PaymentRecord, StoreError> {
    let bad = malformed("payments row");
    Ok(PaymentRecord {
        payment_id: row.text(0).ok_or_else(&bad)?.to_owned(),
        order_id: row.int(1).ok_or_else(&bad)?,
        amount: row.money(2).ok_or_else(&bad)?,
        currency: row.text(3).ok_or_else(&bad)?.to_owned(),
        outcome: PaymentRecord::outcome_from(row.text(4))?,
        created_at: row.time(5).ok_or_else(&bad)?,
    })
}

/// `id, event_id, order_id, seq, type, payload, created_at, traceparent`.
pub(super) fn outbox_event(row: &(impl Columns + ?Sized)) -> Result<OutboxEvent, StoreError> {
    let bad = malformed("events row");
    let text = |i| row.text(i).map(str::to_owned).ok_or_else(&bad);
    Ok(OutboxEvent {
        id: row.int(0).ok_or_else(&bad)?,
        event_id: text(1)?,
        order_id: row.int(2).ok_or_else(&bad)?,
        seq: row.int(3).ok_or_else(&bad)?,
        kind: text(4)?,
        payload: text(5)?,
        created_at: row.time(6).ok_or_else(&bad)?,
        traceparent: row.text(7).map(str::to_owned),
    })
}
