//! Payment confirmations: the payment's row, read and written inside the
//! workflow's transaction (under the order's lock).

use super::rows::{self, Columns};
use super::sql::{sqlite_now, Param, Sql};
use super::{PaymentRecord, Run, StoreError, Tx};
use crate::domain::money::Money;
use crate::domain::payment::{PaymentConfirmation, PaymentRefusal};

const STORED_PAYMENT: Sql = Sql::fixed(
    "SELECT payment_id, order_id, amount, currency, reason, created_at FROM payments \
     WHERE payment_id = ?1",
    "SELECT payment_id, order_id, amount, currency, reason, created_at AT TIME ZONE 'UTC' \
     FROM payments WHERE payment_id = $1",
);
/// Nothing when the id was recorded meanwhile (by a transaction this one
/// could not see: PostgreSQL's row lock is the order's, not the id's).
const INSERT_PAYMENT: Sql = Sql::fixed(
    concat!(
        "INSERT INTO payments (payment_id, order_id, amount, currency, outcome, reason, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ",
        sqlite_now!(),
        ") ON CONFLICT (payment_id) DO NOTHING RETURNING created_at"
    ),
    "INSERT INTO payments (payment_id, order_id, amount, currency, outcome, reason, \
     created_at) VALUES ($1, $2, $3, $4, $5, $6, now()) \
     ON CONFLICT (payment_id) DO NOTHING RETURNING created_at AT TIME ZONE 'UTC'",
);

/// Marks the payment that paid order `?1` as owed back; answers it
/// (none when no payment was recorded for it).
const REQUIRE_REFUND: Sql = Sql::fixed(
    concat!(
        "UPDATE payments SET refund_required_at = ",
        sqlite_now!(),
        " WHERE order_id = ?1 AND outcome = 'paid' AND refund_required_at IS NULL \
         RETURNING payment_id, amount, currency"
    ),
    "UPDATE payments SET refund_required_at = now() \
     WHERE order_id = $1 AND outcome = 'paid' AND refund_required_at IS NULL \
     RETURNING payment_id, amount, currency",
);

/// The payment a refund is owed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedRefund {
    pub payment_id: String,
    pub amount: Money,
    pub currency: String,
}

impl Tx<'_> {
    /// Records that the payment of paid order `order_id` is owed back (its
    /// owner cancelled it); that payment, if one was recorded.
    pub fn require_refund(&self, order_id: i64) -> Result<Option<OwedRefund>, StoreError> {
        let owed = self.rows(
            &REQUIRE_REFUND,
            &[Param::Int(order_id)],
            |row: &dyn Columns| {
                let bad = || StoreError::Malformed("a payment owed back");
                Ok(OwedRefund {
                    payment_id: row.text(0).ok_or_else(bad)?.to_owned(),
                    amount: row.money(1).ok_or_else(bad)?,
                    currency: row.text(2).ok_or_else(bad)?.to_owned(),
                })
            },
        )?;
        Ok(owed.into_iter().next())
    }

    /// The payment recorded with `payment_id`, if any.
    pub fn stored_payment(&self, payment_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        let found = self.rows(
            &STORED_PAYMENT,
            &[Param::Text(payment_id)],
            |row: &dyn Columns| rows::payment(row),
        )?;
        Ok(found.into_iter().next())
    }

    /// Records `payment` with `outcome`; its recording time, or `None` when
    /// its id was recorded meanwhile.
    pub fn insert_payment(
        &self,
        payment: &PaymentConfirmation,
        outcome: Result<(), PaymentRefusal>,
    ) -> Result<Option<String>, StoreError> {
        let params = [
            Param::Text(&payment.payment_id),
            Param::Int(payment.order_id),
            Param::Money(payment.amount),
            Param::Text(&payment.currency),
            Param::Text(PaymentRecord::outcome_text(outcome)),
            Param::OptText(outcome.err().map(PaymentRefusal::as_str)),
        ];
        let inserted = self.rows(&INSERT_PAYMENT, &params, |row: &dyn Columns| {
            row.time(0)
                .ok_or(StoreError::Malformed("payments.created_at"))
        })?;
        Ok(inserted.into_iter().next())
    }
}
