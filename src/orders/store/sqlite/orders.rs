//! The one-statement create on SQLite.

use super::{Db, SQL_NOW};
use crate::orders::store::{NewOrder, StoreError};
use spin_sdk::sqlite3::{Error as SqliteError, Value};

/// The `order_submitted` trigger's message when the intent is gone.
const LEASE_LOST: &str = "stock intent lease lost";

impl Db {
    /// Writes a new `CREATED` order and its items, closes the reservation
    /// intent, records the order as the Idempotency-Key's outcome and its
    /// `order.created` event — all in ONE statement (the
    /// `order_submitted` trigger of migration 0007), so the write lock is
    /// held for no host round trip. [`StoreError::LeaseLost`] if the
    /// intent was taken over.
    pub async fn insert_order(&self, new: &NewOrder<'_>) -> Result<(i64, String), StoreError> {
        let items: Vec<(i64, u32, String)> = new
            .order
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
             event_id, event_payload, status, event_type, traceparent, created_at) \
             VALUES (coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'orders'), 0) + 1, \
             ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {SQL_NOW}) RETURNING id, created_at, ({due})",
            due = super::releases::reconciliation_due_expression(),
        );
        let params = [
            Value::Integer(new.intent.0),
            Value::Integer(new.user.get()),
            Value::Text(new.order.total.to_string()),
            Value::Text(serde_json::to_string(&items)?),
            new.key
                .map_or(Value::Null, |key| Value::Text(key.key.as_str().to_owned())),
            Value::Text(new.created.event_id.clone()),
            Value::Text(new.created.payload.clone()),
            Value::Text(new.status.as_str().to_owned()),
            Value::Text(new.created.kind.to_owned()),
            Value::Text(new.created.traceparent.clone()),
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
}
