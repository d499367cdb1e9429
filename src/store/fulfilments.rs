//! Fulfilment updates: the update's row, read and written inside the
//! workflow's transaction (under the order's lock).

use super::connection::{Record, Row};
use super::schema::FulfilmentEvents;
use super::{Run, StoreError, Tx};
use crate::domain::fulfilment::{FulfilmentRecord, FulfilmentUpdate};
use crate::domain::order::Fulfilment;
use sea_query::{Expr, ExprTrait, OnConflict, Query};

impl Record for FulfilmentRecord {
    type Column = FulfilmentEvents;
    const COLUMNS: &'static [FulfilmentEvents] = &[
        FulfilmentEvents::EventId,
        FulfilmentEvents::OrderId,
        FulfilmentEvents::Status,
        FulfilmentEvents::Carrier,
        FulfilmentEvents::TrackingReference,
        FulfilmentEvents::CreatedAt,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        let step = match row.text(FulfilmentEvents::Status)? {
            "SHIPPED" => Fulfilment::Shipped,
            "DELIVERED" => Fulfilment::Delivered,
            _ => return Err(StoreError::Malformed("fulfilment_events.status")),
        };
        let shipment = match (
            row.opt_text(FulfilmentEvents::Carrier)?,
            row.opt_text(FulfilmentEvents::TrackingReference)?,
        ) {
            (Some(carrier), Some(tracking)) => Some((carrier.to_owned(), tracking.to_owned())),
            _ => None,
        };
        Ok(FulfilmentRecord {
            update: FulfilmentUpdate {
                event_id: row.text(FulfilmentEvents::EventId)?.to_owned(),
                order_id: row.int(FulfilmentEvents::OrderId)?,
                step,
                shipment,
            },
            recorded_at: row.time(FulfilmentEvents::CreatedAt)?,
        })
    }
}

impl Tx<'_> {
    /// The update recorded with `event_id`, if any.
    pub fn stored_fulfilment(
        &self,
        event_id: &str,
    ) -> Result<Option<FulfilmentRecord>, StoreError> {
        let query = Query::select()
            .columns(FulfilmentRecord::COLUMNS.iter().copied())
            .from(FulfilmentEvents::Table)
            .and_where(Expr::col(FulfilmentEvents::EventId).eq(event_id))
            .to_owned();
        FulfilmentRecord::read_first(&self.rows(&query)?)
    }

    /// Records `update`; its recording time, or `None` when its id was
    /// recorded meanwhile (for another order).
    pub fn insert_fulfilment(
        &self,
        update: &FulfilmentUpdate,
    ) -> Result<Option<String>, StoreError> {
        let (carrier, tracking) = match &update.shipment {
            Some((carrier, tracking)) => (Some(carrier.clone()), Some(tracking.clone())),
            None => (None, None),
        };
        let insert = Query::insert()
            .into_table(FulfilmentEvents::Table)
            .columns([
                FulfilmentEvents::EventId,
                FulfilmentEvents::OrderId,
                FulfilmentEvents::Status,
                FulfilmentEvents::Carrier,
                FulfilmentEvents::TrackingReference,
                FulfilmentEvents::CreatedAt,
            ])
            .values_panic([
                update.event_id.clone().into(),
                update.order_id.into(),
                update.step.status().as_str().into(),
                carrier.into(),
                tracking.into(),
                self.dialect().now(),
            ])
            .on_conflict(
                OnConflict::column(FulfilmentEvents::EventId)
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(FulfilmentEvents::CreatedAt)
            .to_owned();
        self.rows(&insert)?
            .first()
            .map(|row| row.time(FulfilmentEvents::CreatedAt))
            .transpose()
    }
}
