//! What the workflows are configured with, read once per request by the
//! edge and handed to them in [`super::Deps`]: each concern's own settings,
//! and the workflows' one setting of their own, the intent lease.

use crate::auth::settings::JwtSettings;
use crate::catalog::CatalogSettings;
use crate::event_stream::EventsSettings;
use crate::settings::{fail, parse_number, ConfigError, Variables};
use crate::store::settings::StoreSettings;
use std::time::Duration;

/// Every setting a workflow may need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Token checks, and the credential of releases retried later.
    pub jwt: JwtSettings,
    pub catalog: CatalogSettings,
    pub store: StoreSettings,
    /// Where order events are published; `None`: recorded, not published.
    pub events: Option<EventsSettings>,
    /// How long a reservation intent may stay open before the reconciler
    /// treats its request as dead and releases the units
    /// (`stock_intent_lease_seconds`).
    pub intent_lease: Duration,
    /// How many unpaid (`CREATED`) orders one customer may hold at once
    /// (`max_unpaid_orders_per_user`); `None`: no cap.
    pub max_unpaid_orders: Option<u32>,
    /// Age after which an unpaid order expires and its stock goes back
    /// (`payment_deadline_seconds`); `None` (unset or 0): never.
    pub payment_deadline: Option<Duration>,
}

/// The longest payment deadline accepted: 90 days (a bank transfer takes
/// days; a longer hold is no deadline at all).
const MAX_PAYMENT_DEADLINE_SECONDS: u64 = 90 * 24 * 3600;

/// The highest cap accepted: a cap exists to stop one account from holding
/// the Catalog's stock, and a larger one would not.
const MAX_UNPAID_CAP: u64 = 10_000;

const DEFAULT_LEASE_SECONDS: u64 = 120;
/// The intent lease must outlast a whole create by far: its reservation
/// round trip and its wait for the write lock.
const LEASE_PER_TIMEOUT: u32 = 4;

impl Settings {
    pub fn read(vars: &dyn Variables) -> Result<Self, ConfigError> {
        let catalog = CatalogSettings::read(vars)?;
        // A JWKS fetch gets as long as a Catalog call.
        let jwt = JwtSettings::read(vars, catalog.timeout)?;
        let lease_seconds = parse_number(
            &vars.get("stock_intent_lease_seconds")?,
            DEFAULT_LEASE_SECONDS,
            1..=24 * 3600,
        )
        .map_err(|p| fail("stock_intent_lease_seconds", p))?;
        let intent_lease = Duration::from_secs(lease_seconds);
        if intent_lease < catalog.timeout * LEASE_PER_TIMEOUT {
            return Err(fail(
                "stock_intent_lease_seconds",
                "must be at least 4 × catalog_timeout_ms",
            ));
        }
        let cap = vars.get("max_unpaid_orders_per_user")?;
        let max_unpaid_orders = match cap.as_str() {
            "" => None,
            text => Some(
                parse_number(text, 0, 1..=MAX_UNPAID_CAP)
                    .map_err(|p| fail("max_unpaid_orders_per_user", p))?
                    .try_into()
                    .expect("at most MAX_UNPAID_CAP"),
            ),
        };
        let deadline = parse_number(
            &vars.get("payment_deadline_seconds")?,
            0,
            0..=MAX_PAYMENT_DEADLINE_SECONDS,
        )
        .map_err(|p| fail("payment_deadline_seconds", p))?;
        Ok(Settings {
            jwt,
            store: StoreSettings::read(vars)?,
            events: EventsSettings::read(vars)?,
            catalog,
            intent_lease,
            max_unpaid_orders,
            payment_deadline: (deadline > 0).then_some(Duration::from_secs(deadline)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Fixed;

    const REQUIRED: [(&str, &str); 2] = [
        ("jwt_signing_key", "a-key-of-thirty-bytes-for-test"),
        ("catalog_url", "http://catalog-service:9001"),
    ];

    fn read(extra: &[(&'static str, &str)]) -> Result<Settings, ConfigError> {
        let mut vars = REQUIRED.to_vec();
        vars.extend_from_slice(extra);
        Settings::read(&Fixed::of(&vars))
    }

    #[test]
    fn two_variables_are_enough() {
        let settings = read(&[]).unwrap();
        assert_eq!(settings.intent_lease, Duration::from_secs(120));
        assert_eq!(settings.store.database_url, None);
        assert_eq!(settings.events, None);
        for missing in REQUIRED {
            let vars: Vec<_> = REQUIRED.into_iter().filter(|v| *v != missing).collect();
            let error = Settings::read(&Fixed::of(&vars)).unwrap_err();
            assert_eq!(error.name, missing.0);
        }
    }

    #[test]
    fn the_intent_lease_must_outlast_catalog_calls() {
        let timeout = ("catalog_timeout_ms", "1000");
        let lease = |seconds| read(&[timeout, ("stock_intent_lease_seconds", seconds)]);
        assert_eq!(lease("3").unwrap_err().name, "stock_intent_lease_seconds");
        assert_eq!(lease("4").unwrap().intent_lease, Duration::from_secs(4));
        assert_eq!(lease("0").unwrap_err().name, "stock_intent_lease_seconds");
    }

    #[test]
    fn the_unpaid_order_cap_is_off_unless_set() {
        let cap = |value| read(&[("max_unpaid_orders_per_user", value)]);
        assert_eq!(read(&[]).unwrap().max_unpaid_orders, None);
        assert_eq!(cap("").unwrap().max_unpaid_orders, None);
        assert_eq!(cap("3").unwrap().max_unpaid_orders, Some(3));
        for refused in ["0", "-1", "two", "10001"] {
            assert_eq!(cap(refused).unwrap_err().name, "max_unpaid_orders_per_user");
        }
    }

    #[test]
    fn the_payment_deadline_is_off_unless_set() {
        let deadline = |value| read(&[("payment_deadline_seconds", value)]);
        assert_eq!(read(&[]).unwrap().payment_deadline, None);
        assert_eq!(deadline("0").unwrap().payment_deadline, None);
        assert_eq!(
            deadline("900").unwrap().payment_deadline,
            Some(Duration::from_secs(900))
        );
        for refused in ["-1", "1h", "7776001"] {
            assert_eq!(
                deadline(refused).unwrap_err().name,
                "payment_deadline_seconds"
            );
        }
    }

    #[test]
    fn nothing_secret_is_printed() {
        let settings = read(&[
            ("database_url", "postgres://orders:s3cret@db/orders"),
            ("events_redis_url", "redis://:s3cret@redis:6379"),
            ("catalog_service_token", "service-token-s3cret"),
        ])
        .unwrap();
        let printed = format!("{settings:?}");
        assert!(
            !printed.contains("s3cret") && !printed.contains("thirty-bytes"),
            "{printed}"
        );
    }
}
