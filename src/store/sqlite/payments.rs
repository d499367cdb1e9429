//! Payment confirmations: the order's status change and the payment's row
//! in one `BEGIN IMMEDIATE` transaction (which serialises confirmations).

use super::{Db, SQL_NOW};
use crate::domain::events::OrderEvent;
use crate::domain::money::Money;
use crate::domain::order::OrderStatus;
use crate::domain::payment::PaymentConfirmation;
use crate::store::{PaymentRecord, PaymentResult, StoreError};
use spin_sdk::sqlite3::Value;

impl Db {
    pub async fn confirm_payment(
        &self,
        payment: &PaymentConfirmation,
    ) -> Result<PaymentResult, StoreError> {
        self.write_transaction(|db| {
            if let Some(stored) = db.stored_payment(&payment.payment_id)? {
                return Ok(stored.answer_for(payment));
            }
            let order = db.exec(
                "SELECT status, total_amount FROM orders WHERE id = ?",
                &[Value::Integer(payment.order_id)],
            )?;
            let Some(row) = order.rows.first() else {
                return Ok(PaymentResult::NoSuchOrder);
            };
            let status = row
                .get::<&str>(0)
                .and_then(OrderStatus::parse)
                .ok_or(StoreError::Malformed("status"))?;
            let total = row
                .get::<&str>(1)
                .and_then(|t| Money::parse(t).ok())
                .ok_or(StoreError::Malformed("total_amount"))?;
            let outcome = status.pay(payment.amount, total);
            if outcome.is_ok() {
                let changed = db.exec(
                    &format!(
                        "UPDATE orders SET status = 'PAID', updated_at = {SQL_NOW} \
                         WHERE id = ? AND status = 'CREATED' RETURNING id"
                    ),
                    &[Value::Integer(payment.order_id)],
                )?;
                if changed.rows.is_empty() {
                    return Err(StoreError::Malformed(
                        "order changed under a write transaction",
                    ));
                }
            }
            let inserted = db.exec(
                &format!(
                    "INSERT INTO payments (payment_id, order_id, amount, currency, outcome, \
                     reason, created_at) VALUES (?, ?, ?, ?, ?, ?, {SQL_NOW}) RETURNING created_at"
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
            db.append_event(&match outcome {
                Ok(()) => OrderEvent::paid(payment),
                Err(reason) => OrderEvent::refund_required(payment, reason),
            })?;
            let created_at = super::first::<&str>(&inserted, 0)
                .ok_or(StoreError::Malformed("INSERT … RETURNING gave no row"))?
                .to_owned();
            Ok(PaymentResult::Recorded(PaymentRecord {
                payment_id: payment.payment_id.clone(),
                order_id: payment.order_id,
                amount: payment.amount,
                currency: payment.currency.clone(),
                outcome,
                created_at,
            }))
        })
        .await
    }

    fn stored_payment(&self, payment_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        let found = self.exec(
            "SELECT payment_id, order_id, amount, currency, reason, created_at FROM payments \
             WHERE payment_id = ?",
            &[Value::Text(payment_id.to_owned())],
        )?;
        let Some(row) = found.rows.first() else {
            return Ok(None);
        };
        let malformed = StoreError::Malformed;
        let text = |i| row.get::<&str>(i);
        Ok(Some(PaymentRecord {
            payment_id: text(0).ok_or(malformed("payment_id"))?.to_owned(),
            order_id: row.get(1).ok_or(malformed("order_id"))?,
            amount: text(2)
                .and_then(|t| Money::parse(t).ok())
                .ok_or(malformed("amount"))?,
            currency: text(3).ok_or(malformed("currency"))?.to_owned(),
            outcome: PaymentRecord::outcome_from(text(4))?,
            created_at: text(5).ok_or(malformed("created_at"))?.to_owned(),
        }))
    }
}
