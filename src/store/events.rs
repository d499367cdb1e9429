//! Order events, appended inside the transaction of the change they
//! describe (the order's lock makes the per-order sequence race-free), then
//! claimed, marked published and purged by the publisher.

use super::connection::{Record, Row};
use super::schema::Events;
use super::{Run, Store, StoreError, Tx};
use crate::clock;
use crate::domain::events::{EventRecord, OutboxEvent};
use sea_query::{Alias, Expr, ExprTrait, Func, LockBehavior, LockType, Order as Direction, Query};

impl Record for OutboxEvent {
    type Column = Events;
    const COLUMNS: &'static [Events] = &[
        Events::Id,
        Events::EventId,
        Events::OrderId,
        Events::Seq,
        Events::Type,
        Events::Payload,
        Events::CreatedAt,
        Events::Traceparent,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        Ok(OutboxEvent {
            id: row.int(Events::Id)?,
            event_id: row.text(Events::EventId)?.to_owned(),
            order_id: row.int(Events::OrderId)?,
            seq: row.int(Events::Seq)?,
            kind: row.text(Events::Type)?.to_owned(),
            payload: row.text(Events::Payload)?.to_owned(),
            created_at: row.time(Events::CreatedAt)?,
            traceparent: row.opt_text(Events::Traceparent)?.map(str::to_owned),
        })
    }
}

impl Tx<'_> {
    /// Records `event` as its order's next one (the order's lock orders
    /// the sequence; a clash on `(order_id, seq)` fails the transaction).
    pub fn append_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        let d = self.dialect();
        let next = Func::coalesce([Expr::col(Events::Seq).max(), Expr::val(0_i64)]).add(1_i64);
        let insert = Query::insert()
            .into_table(Events::Table)
            .columns([
                Events::EventId,
                Events::OrderId,
                Events::Seq,
                Events::Type,
                Events::Payload,
                Events::Traceparent,
                Events::CreatedAt,
            ])
            .select_from(
                Query::select()
                    .expr(d.typed(Expr::val(event.event_id.clone()), "text"))
                    .expr(d.typed(Expr::val(event.order_id), "bigint"))
                    .expr(next)
                    .expr(d.typed(Expr::val(event.kind), "text"))
                    .expr(d.typed(Expr::val(event.payload.clone()), "text"))
                    .expr(d.typed(Expr::val(event.traceparent.clone()), "text"))
                    .expr(d.now())
                    .from(Events::Table)
                    .and_where(Expr::col(Events::OrderId).eq(event.order_id))
                    .to_owned(),
            )
            .expect("as many values as columns")
            .to_owned();
        self.exec(&insert)
    }
}

impl Store {
    /// Claims up to `limit` events for publishing, for `claim_seconds`:
    /// the oldest unclaimed ones, at most the earliest unpublished event
    /// of each order, so an order's events reach the stream in sequence.
    /// One statement: SQLite's write lock is held for no host round trip;
    /// `SKIP LOCKED` keeps PostgreSQL instances' claims apart. Sorted by
    /// recording order.
    pub async fn claim_events(
        &self,
        limit: u32,
        claim_seconds: u64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let d = self.dialect();
        let (event, earlier) = (Alias::new("e"), Alias::new("p"));
        let earlier_unpublished = Query::select()
            .expr(Expr::cust("1"))
            .from_as(Events::Table, earlier.clone())
            .and_where(
                Expr::col((earlier.clone(), Events::OrderId))
                    .equals((event.clone(), Events::OrderId)),
            )
            .and_where(
                Expr::col((earlier.clone(), Events::Seq))
                    .lt(Expr::col((event.clone(), Events::Seq))),
            )
            .and_where(Expr::col((earlier, Events::PublishedAt)).is_null())
            .to_owned();
        let free = Query::select()
            .column((event.clone(), Events::Id))
            .from_as(Events::Table, event.clone())
            .and_where(Expr::col((event.clone(), Events::PublishedAt)).is_null())
            .and_where(Expr::col((event.clone(), Events::ClaimedUntil)).lt(d.now()))
            .and_where(Expr::exists(earlier_unpublished).not())
            .order_by((event, Events::Id), Direction::Asc)
            .limit(u64::from(limit))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let claim = Query::update()
            .table(Events::Table)
            .value(
                Events::ClaimedUntil,
                d.now_plus(clock::signed_seconds(claim_seconds)),
            )
            .and_where(Expr::col(Events::Id).in_subquery(free))
            .returning(Query::returning().columns(OutboxEvent::COLUMNS.iter().copied()))
            .to_owned();
        let mut events = OutboxEvent::read_all(&self.write_rows(&claim).await?)?;
        // `UPDATE … RETURNING` promises no order.
        events.sort_by_key(|event| event.id);
        Ok(events)
    }

    /// Marks events `ids` as delivered (whoever holds their claim now).
    pub async fn mark_events_published(&self, ids: &[i64]) -> Result<(), StoreError> {
        let d = self.dialect();
        self.update_events(
            ids,
            [
                (Events::PublishedAt, d.now()),
                (Events::ClaimedUntil, d.never()),
            ],
        )
        .await
    }

    /// Gives the claims on events `ids` back (their delivery failed): the
    /// next pass retries.
    pub async fn unclaim_events(&self, ids: &[i64]) -> Result<(), StoreError> {
        let d = self.dialect();
        self.update_events(ids, [(Events::ClaimedUntil, d.never())])
            .await
    }

    /// Sets `values` on the unpublished events among `ids`.
    async fn update_events(
        &self,
        ids: &[i64],
        values: impl IntoIterator<Item = (Events, Expr)>,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let update = Query::update()
            .table(Events::Table)
            .values(values)
            .and_where(Expr::col(Events::PublishedAt).is_null())
            .and_where(Expr::col(Events::Id).is_in(ids.iter().copied()))
            .to_owned();
        self.write_exec(&update).await
    }

    /// Deletes up to `limit` events published over `retention_seconds` ago.
    pub async fn purge_published_events(
        &self,
        limit: u32,
        retention_seconds: u64,
    ) -> Result<usize, StoreError> {
        let d = self.dialect();
        let old = Query::select()
            .column(Events::Id)
            .from(Events::Table)
            .and_where(
                Expr::col(Events::PublishedAt)
                    .lt(d.now_plus(-clock::signed_seconds(retention_seconds))),
            )
            .order_by(Events::PublishedAt, Direction::Asc)
            .limit(u64::from(limit))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let delete = Query::delete()
            .from_table(Events::Table)
            .and_where(Expr::col(Events::Id).in_subquery(old))
            .returning_col(Events::Id)
            .to_owned();
        Ok(self.write_rows(&delete).await?.len())
    }
}
