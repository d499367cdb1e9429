//! How access tokens are verified: the `jwt_*` variables (and
//! `catalog_service_token`), parsed and checked together.

use super::keys::{self, HmacKey, JwtAlgorithm, JwtKeys};
use crate::settings::{fail, is_http_url, parse_number, ConfigError, Get, Secret};
use std::time::Duration;

/// Keys shorter than this are accepted (interoperability first) but warned about.
pub const RECOMMENDED_KEY_BYTES: usize = 32;
const MAX_LEEWAY_SECONDS: u64 = 24 * 3600;
const MAX_URL_BYTES: usize = 2048;
/// PyJWT's `PyJWKClient` keeps a JWKS for 300 s by default.
const DEFAULT_JWKS_REFRESH_SECONDS: u64 = 300;

/// How access tokens are verified.
#[derive(Clone)]
pub struct JwtConfig {
    pub algorithm: JwtAlgorithm,
    /// The shared key (HS*) or the Auth Service's public keys.
    pub keys: JwtKeys,
    /// Length of the shared key (0 with public keys), for the weak-key
    /// warning.
    pub signing_key_bytes: usize,
    pub audience: Option<String>,
    pub issuer: Option<String>,
    pub leeway_seconds: u64,
    /// A token the Auth Service issued for this service, sent with
    /// releases retried after their request (it cannot mint one with
    /// public keys).
    pub service_token: Option<Secret>,
    /// Where the Auth Service publishes its keys, if it does: they are
    /// used beside the configured public keys (`auth::jwks_cache`).
    pub jwks: Option<JwksConfig>,
}

/// The Auth Service's JWKS endpoint (`jwt_jwks_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksConfig {
    /// `http(s)://…`, allowed in `allowed_outbound_hosts` by `jwt_jwks_host`.
    pub url: String,
    /// Age after which the cached document is fetched again.
    pub refresh_seconds: u64,
    /// How long a fetch may take (the Catalog's timeout).
    pub timeout: Duration,
}

impl std::fmt::Debug for JwtConfig {
    /// Never prints a key or token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            JwtKeys::Hmac(_) => format!("<shared key, {} bytes>", self.signing_key_bytes),
            JwtKeys::Public(keys) => format!("<{} public keys>", keys.len()),
        };
        f.debug_struct("JwtConfig")
            .field("algorithm", &self.algorithm)
            .field("keys", &keys)
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("leeway_seconds", &self.leeway_seconds)
            .field("service_token", &self.service_token.is_some())
            .field("jwks", &self.jwks)
            .finish()
    }
}

/// The verification settings; a JWKS fetch may take `fetch_timeout`.
pub fn parse(get: Get<'_>, fetch_timeout: Duration) -> Result<JwtConfig, ConfigError> {
    let algorithm = get("jwt_algorithm")?;
    let algorithm = if algorithm.is_empty() {
        JwtAlgorithm::HS256
    } else {
        JwtAlgorithm::parse(&algorithm).ok_or_else(|| {
            fail(
                "jwt_algorithm",
                "must be one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, \
                 PS512, ES256, ES384, EdDSA",
            )
        })?
    };
    let signing_key = get("jwt_signing_key")?;
    let verifying_key = get("jwt_verifying_key")?;
    let jwks_url = get("jwt_jwks_url")?;
    let keys = if algorithm.is_hmac() {
        if signing_key.is_empty() {
            return Err(fail(
                "jwt_signing_key",
                "is required with an HS* algorithm and must not be empty",
            ));
        }
        JwtKeys::Hmac(
            HmacKey::new(algorithm, signing_key.as_bytes())
                .ok_or_else(|| fail("jwt_algorithm", "has no shared key"))?,
        )
    } else {
        if !signing_key.is_empty() {
            return Err(fail(
                "jwt_signing_key",
                "must be empty with an asymmetric algorithm: this service takes the \
                 Auth Service's public keys (jwt_verifying_key), never its private key",
            ));
        }
        // With a JWKS the static keys are optional (its keys serve).
        if verifying_key.is_empty() && !jwks_url.is_empty() {
            JwtKeys::Public(Vec::new())
        } else {
            JwtKeys::Public(
                keys::parse_bundle(algorithm, &verifying_key)
                    .map_err(|problem| fail("jwt_verifying_key", &problem))?,
            )
        }
    };
    if algorithm.is_hmac() && !jwks_url.is_empty() {
        return Err(fail(
            "jwt_jwks_url",
            "must be empty with an HS* algorithm: a JWKS publishes public keys",
        ));
    }
    let service_token = get("catalog_service_token")?;
    let service_token = (!service_token.is_empty()).then_some(Secret(service_token));
    let optional = |value: String| (!value.is_empty()).then_some(value);
    let leeway_seconds = parse_number(&get("jwt_leeway_seconds")?, 0, 0..=MAX_LEEWAY_SECONDS)
        .map_err(|p| fail("jwt_leeway_seconds", p))?;

    let jwks = if jwks_url.is_empty() {
        None
    } else {
        if !is_http_url(&jwks_url) || jwks_url.len() > MAX_URL_BYTES {
            return Err(fail(
                "jwt_jwks_url",
                "must be an http:// or https:// URL of at most 2048 bytes",
            ));
        }
        let refresh_seconds = parse_number(
            &get("jwt_jwks_refresh_seconds")?,
            DEFAULT_JWKS_REFRESH_SECONDS,
            1..=24 * 3600,
        )
        .map_err(|p| fail("jwt_jwks_refresh_seconds", p))?;
        Some(JwksConfig {
            url: jwks_url,
            refresh_seconds,
            timeout: fetch_timeout,
        })
    };

    Ok(JwtConfig {
        algorithm,
        keys,
        signing_key_bytes: signing_key.len(),
        service_token,
        audience: optional(get("jwt_audience")?),
        issuer: optional(get("jwt_issuer")?),
        leeway_seconds,
        jwks,
    })
}
