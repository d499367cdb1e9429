//! Reservation intents: the durable note "this request is about to reserve
//! these units", written before the first reservation. It is closed in the
//! order's own transaction ([`Store::insert_order`]) or handed to
//! [`releases`](super::releases) when the create fails; one left behind past
//! its lease means the request died in between, and the reconciler releases
//! its units.

use super::{Db, SQL_NOW, SQL_NOW_PLUS};
use crate::domain::order_request::OrderLine;
use crate::domain::{ProductId, UserId};
use crate::store::{ClaimedRelease, IntentId, StoreError, ABANDONED};
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

    /// The create failed: in one transaction, closes the intent and records
    /// `owed` as pending releases claimed by this request (which tries them
    /// at once). Nothing is claimed if the intent was already taken over.
    pub async fn abandon_intent(
        &self,
        intent: IntentId,
        owed: &[OrderLine],
        reason: &str,
        claim_seconds: u64,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        self.write_transaction(|store| {
            let row = store.exec(
                "DELETE FROM stock_intents WHERE id = ? RETURNING user_id, request_id",
                &[Value::Integer(intent.0)],
            )?;
            let (Some(user), Some(request_id)) = (
                super::first::<i64>(&row, 0),
                super::first::<&str>(&row, 1).map(str::to_owned),
            ) else {
                return Ok(Vec::new()); // the reconciler owns these units now
            };
            let lines: Vec<(ProductId, u32)> = owed
                .iter()
                .map(|l| (l.product_id, l.quantity.get()))
                .collect();
            store.insert_claimed_releases(user, &request_id, reason, None, &lines, claim_seconds)
        })
        .await
    }

    /// Turns intents whose lease has run out (at most `limit`) into pending
    /// releases, due now. Returns how many intents were expired.
    pub async fn expire_intents(&self, limit: u32) -> Result<usize, StoreError> {
        self.write_transaction(|store| {
            let expired = store.exec(
                &format!(
                    "DELETE FROM stock_intents WHERE id IN (SELECT id FROM stock_intents \
                     WHERE lease_until < {SQL_NOW} ORDER BY lease_until LIMIT ?) \
                     RETURNING user_id, request_id, items"
                ),
                &[Value::Integer(i64::from(limit))],
            )?;
            for row in &expired.rows {
                let (Some(user), Some(request_id), Some(items)) =
                    (row.get::<i64>(0), row.get::<&str>(1), row.get::<&str>(2))
                else {
                    return Err(StoreError::Malformed("stock_intents row"));
                };
                let items: Vec<(i64, u32)> = serde_json::from_str(items)?;
                for (product, quantity) in items {
                    store.exec(
                        &format!(
                            "INSERT INTO pending_releases (user_id, product_id, quantity, reason, \
                             request_id, last_error, created_at, next_attempt_at) \
                             VALUES (?, ?, ?, ?, ?, ?, {SQL_NOW}, {SQL_NOW})"
                        ),
                        &[
                            Value::Integer(user),
                            Value::Integer(product),
                            Value::Integer(i64::from(quantity)),
                            Value::Text(ABANDONED.into()),
                            Value::Text(request_id.into()),
                            Value::Text("the request ended between reserving and saving".into()),
                        ],
                    )?;
                }
            }
            Ok(expired.rows.len())
        })
        .await
    }
}
