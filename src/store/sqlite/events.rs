//! Order events, appended inside the transaction of the change they
//! describe; the write lock makes the per-order sequence race-free.

use super::{Db, SQL_NOW};
use crate::domain::events::OrderEvent;
use crate::store::StoreError;
use spin_sdk::sqlite3::Value;

impl Db {
    /// Inside the caller's transaction: records `event` as the order's
    /// next one.
    pub(super) fn append_event(&self, event: &OrderEvent) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO events (event_id, order_id, seq, type, payload, created_at) \
                 SELECT ?, ?, coalesce(max(seq), 0) + 1, ?, ?, {SQL_NOW} \
                 FROM events WHERE order_id = ?"
            ),
            &[
                Value::Text(uuid::Uuid::new_v4().to_string()),
                Value::Integer(event.order_id()),
                Value::Text(event.kind().into()),
                Value::Text(event.payload().to_string()),
                Value::Integer(event.order_id()),
            ],
        )?;
        Ok(())
    }

    /// Events not delivered yet.
    pub fn unpublished_events(&self) -> Result<i64, StoreError> {
        let result = self.exec(
            "SELECT count(*) FROM events WHERE published_at IS NULL",
            &[],
        )?;
        Ok(super::first(&result, 0).unwrap_or(0))
    }
}
