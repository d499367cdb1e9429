//! Reservation intents: the durable note "this request is about to reserve
//! these units", written before the first reservation. It is closed in the
//! order's own statement (`Store::insert_order`) or taken back when the
//! create fails; one left behind past
//! its lease means the request died in between, and the reconciler releases
//! its units.

use super::{Db, SQL_NOW, SQL_NOW_PLUS};
use crate::domain::order_request::OrderLine;
use crate::domain::UserId;
use crate::orders::store::{ExpiredIntent, IntentId, StoreError};
use spin_sdk::sqlite3::Value;

impl Db {
    /// Records the intent to reserve `lines`, valid for `lease_seconds`.
    pub async fn open_intent(
        &self,
        user: UserId,
        request_id: &str,
        lines: &[OrderLine],
        lease_seconds: u64,
    ) -> Result<IntentId, StoreError> {
        let items: Vec<[i64; 2]> = lines
            .iter()
            .map(|l| [l.product_id.get(), i64::from(l.quantity.get())])
            .collect();
        let items = serde_json::to_string(&items).expect("integers serialise");
        let sql = format!(
            "INSERT INTO stock_intents (user_id, request_id, items, created_at, lease_until) \
             VALUES (?, ?, ?, {SQL_NOW}, {SQL_NOW_PLUS}) RETURNING id"
        );
        let lease = super::seconds_from_now(i64::try_from(lease_seconds).unwrap_or(i64::MAX));
        let params = [
            Value::Integer(user.get()),
            Value::Text(request_id.to_owned()),
            Value::Text(items),
            lease,
        ];
        let inserted = self.write_statement(&sql, &params).await?;
        super::first::<i64>(&inserted, 0)
            .map(IntentId)
            .ok_or(StoreError::Malformed("INSERT … RETURNING gave no row"))
    }

    pub(in crate::orders::store) fn take_intent(
        &self,
        intent: IntentId,
    ) -> Result<Option<(UserId, String)>, StoreError> {
        let row = self.exec(
            "DELETE FROM stock_intents WHERE id = ? RETURNING user_id, request_id",
            &[Value::Integer(intent.0)],
        )?;
        let Some(row) = row.rows.first() else {
            return Ok(None);
        };
        let malformed = || StoreError::Malformed("stock_intents row");
        let user = row
            .get::<i64>(0)
            .and_then(UserId::new)
            .ok_or_else(malformed)?;
        let request_id = row.get::<&str>(1).ok_or_else(malformed)?;
        Ok(Some((user, request_id.to_owned())))
    }

    pub(in crate::orders::store) fn take_expired_intents(
        &self,
        limit: u32,
    ) -> Result<Vec<ExpiredIntent>, StoreError> {
        let expired = self.exec(
            &format!(
                "DELETE FROM stock_intents WHERE id IN (SELECT id FROM stock_intents \
                 WHERE lease_until < {SQL_NOW} ORDER BY lease_until LIMIT ?) \
                 RETURNING user_id, request_id, items"
            ),
            &[Value::Integer(i64::from(limit))],
        )?;
        expired
            .rows
            .iter()
            .map(|row| ExpiredIntent::from_row(row.get(0), row.get(1), row.get(2)))
            .collect()
    }
}
