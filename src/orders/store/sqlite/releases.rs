//! Whether any reconciliation work is due: one indexed read after a write
//! request, and none at all when the create's statement answered it.

use super::{Db, SQL_NOW};
use crate::domain::events::RETENTION_SECONDS as EVENT_RETENTION;
use crate::domain::idempotency::RETENTION_SECONDS;
use crate::orders::store::StoreError;

impl Db {
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
