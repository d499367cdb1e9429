//! `Idempotency-Key` rows (SPEC §3): a key's claim (decided by
//! `orders::idempotency`), its outcome stored by the order's own statement
//! or, for a refusal, on its own, and its purge after the retention.

use super::rows::{self, Columns};
use super::sql::{pg_now_plus, sqlite_now, sqlite_now_plus, Param, Sql};
use super::{OwnedKey, Run, Store, StoreError, Tx};
use crate::domain::idempotency::{StoredKey, RETENTION_SECONDS};

const INSERT_KEY: Sql = Sql::fixed(
    concat!(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, \
         lease_until) VALUES (?1, ?2, ?3, 'in_flight', ",
        sqlite_now!(),
        ", ",
        sqlite_now_plus!(4),
        ") ON CONFLICT DO NOTHING RETURNING 1"
    ),
    concat!(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, \
         lease_until) VALUES ($1, $2, $3, 'in_flight', now(), ",
        pg_now_plus!(4),
        ") ON CONFLICT DO NOTHING RETURNING 1"
    ),
);
/// `retention` is `-RETENTION_SECONDS`: the key expired before then.
const LOCK_KEY: Sql = Sql::fixed(
    concat!(
        "SELECT fingerprint, state = 'done', order_id, body, lease_until < ",
        sqlite_now!(),
        ", created_at < ",
        sqlite_now_plus!(3),
        " FROM idempotency_keys WHERE user_id = ?1 AND key = ?2"
    ),
    concat!(
        "SELECT fingerprint, state = 'done', order_id, body, lease_until < now(), \
         created_at < ",
        pg_now_plus!(3),
        " FROM idempotency_keys WHERE user_id = $1 AND key = $2 FOR UPDATE"
    ),
);
const TAKE_OVER_KEY: Sql = Sql::fixed(
    concat!(
        "UPDATE idempotency_keys SET fingerprint = ?3, state = 'in_flight', body = NULL, \
         order_id = NULL, status = NULL, created_at = ",
        sqlite_now!(),
        ", lease_until = ",
        sqlite_now_plus!(4),
        " WHERE user_id = ?1 AND key = ?2 RETURNING 1"
    ),
    concat!(
        "UPDATE idempotency_keys SET fingerprint = $3, state = 'in_flight', body = NULL, \
         order_id = NULL, status = NULL, created_at = now(), lease_until = ",
        pg_now_plus!(4),
        " WHERE user_id = $1 AND key = $2 RETURNING 1"
    ),
);
/// Only while this request holds it (`in_flight`): a key taken over by
/// another request after its lease is left alone.
const COMPLETE_KEY: Sql = Sql::fixed(
    "UPDATE idempotency_keys SET state = 'done', body = ?3, order_id = NULL \
     WHERE user_id = ?1 AND key = ?2 AND state = 'in_flight' RETURNING 1",
    "UPDATE idempotency_keys SET state = 'done', body = $3, order_id = NULL \
     WHERE user_id = $1 AND key = $2 AND state = 'in_flight' RETURNING 1",
);
const RELEASE_KEY: Sql = Sql::fixed(
    "DELETE FROM idempotency_keys WHERE user_id = ?1 AND key = ?2 AND state = 'in_flight' \
     RETURNING 1",
    "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = 'in_flight' \
     RETURNING 1",
);
const PURGE_KEYS: Sql = Sql::fixed(
    concat!(
        "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys \
         WHERE created_at < ",
        sqlite_now_plus!(1),
        " LIMIT ?2) RETURNING 1"
    ),
    concat!(
        "DELETE FROM idempotency_keys WHERE (user_id, key) IN (SELECT user_id, key \
         FROM idempotency_keys WHERE created_at < ",
        pg_now_plus!(1),
        " LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING 1"
    ),
);

fn key_params<'a>(owned: OwnedKey<'a>) -> [Param<'a>; 2] {
    [
        Param::Int(owned.user.get()),
        Param::Text(owned.key.as_str()),
    ]
}

fn claim_params<'a>(
    owned: OwnedKey<'a>,
    fingerprint: &'a str,
    lease_seconds: u64,
) -> [Param<'a>; 4] {
    let [user, key] = key_params(owned);
    [
        user,
        key,
        Param::Text(fingerprint),
        Param::seconds(lease_seconds),
    ]
}

impl Tx<'_> {
    /// Writes key `owned` as claimed (`in_flight`, with the body's
    /// `fingerprint`, for `lease_seconds`) unless it exists; whether it did.
    pub fn insert_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<bool, StoreError> {
        let params = claim_params(owned, fingerprint, lease_seconds);
        Ok(self.rows(&INSERT_KEY, &params, |_| Ok(()))?.len() == 1)
    }

    /// Key `owned` as stored, locked until the transaction ends.
    pub fn lock_key(&self, owned: OwnedKey<'_>) -> Result<Option<StoredKey>, StoreError> {
        let [user, key] = key_params(owned);
        let params = [user, key, Param::Seconds(-RETENTION_SECONDS)];
        let found = self.rows(&LOCK_KEY, &params, |row: &dyn Columns| {
            rows::stored_key(row)
        })?;
        Ok(found.into_iter().next())
    }

    /// Claims existing key `owned` afresh for this request.
    pub fn take_over_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<(), StoreError> {
        let params = claim_params(owned, fingerprint, lease_seconds);
        self.rows(&TAKE_OVER_KEY, &params, |_| Ok(()))?;
        Ok(())
    }
}

impl Store {
    /// Stores the outcome `body` (a refusal) of a key this request holds.
    pub async fn complete_key(&self, owned: OwnedKey<'_>, body: &str) -> Result<(), StoreError> {
        let [user, key] = key_params(owned);
        self.write_rows(&COMPLETE_KEY, &[user, key, Param::Text(body)], |_| Ok(()))
            .await?;
        Ok(())
    }

    /// Gives the key up: a retry runs again.
    pub async fn release_key(&self, owned: OwnedKey<'_>) -> Result<(), StoreError> {
        self.write_rows(&RELEASE_KEY, &key_params(owned), |_| Ok(()))
            .await?;
        Ok(())
    }

    /// Deletes up to `limit` keys past the retention; returns how many.
    pub async fn purge_expired_keys(&self, limit: u32) -> Result<usize, StoreError> {
        let params = [
            Param::Seconds(-RETENTION_SECONDS),
            Param::Int(i64::from(limit)),
        ];
        Ok(self
            .write_rows(&PURGE_KEYS, &params, |_| Ok(()))
            .await?
            .len())
    }
}
