//! Stock owed back to the Catalog. A release is first written here, claimed
//! by the request that will try it (so two requests never release the same
//! row at once), and deleted only after the Catalog confirmed it; a failed
//! try is rescheduled with back-off, and an operator may settle one by hand
//! (moved to `settled_releases`). Nothing here is ever dropped.

use super::rows::{self, Columns};
use super::sql::{pg_now_plus, sqlite_now, sqlite_now_plus, Param, Sql};
use super::{
    ClaimedRelease, NewReleases, PendingRelease, Run, SettledRelease, Store, StoreError, Tx,
};
use crate::domain::release::{reservation_id, Settlement};

const INSERT_RELEASE: Sql = Sql::fixed(
    concat!(
        "INSERT INTO pending_releases (user_id, product_id, quantity, reason, request_id, \
         order_id, attempts, last_error, reservation, created_at, next_attempt_at, claimed_until) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?9, ",
        sqlite_now!(),
        ", ",
        sqlite_now!(),
        ", ",
        sqlite_now_plus!(8),
        ") RETURNING id, user_id, product_id, quantity, attempts, reservation"
    ),
    concat!(
        "INSERT INTO pending_releases (user_id, product_id, quantity, reason, request_id, \
         order_id, attempts, last_error, reservation, created_at, next_attempt_at, claimed_until) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $9, now(), now(), ",
        pg_now_plus!(8),
        ") RETURNING id, user_id, product_id, quantity, attempts, reservation"
    ),
);
const DELETE_RELEASE: Sql = Sql::fixed(
    "DELETE FROM pending_releases WHERE id = ?1 RETURNING id",
    "DELETE FROM pending_releases WHERE id = $1 RETURNING id",
);
/// Unclaimed: SQLite's '' and PostgreSQL's -infinity are before any time.
const RESCHEDULE_RELEASE: Sql = Sql::fixed(
    concat!(
        "UPDATE pending_releases SET last_error = ?1, claimed_until = '', next_attempt_at = ",
        sqlite_now_plus!(2),
        " WHERE id = ?3 RETURNING id"
    ),
    concat!(
        "UPDATE pending_releases SET last_error = $1, claimed_until = '-infinity', \
         next_attempt_at = ",
        pg_now_plus!(2),
        " WHERE id = $3 RETURNING id"
    ),
);
const RELEASE_EXISTS: Sql = Sql::fixed(
    "SELECT EXISTS (SELECT 1 FROM pending_releases WHERE id = ?1)",
    "SELECT EXISTS (SELECT 1 FROM pending_releases WHERE id = $1)",
);
const ORDER_RELEASE_PENDING: Sql = Sql::fixed(
    "SELECT EXISTS (SELECT 1 FROM pending_releases WHERE order_id = ?1)",
    "SELECT EXISTS (SELECT 1 FROM pending_releases WHERE order_id = $1)",
);
const COUNT_PENDING: Sql = Sql::fixed(
    "SELECT count(*) FROM pending_releases",
    "SELECT count(*) FROM pending_releases",
);
const LIST_PENDING: Sql = Sql::fixed(
    "SELECT id, user_id, product_id, quantity, order_id, reason, request_id, attempts, \
     last_error, created_at, next_attempt_at, reservation FROM pending_releases \
     ORDER BY id LIMIT ?1",
    "SELECT id, user_id, product_id, quantity, order_id, reason, request_id, attempts, \
     last_error, created_at AT TIME ZONE 'UTC', next_attempt_at AT TIME ZONE 'UTC', \
     reservation FROM pending_releases ORDER BY id LIMIT $1",
);
/// SQLite: copy under the write lock, then [`DELETE_RELEASE`];
/// PostgreSQL: one data-modifying CTE (it cannot be nested in the
/// no-empty-answer wrapper, so it answers one row itself, NULLs for none).
const MOVE_TO_SETTLED: Sql = Sql::fixed(
    concat!(
        "INSERT INTO settled_releases (id, user_id, product_id, quantity, order_id, reason, \
         request_id, attempts, last_error, created_at, outcome, settled_by, note, settled_at, \
         reservation) SELECT id, user_id, product_id, quantity, order_id, reason, request_id, \
         attempts, last_error, created_at, ?1, ?2, ?3, ",
        sqlite_now!(),
        ", reservation FROM pending_releases WHERE id = ?4 AND claimed_until < ",
        sqlite_now!(),
        " RETURNING id, user_id, product_id, quantity, order_id, reason, outcome, \
         settled_by, note, settled_at, reservation"
    ),
    "WITH moved AS (DELETE FROM pending_releases WHERE id = $4 \
     AND claimed_until < now() RETURNING *), \
     settled AS (INSERT INTO settled_releases (id, user_id, product_id, quantity, \
     order_id, reason, request_id, attempts, last_error, created_at, outcome, \
     settled_by, note, settled_at, reservation) SELECT id, user_id, product_id, quantity, \
     order_id, reason, request_id, attempts, last_error, created_at, $1, $2, $3, \
     now(), reservation FROM moved RETURNING id, user_id, product_id, quantity, order_id, \
     reason, outcome, settled_by, note, settled_at AT TIME ZONE 'UTC' AS settled_at, \
     reservation) \
     SELECT settled.* FROM (SELECT 1) AS one LEFT JOIN settled ON true",
);

impl Tx<'_> {
    /// Records releases as owed; returns them when this request claimed
    /// them ([`super::ReleaseClaim::ThisRequest`]), else nothing.
    pub fn insert_releases(
        &self,
        new: &NewReleases<'_>,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        let last_error = new.claim.last_error();
        let mut claimed = Vec::with_capacity(new.lines.len());
        for (product, quantity) in new.lines {
            let reservation = new.reservation_key.map(|key| reservation_id(key, *product));
            let params = [
                Param::Int(new.user.get()),
                Param::Int(product.get()),
                Param::quantity(*quantity),
                Param::Text(new.reason),
                Param::Text(new.request_id),
                Param::OptInt(new.order_id),
                Param::Text(&last_error),
                Param::Seconds(new.claim.offset_seconds()),
                Param::OptText(reservation.as_deref()),
            ];
            claimed.extend(self.rows(&INSERT_RELEASE, &params, |row: &dyn Columns| {
                rows::claimed_release(row)
            })?);
        }
        Ok(new.claim.keeps(claimed))
    }

    /// Deletes claimed release `id` (the Catalog confirmed it).
    pub fn delete_release(&self, id: i64) -> Result<(), StoreError> {
        self.rows(&DELETE_RELEASE, &[Param::Int(id)], |_| Ok(()))?;
        Ok(())
    }

    /// Unclaims release `id` and schedules its next try.
    pub fn reschedule_release(
        &self,
        id: i64,
        error: &str,
        retry_in_seconds: u64,
    ) -> Result<(), StoreError> {
        let params = [
            Param::Text(error),
            Param::seconds(retry_in_seconds),
            Param::Int(id),
        ];
        self.rows(&RESCHEDULE_RELEASE, &params, |_| Ok(()))?;
        Ok(())
    }

    /// Moves pending release `id`, unless a request holds it claimed, to
    /// `settled_releases` with the operator's account; the audit row.
    pub fn move_to_settled(
        &self,
        id: i64,
        settlement: Settlement,
        settled_by: &str,
        note: &str,
    ) -> Result<Option<SettledRelease>, StoreError> {
        let params = [
            Param::Text(settlement.as_str()),
            Param::Text(settled_by),
            Param::Text(note),
            Param::Int(id),
        ];
        let moved = match self {
            Tx::Sqlite(_) => {
                let moved = self.rows(&MOVE_TO_SETTLED, &params, |row: &dyn Columns| {
                    rows::settled_release(row)
                })?;
                if !moved.is_empty() {
                    self.delete_release(id)?;
                }
                moved
            }
            Tx::Postgres(db) => {
                let row = db.run_one_row(&MOVE_TO_SETTLED.postgres, &params)?;
                match row.int(0) {
                    None => Vec::new(),
                    Some(_) => vec![rows::settled_release(&row)?],
                }
            }
        };
        Ok(moved.into_iter().next())
    }

    /// Whether pending release `id` exists.
    pub fn release_exists(&self, id: i64) -> Result<bool, StoreError> {
        let found = self.rows(&RELEASE_EXISTS, &[Param::Int(id)], |row: &dyn Columns| {
            rows::one_flag(row)
        })?;
        Ok(found == [true])
    }
}

impl Store {
    /// Claims up to `limit` releases nobody is trying right now: those due
    /// by their back-off, or every unclaimed one when `ignore_backoff`.
    /// `SKIP LOCKED` on PostgreSQL keeps instances' claims apart.
    pub async fn claim_releases(
        &self,
        limit: u32,
        ignore_backoff: bool,
        claim_seconds: u64,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        let sqlite_due = if ignore_backoff {
            ""
        } else {
            concat!("AND next_attempt_at <= ", sqlite_now!())
        };
        let postgres_due = if ignore_backoff {
            ""
        } else {
            "AND next_attempt_at <= now()"
        };
        let sql = Sql {
            sqlite: format!(
                concat!(
                    "UPDATE pending_releases SET claimed_until = ",
                    sqlite_now_plus!(1),
                    ", attempts = attempts + 1 WHERE id IN (SELECT id FROM pending_releases \
                     WHERE claimed_until < ",
                    sqlite_now!(),
                    " {} ORDER BY next_attempt_at LIMIT ?2) \
                     RETURNING id, user_id, product_id, quantity, attempts, reservation"
                ),
                sqlite_due
            )
            .into(),
            postgres: format!(
                concat!(
                    "UPDATE pending_releases SET claimed_until = ",
                    pg_now_plus!(1),
                    ", attempts = attempts + 1 WHERE id IN (SELECT id FROM pending_releases \
                     WHERE claimed_until < now() {} ORDER BY next_attempt_at LIMIT $2 \
                     FOR UPDATE SKIP LOCKED) RETURNING id, user_id, product_id, quantity, attempts, reservation"
                ),
                postgres_due
            )
            .into(),
        };
        let params = [Param::seconds(claim_seconds), Param::Int(i64::from(limit))];
        self.write_rows(&sql, &params, |row: &dyn Columns| {
            rows::claimed_release(row)
        })
        .await
    }

    /// The oldest pending releases (at most `limit`) and how many there are.
    pub fn pending_releases(&self, limit: u32) -> Result<(i64, Vec<PendingRelease>), StoreError> {
        let total = self.rows(&COUNT_PENDING, &[], |row: &dyn Columns| rows::one_int(row))?;
        let pending = self.rows(
            &LIST_PENDING,
            &[Param::Int(i64::from(limit))],
            |row: &dyn Columns| rows::pending_release(row),
        )?;
        Ok((total.first().copied().unwrap_or(0), pending))
    }

    /// Whether stock of order `order_id` is still owed to the Catalog.
    pub fn order_release_pending(&self, order_id: i64) -> Result<bool, StoreError> {
        let found = self.rows(
            &ORDER_RELEASE_PENDING,
            &[Param::Int(order_id)],
            |row: &dyn Columns| rows::one_flag(row),
        )?;
        Ok(found == [true])
    }
}
