//! Payment confirmations: the payment's row, read and written inside the
//! workflow's `BEGIN IMMEDIATE` transaction (which serialises them).

use super::{Db, SQL_NOW};
use crate::domain::payment::{PaymentConfirmation, PaymentRefusal};
use crate::orders::store::rows;
use crate::orders::store::{PaymentRecord, StoreError};
use spin_sdk::sqlite3::Value;

impl Db {
    pub(in crate::orders::store) fn stored_payment(
        &self,
        payment_id: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let found = self.exec(
            "SELECT payment_id, order_id, amount, currency, reason, created_at FROM payments \
             WHERE payment_id = ?",
            &[Value::Text(payment_id.to_owned())],
        )?;
        found.rows.first().map(rows::payment).transpose()
    }

    pub(in crate::orders::store) fn insert_payment(
        &self,
        payment: &PaymentConfirmation,
        outcome: Result<(), PaymentRefusal>,
    ) -> Result<Option<String>, StoreError> {
        let inserted = self.exec(
            &format!(
                "INSERT INTO payments (payment_id, order_id, amount, currency, outcome, \
                 reason, created_at) VALUES (?, ?, ?, ?, ?, ?, {SQL_NOW}) \
                 ON CONFLICT (payment_id) DO NOTHING RETURNING created_at"
            ),
            &[
                Value::Text(payment.payment_id.clone()),
                Value::Integer(payment.order_id),
                Value::Text(payment.amount.to_string()),
                Value::Text(payment.currency.clone()),
                Value::Text(PaymentRecord::outcome_text(outcome).into()),
                outcome
                    .err()
                    .map_or(Value::Null, |r| Value::Text(r.as_str().into())),
            ],
        )?;
        Ok(super::first::<&str>(&inserted, 0).map(str::to_owned))
    }
}
