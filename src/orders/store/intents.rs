//! Reservation intents: the durable note "this request is about to reserve
//! these units", written before the first reservation (each backend's
//! `open_intent`). It is closed by the order's own statement, taken back
//! by a create that failed, or, once its lease ran out (the request died in
//! between), taken by the reconciler, which releases its units.

use super::rows::{self, Columns};
use super::sql::{sqlite_now, Param, Sql};
use super::{IntentId, Run, StoreError, TakenIntent, Tx};
use crate::domain::order_request::OrderLine;

const TAKE_INTENT: Sql = Sql::fixed(
    "DELETE FROM stock_intents WHERE id = ?1 RETURNING user_id, request_id, items, reservation_key",
    "DELETE FROM stock_intents WHERE id = $1 RETURNING user_id, request_id, items, reservation_key",
);
const TAKE_EXPIRED_INTENTS: Sql = Sql::fixed(
    concat!(
        "DELETE FROM stock_intents WHERE id IN (SELECT id FROM stock_intents \
         WHERE lease_until < ",
        sqlite_now!(),
        " ORDER BY lease_until LIMIT ?1) RETURNING user_id, request_id, items, reservation_key"
    ),
    "DELETE FROM stock_intents WHERE id IN (SELECT id FROM stock_intents \
     WHERE lease_until < now() ORDER BY lease_until LIMIT $1 FOR UPDATE SKIP LOCKED) \
     RETURNING user_id, request_id, items, reservation_key",
);

/// The units an intent names, as stored: JSON pairs of product id and
/// quantity (read back by [`TakenIntent`]).
pub(super) fn intent_items(lines: &[OrderLine]) -> String {
    let pairs: Vec<[i64; 2]> = lines
        .iter()
        .map(|l| [l.product_id.get(), i64::from(l.quantity.get())])
        .collect();
    serde_json::to_string(&pairs).expect("integers serialise")
}

impl Tx<'_> {
    /// Deletes open intent `intent` and returns it; `None` when the
    /// reconciler took it over (its lease ran out).
    pub fn take_intent(&self, intent: IntentId) -> Result<Option<TakenIntent>, StoreError> {
        let taken = self.rows(
            &TAKE_INTENT,
            &[Param::Int(intent.0)],
            |row: &dyn Columns| rows::intent(row),
        )?;
        Ok(taken.into_iter().next())
    }

    /// Deletes up to `limit` intents whose lease ran out (not those another
    /// instance is taking) and returns them.
    pub fn take_expired_intents(&self, limit: u32) -> Result<Vec<TakenIntent>, StoreError> {
        self.rows(
            &TAKE_EXPIRED_INTENTS,
            &[Param::Int(i64::from(limit))],
            |row: &dyn Columns| rows::intent(row),
        )
    }
}
