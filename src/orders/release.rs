//! Giving stock back to the Catalog, now or later (SPEC §3/§4).
//!
//! Every release is first written to `pending_releases` and claimed by the
//! request that tries it, then deleted once the Catalog confirms it. Spin has
//! no background workers, so what is left over — failed releases, intents of
//! requests that died between reserving and saving, expired idempotency
//! keys — is worked off in small batches after the response of write
//! requests ([`FollowUp`]), and on demand by the operator
//! ([`reconcile_now`]), who can also settle a release handled by hand
//! ([`settle`]).

use super::Settings;
use super::{expiry, publish, Deps, OrderError};
use crate::auth;
use crate::auth::settings::JwtSettings;
use crate::catalog::{CatalogClient, CatalogError, Released};
use crate::clock::unix_now;
use crate::domain::events;
use crate::domain::order::{Order, OrderStatus};
use crate::domain::order_request::OrderLine;
use crate::domain::release::{
    PendingRelease, SettledRelease, Settlement, ABANDONED_DETAIL, RESERVATION_ABANDONED,
};
use crate::domain::UserId;
use crate::log::{self, Level};
use crate::store::{ClaimedRelease, NewReleases, ReleaseClaim, Store, StoreError, Tx};
use futures::future::join_all;
use serde::Serialize;
use serde_json::json;

/// Releases tried after an ordinary request's response.
pub const OPPORTUNISTIC_BATCH: u32 = 5;
/// The follow-ups start an expiry pass (of [`OPPORTUNISTIC_BATCH`] orders)
/// at most once per this many seconds between all instances: at most 5
/// orders a second (18,000 an hour) whatever the traffic, so a backlog of
/// orders past their deadline costs the creates beside it a bounded share
/// (bench/README.md, "Issue 35"); the operator pass adds 100 a call.
pub const EXPIRY_PACE_SECONDS: u64 = 1;
/// Releases tried by one call of the operator endpoint.
pub const OPERATOR_BATCH: u32 = 100;
/// Pending releases listed in the operator's report.
const REPORT_LIMIT: u32 = 100;
/// Back-off between tries of one release: 5 s doubling to 15 min; an hour
/// when the Catalog has no release endpoint (only an operator can help).
const FIRST_RETRY_SECONDS: u64 = 5;
const MAX_RETRY_SECONDS: u64 = 15 * 60;
const UNSUPPORTED_RETRY_SECONDS: u64 = 3600;

/// Whose token a release carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credentials {
    /// The caller's own, during the caller's request.
    Caller,
    /// A token minted per user (SPEC §4), when there is no caller.
    Minted,
}

/// What releasing needs: a request's dependencies, or the follow-up's.
#[derive(Clone, Copy)]
pub struct Releaser<'a> {
    store: &'a Store,
    settings: &'a Settings,
    catalog: &'a CatalogClient,
    request_id: &'a str,
    /// The trace of the request doing the work: events it records carry it.
    traceparent: &'a str,
}

impl<'a> From<&'a Deps<'_>> for Releaser<'a> {
    fn from(deps: &'a Deps<'_>) -> Self {
        Releaser {
            store: &deps.store,
            settings: &deps.settings,
            catalog: &deps.catalog,
            request_id: deps.request_id,
            traceparent: &deps.traceparent,
        }
    }
}

/// How a claimed release ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReleaseOutcome {
    Released,
    /// Try again after `retry_in_seconds`; `error` says why (no secrets).
    Failed {
        error: String,
        retry_in_seconds: u64,
    },
}

/// What one pass did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    /// Orders past their payment deadline moved to `EXPIRED`.
    pub expired_orders: usize,
    pub expired_intents: usize,
    pub attempted: usize,
    pub released: usize,
    pub failed: usize,
    pub purged_idempotency_keys: usize,
    pub purged_events: usize,
}

/// The operator's answer: the pass, what is still owed, and the backlog of
/// order events not yet published.
#[derive(Debug, Serialize)]
pub struct OperatorReport {
    #[serde(flatten)]
    pub pass: Report,
    pub pending_total: i64,
    /// Not logged: the answer lists them, the log line counts them.
    #[serde(skip)]
    pub pending: Vec<PendingRelease>,
    /// Order events sent to the stream by this pass.
    pub events_published: usize,
    /// Why publishing stopped, if it did (Redis down, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events_publish_error: Option<String>,
    /// Recorded and not yet sent (all of them when no stream is set).
    pub events_unpublished: i64,
    /// Payments owed back that the Payment Service has not confirmed
    /// refunded, and the age of the oldest (0 when none).
    pub refunds_owed: i64,
    pub refunds_owed_oldest_seconds: i64,
    /// Orders waiting for payment (`CREATED`), and the oldest one's age
    /// (0 when none).
    pub unpaid_orders: i64,
    pub unpaid_orders_oldest_seconds: i64,
    /// Seconds until `catalog_service_token` expires (negative: it has),
    /// when one is set: retried releases fail once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_service_token_expires_in_seconds: Option<i64>,
}

/// Within this much of its expiry, the service token is warned about.
pub const SERVICE_TOKEN_WARNING_SECONDS: i64 = 7 * 24 * 3600;

/// Seconds until the service token expires, if one is set; logged as a
/// warning when that is within [`SERVICE_TOKEN_WARNING_SECONDS`] or past
/// (or its expiry cannot be read), so it is renewed before releases fail.
pub fn service_token_expiry(jwt: &JwtSettings, request_id: &str) -> Option<i64> {
    let token = jwt.service_token.as_ref()?;
    let expires_in = crate::auth::expires_in(&token.0, unix_now());
    if expires_in.is_none_or(|seconds| seconds < SERVICE_TOKEN_WARNING_SECONDS) {
        log::event(
            Level::Warn,
            "catalog_service_token_expiring",
            Some(request_id),
            json!({"expires_in_seconds": expires_in,
                   "detail": "renew catalog_service_token: releases retried later send it"}),
        );
    }
    expires_in
}

/// How long a request keeps a claim on a release: two Catalog timeouts and
/// a margin, so a claim outlives the try that holds it.
pub fn claim_seconds(settings: &Settings) -> u64 {
    2 * settings.catalog.timeout.as_secs().max(1) + 10
}

/// Tries `claimed` releases at the Catalog concurrently and records each
/// outcome. Returns how many were released.
pub async fn release_claimed<'a>(
    releaser: impl Into<Releaser<'a>>,
    claimed: &[ClaimedRelease],
    credentials: Credentials,
) -> usize {
    let r = releaser.into();
    if claimed.is_empty() {
        return 0;
    }
    let now = unix_now();
    let tries = claimed.iter().map(|release| async move {
        let minted = match credentials {
            Credentials::Caller => None,
            Credentials::Minted => {
                match auth::release_credential(&r.settings.jwt, release.user, now) {
                    Some(token) => Some(format!("Bearer {token}")),
                    None => return Err(CatalogError::NoCredential),
                }
            }
        };
        r.catalog
            .release(
                release.product_id,
                release.quantity,
                release.reservation.as_deref(),
                minted.as_deref(),
            )
            .await
    });
    let results = join_all(tries).await;
    let mut released = 0;
    let outcomes: Vec<(i64, ReleaseOutcome)> = claimed
        .iter()
        .zip(results)
        .map(|(release, result)| {
            let outcome = match result {
                Ok(answer) => {
                    if answer == Released::NothingTaken {
                        log_nothing_taken(r.request_id, release);
                    }
                    released += 1;
                    ReleaseOutcome::Released
                }
                Err(error) => {
                    log_deferred(r.request_id, release, &error);
                    ReleaseOutcome::Failed {
                        retry_in_seconds: retry_delay(release.attempts, &error),
                        error: error.to_string(),
                    }
                }
            };
            (release.id, outcome)
        })
        .collect();
    let recorded = r
        .store
        .write(|tx| {
            for (id, outcome) in &outcomes {
                match outcome {
                    ReleaseOutcome::Released => tx.delete_release(*id)?,
                    ReleaseOutcome::Failed {
                        error,
                        retry_in_seconds,
                    } => tx.reschedule_release(*id, error, *retry_in_seconds)?,
                }
            }
            Ok(())
        })
        .await;
    if let Err(error) = recorded {
        // The rows stay claimed until the claim runs out, then are tried
        // again: a confirmed release may be repeated, none is lost.
        log::event(
            Level::Warn,
            "release_outcome_unrecorded",
            Some(r.request_id),
            json!({"detail": log::chain(&error)}),
        );
    }
    released
}

/// Records, in `tx`, the releases of every line of `order` (a cancelled or
/// expired one), each under its reservation id; `claim` says who tries
/// them first.
pub fn owe_order_stock(
    tx: &Tx<'_>,
    order: &Order,
    request_id: &str,
    reason: &'static str,
    claim: ReleaseClaim<'_>,
) -> Result<Vec<ClaimedRelease>, StoreError> {
    let lines: Vec<_> = order
        .lines
        .iter()
        .map(|l| (l.product_id, l.quantity.get()))
        .collect();
    let reservation_key = tx.reservation_key(order.id)?;
    tx.insert_releases(&NewReleases {
        user: order.user_id,
        request_id,
        reason,
        order_id: Some(order.id),
        lines: &lines,
        reservation_key: reservation_key.as_deref(),
        claim,
    })
}

/// One reconciliation pass: expire unpaid orders past their deadline and
/// dead intents, try due releases (theirs included; all unclaimed ones
/// when `ignore_backoff`), purge old idempotency keys.
/// `expire`: whether this pass expires orders past the payment deadline.
async fn run(
    r: Releaser<'_>,
    batch: u32,
    ignore_backoff: bool,
    expire: bool,
) -> Result<Report, StoreError> {
    let expired_orders = match r.settings.payment_deadline.filter(|_| expire) {
        Some(deadline) => {
            expiry::expire_unpaid(r.store, deadline, batch, r.request_id, r.traceparent).await?
        }
        None => 0,
    };
    let mut report = Report {
        expired_orders,
        expired_intents: expire_intents(r.store, batch).await?,
        ..Report::default()
    };
    let claimed = r
        .store
        .claim_releases(batch, ignore_backoff, claim_seconds(r.settings))
        .await?;
    report.attempted = claimed.len();
    report.released = release_claimed(r, &claimed, Credentials::Minted).await;
    report.failed = report.attempted - report.released;
    report.purged_idempotency_keys = r.store.purge_expired_keys(batch).await?;
    report.purged_events = r
        .store
        .purge_published_events(batch, events::RETENTION_SECONDS)
        .await?;
    Ok(report)
}

/// Turns intents whose lease ran out (at most `limit`) into releases due
/// now: their requests died between reserving and saving.
async fn expire_intents(store: &Store, limit: u32) -> Result<usize, StoreError> {
    store
        .write(|tx| {
            let expired = tx.take_expired_intents(limit)?;
            for intent in &expired {
                tx.insert_releases(&NewReleases {
                    user: intent.user,
                    request_id: &intent.request_id,
                    reason: RESERVATION_ABANDONED,
                    order_id: None,
                    lines: &intent.lines,
                    reservation_key: intent.reservation_key.as_deref(),
                    claim: ReleaseClaim::Nobody {
                        last_error: ABANDONED_DETAIL,
                    },
                })?;
            }
            Ok(expired.len())
        })
        .await
}

/// The operator's pass: up to [`OPERATOR_BATCH`] releases now, back-off
/// ignored (the operator asks because something was fixed), up to
/// [`publish::OPERATOR_LIMIT`] events published, and what is still pending.
pub async fn reconcile_now(deps: &Deps<'_>) -> Result<OperatorReport, OrderError> {
    let pass = run(deps.into(), OPERATOR_BATCH, true, true).await?;
    let published = match &deps.settings.events {
        Some(events) => {
            publish::publish_pending(
                &deps.store,
                events,
                publish::OPERATOR_LIMIT,
                deps.request_id,
            )
            .await
        }
        None => publish::Published::default(),
    };
    let (pending_total, pending) = deps.store.pending_releases(REPORT_LIMIT)?;
    let gauges = deps.store.gauges()?;
    let report = OperatorReport {
        pass,
        pending_total,
        pending,
        events_published: published.sent,
        events_publish_error: published.failure,
        events_unpublished: gauges.events_unpublished,
        refunds_owed: gauges.refunds_owed,
        refunds_owed_oldest_seconds: gauges.refunds_owed_oldest_seconds,
        unpaid_orders: gauges
            .orders_by_status
            .iter()
            .filter(|(status, _)| status == OrderStatus::Created.as_str())
            .map(|(_, orders)| orders)
            .sum(),
        unpaid_orders_oldest_seconds: gauges.unpaid_orders_oldest_seconds,
        catalog_service_token_expires_in_seconds: service_token_expiry(
            &deps.settings.jwt,
            deps.request_id,
        ),
    };
    log::event(
        Level::Info,
        "reconciled",
        Some(deps.request_id),
        json!({ "report": report }),
    );
    Ok(report)
}

/// Closes pending release `id`, handled by hand by `settled_by`.
pub async fn settle(
    deps: &Deps<'_>,
    id: i64,
    settlement: Settlement,
    settled_by: &str,
    note: &str,
) -> Result<Result<SettledRelease, SettleRefused>, OrderError> {
    // Refused while a request has the release claimed, so a settlement
    // never races a release.
    let result = deps
        .store
        .write(|tx| {
            Ok(
                match tx.move_to_settled(id, settlement, settled_by, note)? {
                    Some(settled) => Ok(settled),
                    None if tx.release_exists(id)? => Err(SettleRefused::InProgress),
                    None => Err(SettleRefused::NotFound),
                },
            )
        })
        .await?;
    if let Ok(settled) = &result {
        log::event(
            Level::Warn,
            "release_settled",
            Some(deps.request_id),
            json!({ "release": {
                "id": settled.id,
                "order_id": settled.order_id,
                "product_id": settled.product_id,
                "quantity": settled.quantity,
                "reservation": settled.reservation,
                "outcome": settled.outcome.as_str(),
                "settled_by": settled.settled_by,
                "note": settled.note,
                "settled_at": settled.settled_at,
            } }),
        );
    }
    Ok(result)
}

/// Why a settlement was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleRefused {
    /// A request is trying this release right now.
    InProgress,
    NotFound,
}

/// The work owed after a write request's response: a cheap check, and a
/// small reconciliation pass only when something is due (orders past their
/// deadline: at the pace of [`EXPIRY_PACE_SECONDS`]); then the order events
/// waiting to be published, when a stream is configured.
pub struct FollowUp {
    pub request_id: String,
    pub traceparent: String,
    pub settings: Settings,
    pub store: Store,
    pub catalog: CatalogClient,
}

impl FollowUp {
    /// Whether a reconciliation pass is due, and whether it expires orders:
    /// one is past its deadline and this request won the pace's claim.
    async fn due(&self) -> Result<(bool, bool), StoreError> {
        let reconcile = self.store.reconciliation_due()?;
        let expire = match self.settings.payment_deadline {
            Some(deadline) => {
                self.store
                    .expiry_due(deadline.as_secs(), EXPIRY_PACE_SECONDS)?
                    && self.store.claim_expiry_pass(EXPIRY_PACE_SECONDS).await?
            }
            None => false,
        };
        Ok((reconcile, expire))
    }

    /// Errors are logged, never surfaced: the response is already sent.
    pub async fn run(self) {
        let r = Releaser {
            store: &self.store,
            settings: &self.settings,
            catalog: &self.catalog,
            request_id: &self.request_id,
            traceparent: &self.traceparent,
        };
        let result = match self.due().await {
            Ok((false, false)) => None,
            Ok((_, expire)) => Some(run(r, OPPORTUNISTIC_BATCH, false, expire).await),
            Err(error) => Some(Err(error)),
        };
        match result {
            None => {}
            Some(Ok(report)) => log::event(
                Level::Info,
                "reconciled",
                Some(&self.request_id),
                json!({ "report": report }),
            ),
            Some(Err(error)) => log::event(
                Level::Warn,
                "reconcile_failed",
                Some(&self.request_id),
                json!({"detail": log::chain(&error)}),
            ),
        }
        if let Some(events) = &self.settings.events {
            publish::publish_pending(
                &self.store,
                events,
                publish::FOLLOW_UP_LIMIT,
                &self.request_id,
            )
            .await;
        }
        // A create the Catalog refused made no statement before this.
        super::log_if_migrated(&self.store, &self.settings);
    }
}

/// A release that failed now and stays stored for a later try.
fn log_deferred(request_id: &str, release: &ClaimedRelease, error: &CatalogError) {
    let (name, detail) = match error {
        CatalogError::ReleaseUnsupported(_) => (
            "release_endpoint_missing",
            format!("{error}; the units stay in pending_releases until an operator releases them"),
        ),
        _ => (
            "release_deferred",
            format!("stock release stored for retry: {error}"),
        ),
    };
    log::event(
        Level::Warn,
        name,
        Some(request_id),
        json!({
            "release_id": release.id,
            "user_id": release.user.get(),
            "product_id": release.product_id.get(),
            "quantity": release.quantity,
            "attempts": release.attempts,
            "detail": detail,
        }),
    );
}

/// A release the Catalog answered with "never applied" (its reservation
/// id was unknown to it): the reserve never took the units, so nothing was
/// owed and the release is done.
fn log_nothing_taken(request_id: &str, release: &ClaimedRelease) {
    log::event(
        Level::Info,
        "release_nothing_taken",
        Some(request_id),
        json!({
            "release_id": release.id,
            "product_id": release.product_id.get(),
            "quantity": release.quantity,
            "reservation": release.reservation,
        }),
    );
}

/// Units to give back that could not even be written down: the line holds
/// everything needed to release them by hand.
pub fn log_unrecorded(request_id: &str, user: UserId, lines: &[OrderLine], error: &StoreError) {
    for line in lines {
        log::event(
            Level::Critical,
            "release_unrecorded",
            Some(request_id),
            json!({
                "user_id": user.get(),
                "product_id": line.product_id.get(),
                "quantity": line.quantity.get(),
                "detail": format!(
                    "could not store the release ({}); if the reservation intent is also gone, release by hand",
                    log::chain(error)
                ),
            }),
        );
    }
}

fn retry_delay(attempts: i64, error: &CatalogError) -> u64 {
    if matches!(error, CatalogError::ReleaseUnsupported(_)) {
        return UNSUPPORTED_RETRY_SECONDS;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    (FIRST_RETRY_SECONDS << doublings).min(MAX_RETRY_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_wait_long_for_a_missing_endpoint() {
        let down = CatalogError::Unavailable {
            detail: "HTTP 503".into(),
            outcome_unknown: false,
        };
        let delays: Vec<u64> = (1..=10).map(|n| retry_delay(n, &down)).collect();
        assert_eq!(&delays[..4], &[5, 10, 20, 40]);
        assert_eq!(delays[9], MAX_RETRY_SECONDS);
        assert_eq!(
            retry_delay(1, &CatalogError::ReleaseUnsupported(404)),
            UNSUPPORTED_RETRY_SECONDS
        );
    }
}
