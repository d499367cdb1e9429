//! `Idempotency-Key` rows (SPEC §3): a key's claim (decided by
//! `orders::idempotency`), its outcome stored by the order's own write or,
//! for a refusal, on its own, and its purge after the retention.

use super::connection::{Record, Row};
use super::schema::IdempotencyKeys;
use super::{OwnedKey, Run, Store, StoreError, Tx};
use crate::clock;
use crate::domain::idempotency::{StoredKey, RETENTION_SECONDS};
use sea_query::{
    Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query, SelectStatement, UpdateStatement,
};

/// Read under the lock: the stored key, with whether its lease is over and
/// whether it expired (computed by the database's clock).
impl Record for StoredKey {
    type Column = IdempotencyKeys;
    const COLUMNS: &'static [IdempotencyKeys] = &[
        IdempotencyKeys::Fingerprint,
        IdempotencyKeys::State,
        IdempotencyKeys::OrderId,
        IdempotencyKeys::Body,
    ];

    fn read(row: Row<'_>) -> Result<Self, StoreError> {
        Ok(StoredKey {
            fingerprint: row.text(IdempotencyKeys::Fingerprint)?.to_owned(),
            done: row.text(IdempotencyKeys::State)? == "done",
            order_id: row.opt_int(IdempotencyKeys::OrderId)?,
            body: row.opt_text(IdempotencyKeys::Body)?.map(str::to_owned),
            lease_over: row.flag(LEASE_OVER)?,
            expired: row.flag(EXPIRED)?,
        })
    }
}

const LEASE_OVER: &str = "lease_over";
const EXPIRED: &str = "expired";

/// The row of key `owned`.
fn this_key(query: &mut SelectStatement, owned: OwnedKey<'_>) {
    query
        .and_where(Expr::col(IdempotencyKeys::UserId).eq(owned.user.get()))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(owned.key.as_str()));
}

fn where_this_key(update: &mut UpdateStatement, owned: OwnedKey<'_>) {
    update
        .and_where(Expr::col(IdempotencyKeys::UserId).eq(owned.user.get()))
        .and_where(Expr::col(IdempotencyKeys::Key).eq(owned.key.as_str()));
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
        let d = self.dialect();
        let insert = Query::insert()
            .into_table(IdempotencyKeys::Table)
            .columns([
                IdempotencyKeys::UserId,
                IdempotencyKeys::Key,
                IdempotencyKeys::Fingerprint,
                IdempotencyKeys::State,
                IdempotencyKeys::CreatedAt,
                IdempotencyKeys::LeaseUntil,
            ])
            .values_panic([
                owned.user.get().into(),
                owned.key.as_str().into(),
                fingerprint.into(),
                "in_flight".into(),
                d.now(),
                d.now_plus(clock::signed_seconds(lease_seconds)),
            ])
            .on_conflict(
                OnConflict::columns([IdempotencyKeys::UserId, IdempotencyKeys::Key])
                    .do_nothing()
                    .to_owned(),
            )
            .returning_col(IdempotencyKeys::UserId)
            .to_owned();
        Ok(self.rows(&insert)?.len() == 1)
    }

    /// Key `owned` as stored, locked until the transaction ends.
    pub fn lock_key(&self, owned: OwnedKey<'_>) -> Result<Option<StoredKey>, StoreError> {
        let d = self.dialect();
        let mut query = Query::select()
            .columns(StoredKey::COLUMNS.iter().copied())
            .expr_as(
                Expr::col(IdempotencyKeys::LeaseUntil).lt(d.now()),
                LEASE_OVER,
            )
            .expr_as(
                Expr::col(IdempotencyKeys::CreatedAt).lt(d.now_plus(-RETENTION_SECONDS)),
                EXPIRED,
            )
            .from(IdempotencyKeys::Table)
            .lock(LockType::Update)
            .to_owned();
        this_key(&mut query, owned);
        StoredKey::read_first(&self.rows(&query)?)
    }

    /// Claims existing key `owned` afresh for this request.
    pub fn take_over_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<(), StoreError> {
        let d = self.dialect();
        let mut update = Query::update()
            .table(IdempotencyKeys::Table)
            .value(IdempotencyKeys::Fingerprint, fingerprint)
            .value(IdempotencyKeys::State, "in_flight")
            .value(IdempotencyKeys::Body, Expr::val(None::<String>))
            .value(IdempotencyKeys::OrderId, Expr::val(None::<i64>))
            .value(IdempotencyKeys::CreatedAt, d.now())
            .value(
                IdempotencyKeys::LeaseUntil,
                d.now_plus(clock::signed_seconds(lease_seconds)),
            )
            .to_owned();
        where_this_key(&mut update, owned);
        self.exec(&update)
    }
}

impl Store {
    /// Stores the outcome `body` (a refusal) of a key this request holds;
    /// a key taken over by another request after its lease is left alone.
    pub async fn complete_key(&self, owned: OwnedKey<'_>, body: &str) -> Result<(), StoreError> {
        let mut update = Query::update()
            .table(IdempotencyKeys::Table)
            .value(IdempotencyKeys::State, "done")
            .value(IdempotencyKeys::Body, body)
            .value(IdempotencyKeys::OrderId, Expr::val(None::<i64>))
            .and_where(Expr::col(IdempotencyKeys::State).eq("in_flight"))
            .to_owned();
        where_this_key(&mut update, owned);
        self.write_exec(&update).await
    }

    /// Gives the key up (only while this request holds it): a retry runs
    /// again.
    pub async fn release_key(&self, owned: OwnedKey<'_>) -> Result<(), StoreError> {
        let delete = Query::delete()
            .from_table(IdempotencyKeys::Table)
            .and_where(Expr::col(IdempotencyKeys::UserId).eq(owned.user.get()))
            .and_where(Expr::col(IdempotencyKeys::Key).eq(owned.key.as_str()))
            .and_where(Expr::col(IdempotencyKeys::State).eq("in_flight"))
            .to_owned();
        self.write_exec(&delete).await
    }

    /// Deletes up to `limit` keys past the retention; returns how many.
    pub async fn purge_expired_keys(&self, limit: u32) -> Result<usize, StoreError> {
        let d = self.dialect();
        let expired = Query::select()
            .columns([IdempotencyKeys::UserId, IdempotencyKeys::Key])
            .from(IdempotencyKeys::Table)
            .and_where(Expr::col(IdempotencyKeys::CreatedAt).lt(d.now_plus(-RETENTION_SECONDS)))
            .limit(u64::from(limit))
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let delete = Query::delete()
            .from_table(IdempotencyKeys::Table)
            .and_where(
                Expr::tuple([
                    Expr::col(IdempotencyKeys::UserId),
                    Expr::col(IdempotencyKeys::Key),
                ])
                .in_subquery(expired),
            )
            .returning_col(IdempotencyKeys::UserId)
            .to_owned();
        Ok(self.write_rows(&delete).await?.len())
    }
}
