//! `Idempotency-Key` around [`place_order`] (SPEC §3): the key is claimed
//! before the Catalog is called; a repeat replays the stored outcome and
//! calls nothing; an order is recorded as the key's outcome in its own
//! transaction, a refusal right after; any other failure frees the key so
//! that a retry runs again.

use super::place::{place_order, Placed};
use super::{Deps, OrderError};
use crate::domain::idempotency::{fingerprint, IdempotencyKey, KeyClaim, KeyDecision, KeyOutcome};
use crate::domain::order::OrderStatus;
use crate::domain::order_request::OrderRequest;
use crate::domain::UserId;
use crate::log::{self, Level};
use crate::store::{OwnedKey, StoreError};
use serde_json::{json, Value};

/// What a create answered, and whether it is a replay of an earlier one.
pub struct Answer {
    pub placed: Placed,
    pub replayed: bool,
}

/// Places `request` (whose JSON body was `body`), exactly once per `key`.
pub async fn place_once(
    deps: &Deps<'_>,
    user: UserId,
    request: &OrderRequest,
    body: &Value,
    key: Option<&IdempotencyKey>,
) -> Result<Answer, OrderError> {
    let Some(key) = key else {
        let placed = place_order(deps, user, request, None).await?;
        return Ok(Answer {
            placed,
            replayed: false,
        });
    };
    let owned = OwnedKey { user, key };
    let claim = deps
        .phases
        .timed("idempotency", claim(deps, owned, &fingerprint(body)))
        .await?;
    match claim {
        KeyClaim::Claimed => {}
        KeyClaim::Replay(outcome) => {
            return Ok(Answer {
                placed: replay(deps, user, outcome)?,
                replayed: true,
            })
        }
        KeyClaim::InUse => return Err(OrderError::KeyInUse),
        KeyClaim::Reused => return Err(OrderError::KeyReused),
    }
    let placed = place_order(deps, user, request, Some(owned)).await;
    let settled = match &placed {
        // Recorded with the order, in its transaction.
        Ok(Ok(_)) => Ok(()),
        Ok(Err(refusal)) => {
            let body = KeyOutcome::refusal_body(*refusal);
            deps.store.complete_key(owned, &body).await
        }
        Err(_) => deps.store.release_key(owned).await,
    };
    if let Err(error) = settled {
        // The claim then ends with its lease and a retry runs again.
        log::event(
            Level::Warn,
            "idempotency_key_unsettled",
            Some(deps.request_id),
            json!({"detail": log::chain(&error)}),
        );
    }
    Ok(Answer {
        placed: placed?,
        replayed: false,
    })
}

/// Claims `owned` for a request whose body has `fingerprint`, in one
/// transaction: a new key is written at once (one statement); a stored one
/// is read under its lock and answered as [`KeyDecision`] says. A key older
/// than the retention is as good as new; one whose first request died (its
/// lease ran out) is taken over.
async fn claim(
    deps: &Deps<'_>,
    owned: OwnedKey<'_>,
    fingerprint: &str,
) -> Result<KeyClaim, StoreError> {
    let lease = deps.settings.intent_lease.as_secs();
    deps.store
        .write(|tx| {
            if tx.insert_key(owned, fingerprint, lease)? {
                return Ok(KeyClaim::Claimed);
            }
            let Some(stored) = tx.lock_key(owned)? else {
                // Its first request gave it up between the two statements:
                // claim it afresh (or find the request that just did).
                return Ok(if tx.insert_key(owned, fingerprint, lease)? {
                    KeyClaim::Claimed
                } else {
                    KeyClaim::InUse
                });
            };
            match stored.decide(fingerprint).map_err(StoreError::Malformed)? {
                KeyDecision::Answer(claim) => Ok(claim),
                KeyDecision::TakeOver => {
                    tx.take_over_key(owned, fingerprint, lease)?;
                    Ok(KeyClaim::Claimed)
                }
            }
        })
        .await
}

/// The first request's outcome again: an order as it was created (its
/// rows never change but for the status), or the same refusal.
fn replay(deps: &Deps<'_>, user: UserId, outcome: KeyOutcome) -> Result<Placed, OrderError> {
    match outcome {
        KeyOutcome::Refused(refusal) => Ok(Err(refusal)),
        KeyOutcome::Created { order_id } => {
            let mut order = deps
                .store
                .order(user, order_id)?
                .ok_or(StoreError::Malformed(
                    "an Idempotency-Key names a missing order",
                ))?;
            order.status = OrderStatus::Created;
            Ok(Ok(order))
        }
    }
}
