//! Payment confirmations: the payment's row, read and written inside the
//! workflow's transaction (under the order's lock).

use super::rows::{self, Columns};
use super::sql::{sqlite_now, Param, Sql};
use super::{PaymentRecord, Run, Store, StoreError, Tx};
use crate::domain::money::Money;
use crate::domain::payment::{PaymentConfirmation, PaymentRefusal, RefundState};

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

/// A recorded payment with where its refund stands.
const PAYMENT_FOR_REFUND: Sql = Sql::fixed(
    "SELECT payment_id, order_id, amount, currency, reason, created_at, \
     outcome = 'refund_required' OR refund_required_at IS NOT NULL, refunded_at IS NOT NULL \
     FROM payments WHERE payment_id = ?1",
    "SELECT payment_id, order_id, amount, currency, reason, created_at AT TIME ZONE 'UTC', \
     outcome = 'refund_required' OR refund_required_at IS NOT NULL, refunded_at IS NOT NULL \
     FROM payments WHERE payment_id = $1",
);
/// The payment a refund id was recorded for.
const STORED_REFUND: Sql = Sql::fixed(
    "SELECT payment_id, order_id, amount, currency, refunded_at FROM payments \
     WHERE refund_id = ?1",
    "SELECT payment_id, order_id, amount, currency, refunded_at AT TIME ZONE 'UTC' \
     FROM payments WHERE refund_id = $1",
);
/// Nothing when the payment was refunded meanwhile.
const RECORD_REFUND: Sql = Sql::fixed(
    concat!(
        "UPDATE payments SET refund_id = ?2, refunded_at = ",
        sqlite_now!(),
        " WHERE payment_id = ?1 AND refunded_at IS NULL RETURNING refunded_at"
    ),
    "UPDATE payments SET refund_id = $2, refunded_at = now() \
     WHERE payment_id = $1 AND refunded_at IS NULL RETURNING refunded_at AT TIME ZONE 'UTC'",
);

/// A refund as recorded: the first answer for its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub refund_id: String,
    /// The payment refunded, as it was confirmed.
    pub payment: PaymentConfirmation,
    pub refunded_at: String,
}

/// The payment a refund is owed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedRefund {
    pub payment_id: String,
    pub amount: Money,
    pub currency: String,
}

/// The order a recorded payment is for.
const PAYMENT_ORDER: Sql = Sql::fixed(
    "SELECT order_id FROM payments WHERE payment_id = ?1",
    "SELECT order_id FROM payments WHERE payment_id = $1",
);

impl Store {
    /// The order payment `payment_id` was recorded for, if it was (read
    /// before taking that order's lock).
    pub fn payment_order(&self, payment_id: &str) -> Result<Option<i64>, StoreError> {
        let found = self.rows(
            &PAYMENT_ORDER,
            &[Param::Text(payment_id)],
            |row: &dyn Columns| rows::one_int(row),
        )?;
        Ok(found.into_iter().next())
    }
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

    /// The payment recorded with `payment_id`, as it was confirmed, and
    /// where its refund stands.
    pub fn payment_for_refund(
        &self,
        payment_id: &str,
    ) -> Result<Option<(PaymentConfirmation, RefundState)>, StoreError> {
        let found = self.rows(
            &PAYMENT_FOR_REFUND,
            &[Param::Text(payment_id)],
            |row: &dyn Columns| {
                let record = rows::payment(row)?;
                let bad = || StoreError::Malformed("payments row");
                let state = match (row.flag(6).ok_or_else(bad)?, row.flag(7).ok_or_else(bad)?) {
                    (_, true) => RefundState::Refunded,
                    (true, false) => RefundState::Owed,
                    (false, false) => RefundState::NotOwed,
                };
                let payment = PaymentConfirmation {
                    payment_id: record.payment_id,
                    order_id: record.order_id,
                    amount: record.amount,
                    currency: record.currency,
                };
                Ok((payment, state))
            },
        )?;
        Ok(found.into_iter().next())
    }

    /// The refund recorded with `refund_id`, if any.
    pub fn stored_refund(&self, refund_id: &str) -> Result<Option<RefundRecord>, StoreError> {
        let found = self.rows(
            &STORED_REFUND,
            &[Param::Text(refund_id)],
            |row: &dyn Columns| {
                let bad = || StoreError::Malformed("a refunded payment");
                Ok(RefundRecord {
                    refund_id: refund_id.to_owned(),
                    payment: PaymentConfirmation {
                        payment_id: row.text(0).ok_or_else(bad)?.to_owned(),
                        order_id: row.int(1).ok_or_else(bad)?,
                        amount: row.money(2).ok_or_else(bad)?,
                        currency: row.text(3).ok_or_else(bad)?.to_owned(),
                    },
                    refunded_at: row.time(4).ok_or_else(bad)?,
                })
            },
        )?;
        Ok(found.into_iter().next())
    }

    /// Records that payment `payment_id` was refunded under `refund_id`;
    /// the time, or `None` when it was refunded meanwhile.
    pub fn record_refund(
        &self,
        payment_id: &str,
        refund_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let params = [Param::Text(payment_id), Param::Text(refund_id)];
        let recorded = self.rows(&RECORD_REFUND, &params, |row: &dyn Columns| {
            row.time(0)
                .ok_or(StoreError::Malformed("payments.refunded_at"))
        })?;
        Ok(recorded.into_iter().next())
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
