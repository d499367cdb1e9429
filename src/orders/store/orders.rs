//! Orders and their items: read one or a page, and, inside a workflow's
//! transaction, lock one and move its status. (The one-statement create
//! is each backend's own: `sqlite::orders`, `postgres`.)

use super::rows::{self, Columns};
use super::sql::{sqlite_now, Param, Sql};
use super::{Run, Store, StoreError, Tx};
use crate::domain::order::{ChangeSource, Order, OrderStatus, StatusChange};
use crate::domain::page::{OrderFilter, PageRequest};
use crate::domain::payment::RefundState;
use crate::domain::UserId;

/// One order of one user (SQLite's text; a test checks its plan).
pub const GET_ORDER_SQL: &str = "SELECT id, user_id, total_amount, status, created_at \
     FROM orders WHERE id = ?1 AND user_id = ?2";

/// Which filters a list statement has: its text depends on them only,
/// never on their values (bound as parameters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListShape {
    pub user: bool,
    pub statuses: usize,
    pub created_from: bool,
    pub created_before: bool,
}

impl ListShape {
    fn of(filter: &OrderFilter) -> Self {
        ListShape {
            user: filter.user.is_some(),
            statuses: filter.statuses.len(),
            created_from: filter.created_from.is_some(),
            created_before: filter.created_before.is_some(),
        }
    }

    /// The keyset query of a page, newest first: `?1` the cursor's id,
    /// `?2` the row limit, then the user, the times and the statuses that
    /// the shape has, in that order. SQLite's text is public for the plan
    /// tests; both are checked on the real schemas.
    pub fn sql(self) -> (String, String) {
        // A user's orders are few; all orders of a status may be many:
        // SQLite, without statistics, could pick the status index.
        let mut sqlite = String::from(if self.user {
            "SELECT id, user_id, total_amount, status, created_at FROM orders \
             INDEXED BY orders_by_user WHERE id < ?1"
        } else {
            "SELECT id, user_id, total_amount, status, created_at FROM orders WHERE id < ?1"
        });
        let mut postgres = String::from(
            "SELECT id, user_id, total_amount, status, created_at AT TIME ZONE 'UTC' \
             FROM orders WHERE id < $1",
        );
        let mut next = 3;
        let mut add = |sqlite_clause: &str, postgres_clause: &str| {
            sqlite.push_str(&sqlite_clause.replace('#', &format!("?{next}")));
            postgres.push_str(&postgres_clause.replace('#', &format!("${next}")));
            next += 1;
        };
        if self.user {
            add(" AND user_id = #", " AND user_id = #");
        }
        if self.created_from {
            add(
                " AND created_at >= #",
                " AND created_at >= #::text::timestamptz",
            );
        }
        if self.created_before {
            add(
                " AND created_at < #",
                " AND created_at < #::text::timestamptz",
            );
        }
        if self.statuses > 0 {
            let marks = |mark: &str| {
                (next..next + self.statuses)
                    .map(|n| format!("{mark}{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            sqlite.push_str(&format!(" AND status IN ({})", marks("?")));
            postgres.push_str(&format!(" AND status IN ({})", marks("$")));
        }
        sqlite.push_str(" ORDER BY id DESC LIMIT ?2");
        postgres.push_str(" ORDER BY id DESC LIMIT $2");
        (sqlite, postgres)
    }
}

const GET_ORDER: Sql = Sql::fixed(
    GET_ORDER_SQL,
    "SELECT id, user_id, total_amount, status, created_at AT TIME ZONE 'UTC' FROM orders \
     WHERE id = $1 AND user_id = $2",
);
/// Inside a write transaction: SQLite's lock is the database's; PostgreSQL
/// locks the row.
const LOCK_ORDER: Sql = Sql::fixed(
    "SELECT id, user_id, total_amount, status, created_at FROM orders WHERE id = ?1",
    "SELECT id, user_id, total_amount, status, created_at AT TIME ZONE 'UTC' FROM orders \
     WHERE id = $1 FOR UPDATE",
);
const SET_STATUS: Sql = Sql::fixed(
    concat!(
        "UPDATE orders SET status = ?1, updated_at = ",
        sqlite_now!(),
        " WHERE id = ?2 AND status = ?3 RETURNING id"
    ),
    "UPDATE orders SET status = $1, updated_at = now() WHERE id = $2 AND status = $3 \
     RETURNING id",
);

/// A status change in the order's timeline, beside the change itself.
const RECORD_CHANGE: Sql = Sql::fixed(
    concat!(
        "INSERT INTO order_status_changes (order_id, status, source, reference, changed_at) \
         VALUES (?1, ?2, ?3, ?4, ",
        sqlite_now!(),
        ") RETURNING id"
    ),
    "INSERT INTO order_status_changes (order_id, status, source, reference, changed_at) \
     VALUES ($1, $2, $3, $4, now()) RETURNING id",
);
/// An order's status changes after CREATED, oldest first, a shipment's
/// with its carrier and reference.
const TIMELINE: Sql = Sql::fixed(
    "SELECT c.status, c.source, c.changed_at, f.carrier, f.tracking_reference \
     FROM order_status_changes c LEFT JOIN fulfilment_events f \
     ON c.source = 'fulfilment' AND f.event_id = c.reference \
     WHERE c.order_id = ?1 ORDER BY c.id",
    "SELECT c.status, c.source, c.changed_at AT TIME ZONE 'UTC', f.carrier, \
     f.tracking_reference FROM order_status_changes c LEFT JOIN fulfilment_events f \
     ON c.source = 'fulfilment' AND f.event_id = c.reference \
     WHERE c.order_id = $1 ORDER BY c.id",
);
/// Whether the payment of a paid order its owner cancelled was refunded
/// (no row: nothing owed).
const ORDER_REFUND: Sql = Sql::fixed(
    "SELECT refunded_at IS NOT NULL FROM payments \
     WHERE order_id = ?1 AND refund_required_at IS NOT NULL",
    "SELECT refunded_at IS NOT NULL FROM payments \
     WHERE order_id = $1 AND refund_required_at IS NOT NULL",
);

const RESERVATION_KEY: Sql = Sql::fixed(
    "SELECT reservation_key FROM orders WHERE id = ?1",
    "SELECT reservation_key FROM orders WHERE id = $1",
);

impl Store {
    /// `user`'s order `id`, or `None` (also when it is someone else's).
    pub fn order(&self, user: UserId, id: i64) -> Result<Option<Order>, StoreError> {
        let params = [Param::Int(id), Param::Int(user.get())];
        Ok(with_items(self, &GET_ORDER, &params)?.pop())
    }

    /// Order `id`'s history: its status changes after CREATED, and where
    /// its refund stands (the order's answer shows both).
    pub fn history(&self, id: i64) -> Result<(Vec<StatusChange>, RefundState), StoreError> {
        let changes = self.rows(&TIMELINE, &[Param::Int(id)], |row: &dyn Columns| {
            rows::status_change(row)
        })?;
        let refunded = self.rows(&ORDER_REFUND, &[Param::Int(id)], |row: &dyn Columns| {
            rows::one_flag(row)
        })?;
        let refund = match refunded.first() {
            None => RefundState::NotOwed,
            Some(false) => RefundState::Owed,
            Some(true) => RefundState::Refunded,
        };
        Ok((changes, refund))
    }

    /// The page of orders `page` asks for (its filter's user's, or
    /// everyone's), newest first, and whether more follow.
    pub fn list_orders(&self, page: &PageRequest) -> Result<(Vec<Order>, bool), StoreError> {
        let filter = &page.filter;
        let (sqlite, postgres) = ListShape::of(filter).sql();
        let sql = Sql {
            sqlite: sqlite.into(),
            postgres: postgres.into(),
        };
        let mut params = vec![
            Param::Int(page.before_id.unwrap_or(i64::MAX)),
            Param::Int(i64::from(page.limit) + 1),
        ];
        params.extend(filter.user.map(|user| Param::Int(user.get())));
        params.extend(filter.created_from.as_deref().map(Param::Text));
        params.extend(filter.created_before.as_deref().map(Param::Text));
        params.extend(filter.statuses.iter().map(|s| Param::Text(s.as_str())));
        let mut orders = with_items(self, &sql, &params)?;
        let more = orders.len() > page.limit as usize;
        orders.truncate(page.limit as usize);
        Ok((orders, more))
    }
}

impl Tx<'_> {
    /// Order `id` (anyone's), locked until the transaction ends.
    pub fn lock_order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        Ok(with_items(self, &LOCK_ORDER, &[Param::Int(id)])?.pop())
    }

    /// The key order `id`'s lines were reserved under (SPEC §4's
    /// reservation ids); `None` for an order placed before they existed.
    pub fn reservation_key(&self, id: i64) -> Result<Option<String>, StoreError> {
        let keys = self.rows(&RESERVATION_KEY, &[Param::Int(id)], |row: &dyn Columns| {
            Ok(row.text(0).map(str::to_owned))
        })?;
        Ok(keys.into_iter().flatten().next())
    }

    /// Moves order `id` from `from` to `to`, and records the change in its
    /// timeline with who made it and what (`reference`: the payment or
    /// fulfilment event id). Guarded by `from` as well as by the lock: an
    /// order found otherwise is [`StoreError::Malformed`].
    pub fn set_status(
        &self,
        id: i64,
        (from, to): (OrderStatus, OrderStatus),
        source: ChangeSource,
        reference: Option<&str>,
    ) -> Result<(), StoreError> {
        let params = [
            Param::Text(to.as_str()),
            Param::Int(id),
            Param::Text(from.as_str()),
        ];
        let changed = self.rows(&SET_STATUS, &params, |_| Ok(()))?;
        if changed.len() != 1 {
            return Err(StoreError::Malformed("order changed under its lock"));
        }
        let change = [
            Param::Int(id),
            Param::Text(to.as_str()),
            Param::Text(source.as_str()),
            Param::OptText(reference),
        ];
        self.rows(&RECORD_CHANGE, &change, |_| Ok(()))?;
        Ok(())
    }
}

/// The orders `sql` finds, with their items read in one more statement.
fn with_items(on: &impl Run, sql: &Sql, params: &[Param<'_>]) -> Result<Vec<Order>, StoreError> {
    let mut orders = on.rows(sql, params, |row: &dyn Columns| rows::order(row))?;
    if orders.is_empty() {
        return Ok(orders);
    }
    let items = Sql::with_list(
        "SELECT order_id, product_id, quantity, price FROM order_items \
         WHERE order_id IN ({ids}) ORDER BY id",
        "SELECT order_id, product_id, quantity, price FROM order_items \
         WHERE order_id IN ({ids}) ORDER BY id",
        1,
        orders.len(),
    );
    let ids: Vec<Param<'_>> = orders.iter().map(|o| Param::Int(o.id)).collect();
    let items = on.rows(&items, &ids, |row: &dyn Columns| rows::order_item(row))?;
    rows::attach_items(&mut orders, items);
    Ok(orders)
}
