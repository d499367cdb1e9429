//! Payment confirmations and refunds: the payment's row, read and written
//! inside the workflow's transaction (under the order's lock).

use super::connection::{Record, Row};
use super::schema::Payments;
use super::{money, Run, Store, StoreError, Tx};
use crate::domain::money::Money;
use crate::domain::payment::{
    PaymentConfirmation, PaymentRecord, PaymentRefusal, RefundRecord, RefundState,
};
use sea_query::{Expr, ExprTrait, OnConflict, Query};

impl PaymentRecord {
    /// What the `outcome` column says.
    fn outcome_text(outcome: Result<(), PaymentRefusal>) -> &'static str {
        if outcome.is_ok() {
            "paid"
        } else {
            "refund_required"
        }
    }
}

impl Record for PaymentRecord {
    type Column = Payments;
    const COLUMNS: &'static [Payments] = &[
        Payments::PaymentId,
        Payments::OrderId,
        Payments::Amount,
        Payments::Currency,
        Payments::Reason,
        Payments::CreatedAt,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        let outcome = match row.opt_text(Payments::Reason)? {
            None => Ok(()),
            Some(text) => {
                Err(PaymentRefusal::parse(text).ok_or(StoreError::Malformed("payments.reason"))?)
            }
        };
        Ok(PaymentRecord {
            payment_id: row.text(Payments::PaymentId)?.to_owned(),
            order_id: row.int(Payments::OrderId)?,
            amount: row.money(Payments::Amount)?,
            currency: row.text(Payments::Currency)?.to_owned(),
            outcome,
            created_at: row.time(Payments::CreatedAt)?,
        })
    }
}

/// The payment as it was confirmed.
impl Record for PaymentConfirmation {
    type Column = Payments;
    const COLUMNS: &'static [Payments] = &[
        Payments::PaymentId,
        Payments::OrderId,
        Payments::Amount,
        Payments::Currency,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        Ok(PaymentConfirmation {
            payment_id: row.text(Payments::PaymentId)?.to_owned(),
            order_id: row.int(Payments::OrderId)?,
            amount: row.money(Payments::Amount)?,
            currency: row.text(Payments::Currency)?.to_owned(),
        })
    }
}

/// The payment a refund is owed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedRefund {
    pub payment_id: String,
    pub amount: Money,
    pub currency: String,
}

impl Record for OwedRefund {
    type Column = Payments;
    const COLUMNS: &'static [Payments] =
        &[Payments::PaymentId, Payments::Amount, Payments::Currency];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        Ok(OwedRefund {
            payment_id: row.text(Payments::PaymentId)?.to_owned(),
            amount: row.money(Payments::Amount)?,
            currency: row.text(Payments::Currency)?.to_owned(),
        })
    }
}

/// Owed back: refused, or its paid order cancelled.
const OWED: &str = "owed";
const REFUNDED: &str = "refunded";

impl Store {
    /// The order payment `payment_id` was recorded for, if it was (read
    /// before taking that order's lock).
    pub fn payment_order(&self, payment_id: &str) -> Result<Option<i64>, StoreError> {
        let query = Query::select()
            .column(Payments::OrderId)
            .from(Payments::Table)
            .and_where(Expr::col(Payments::PaymentId).eq(payment_id))
            .to_owned();
        match self.rows(&query)?.first() {
            Some(row) => Ok(Some(row.int(Payments::OrderId)?)),
            None => Ok(None),
        }
    }
}

impl Tx<'_> {
    /// Records that the payment of paid order `order_id` is owed back (its
    /// owner cancelled it); that payment, if one was recorded.
    pub fn require_refund(&self, order_id: i64) -> Result<Option<OwedRefund>, StoreError> {
        let update = Query::update()
            .table(Payments::Table)
            .value(Payments::RefundRequiredAt, self.dialect().now())
            .and_where(Expr::col(Payments::OrderId).eq(order_id))
            .and_where(Expr::col(Payments::Outcome).eq("paid"))
            .and_where(Expr::col(Payments::RefundRequiredAt).is_null())
            .returning(Query::returning().columns(OwedRefund::COLUMNS.iter().copied()))
            .to_owned();
        OwedRefund::read_first(&self.rows(&update)?)
    }

    /// The payment recorded with `payment_id`, as it was confirmed, and
    /// where its refund stands.
    pub fn payment_for_refund(
        &self,
        payment_id: &str,
    ) -> Result<Option<(PaymentConfirmation, RefundState)>, StoreError> {
        let query = Query::select()
            .columns(PaymentConfirmation::COLUMNS.iter().copied())
            .expr_as(
                Expr::col(Payments::Outcome)
                    .eq("refund_required")
                    .or(Expr::col(Payments::RefundRequiredAt).is_not_null()),
                OWED,
            )
            .expr_as(Expr::col(Payments::RefundedAt).is_not_null(), REFUNDED)
            .from(Payments::Table)
            .and_where(Expr::col(Payments::PaymentId).eq(payment_id))
            .to_owned();
        let rows = self.rows(&query)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let state = match (row.flag(OWED)?, row.flag(REFUNDED)?) {
            (_, true) => RefundState::Refunded,
            (true, false) => RefundState::Owed,
            (false, false) => RefundState::NotOwed,
        };
        Ok(Some((PaymentConfirmation::read(row)?, state)))
    }

    /// The refund recorded with `refund_id`, if any.
    pub fn stored_refund(&self, refund_id: &str) -> Result<Option<RefundRecord>, StoreError> {
        let query = Query::select()
            .columns(PaymentConfirmation::COLUMNS.iter().copied())
            .column(Payments::RefundedAt)
            .from(Payments::Table)
            .and_where(Expr::col(Payments::RefundId).eq(refund_id))
            .to_owned();
        let rows = self.rows(&query)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(RefundRecord {
            refund_id: refund_id.to_owned(),
            payment: PaymentConfirmation::read(row)?,
            refunded_at: row.time(Payments::RefundedAt)?,
        }))
    }

    /// Records that payment `payment_id` was refunded under `refund_id`;
    /// the time, or `None` when it was refunded meanwhile.
    pub fn record_refund(
        &self,
        payment_id: &str,
        refund_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let update = Query::update()
            .table(Payments::Table)
            .value(Payments::RefundId, refund_id)
            .value(Payments::RefundedAt, self.dialect().now())
            .and_where(Expr::col(Payments::PaymentId).eq(payment_id))
            .and_where(Expr::col(Payments::RefundedAt).is_null())
            .returning_col(Payments::RefundedAt)
            .to_owned();
        self.rows(&update)?
            .first()
            .map(|row| row.time(Payments::RefundedAt))
            .transpose()
    }

    /// The payment recorded with `payment_id`, if any.
    pub fn stored_payment(&self, payment_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        let query = Query::select()
            .columns(PaymentRecord::COLUMNS.iter().copied())
            .from(Payments::Table)
            .and_where(Expr::col(Payments::PaymentId).eq(payment_id))
            .to_owned();
        PaymentRecord::read_first(&self.rows(&query)?)
    }

    /// Records `payment` with `outcome`; its recording time, or `None` when
    /// its id was recorded meanwhile (by a transaction this one could not
    /// see: PostgreSQL's row lock is the order's, not the id's).
    pub fn insert_payment(
        &self,
        payment: &PaymentConfirmation,
        outcome: Result<(), PaymentRefusal>,
    ) -> Result<Option<String>, StoreError> {
        let insert = Query::insert()
            .into_table(Payments::Table)
            .columns([
                Payments::PaymentId,
                Payments::OrderId,
                Payments::Amount,
                Payments::Currency,
                Payments::Outcome,
                Payments::Reason,
                Payments::CreatedAt,
            ])
            .values_panic([
                payment.payment_id.clone().into(),
                payment.order_id.into(),
                money(payment.amount),
                payment.currency.clone().into(),
                PaymentRecord::outcome_text(outcome).into(),
                outcome
                    .err()
                    .map(|refusal| refusal.as_str().to_owned())
                    .into(),
                self.dialect().now(),
            ])
            .on_conflict(
                OnConflict::column(Payments::PaymentId)
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(Payments::CreatedAt)
            .to_owned();
        self.rows(&insert)?
            .first()
            .map(|row| row.time(Payments::CreatedAt))
            .transpose()
    }
}
