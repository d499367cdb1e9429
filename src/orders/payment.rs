//! Confirming a payment (SPEC §3 "Payment confirmation") and its refund
//! ("Fulfilment and refunds"): the rules are the domain's
//! ([`OrderStatus::pay`], [`RefundState::refund`](crate::domain::payment::RefundState::refund)),
//! applied under the order's lock in the transaction that records the
//! payment or refund and its event, so an id answers the same way however
//! often it comes.

use super::{Deps, OrderError};
use crate::domain::events::OrderEvent;
use crate::domain::order::{ChangeSource, OrderStatus};
use crate::domain::payment::{PaymentConfirmation, RefundConfirmation, RefundRefusal};
use crate::domain::payment::{PaymentRecord, RefundRecord};
use crate::store::StoreError;

/// What confirming a payment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentResult {
    /// Recorded now, or earlier with the same id and content.
    Recorded(PaymentRecord),
    NoSuchOrder,
    /// The payment id was recorded with another order, amount or currency.
    IdReused,
}

pub async fn confirm_payment(
    deps: &Deps<'_>,
    payment: &PaymentConfirmation,
) -> Result<PaymentResult, OrderError> {
    let write = deps.store.write(|tx| {
        // The order's lock makes confirmations of one order take turns, so
        // a repeat sees the first one's row.
        let order = tx.lock_order(payment.order_id)?;
        if let Some(stored) = tx.stored_payment(&payment.payment_id)? {
            return Ok(answer_again(stored, payment));
        }
        let Some(order) = order else {
            return Ok(PaymentResult::NoSuchOrder);
        };
        let outcome = order.status.pay(payment.amount, order.total);
        if outcome.is_ok() {
            tx.set_status(
                order.id,
                (order.status, OrderStatus::Paid),
                ChangeSource::Payment,
                Some(&payment.payment_id),
            )?;
        }
        // `None`: the same id, for another order, confirmed at this very
        // moment; refusing undoes this transaction, and a retry answers
        // from that row.
        let created_at = tx
            .insert_payment(payment, outcome)?
            .ok_or(StoreError::IdTaken)?;
        let event = match outcome {
            Ok(()) => OrderEvent::paid(payment),
            Err(reason) => OrderEvent::refund_required(payment, reason),
        };
        tx.append_event(&event.record(&deps.traceparent))?;
        Ok(PaymentResult::Recorded(PaymentRecord {
            payment_id: payment.payment_id.clone(),
            order_id: payment.order_id,
            amount: payment.amount,
            currency: payment.currency.clone(),
            outcome,
            created_at,
        }))
    });
    Ok(deps.phases.timed("db_write", write).await?)
}

/// What a confirmation whose id was recorded gets: the first answer if it
/// is the same confirmation, else a refusal of the reused id.
fn answer_again(stored: PaymentRecord, payment: &PaymentConfirmation) -> PaymentResult {
    let same = stored.order_id == payment.order_id
        && stored.amount == payment.amount
        && stored.currency == payment.currency;
    if same {
        PaymentResult::Recorded(stored)
    } else {
        PaymentResult::IdReused
    }
}

/// What confirming a refund found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundResult {
    /// Recorded now, or earlier with the same id and content.
    Recorded(RefundRecord),
    /// No such payment, or not of the order named.
    NoSuchPayment,
    /// The refund id was recorded for another payment, amount or currency.
    IdReused,
    /// Not applied, nothing recorded.
    Refused(RefundRefusal),
}

pub async fn confirm_refund(
    deps: &Deps<'_>,
    refund: &RefundConfirmation,
) -> Result<RefundResult, OrderError> {
    // The order to lock: the one named, else the payment's (a payment's
    // order never changes, so reading it first is safe).
    let order_id = match refund.order_id {
        Some(id) => Some(id),
        None => deps.store.payment_order(&refund.payment_id)?,
    };
    let Some(order_id) = order_id else {
        return Ok(RefundResult::NoSuchPayment);
    };
    let write = deps.store.write(|tx| {
        // The order's lock orders this after the cancel that owed it.
        tx.lock_order(order_id)?;
        if let Some(stored) = tx.stored_refund(&refund.refund_id)? {
            return Ok(if refund.matches(&stored.payment) {
                RefundResult::Recorded(stored)
            } else {
                RefundResult::IdReused
            });
        }
        let Some((payment, state)) = tx.payment_for_refund(&refund.payment_id)? else {
            return Ok(RefundResult::NoSuchPayment);
        };
        if payment.order_id != order_id {
            return Ok(RefundResult::NoSuchPayment);
        }
        if let Err(refusal) = state.refund(refund, &payment) {
            return Ok(RefundResult::Refused(refusal));
        }
        let refunded_at = tx
            .record_refund(&payment.payment_id, &refund.refund_id)?
            .ok_or(StoreError::IdTaken)?;
        let event = OrderEvent::Refunded {
            order_id: payment.order_id,
            payment_id: payment.payment_id.clone(),
            refund_id: refund.refund_id.clone(),
            amount: payment.amount,
            currency: payment.currency.clone(),
        };
        tx.append_event(&event.record(&deps.traceparent))?;
        Ok(RefundResult::Recorded(RefundRecord {
            refund_id: refund.refund_id.clone(),
            payment,
            refunded_at,
        }))
    });
    Ok(deps.phases.timed("db_write", write).await?)
}
