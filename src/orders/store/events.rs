//! Order events, appended inside the transaction of the change they
//! describe (the order's lock makes the per-order sequence race-free), then
//! claimed, marked published and purged by the publisher.

use super::rows::{self, Columns};
use super::sql::{pg_now_plus, sqlite_now, sqlite_now_plus, Param, Sql};
use super::{OutboxEvent, Run, Store, StoreError, Tx};
use crate::domain::events::EventRecord;

const APPEND_EVENT: Sql = Sql::fixed(
    concat!(
        "INSERT INTO events (event_id, order_id, seq, type, payload, traceparent, created_at) \
         SELECT ?1, ?2, coalesce(max(seq), 0) + 1, ?3, ?4, ?5, ",
        sqlite_now!(),
        " FROM events WHERE order_id = ?2 RETURNING seq"
    ),
    "INSERT INTO events (event_id, order_id, seq, type, payload, traceparent, created_at) \
     SELECT $1, $2, coalesce(max(seq), 0) + 1, $3, $4, $5, now() \
     FROM events WHERE order_id = $2 RETURNING seq",
);
/// The oldest unclaimed events, at most the earliest unpublished one of
/// each order, so an order's events reach the stream in sequence. One
/// statement: SQLite's write lock is held for no host round trip;
/// `SKIP LOCKED` keeps PostgreSQL instances' claims apart.
const CLAIM_EVENTS: Sql = Sql::fixed(
    concat!(
        "UPDATE events SET claimed_until = ",
        sqlite_now_plus!(1),
        " WHERE id IN (SELECT e.id FROM events e WHERE e.published_at IS NULL \
         AND e.claimed_until < ",
        sqlite_now!(),
        " AND NOT EXISTS (SELECT 1 FROM events p WHERE p.order_id = e.order_id \
         AND p.seq < e.seq AND p.published_at IS NULL) \
         ORDER BY e.id LIMIT ?2) \
         RETURNING id, event_id, order_id, seq, type, payload, created_at, traceparent"
    ),
    concat!(
        "UPDATE events SET claimed_until = ",
        pg_now_plus!(1),
        " WHERE id IN (SELECT e.id FROM events e WHERE e.published_at IS NULL \
         AND e.claimed_until < now() \
         AND NOT EXISTS (SELECT 1 FROM events p WHERE p.order_id = e.order_id \
         AND p.seq < e.seq AND p.published_at IS NULL) \
         ORDER BY e.id LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id, event_id, order_id, seq, type, payload, created_at AT TIME ZONE 'UTC', \
         traceparent"
    ),
);
const PURGE_EVENTS: Sql = Sql::fixed(
    concat!(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE published_at < ",
        sqlite_now_plus!(1),
        " ORDER BY published_at LIMIT ?2) RETURNING 1"
    ),
    concat!(
        "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE published_at < ",
        pg_now_plus!(1),
        " ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING 1"
    ),
);
impl Tx<'_> {
    /// Records `event` as its order's next one (the order's lock orders
    /// the sequence; a clash on `(order_id, seq)` fails the transaction).
    pub fn append_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        let params = [
            Param::Text(&event.event_id),
            Param::Int(event.order_id),
            Param::Text(event.kind),
            Param::Text(&event.payload),
            Param::Text(&event.traceparent),
        ];
        self.rows(&APPEND_EVENT, &params, |_| Ok(()))?;
        Ok(())
    }
}

impl Store {
    /// Claims up to `limit` events for publishing, for `claim_seconds`:
    /// the oldest unclaimed ones, at most the earliest unpublished event
    /// of each order. Sorted by recording order.
    pub async fn claim_events(
        &self,
        limit: u32,
        claim_seconds: u64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let params = [Param::seconds(claim_seconds), Param::Int(i64::from(limit))];
        let mut events = self
            .write_rows(&CLAIM_EVENTS, &params, |row: &dyn Columns| {
                rows::outbox_event(row)
            })
            .await?;
        // `UPDATE … RETURNING` promises no order.
        events.sort_by_key(|event| event.id);
        Ok(events)
    }

    /// Marks events `ids` as delivered (whoever holds their claim now).
    pub async fn mark_events_published(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.update_events(
            concat!("published_at = ", sqlite_now!(), ", claimed_until = ''"),
            "published_at = now(), claimed_until = '-infinity'",
            ids,
        )
        .await
    }

    /// Gives the claims on events `ids` back (their delivery failed): the
    /// next pass retries.
    pub async fn unclaim_events(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.update_events("claimed_until = ''", "claimed_until = '-infinity'", ids)
            .await
    }

    async fn update_events(
        &self,
        sqlite_set: &str,
        postgres_set: &str,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let where_ids = "WHERE published_at IS NULL AND id IN ({ids}) RETURNING id";
        let sql = Sql::with_list(
            &format!("UPDATE events SET {sqlite_set} {where_ids}"),
            &format!("UPDATE events SET {postgres_set} {where_ids}"),
            1,
            ids.len(),
        );
        let params: Vec<Param<'_>> = ids.iter().map(|id| Param::Int(*id)).collect();
        self.write_rows(&sql, &params, |_| Ok(())).await?;
        Ok(())
    }

    /// Deletes up to `limit` events published over `retention_seconds` ago.
    pub async fn purge_published_events(
        &self,
        limit: u32,
        retention_seconds: u64,
    ) -> Result<usize, StoreError> {
        let retention = i64::try_from(retention_seconds).unwrap_or(i64::MAX);
        let params = [Param::Seconds(-retention), Param::Int(i64::from(limit))];
        Ok(self
            .write_rows(&PURGE_EVENTS, &params, |_| Ok(()))
            .await?
            .len())
    }
}
