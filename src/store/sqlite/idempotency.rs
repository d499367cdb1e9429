//! `Idempotency-Key` bookkeeping (SPEC §3). A key is claimed in its own
//! transaction before the Catalog is called; the outcome is stored in the
//! transaction that writes the order (so "order exists" and "key answers
//! with it" are one fact), or on its own for a stored refusal.
//!
//! The outcome is kept as domain facts, not as an HTTP answer: the order's
//! id (its answer is the order as created, rebuilt from its immutable rows)
//! or the refusal's code and product, as `{"code", "product_id"}` in
//! `body` (rows written before this layout hold the whole answer there,
//! which carries the same two members).

use super::{Db, SQL_NOW, SQL_NOW_PLUS};
use crate::domain::idempotency::RETENTION_SECONDS;
use crate::domain::order::Refusal;
use crate::domain::ProductId;
use crate::store::{KeyClaim, KeyOutcome, OwnedKey, StoreError};
use spin_sdk::sqlite3::{RowResult, Value};

impl Db {
    /// Claims `key` for `user`'s request with this body `fingerprint`. A key
    /// older than the retention is treated as new; an in-flight claim older
    /// than `lease_seconds` belonged to a request that died and is taken over.
    pub async fn claim_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<KeyClaim, StoreError> {
        let key_params = [
            Value::Integer(owned.user.get()),
            Value::Text(owned.key.as_str().to_owned()),
        ];
        let lease = super::seconds_from_now(i64::try_from(lease_seconds).unwrap_or(i64::MAX));
        self.write_transaction(|store| {
            let found = store.exec(
                &format!(
                    "SELECT fingerprint, state, status, body, order_id, \
                     lease_until < {SQL_NOW} AS lease_over, created_at < {SQL_NOW_PLUS} AS expired \
                     FROM idempotency_keys WHERE user_id = ? AND key = ?"
                ),
                &[
                    super::seconds_from_now(-RETENTION_SECONDS),
                    key_params[0].clone(),
                    key_params[1].clone(),
                ],
            )?;
            if let Some(row) = found.rows.first() {
                let expired = row.get::<bool>(6).unwrap_or(false);
                if !expired {
                    if row.get::<&str>(0) != Some(fingerprint) {
                        return Ok(KeyClaim::Reused);
                    }
                    if row.get::<&str>(1) == Some("done") {
                        return stored_outcome(row).map(KeyClaim::Replay);
                    }
                    if !row.get::<bool>(5).unwrap_or(false) {
                        return Ok(KeyClaim::InUse);
                    }
                }
            }
            store.exec(
                &format!(
                    "INSERT OR REPLACE INTO idempotency_keys \
                     (user_id, key, fingerprint, state, created_at, lease_until) \
                     VALUES (?, ?, ?, 'in_flight', {SQL_NOW}, {SQL_NOW_PLUS})"
                ),
                &[
                    key_params[0].clone(),
                    key_params[1].clone(),
                    Value::Text(fingerprint.to_owned()),
                    lease,
                ],
            )?;
            Ok(KeyClaim::Claimed)
        })
        .await
    }

    /// Stores a refusal that reached the Catalog for replay.
    pub async fn complete_key(
        &self,
        owned: OwnedKey<'_>,
        refusal: Refusal,
    ) -> Result<(), StoreError> {
        let (sql, params) = complete_key_sql(owned, KeyOutcome::Refused(refusal));
        self.write_statement(sql, &params).await?;
        Ok(())
    }

    /// Gives the key up (the outcome is not one to store): a retry runs again.
    pub async fn release_key(&self, owned: OwnedKey<'_>) -> Result<(), StoreError> {
        self.write_statement(
            "DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND state = 'in_flight'",
            &[
                Value::Integer(owned.user.get()),
                Value::Text(owned.key.as_str().to_owned()),
            ],
        )
        .await?;
        Ok(())
    }

    /// Deletes up to `limit` keys past the retention; returns how many.
    pub async fn purge_expired_keys(&self, limit: u32) -> Result<usize, StoreError> {
        let deleted = self
            .write_statement(
                &format!(
                    "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM \
                     idempotency_keys WHERE created_at < {SQL_NOW_PLUS} LIMIT ?) RETURNING 1"
                ),
                &[
                    super::seconds_from_now(-RETENTION_SECONDS),
                    Value::Integer(i64::from(limit)),
                ],
            )
            .await?;
        Ok(deleted.rows.len())
    }
}

/// Settles a key this request holds (`in_flight`): a key taken over by
/// another request after its lease is left alone.
fn complete_key_sql(owned: OwnedKey<'_>, outcome: KeyOutcome) -> (&'static str, [Value; 4]) {
    let (body, order_id) = match outcome {
        KeyOutcome::Created { order_id } => (Value::Null, Value::Integer(order_id)),
        KeyOutcome::Refused(refusal) => (
            Value::Text(
                serde_json::json!({
                    "code": refusal.code(),
                    "product_id": refusal.product_id().get(),
                })
                .to_string(),
            ),
            Value::Null,
        ),
    };
    (
        "UPDATE idempotency_keys SET state = 'done', body = ?, order_id = ? \
         WHERE user_id = ? AND key = ? AND state = 'in_flight'",
        [
            body,
            order_id,
            Value::Integer(owned.user.get()),
            Value::Text(owned.key.as_str().to_owned()),
        ],
    )
}

/// The outcome of a `done` row (`fingerprint, state, status, body,
/// order_id, …`).
fn stored_outcome(row: &RowResult) -> Result<KeyOutcome, StoreError> {
    if let Some(order_id) = row.get::<i64>(4) {
        return Ok(KeyOutcome::Created { order_id });
    }
    let body: serde_json::Value = serde_json::from_str(row.get::<&str>(3).unwrap_or("null"))?;
    body["code"]
        .as_str()
        .zip(body["product_id"].as_i64().and_then(ProductId::new))
        .and_then(|(code, product)| Refusal::from_code(code, product))
        .map(KeyOutcome::Refused)
        .ok_or(StoreError::Malformed("idempotency_keys outcome"))
}
