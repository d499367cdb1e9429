//! Typed settings read from Spin application variables (SPEC §1), once per
//! request (each request is a fresh instance under Spin).

use crate::auth;
pub use crate::auth::settings::{JwtConfig, RECOMMENDED_KEY_BYTES};
use crate::settings::{fail, is_http_url, parse_number};
pub use crate::settings::{ConfigError, Secret};
use std::time::Duration;

/// Everything the service needs to know about its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub jwt: JwtConfig,
    /// Catalog base URL without a trailing slash, e.g. `http://catalog-service:9001`.
    pub catalog_url: String,
    pub catalog_timeout: Duration,
    /// The Catalog honours SPEC §4's reservation ids (the demo Catalog
    /// does, the Django one does not): a reserve with an unclear outcome
    /// is then asked again under the same id instead of given up.
    pub catalog_honours_reservations: bool,
    /// How long a reservation intent may stay open before the reconciler
    /// treats its request as dead and releases the units.
    pub intent_lease: Duration,
    /// Bearer token of the operator endpoints; `None` disables them.
    pub admin_token: Option<Secret>,
    /// `postgres://…`: orders live in PostgreSQL; `None`: Spin's SQLite.
    pub database_url: Option<DatabaseUrl>,
    /// Key of the Payment Service's signatures; `None` disables payment
    /// confirmation.
    pub payment_webhook_secret: Option<Secret>,
    /// Key of the Fulfilment Service's signatures; `None` disables
    /// fulfilment updates.
    pub fulfilment_webhook_secret: Option<Secret>,
    /// Where order events are published; `None`: recorded, not published.
    pub events: Option<EventsConfig>,
}

/// The Redis stream that order events are published to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// `redis://[user:password@]host:port[/db]` (may hold a password).
    pub redis_url: Secret,
    /// Stream key, `orders.events` unless set.
    pub stream: String,
}

/// The PostgreSQL connection string; it holds a password, so it is never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<database url>")
    }
}

const MAX_TIMEOUT_MS: u64 = 60_000;
/// The intent lease must outlast a whole create by far: its reservation
/// round trip and its wait for the write lock.
const LEASE_PER_TIMEOUT: u64 = 4;
const MIN_ADMIN_TOKEN_BYTES: usize = 16;
pub const DEFAULT_EVENTS_STREAM: &str = "orders.events";
const MAX_STREAM_NAME_BYTES: usize = 128;

impl Config {
    /// Reads the variables from Spin.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match spin_sdk::variables::get(name) {
            Ok(value) => Ok(Some(value)),
            Err(spin_sdk::variables::Error::Undefined(_)) => Ok(None),
            Err(other) => Err(other.to_string()),
        })
    }

    /// Builds the settings from any variable source; `lookup` answers
    /// `Ok(None)` for an undefined variable.
    pub fn from_lookup(
        lookup: impl Fn(&'static str) -> Result<Option<String>, String>,
    ) -> Result<Self, ConfigError> {
        let get = |name: &'static str| -> Result<String, ConfigError> {
            lookup(name)
                .map(Option::unwrap_or_default)
                .map(|value| value.trim().to_owned())
                .map_err(|problem| ConfigError { name, problem })
        };

        let timeout_ms = parse_number(&get("catalog_timeout_ms")?, 3000, 1..=MAX_TIMEOUT_MS)
            .map_err(|p| fail("catalog_timeout_ms", p))?;
        let jwt = auth::settings::parse(&get, Duration::from_millis(timeout_ms))?;
        let optional = |value: String| (!value.is_empty()).then_some(value);

        let catalog_url = get("catalog_url")?;
        let catalog_url = catalog_url.trim_end_matches('/').to_owned();
        if !is_http_url(&catalog_url) {
            return Err(fail(
                "catalog_url",
                "must be an http:// or https:// URL, e.g. http://catalog-service:9001",
            ));
        }
        let catalog_honours_reservations = match get("catalog_honours_reservations")?.as_str() {
            "" | "false" => false,
            "true" => true,
            _ => {
                return Err(fail(
                    "catalog_honours_reservations",
                    "must be true or false",
                ))
            }
        };

        let lease_seconds = parse_number(&get("stock_intent_lease_seconds")?, 120, 1..=24 * 3600)
            .map_err(|p| fail("stock_intent_lease_seconds", p))?;
        if lease_seconds * 1000 < LEASE_PER_TIMEOUT * timeout_ms {
            return Err(fail(
                "stock_intent_lease_seconds",
                "must be at least 4 × catalog_timeout_ms",
            ));
        }
        let admin_token = get("admin_token")?;
        if !admin_token.is_empty() && admin_token.len() < MIN_ADMIN_TOKEN_BYTES {
            return Err(fail(
                "admin_token",
                "must be empty (disabled) or at least 16 bytes",
            ));
        }

        let database_url = get("database_url")?;
        let database_url = database_url.trim();
        let postgres = ["postgres://", "postgresql://"]
            .iter()
            .any(|scheme| database_url.starts_with(scheme));
        if !database_url.is_empty() && !postgres {
            return Err(fail(
                "database_url",
                "must be empty (SQLite) or a postgres:// connection string",
            ));
        }

        let redis_url = get("events_redis_url")?;
        if !redis_url.is_empty() && !redis_url.starts_with("redis://") {
            return Err(fail(
                "events_redis_url",
                "must be empty (events not published) or a redis:// address",
            ));
        }
        let stream = get("events_stream")?;
        let stream = if stream.is_empty() {
            DEFAULT_EVENTS_STREAM.to_owned()
        } else {
            stream
        };
        if stream.len() > MAX_STREAM_NAME_BYTES
            || stream.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(fail(
                "events_stream",
                "must be at most 128 bytes, without spaces or control characters",
            ));
        }

        Ok(Config {
            jwt,
            catalog_url,
            catalog_timeout: Duration::from_millis(timeout_ms),
            catalog_honours_reservations,
            intent_lease: Duration::from_secs(lease_seconds),
            admin_token: optional(admin_token).map(Secret),
            database_url: optional(database_url.to_owned()).map(DatabaseUrl),
            payment_webhook_secret: optional(get("payment_webhook_secret")?).map(Secret),
            fulfilment_webhook_secret: optional(get("fulfilment_webhook_secret")?).map(Secret),
            events: optional(redis_url).map(|url| EventsConfig {
                redis_url: Secret(url),
                stream,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::keys::{JwtAlgorithm, JwtKeys};
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| Ok(vars.get(name).cloned()))
    }

    const REQUIRED: [(&str, &str); 2] = [
        ("jwt_signing_key", "a-key-of-thirty-bytes-for-test"),
        ("catalog_url", "http://catalog-service:9001/"),
    ];

    #[test]
    fn the_catalogs_reservation_ids_are_relied_on_only_when_said() {
        assert!(!config(&REQUIRED).unwrap().catalog_honours_reservations);
        let with = |value| {
            let mut vars = REQUIRED.to_vec();
            vars.push(("catalog_honours_reservations", value));
            config(&vars).map(|c| c.catalog_honours_reservations)
        };
        assert_eq!(with("true"), Ok(true));
        assert_eq!(with("false"), Ok(false));
        assert_eq!(
            with("yes").unwrap_err().name,
            "catalog_honours_reservations"
        );
    }

    #[test]
    fn defaults_apply_when_optional_variables_are_unset() {
        let config = config(&REQUIRED).unwrap();
        assert_eq!(config.catalog_url, "http://catalog-service:9001");
        assert_eq!(config.catalog_timeout, Duration::from_millis(3000));
        assert_eq!(config.jwt.leeway_seconds, 0);
        assert_eq!(config.jwt.audience, None);
        assert_eq!(config.jwt.issuer, None);
        assert_eq!(config.intent_lease, Duration::from_secs(120));
        assert_eq!(config.admin_token, None);
        assert_eq!(config.database_url, None);
    }

    #[test]
    fn database_url_is_postgres_or_empty_and_never_echoed() {
        let mut vars = REQUIRED.to_vec();
        vars.push(("database_url", "postgres://orders:s3cret@db:5432/orders"));
        let config = super::tests::config(&vars).unwrap();
        assert!(config.database_url.is_some());
        assert!(!format!("{config:?}").contains("s3cret"));
        let mut vars = REQUIRED.to_vec();
        vars.push(("database_url", "mysql://orders:s3cret@db/orders"));
        let error = super::tests::config(&vars).unwrap_err();
        assert_eq!(error.name, "database_url");
        assert!(!error.to_string().contains("s3cret"));
    }

    #[test]
    fn events_are_published_only_with_a_redis_url_which_is_never_echoed() {
        assert_eq!(config(&REQUIRED).unwrap().events, None);
        let mut vars = REQUIRED.to_vec();
        vars.push(("events_redis_url", "redis://:s3cret@redis:6379"));
        let config_with_redis = config(&vars).unwrap();
        let events = config_with_redis.events.as_ref().unwrap();
        assert_eq!(events.stream, DEFAULT_EVENTS_STREAM);
        assert!(!format!("{config_with_redis:?}").contains("s3cret"));
        vars.push(("events_stream", "shop orders"));
        assert_eq!(config(&vars).unwrap_err().name, "events_stream");
        let mut vars = REQUIRED.to_vec();
        vars.push(("events_redis_url", "http://:s3cret@redis:6379"));
        let error = config(&vars).unwrap_err();
        assert_eq!(error.name, "events_redis_url");
        assert!(!error.to_string().contains("s3cret"));
    }

    #[test]
    fn the_intent_lease_must_outlast_catalog_calls() {
        let mut vars = REQUIRED.to_vec();
        vars.extend([
            ("catalog_timeout_ms", "1000"),
            ("stock_intent_lease_seconds", "3"),
        ]);
        assert_eq!(
            config(&vars).unwrap_err().name,
            "stock_intent_lease_seconds"
        );
        vars.push(("stock_intent_lease_seconds", "4"));
        let vars: Vec<_> = vars
            .into_iter()
            .filter(|v| *v != ("stock_intent_lease_seconds", "3"))
            .collect();
        assert_eq!(config(&vars).unwrap().intent_lease, Duration::from_secs(4));
    }

    #[test]
    fn required_variables_are_named_when_missing() {
        assert_eq!(config(&[]).unwrap_err().name, "jwt_signing_key");
        assert_eq!(config(&REQUIRED[..1]).unwrap_err().name, "catalog_url");
    }

    #[test]
    fn bad_values_are_rejected_without_echoing_them() {
        let with = |extra: (&'static str, &'static str)| {
            let mut vars = REQUIRED.to_vec();
            vars.push(extra);
            config(&vars)
        };
        for refused in ["none", "hs256", "ES512", "ES256K", "RS-256"] {
            assert_eq!(
                with(("jwt_algorithm", refused)).unwrap_err().name,
                "jwt_algorithm",
                "{refused}"
            );
        }
        assert_eq!(
            with(("jwt_leeway_seconds", "-1")).unwrap_err().name,
            "jwt_leeway_seconds"
        );
        assert_eq!(
            with(("catalog_timeout_ms", "0")).unwrap_err().name,
            "catalog_timeout_ms"
        );
        assert_eq!(
            with(("catalog_url", "catalog:9001")).unwrap_err().name,
            "catalog_url"
        );
        assert!(with(("jwt_algorithm", "HS256")).is_ok());
        assert_eq!(
            with(("jwt_audience", "shop"))
                .unwrap()
                .jwt
                .audience
                .as_deref(),
            Some("shop")
        );
    }

    #[test]
    fn debug_output_hides_the_key_and_the_admin_token() {
        let mut vars = REQUIRED.to_vec();
        vars.push(("admin_token", "operator-secret-0123456789"));
        let config = config(&vars).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("thirty-bytes"));
        assert!(!printed.contains("operator-secret"));
    }

    #[test]
    fn asymmetric_algorithms_take_public_keys_only() {
        use jwt_simple::prelude::*;
        let pair = ES256KeyPair::generate();
        let public = pair.public_key().to_pem().unwrap();
        let private = pair.to_pem().unwrap();
        let bundle = format!("kid: 2026-12\n{public}");
        let base = [
            ("catalog_url", "http://catalog:9001"),
            ("jwt_algorithm", "ES256"),
        ];
        let with = |extra: &[(&'static str, &str)]| {
            let mut vars: Vec<(&str, &str)> = base.to_vec();
            vars.extend_from_slice(extra);
            config(&vars)
        };
        let taken = with(&[("jwt_verifying_key", &bundle)]).unwrap();
        assert_eq!(taken.jwt.algorithm, JwtAlgorithm::ES256);
        assert!(matches!(&taken.jwt.keys, JwtKeys::Public(keys)
            if keys.len() == 1 && keys[0].kid.as_deref() == Some("2026-12")));
        // No key, a private key, a key of another algorithm, or the shared
        // key beside it: refused, naming the variable, never echoing it.
        let refused = |extra: &[(&'static str, &str)]| with(extra).unwrap_err();
        assert_eq!(refused(&[]).name, "jwt_verifying_key");
        let private_key = refused(&[("jwt_verifying_key", &private)]);
        assert_eq!(private_key.name, "jwt_verifying_key");
        assert!(private_key.problem.contains("private key"));
        assert!(!private_key.problem.contains("BEGIN"));
        let ed = Ed25519KeyPair::generate().public_key().to_pem();
        assert_eq!(
            refused(&[("jwt_verifying_key", &ed)]).name,
            "jwt_verifying_key"
        );
        assert_eq!(
            refused(&[
                ("jwt_verifying_key", &bundle),
                ("jwt_signing_key", "a-shared-key-0123456789")
            ])
            .name,
            "jwt_signing_key"
        );
        let twice = format!("kid: a\n{public}kid: a\n{public}");
        assert_eq!(
            refused(&[("jwt_verifying_key", &twice)]).name,
            "jwt_verifying_key"
        );
        // HS* still needs its shared key.
        assert_eq!(
            config(&[
                ("catalog_url", "http://catalog:9001"),
                ("jwt_algorithm", "HS512")
            ])
            .unwrap_err()
            .name,
            "jwt_signing_key"
        );
    }

    #[test]
    fn a_jwks_url_serves_asymmetric_algorithms_only() {
        let url = (
            "jwt_jwks_url",
            "https://auth.example.com/.well-known/jwks.json",
        );
        let es256 = [
            ("catalog_url", "http://catalog:9001"),
            ("jwt_algorithm", "ES256"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = es256.to_vec();
            vars.extend_from_slice(extra);
            config(&vars)
        };
        // The JWKS alone is enough: no static key needed.
        let taken = with(&[url]).unwrap();
        let jwks = taken.jwt.jwks.unwrap();
        assert_eq!(jwks.url, url.1);
        assert_eq!(jwks.refresh_seconds, 300);
        assert!(matches!(taken.jwt.keys, JwtKeys::Public(keys) if keys.is_empty()));
        assert_eq!(
            with(&[url, ("jwt_jwks_refresh_seconds", "60")])
                .unwrap()
                .jwt
                .jwks
                .unwrap()
                .refresh_seconds,
            60
        );
        for (name, bad) in [
            ("jwt_jwks_refresh_seconds", "0"),
            ("jwt_jwks_refresh_seconds", "soon"),
        ] {
            assert_eq!(with(&[url, (name, bad)]).unwrap_err().name, name);
        }
        assert_eq!(
            with(&[("jwt_jwks_url", "auth/.well-known/jwks.json")])
                .unwrap_err()
                .name,
            "jwt_jwks_url"
        );
        let mut hs256 = REQUIRED.to_vec();
        hs256.push(url);
        assert_eq!(config(&hs256).unwrap_err().name, "jwt_jwks_url");
        assert!(config(&REQUIRED).unwrap().jwt.jwks.is_none());
    }

    #[test]
    fn short_admin_tokens_are_refused() {
        let mut vars = REQUIRED.to_vec();
        vars.push(("admin_token", "short"));
        assert_eq!(config(&vars).unwrap_err().name, "admin_token");
    }
}
