//! Order events, appended inside the transaction of the change they
//! describe (the write lock makes the per-order sequence race-free), then
//! claimed, marked published and purged by the publisher.

use super::{placeholders, Db, SQL_NOW, SQL_NOW_PLUS};
use crate::domain::events::EventRecord;
use crate::orders::store::rows;
use crate::orders::store::{OutboxEvent, StoreError};
use spin_sdk::sqlite3::Value;

impl Db {
    /// Inside the caller's transaction: records `event` as the order's
    /// next one.
    pub(in crate::orders::store) fn append_event(
        &self,
        event: &EventRecord,
    ) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "INSERT INTO events (event_id, order_id, seq, type, payload, created_at) \
                 SELECT ?, ?, coalesce(max(seq), 0) + 1, ?, ?, {SQL_NOW} \
                 FROM events WHERE order_id = ?"
            ),
            &[
                Value::Text(event.event_id.clone()),
                Value::Integer(event.order_id),
                Value::Text(event.kind.into()),
                Value::Text(event.payload.clone()),
                Value::Integer(event.order_id),
            ],
        )?;
        Ok(())
    }

    /// Claims up to `limit` unpublished events for `claim_seconds`, the
    /// oldest first, and at most the earliest unpublished one of each
    /// order, so an order's events reach the stream in sequence. One
    /// statement: the write lock is held for no host round trip.
    pub async fn claim_events(
        &self,
        limit: u32,
        claim_seconds: u64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let sql = format!(
            "UPDATE events SET claimed_until = {SQL_NOW_PLUS} WHERE id IN (\
             SELECT e.id FROM events e WHERE e.published_at IS NULL \
             AND e.claimed_until < {SQL_NOW} \
             AND NOT EXISTS (SELECT 1 FROM events p WHERE p.order_id = e.order_id \
             AND p.seq < e.seq AND p.published_at IS NULL) \
             ORDER BY e.id LIMIT ?) \
             RETURNING id, event_id, order_id, seq, type, payload, created_at"
        );
        let params = [
            super::seconds_from_now(i64::try_from(claim_seconds).unwrap_or(i64::MAX)),
            Value::Integer(i64::from(limit)),
        ];
        let claimed = self.write_statement(&sql, &params).await?;
        claimed.rows.iter().map(rows::outbox_event).collect()
    }

    /// Marks events as delivered (whoever holds their claim now).
    pub async fn mark_events_published(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.update_events(
            &format!("published_at = {SQL_NOW}, claimed_until = ''"),
            ids,
        )
        .await
    }

    /// Gives claims back after a failed delivery: the next pass retries.
    pub async fn unclaim_events(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.update_events("claimed_until = ''", ids).await
    }

    async fn update_events(&self, set: &str, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE events SET {set} WHERE published_at IS NULL AND id IN ({})",
            placeholders(ids.len())
        );
        let params: Vec<Value> = ids.iter().map(|id| Value::Integer(*id)).collect();
        self.write_statement(&sql, &params).await?;
        Ok(())
    }

    /// Deletes up to `limit` events published more than `retention_seconds`
    /// ago.
    pub async fn purge_published_events(
        &self,
        limit: u32,
        retention_seconds: u64,
    ) -> Result<usize, StoreError> {
        let sql = format!(
            "DELETE FROM events WHERE id IN (SELECT id FROM events \
             WHERE published_at < {SQL_NOW_PLUS} ORDER BY published_at LIMIT ?) RETURNING 1"
        );
        let retention = i64::try_from(retention_seconds).unwrap_or(i64::MAX);
        let params = [
            super::seconds_from_now(-retention),
            Value::Integer(i64::from(limit)),
        ];
        Ok(self.write_statement(&sql, &params).await?.rows.len())
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
