//! `Idempotency-Key` bookkeeping (SPEC §3): the rows behind a key's claim
//! (decided by `orders::idempotency`), its outcome stored in the order's own
//! statement or, for a refusal, on its own.

use super::{Db, SQL_NOW, SQL_NOW_PLUS};
use crate::domain::idempotency::{StoredKey, RETENTION_SECONDS};
use crate::orders::store::rows;
use crate::orders::store::{OwnedKey, StoreError};
use spin_sdk::sqlite3::Value;

impl Db {
    pub(in crate::orders::store) fn insert_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<bool, StoreError> {
        let inserted = self.exec(
            &format!(
                "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, \
                 lease_until) VALUES (?, ?, ?, 'in_flight', {SQL_NOW}, {SQL_NOW_PLUS}) \
                 ON CONFLICT DO NOTHING RETURNING 1"
            ),
            &claim_params(owned, fingerprint, lease_seconds),
        )?;
        Ok(!inserted.rows.is_empty())
    }

    /// Under the write lock the transaction holds already.
    pub(in crate::orders::store) fn lock_key(
        &self,
        owned: OwnedKey<'_>,
    ) -> Result<Option<StoredKey>, StoreError> {
        let found = self.exec(
            &format!(
                "SELECT fingerprint, state = 'done', order_id, body, \
                 lease_until < {SQL_NOW}, created_at < {SQL_NOW_PLUS} \
                 FROM idempotency_keys WHERE user_id = ? AND key = ?"
            ),
            &[
                super::seconds_from_now(-RETENTION_SECONDS),
                Value::Integer(owned.user.get()),
                Value::Text(owned.key.as_str().to_owned()),
            ],
        )?;
        found.rows.first().map(rows::stored_key).transpose()
    }

    pub(in crate::orders::store) fn take_over_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "UPDATE idempotency_keys SET fingerprint = ?3, state = 'in_flight', body = NULL, \
                 order_id = NULL, status = NULL, created_at = {SQL_NOW}, \
                 lease_until = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?4) \
                 WHERE user_id = ?1 AND key = ?2"
            ),
            &claim_params(owned, fingerprint, lease_seconds),
        )?;
        Ok(())
    }

    /// Stores a refusal's `body` as the outcome of a key this request holds.
    pub async fn complete_key(&self, owned: OwnedKey<'_>, body: &str) -> Result<(), StoreError> {
        self.write_statement(
            "UPDATE idempotency_keys SET state = 'done', body = ?, order_id = NULL \
             WHERE user_id = ? AND key = ? AND state = 'in_flight'",
            &[
                Value::Text(body.to_owned()),
                Value::Integer(owned.user.get()),
                Value::Text(owned.key.as_str().to_owned()),
            ],
        )
        .await?;
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

/// `user_id, key, fingerprint, lease` of a claim.
fn claim_params(owned: OwnedKey<'_>, fingerprint: &str, lease_seconds: u64) -> [Value; 4] {
    [
        Value::Integer(owned.user.get()),
        Value::Text(owned.key.as_str().to_owned()),
        Value::Text(fingerprint.to_owned()),
        super::seconds_from_now(i64::try_from(lease_seconds).unwrap_or(i64::MAX)),
    ]
}
