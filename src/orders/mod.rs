//! The order workflows, each a function of the request's dependencies
//! ([`Deps`]) and a domain request, returning a domain result:
//!
//! - [`place`]: create an order (check → intent → reserve → persist), with
//!   compensation when a step after a reservation fails;
//! - [`idempotency`]: the `Idempotency-Key` claim, replay and settlement
//!   around [`place`];
//! - [`cancel`]: `CREATED` → `CANCELLED` and its stock back;
//! - [`release`]: stock owed to the Catalog, now or later; reconciliation
//!   and the operator's settlement;
//! - [`payment`]: a payment confirmation → `PAID`, or a recorded refusal;
//! - [`publish`]: the order events recorded by the others, sent to the
//!   Redis stream.
//!
//! They call the Catalog ([`crate::catalog`]) and storage
//! ([`crate::store`]) and follow the rules of [`crate::domain`]; they know
//! nothing of HTTP.

pub mod cancel;
pub mod idempotency;
pub mod payment;
pub mod place;
pub mod publish;
pub mod release;

use crate::catalog::{CatalogClient, CatalogError};
use crate::config::{Config, RECOMMENDED_KEY_BYTES};
use crate::domain::order::InvalidTransition;
use crate::log::{self, Level};
use crate::store::{Store, StoreError};
use crate::timing::Phases;
use serde_json::json;

/// What a workflow needs from its request, built once by the edge.
pub struct Deps<'a> {
    pub config: Config,
    pub store: Store,
    /// The Catalog, with the caller's `Authorization` and the request id.
    pub catalog: CatalogClient,
    pub request_id: &'a str,
    /// Where the phases of the request are recorded for its log line.
    pub phases: &'a Phases,
}

impl Deps<'_> {
    /// The work left for after the response (reconciliation, events).
    pub fn into_follow_up(self) -> release::FollowUp {
        release::FollowUp {
            request_id: self.request_id.to_owned(),
            config: self.config,
            store: self.store,
            catalog: self.catalog,
        }
    }
}

/// Logs a migration this request made, once, with the settings' warnings:
/// Spin has no start-up hook, and the first request on a new database is
/// the closest moment to "start-up" a component can see. The schema may be
/// checked by any statement, the follow-up's included, so each place that
/// ends a request's database work calls this.
pub fn log_if_migrated(store: &Store, config: &Config) {
    let Some(version) = store.take_migrated_to() else {
        return;
    };
    log::event(
        Level::Info,
        "migrated",
        None,
        json!({"schema_version": version}),
    );
    let key_bytes = config.jwt.signing_key.len();
    if key_bytes < RECOMMENDED_KEY_BYTES {
        log::event(
            Level::Warn,
            "weak_signing_key",
            None,
            json!({"detail": format!(
                "jwt_signing_key is {key_bytes} bytes; at least {RECOMMENDED_KEY_BYTES} are recommended"
            )}),
        );
    }
}

/// Why a workflow could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("the Catalog failed")]
    Catalog(#[from] CatalogError),
    #[error("order total is too large")]
    TotalTooLarge,
    #[error("storage failed")]
    Store(#[from] StoreError),
    /// The first request with this Idempotency-Key is still running.
    #[error("Idempotency-Key in use")]
    KeyInUse,
    /// The Idempotency-Key was used with a different body.
    #[error("Idempotency-Key reused with another body")]
    KeyReused,
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
}
