//! A fulfilment update (SPEC §3 "Fulfilment and refunds"): the status rule
//! is the domain's ([`OrderStatus::fulfil`](crate::domain::order::OrderStatus::fulfil)),
//! applied under the order's lock in the transaction that records the
//! update, the status change and its event, so an event id answers the
//! same way however often it comes. A refused update records nothing: sent
//! again once the order can move, it applies.

use super::{Deps, OrderError};
use crate::domain::events::OrderEvent;
use crate::domain::fulfilment::FulfilmentRecord;
use crate::domain::fulfilment::FulfilmentUpdate;
use crate::domain::order::{ChangeSource, Fulfilment, InvalidTransition};
use crate::store::StoreError;

/// What applying a fulfilment update found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FulfilmentResult {
    /// Recorded now, or earlier with the same id and content.
    Recorded(FulfilmentRecord),
    NoSuchOrder,
    /// The event id was recorded with another order or content.
    IdReused,
    /// The order's status does not allow it (nothing recorded).
    Refused(InvalidTransition),
}

pub async fn apply_fulfilment(
    deps: &Deps<'_>,
    update: &FulfilmentUpdate,
) -> Result<FulfilmentResult, OrderError> {
    let write = deps.store.write(|tx| {
        let order = tx.lock_order(update.order_id)?;
        if let Some(stored) = tx.stored_fulfilment(&update.event_id)? {
            return Ok(if stored.update == *update {
                FulfilmentResult::Recorded(stored)
            } else {
                FulfilmentResult::IdReused
            });
        }
        let Some(order) = order else {
            return Ok(FulfilmentResult::NoSuchOrder);
        };
        if let Err(refused) = order.status.fulfil(update.step) {
            return Ok(FulfilmentResult::Refused(refused));
        }
        // `None`: the same id, for another order, recorded at this very
        // moment; refusing undoes this transaction, and a retry answers
        // from that row.
        let recorded_at = tx.insert_fulfilment(update)?.ok_or(StoreError::IdTaken)?;
        tx.set_status(
            order.id,
            (order.status, update.step.status()),
            ChangeSource::Fulfilment,
            Some(&update.event_id),
        )?;
        let event = match (update.step, &update.shipment) {
            (Fulfilment::Shipped, Some((carrier, tracking))) => OrderEvent::Shipped {
                order_id: order.id,
                fulfilment_event_id: update.event_id.clone(),
                carrier: carrier.clone(),
                tracking_reference: tracking.clone(),
            },
            (Fulfilment::Delivered, _) => OrderEvent::Delivered {
                order_id: order.id,
                fulfilment_event_id: update.event_id.clone(),
            },
            // `FulfilmentUpdate::parse` never makes one.
            (Fulfilment::Shipped, None) => {
                return Err(StoreError::Malformed("a shipment without its carrier"))
            }
        };
        tx.append_event(&event.record(&deps.traceparent))?;
        Ok(FulfilmentResult::Recorded(FulfilmentRecord {
            update: update.clone(),
            recorded_at,
        }))
    });
    Ok(deps.phases.timed("db_write", write).await?)
}
