//! The order workflows, each a function of the request's dependencies
//! ([`Deps`]) and a domain request, returning a domain result:
//!
//! - [`read`]: the caller's orders, one or a page;
//! - [`place`]: create an order (check → intent → reserve → persist), with
//!   compensation when a step after a reservation fails;
//! - [`idempotency`]: the `Idempotency-Key` claim, replay and settlement
//!   around [`place`];
//! - [`cancel`]: `CREATED` or `PAID` → `CANCELLED` and its stock back;
//! - [`expiry`]: `CREATED` past the payment deadline → `EXPIRED` and its
//!   stock back;
//! - [`release`]: stock owed to the Catalog, now or later; reconciliation
//!   and the operator's settlement;
//! - [`payment`]: a payment confirmation → `PAID`, or a recorded refusal;
//!   a refund confirmed;
//! - [`fulfilment`]: a shipment or delivery → `SHIPPED`, `DELIVERED`;
//! - [`publish`]: the order events recorded by the others, sent to the
//!   Redis stream;
//!
//! They call the Catalog ([`crate::catalog`]) and storage
//! ([`crate::store`]: handlers reach the database only through a workflow)
//! and apply the rules of [`crate::domain`]: every decision about stored
//! state is made here, once for both databases. They know nothing of HTTP.

pub mod cancel;
pub mod expiry;
pub mod fulfilment;
pub mod idempotency;
pub mod payment;
pub mod place;
pub mod publish;
pub mod read;
pub mod release;
pub mod settings;

pub use crate::store::StoreError;
pub use fulfilment::FulfilmentResult;
pub use payment::{PaymentResult, RefundResult};
pub use settings::Settings;

use crate::auth::settings::RECOMMENDED_KEY_BYTES;
use crate::catalog::{CatalogClient, CatalogError};
use crate::domain::order::InvalidTransition;
use crate::log::{self, Level};
use crate::store::Store;
use crate::timing::Phases;
use serde_json::json;

/// What a workflow needs from its request, built once by the edge.
pub struct Deps<'a> {
    pub settings: Settings,
    /// This request's database: the workflows' alone.
    store: Store,
    /// The Catalog, with the caller's `Authorization` and the request id.
    pub catalog: CatalogClient,
    pub request_id: &'a str,
    /// This request's span as a W3C `traceparent`: what its events carry.
    pub traceparent: String,
    /// Where the phases of the request are recorded for its log line.
    pub phases: &'a Phases,
}

impl<'a> Deps<'a> {
    /// Opens the database the settings name (`db_open`). Its schema is
    /// brought up to date before the first statement that needs it: at
    /// once on SQLite (in-process), by the first statement on PostgreSQL
    /// (a new order's first write makes the check itself).
    pub async fn open(
        settings: Settings,
        catalog: CatalogClient,
        request_id: &'a str,
        traceparent: String,
        phases: &'a Phases,
    ) -> Result<Self, StoreError> {
        let store = phases
            .timed("db_open", Store::open(&settings.store))
            .await?;
        Ok(Deps {
            settings,
            store,
            catalog,
            request_id,
            traceparent,
            phases,
        })
    }

    /// Logs a migration this request made, if it did (see
    /// [`log_if_migrated`]): for handlers whose work ends without a
    /// follow-up.
    pub fn log_if_migrated(&self) {
        log_if_migrated(&self.store, &self.settings);
    }

    /// The work left for after the response (reconciliation, events).
    pub fn into_follow_up(self) -> release::FollowUp {
        release::FollowUp {
            request_id: self.request_id.to_owned(),
            traceparent: self.traceparent,
            settings: self.settings,
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
fn log_if_migrated(store: &Store, settings: &Settings) {
    let Some(version) = store.take_migrated_to() else {
        return;
    };
    log::event(
        Level::Info,
        "migrated",
        None,
        json!({"schema_version": version}),
    );
    let key_bytes = settings.jwt.signing_key_bytes;
    if settings.jwt.algorithm.is_hmac() && key_bytes < RECOMMENDED_KEY_BYTES {
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
    /// The customer holds `limit` unpaid orders already (nothing reserved,
    /// nothing stored).
    #[error("unpaid order limit reached")]
    UnpaidOrderLimit { limit: u32 },
    #[error(transparent)]
    InvalidTransition(#[from] InvalidTransition),
}
