//! Stock owed back to the Catalog. A release is first written here, claimed
//! by the request that will try it (so two requests never release the same
//! row at once), and deleted only after the Catalog confirmed it; a failed
//! try is rescheduled with back-off. Nothing here is ever dropped.

use super::{Db, SQL_NOW, SQL_NOW_PLUS};
use crate::domain::events::RETENTION_SECONDS as EVENT_RETENTION;
use crate::domain::idempotency::RETENTION_SECONDS;
use crate::domain::release::Settlement;
use crate::orders::store::rows;
use crate::orders::store::{
    ClaimedRelease, NewReleases, PendingRelease, SettledRelease, StoreError,
};
use spin_sdk::sqlite3::Value;

const CLAIMED_COLUMNS: &str = "id, user_id, product_id, quantity, attempts";

impl Db {
    pub(in crate::orders::store) fn insert_releases(
        &self,
        new: &NewReleases<'_>,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        let mut claimed = Vec::with_capacity(new.lines.len());
        for (product, quantity) in new.lines {
            let inserted = self.exec(
                &format!(
                    "INSERT INTO pending_releases (user_id, product_id, quantity, reason, \
                     request_id, order_id, attempts, last_error, created_at, next_attempt_at, \
                     claimed_until) VALUES (?, ?, ?, ?, ?, ?, 1, ?, {SQL_NOW}, {SQL_NOW}, \
                     {SQL_NOW_PLUS}) RETURNING {CLAIMED_COLUMNS}"
                ),
                &[
                    Value::Integer(new.user.get()),
                    Value::Integer(product.get()),
                    Value::Integer(i64::from(*quantity)),
                    Value::Text(new.reason.into()),
                    Value::Text(new.request_id.into()),
                    new.order_id.map_or(Value::Null, Value::Integer),
                    Value::Text(new.claim.last_error()),
                    super::seconds_from_now(new.claim.offset_seconds()),
                ],
            )?;
            for row in &inserted.rows {
                claimed.push(rows::claimed_release(row)?);
            }
        }
        Ok(new.claim.keeps(claimed))
    }

    /// Claims up to `limit` releases nobody is trying right now: those due
    /// by their back-off, or every unclaimed one when `ignore_backoff`.
    pub async fn claim_releases(
        &self,
        limit: u32,
        ignore_backoff: bool,
        claim_seconds: u64,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        let due = if ignore_backoff {
            ""
        } else {
            "AND next_attempt_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
        };
        let sql = format!(
            "UPDATE pending_releases SET claimed_until = {SQL_NOW_PLUS}, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM pending_releases WHERE claimed_until < {SQL_NOW} {due} \
             ORDER BY next_attempt_at LIMIT ?) RETURNING {CLAIMED_COLUMNS}"
        );
        let params = [
            super::seconds_from_now(secs(claim_seconds)),
            Value::Integer(i64::from(limit)),
        ];
        let claimed = self.write_statement(&sql, &params).await?;
        claimed.rows.iter().map(rows::claimed_release).collect()
    }

    pub(in crate::orders::store) fn delete_release(&self, id: i64) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM pending_releases WHERE id = ?",
            &[Value::Integer(id)],
        )?;
        Ok(())
    }

    pub(in crate::orders::store) fn reschedule_release(
        &self,
        id: i64,
        error: &str,
        retry_in_seconds: u64,
    ) -> Result<(), StoreError> {
        self.exec(
            &format!(
                "UPDATE pending_releases SET last_error = ?, claimed_until = '', \
                 next_attempt_at = {SQL_NOW_PLUS} WHERE id = ?"
            ),
            &[
                Value::Text(error.to_owned()),
                super::seconds_from_now(secs(retry_in_seconds)),
                Value::Integer(id),
            ],
        )?;
        Ok(())
    }

    /// The oldest pending releases (at most `limit`) and how many there are.
    pub fn pending_releases(&self, limit: u32) -> Result<(i64, Vec<PendingRelease>), StoreError> {
        let total = self.exec("SELECT count(*) FROM pending_releases", &[])?;
        let rows = self.exec(
            "SELECT id, user_id, product_id, quantity, order_id, reason, request_id, attempts, \
             last_error, created_at, next_attempt_at FROM pending_releases ORDER BY id LIMIT ?",
            &[Value::Integer(i64::from(limit))],
        )?;
        let pending = rows
            .rows
            .iter()
            .map(rows::pending_release)
            .collect::<Result<_, _>>()?;
        Ok((super::first(&total, 0).unwrap_or(0), pending))
    }

    /// SQLite's `INSERT … SELECT`, then the delete: one transaction.
    pub(in crate::orders::store) fn move_to_settled(
        &self,
        id: i64,
        settlement: Settlement,
        settled_by: &str,
        note: &str,
    ) -> Result<Option<SettledRelease>, StoreError> {
        let moved = self.exec(
            &format!(
                "INSERT INTO settled_releases (id, user_id, product_id, quantity, order_id, \
                 reason, request_id, attempts, last_error, created_at, outcome, settled_by, \
                 note, settled_at) SELECT id, user_id, product_id, quantity, order_id, \
                 reason, request_id, attempts, last_error, created_at, ?, ?, ?, {SQL_NOW} \
                 FROM pending_releases WHERE id = ? AND claimed_until < {SQL_NOW} \
                 RETURNING id, user_id, product_id, quantity, order_id, reason, outcome, \
                 settled_by, note, settled_at"
            ),
            &[
                Value::Text(settlement.as_str().into()),
                Value::Text(settled_by.into()),
                Value::Text(note.into()),
                Value::Integer(id),
            ],
        )?;
        let Some(row) = moved.rows.first() else {
            return Ok(None);
        };
        self.delete_release(id)?;
        rows::settled_release(row).map(Some)
    }

    pub(in crate::orders::store) fn release_exists(&self, id: i64) -> Result<bool, StoreError> {
        let found = self.exec(
            "SELECT 1 FROM pending_releases WHERE id = ?",
            &[Value::Integer(id)],
        )?;
        Ok(!found.rows.is_empty())
    }

    /// Whether stock of order `order_id` is still owed to the Catalog.
    pub fn order_release_pending(&self, order_id: i64) -> Result<bool, StoreError> {
        let result = self.exec(
            "SELECT EXISTS (SELECT 1 FROM pending_releases WHERE order_id = ?)",
            &[Value::Integer(order_id)],
        )?;
        Ok(super::first::<i64>(&result, 0) == Some(1))
    }

    /// Whether any reconciliation work is due: one indexed read, so asking
    /// after every write request costs next to nothing; nothing at all
    /// when this request's write already answered it.
    pub fn reconciliation_due(&self) -> Result<bool, StoreError> {
        if let Some(due) = self.reconciliation_due_known.take() {
            return Ok(due);
        }
        let result = self.exec(&format!("SELECT {}", reconciliation_due_expression()), &[])?;
        Ok(super::first::<i64>(&result, 0) == Some(1))
    }
}

/// 1 when reconciliation work is due: a release whose retry time has come,
/// an intent whose lease ran out, an Idempotency-Key or a published event
/// past its retention. Every part is an indexed `EXISTS`.
pub(super) fn reconciliation_due_expression() -> String {
    format!(
        "EXISTS (SELECT 1 FROM pending_releases WHERE next_attempt_at <= {SQL_NOW} \
         AND claimed_until < {SQL_NOW}) \
         OR EXISTS (SELECT 1 FROM stock_intents WHERE lease_until < {SQL_NOW}) \
         OR EXISTS (SELECT 1 FROM idempotency_keys WHERE created_at < \
         strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-{RETENTION_SECONDS} seconds')) \
         OR EXISTS (SELECT 1 FROM events WHERE published_at < \
         strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-{EVENT_RETENTION} seconds'))"
    )
}

fn secs(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}
