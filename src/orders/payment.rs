//! Confirming a payment (SPEC §3 "Payment confirmation"): the status rule
//! is the domain's ([`OrderStatus::pay`](crate::domain::order::OrderStatus::pay)),
//! applied under the order's lock in the transaction that records the
//! payment, so a payment id answers the same way however often it comes.

use super::{Deps, OrderError};
use crate::domain::payment::PaymentConfirmation;
use crate::store::PaymentResult;

pub async fn confirm_payment(
    deps: &Deps<'_>,
    payment: &PaymentConfirmation,
) -> Result<PaymentResult, OrderError> {
    Ok(deps
        .phases
        .timed("db_write", deps.store.confirm_payment(payment))
        .await?)
}
