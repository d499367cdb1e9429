//! Fulfilment updates: the update's row, read and written inside the
//! workflow's transaction (under the order's lock).

use super::rows::Columns;
use super::sql::{sqlite_now, Param, Sql};
use super::{Run, StoreError, Tx};
use crate::domain::fulfilment::FulfilmentUpdate;
use crate::domain::order::Fulfilment;

const STORED_FULFILMENT: Sql = Sql::fixed(
    "SELECT event_id, order_id, status, carrier, tracking_reference, created_at \
     FROM fulfilment_events WHERE event_id = ?1",
    "SELECT event_id, order_id, status, carrier, tracking_reference, \
     created_at AT TIME ZONE 'UTC' FROM fulfilment_events WHERE event_id = $1",
);
/// Nothing when the id was recorded meanwhile (for another order).
const INSERT_FULFILMENT: Sql = Sql::fixed(
    concat!(
        "INSERT INTO fulfilment_events (event_id, order_id, status, carrier, \
         tracking_reference, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ",
        sqlite_now!(),
        ") ON CONFLICT (event_id) DO NOTHING RETURNING created_at"
    ),
    "INSERT INTO fulfilment_events (event_id, order_id, status, carrier, \
     tracking_reference, created_at) VALUES ($1, $2, $3, $4, $5, now()) \
     ON CONFLICT (event_id) DO NOTHING RETURNING created_at AT TIME ZONE 'UTC'",
);

/// A fulfilment update as recorded: the first answer for its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulfilmentRecord {
    pub update: FulfilmentUpdate,
    pub recorded_at: String,
}

impl Tx<'_> {
    /// The update recorded with `event_id`, if any.
    pub fn stored_fulfilment(
        &self,
        event_id: &str,
    ) -> Result<Option<FulfilmentRecord>, StoreError> {
        let found = self.rows(
            &STORED_FULFILMENT,
            &[Param::Text(event_id)],
            |row: &dyn Columns| {
                let bad = || StoreError::Malformed("fulfilment_events row");
                let step = match row.text(2) {
                    Some("SHIPPED") => Fulfilment::Shipped,
                    Some("DELIVERED") => Fulfilment::Delivered,
                    _ => return Err(bad()),
                };
                let shipment = match (row.text(3), row.text(4)) {
                    (Some(carrier), Some(tracking)) => {
                        Some((carrier.to_owned(), tracking.to_owned()))
                    }
                    _ => None,
                };
                Ok(FulfilmentRecord {
                    update: FulfilmentUpdate {
                        event_id: row.text(0).ok_or_else(bad)?.to_owned(),
                        order_id: row.int(1).ok_or_else(bad)?,
                        step,
                        shipment,
                    },
                    recorded_at: row.time(5).ok_or_else(bad)?,
                })
            },
        )?;
        Ok(found.into_iter().next())
    }

    /// Records `update`; its recording time, or `None` when its id was
    /// recorded meanwhile.
    pub fn insert_fulfilment(
        &self,
        update: &FulfilmentUpdate,
    ) -> Result<Option<String>, StoreError> {
        let (carrier, tracking) = match &update.shipment {
            Some((carrier, tracking)) => (Some(carrier.as_str()), Some(tracking.as_str())),
            None => (None, None),
        };
        let params = [
            Param::Text(&update.event_id),
            Param::Int(update.order_id),
            Param::Text(update.step.status().as_str()),
            Param::OptText(carrier),
            Param::OptText(tracking),
        ];
        let inserted = self.rows(&INSERT_FULFILMENT, &params, |row: &dyn Columns| {
            row.time(0)
                .ok_or(StoreError::Malformed("fulfilment_events.created_at"))
        })?;
        Ok(inserted.into_iter().next())
    }
}
