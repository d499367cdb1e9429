//! Stock releases owed to the Catalog that could not be made at once.
//! Stored durably so no reserved unit is ever silently lost.

use super::{Store, StoreError};
use crate::domain::{ProductId, UserId};
use spin_sdk::sqlite3::Value;

/// Units of one product to give back to the Catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedRelease {
    pub product_id: ProductId,
    pub quantity: u32,
    /// Why the first attempt failed (no secrets: status codes and kinds).
    pub last_error: String,
}

impl Store {
    /// Records releases for a later retry, all or none.
    pub fn record_owed_releases(
        &self,
        user: UserId,
        reason: &str,
        request_id: &str,
        owed: &[OwedRelease],
    ) -> Result<(), StoreError> {
        self.write_transaction(|store| {
            for release in owed {
                store.exec(
                    "INSERT INTO pending_releases (user_id, product_id, quantity, reason, \
                     request_id, last_error, created_at, next_attempt_at) \
                     VALUES (?, ?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), \
                     strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '+30 seconds'))",
                    &[
                        Value::Integer(user.get()),
                        Value::Integer(release.product_id.get()),
                        Value::Integer(i64::from(release.quantity)),
                        Value::Text(reason.into()),
                        Value::Text(request_id.into()),
                        Value::Text(release.last_error.clone()),
                    ],
                )?;
            }
            Ok(())
        })
    }
}
