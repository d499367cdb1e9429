//! Giving stock back to the Catalog, now or later (SPEC §3/§4).
//!
//! Every release is first written to `pending_releases` and claimed by the
//! request that tries it, then deleted once the Catalog confirms it. Spin has
//! no background workers, so what is left over — failed releases, intents of
//! requests that died between reserving and saving, expired idempotency
//! keys — is worked off in small batches after the response of write
//! requests, and on demand by the operator endpoint.

use crate::auth;
use crate::catalog::{CatalogClient, CatalogError};
use crate::config::Config;
use crate::log;
use crate::store::releases::{ClaimedRelease, ReleaseOutcome};
use crate::store::{Store, StoreError};
use futures::future::join_all;
use serde::Serialize;

/// Releases tried after an ordinary request's response.
pub const OPPORTUNISTIC_BATCH: u32 = 5;
/// Releases tried by one call of the operator endpoint.
pub const OPERATOR_BATCH: u32 = 100;
/// Back-off between tries of one release: 5 s doubling to 15 min; an hour
/// when the Catalog has no release endpoint (only an operator can help).
const FIRST_RETRY_SECONDS: u64 = 5;
const MAX_RETRY_SECONDS: u64 = 15 * 60;
const UNSUPPORTED_RETRY_SECONDS: u64 = 3600;

/// Whose token a release carries.
pub enum Credentials<'a> {
    /// The caller's own `Authorization`, during the caller's request.
    Caller(&'a str),
    /// A token minted per user (SPEC §4), when there is no caller.
    Minted,
}

/// What one pass did; also the operator endpoint's answer.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    pub expired_intents: usize,
    pub attempted: usize,
    pub released: usize,
    pub failed: usize,
    pub purged_idempotency_keys: usize,
}

/// How long a request keeps a claim on a release: two Catalog timeouts and
/// a margin, so a claim outlives the try that holds it.
pub fn claim_seconds(config: &Config) -> u64 {
    2 * config.catalog_timeout.as_secs().max(1) + 10
}

/// Tries `claimed` releases at the Catalog concurrently and records each
/// outcome. Returns how many were released.
pub async fn release_claimed(
    store: &Store,
    config: &Config,
    request_id: &str,
    claimed: &[ClaimedRelease],
    credentials: &Credentials<'_>,
) -> usize {
    if claimed.is_empty() {
        return 0;
    }
    let now = unix_now();
    let tries = claimed.iter().map(|release| async move {
        let authorization = match credentials {
            Credentials::Caller(header) => (*header).to_owned(),
            Credentials::Minted => format!(
                "Bearer {}",
                auth::mint_access_token(&config.jwt, release.user, now)
            ),
        };
        let catalog = CatalogClient::new(
            &config.catalog_url,
            config.catalog_timeout,
            &authorization,
            request_id,
        );
        catalog.release(release.product_id, release.quantity).await
    });
    let results = join_all(tries).await;
    let mut released = 0;
    let outcomes: Vec<(i64, ReleaseOutcome)> = claimed
        .iter()
        .zip(results)
        .map(|(release, result)| {
            let outcome = match result {
                Ok(()) => {
                    released += 1;
                    ReleaseOutcome::Released
                }
                Err(error) => {
                    log::release_deferred(request_id, release, &error);
                    ReleaseOutcome::Failed {
                        retry_in_seconds: retry_delay(release.attempts, &error),
                        error: error.to_string(),
                    }
                }
            };
            (release.id, outcome)
        })
        .collect();
    if let Err(error) = store.settle_releases(&outcomes).await {
        // The rows stay claimed until the claim runs out, then are tried
        // again: a confirmed release may be repeated, none is lost.
        log::error(request_id, "release_outcome_unrecorded", &error.to_string());
    }
    released
}

/// One reconciliation pass: expire dead intents, try due releases (all
/// unclaimed ones when `ignore_backoff`), purge old idempotency keys.
pub async fn run(
    store: &Store,
    config: &Config,
    request_id: &str,
    batch: u32,
    ignore_backoff: bool,
) -> Result<Report, StoreError> {
    let mut report = Report {
        expired_intents: store.expire_intents(batch).await?,
        ..Report::default()
    };
    let claimed = store
        .claim_releases(batch, ignore_backoff, claim_seconds(config))
        .await?;
    report.attempted = claimed.len();
    report.released =
        release_claimed(store, config, request_id, &claimed, &Credentials::Minted).await;
    report.failed = report.attempted - report.released;
    report.purged_idempotency_keys = store.purge_expired_keys(batch).await?;
    Ok(report)
}

/// After a write request's response: a cheap check, and a small pass only
/// when something is due. Errors are logged, never surfaced.
pub async fn opportunistic(store: &Store, config: &Config, request_id: &str) {
    match store.reconciliation_due() {
        Ok(false) => {}
        Ok(true) => match run(store, config, request_id, OPPORTUNISTIC_BATCH, false).await {
            Ok(report) => log::reconciled(request_id, &serde_json::json!(report)),
            Err(error) => log::error(request_id, "reconcile_failed", &error.to_string()),
        },
        Err(error) => log::error(request_id, "reconcile_failed", &error.to_string()),
    }
}

fn retry_delay(attempts: i64, error: &CatalogError) -> u64 {
    if matches!(error, CatalogError::ReleaseUnsupported(_)) {
        return UNSUPPORTED_RETRY_SECONDS;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    (FIRST_RETRY_SECONDS << doublings).min(MAX_RETRY_SECONDS)
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
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
