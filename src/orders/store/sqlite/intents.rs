//! Reservation intents: the durable note "this request is about to reserve
//! these units", written before the first reservation. It is closed in the
//! order's own statement (`Store::insert_order`) or taken back when the
//! create fails; one left behind past
//! its lease means the request died in between, and the reconciler releases
//! its units.

use super::{Db, SQL_NOW, SQL_NOW_PLUS};
use crate::domain::UserId;
use crate::orders::store::{IntentId, StoreError};
use spin_sdk::sqlite3::Value;

impl Db {
    /// Records the intent to reserve `items` ([`intent_items`]), valid for
    /// `lease_seconds`.
    ///
    /// [`intent_items`]: crate::orders::store::intents::intent_items
    pub async fn open_intent(
        &self,
        user: UserId,
        request_id: &str,
        items: &str,
        reservation_key: &str,
        lease_seconds: u64,
    ) -> Result<IntentId, StoreError> {
        let sql = format!(
            "INSERT INTO stock_intents (user_id, request_id, items, reservation_key, created_at, \
             lease_until) VALUES (?, ?, ?, ?, {SQL_NOW}, {SQL_NOW_PLUS}) RETURNING id"
        );
        let lease = super::seconds_from_now(i64::try_from(lease_seconds).unwrap_or(i64::MAX));
        let params = [
            Value::Integer(user.get()),
            Value::Text(request_id.to_owned()),
            Value::Text(items.to_owned()),
            Value::Text(reservation_key.to_owned()),
            lease,
        ];
        let inserted = self.write_statement(&sql, &params).await?;
        super::first::<i64>(&inserted, 0)
            .map(IntentId)
            .ok_or(StoreError::Malformed("INSERT … RETURNING gave no row"))
    }
}
