//! Orders and their items: create, read, list, cancel.

use super::{placeholders, Db, SQL_NOW};
use crate::domain::events::EventRecord;
use crate::domain::order::{Order, OrderStatus, PricedOrder};
use crate::domain::UserId;
use crate::orders::store::rows;
use crate::orders::store::{IntentId, OwnedKey, StoreError};
use spin_sdk::sqlite3::{Error as SqliteError, QueryResult, Value};

/// The keyset query behind the order list; a test checks its plan.
pub const LIST_ORDERS_SQL: &str = "SELECT id, user_id, total_amount, status, created_at \
     FROM orders WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?";
/// One order of one user; a test checks its plan.
pub const GET_ORDER_SQL: &str = "SELECT id, user_id, total_amount, status, created_at \
     FROM orders WHERE id = ? AND user_id = ?";
/// One order, inside a write transaction (its lock is the database's).
const LOCK_ORDER_SQL: &str = "SELECT id, user_id, total_amount, status, created_at \
     FROM orders WHERE id = ?";
/// The `order_submitted` trigger's message when the intent is gone.
const LEASE_LOST: &str = "stock intent lease lost";

impl Db {
    /// Writes a new `CREATED` order and its items, closes the reservation
    /// intent, records the order as the Idempotency-Key's outcome and its
    /// `order.created` event — all in ONE statement (the
    /// `order_submitted` trigger of migration 0007), so the write lock is
    /// held for no host round trip. [`StoreError::LeaseLost`] if the
    /// intent was taken over.
    pub async fn insert_order(
        &self,
        user: UserId,
        order: &PricedOrder,
        intent: IntentId,
        key: Option<OwnedKey<'_>>,
        created: &EventRecord,
    ) -> Result<(i64, String), StoreError> {
        let items: Vec<(i64, u32, String)> = order
            .lines
            .iter()
            .map(|line| {
                (
                    line.product_id.get(),
                    line.quantity.get(),
                    line.unit_price.to_string(),
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO order_submissions (id, intent_id, user_id, total_amount, items, key, \
             event_id, event_payload, created_at) \
             VALUES (coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'orders'), 0) + 1, \
             ?, ?, ?, ?, ?, ?, ?, {SQL_NOW}) RETURNING id, created_at, ({due})",
            due = super::releases::reconciliation_due_expression(),
        );
        let params = [
            Value::Integer(intent.0),
            Value::Integer(user.get()),
            Value::Text(order.total.to_string()),
            Value::Text(serde_json::to_string(&items)?),
            key.map_or(Value::Null, |key| Value::Text(key.key.as_str().to_owned())),
            Value::Text(created.event_id.clone()),
            Value::Text(created.payload.clone()),
        ];
        let inserted = match self.write_statement(&sql, &params).await {
            Err(StoreError::Sqlite(SqliteError::Io(text))) if text.contains(LEASE_LOST) => {
                return Err(StoreError::LeaseLost)
            }
            other => other?,
        };
        let (Some(id), Some(created_at)) = (
            super::first::<i64>(&inserted, 0),
            super::first::<&str>(&inserted, 1).map(str::to_owned),
        ) else {
            return Err(StoreError::Malformed("INSERT … RETURNING gave no row"));
        };
        // The follow-up's "anything due?" answered by the same statement.
        self.reconciliation_due_known
            .set(Some(super::first::<i64>(&inserted, 2) == Some(1)));
        Ok((id, created_at))
    }

    /// `user`'s order `id`, or `None` (also when it is someone else's).
    pub fn order(&self, user: UserId, id: i64) -> Result<Option<Order>, StoreError> {
        let found = self.exec(
            GET_ORDER_SQL,
            &[Value::Integer(id), Value::Integer(user.get())],
        )?;
        Ok(self.with_items(&found)?.pop())
    }

    /// Up to `limit` of `user`'s orders with ids below `before_id`, newest
    /// first, and whether more follow.
    pub fn list_orders(
        &self,
        user: UserId,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Order>, bool), StoreError> {
        let found = self.exec(
            LIST_ORDERS_SQL,
            &[
                Value::Integer(user.get()),
                Value::Integer(before_id.unwrap_or(i64::MAX)),
                Value::Integer(i64::from(limit) + 1),
            ],
        )?;
        let mut orders = self.with_items(&found)?;
        let more = orders.len() > limit as usize;
        orders.truncate(limit as usize);
        Ok((orders, more))
    }

    /// Inside a write transaction: order `id`, whoever's.
    pub(in crate::orders::store) fn lock_order(
        &self,
        id: i64,
    ) -> Result<Option<Order>, StoreError> {
        let found = self.exec(LOCK_ORDER_SQL, &[Value::Integer(id)])?;
        Ok(self.with_items(&found)?.pop())
    }

    /// Inside a write transaction: `from` → `to`, guarded by `from`.
    pub(in crate::orders::store) fn set_status(
        &self,
        id: i64,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<(), StoreError> {
        let changed = self.exec(
            &format!(
                "UPDATE orders SET status = ?, updated_at = {SQL_NOW} \
                 WHERE id = ? AND status = ? RETURNING id"
            ),
            &[
                Value::Text(to.as_str().into()),
                Value::Integer(id),
                Value::Text(from.as_str().into()),
            ],
        )?;
        if changed.rows.len() != 1 {
            return Err(StoreError::Malformed("order changed under its lock"));
        }
        Ok(())
    }

    /// Orders from `(id, user_id, total_amount, status, created_at)` rows,
    /// with their items read in one query.
    fn with_items(&self, found: &QueryResult) -> Result<Vec<Order>, StoreError> {
        let mut orders = found
            .rows
            .iter()
            .map(rows::order)
            .collect::<Result<Vec<_>, _>>()?;
        if orders.is_empty() {
            return Ok(orders);
        }
        let ids: Vec<Value> = orders.iter().map(|o| Value::Integer(o.id)).collect();
        let items = self.exec(
            &format!(
                "SELECT order_id, product_id, quantity, price FROM order_items \
                 WHERE order_id IN ({}) ORDER BY id",
                placeholders(ids.len())
            ),
            &ids,
        )?;
        rows::attach_items(&mut orders, &items.rows)?;
        Ok(orders)
    }
}
