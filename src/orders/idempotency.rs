//! `Idempotency-Key` around [`place_order`] (SPEC §3): the key is claimed
//! before the Catalog is called; a repeat replays the stored outcome and
//! calls nothing; an order is recorded as the key's outcome in its own
//! transaction, a refusal right after; any other failure frees the key so
//! that a retry runs again.

use super::place::{place_order, Placed};
use super::{Deps, OrderError};
use crate::domain::idempotency::{fingerprint, IdempotencyKey};
use crate::domain::order::OrderStatus;
use crate::domain::order_request::OrderRequest;
use crate::domain::UserId;
use crate::log::{self, Level};
use crate::store::StoreError;
use crate::store::{KeyClaim, KeyOutcome, OwnedKey};
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
    let lease = deps.config.intent_lease.as_secs();
    let claim = deps
        .phases
        .timed(
            "idempotency",
            deps.store.claim_key(owned, &fingerprint(body), lease),
        )
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
        Ok(Err(refusal)) => deps.store.complete_key(owned, *refusal).await,
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
