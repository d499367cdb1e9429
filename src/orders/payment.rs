//! Confirming a payment (SPEC §3 "Payment confirmation"): the status rule
//! is the domain's ([`OrderStatus::pay`]), applied under the order's lock
//! in the transaction that records the payment and its event, so a payment
//! id answers the same way however often it comes.

use super::store::{PaymentRecord, StoreError};
use super::{Deps, OrderError};
use crate::domain::events::OrderEvent;
use crate::domain::order::OrderStatus;
use crate::domain::payment::PaymentConfirmation;

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
            tx.set_status(order.id, order.status, OrderStatus::Paid)?;
        }
        // `None`: the same id, for another order, confirmed at this very
        // moment; refusing undoes this transaction, and a retry answers
        // from that row.
        let created_at = tx
            .insert_payment(payment, outcome)?
            .ok_or(StoreError::PaymentIdTaken)?;
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
