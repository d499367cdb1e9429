//! Who may call: how access tokens are verified (the `jwt_*` variables
//! and `catalog_service_token`, parsed and checked together) and the
//! operator's token (`admin_token`).

use super::keys::{self, HmacKey, JwtAlgorithm, JwtKeys};
use crate::settings::{fail, is_http_url, non_empty, parse_number, ConfigError, Secret, Variables};
use std::time::Duration;

/// Keys shorter than this are accepted (interoperability first) but warned about.
pub const RECOMMENDED_KEY_BYTES: usize = 32;
const MAX_LEEWAY_SECONDS: u64 = 24 * 3600;
const MAX_URL_BYTES: usize = 2048;
/// PyJWT's `PyJWKClient` keeps a JWKS for 300 s by default.
const DEFAULT_JWKS_REFRESH_SECONDS: u64 = 300;

/// How access tokens are verified.
#[derive(Clone)]
pub struct JwtSettings {
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
    pub jwks: Option<JwksSettings>,
}

/// The Auth Service's JWKS endpoint (`jwt_jwks_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSettings {
    /// `http(s)://…`, allowed in `allowed_outbound_hosts` by `jwt_jwks_host`.
    pub url: String,
    /// Age after which the cached document is fetched again.
    pub refresh_seconds: u64,
    /// How long a fetch may take (the Catalog's timeout).
    pub timeout: Duration,
}

impl std::fmt::Debug for JwtSettings {
    /// Never prints a key or token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            JwtKeys::Hmac(_) => format!("<shared key, {} bytes>", self.signing_key_bytes),
            JwtKeys::Public(keys) => format!("<{} public keys>", keys.len()),
        };
        f.debug_struct("JwtSettings")
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

impl JwtSettings {
    /// The verification settings; a JWKS fetch may take `fetch_timeout`.
    pub fn read(vars: &dyn Variables, fetch_timeout: Duration) -> Result<Self, ConfigError> {
        parse(&|name| vars.get(name), fetch_timeout)
    }
}

fn parse(
    get: &dyn Fn(&'static str) -> Result<String, ConfigError>,
    fetch_timeout: Duration,
) -> Result<JwtSettings, ConfigError> {
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
    let service_token = non_empty(service_token).map(Secret);
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
        Some(JwksSettings {
            url: jwks_url,
            refresh_seconds,
            timeout: fetch_timeout,
        })
    };

    Ok(JwtSettings {
        algorithm,
        keys,
        signing_key_bytes: signing_key.len(),
        service_token,
        audience: non_empty(get("jwt_audience")?),
        issuer: non_empty(get("jwt_issuer")?),
        leeway_seconds,
        jwks,
    })
}

/// The operator endpoints' credential.
#[derive(Debug, Clone)]
pub struct OperatorSettings {
    /// The bearer token operators present (`admin_token`, a secret);
    /// `None` disables the operator endpoints.
    pub admin_token: Option<Secret>,
}

const MIN_ADMIN_TOKEN_BYTES: usize = 16;

impl OperatorSettings {
    pub fn read(vars: &dyn Variables) -> Result<Self, ConfigError> {
        let admin_token = vars.get("admin_token")?;
        if !admin_token.is_empty() && admin_token.len() < MIN_ADMIN_TOKEN_BYTES {
            return Err(fail(
                "admin_token",
                "must be empty (disabled) or at least 16 bytes",
            ));
        }
        Ok(OperatorSettings {
            admin_token: non_empty(admin_token).map(Secret),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Fixed;

    const KEY: (&str, &str) = ("jwt_signing_key", "a-key-of-thirty-bytes-for-test");
    const TIMEOUT: Duration = Duration::from_secs(3);

    fn jwt(vars: &[(&'static str, &str)]) -> Result<JwtSettings, ConfigError> {
        JwtSettings::read(&Fixed::of(vars), TIMEOUT)
    }

    #[test]
    fn hs256_with_its_key_is_the_default() {
        let settings = jwt(&[KEY]).unwrap();
        assert_eq!(settings.algorithm, JwtAlgorithm::HS256);
        assert_eq!(settings.leeway_seconds, 0);
        assert_eq!(settings.audience, None);
        assert_eq!(settings.issuer, None);
        assert!(settings.jwks.is_none() && settings.service_token.is_none());
        assert_eq!(jwt(&[]).unwrap_err().name, "jwt_signing_key");
    }

    #[test]
    fn bad_values_are_refused_by_name_without_echoing_them() {
        for refused in ["none", "hs256", "ES512", "ES256K", "RS-256"] {
            let error = jwt(&[KEY, ("jwt_algorithm", refused)]).unwrap_err();
            assert_eq!(error.name, "jwt_algorithm", "{refused}");
        }
        let error = jwt(&[KEY, ("jwt_leeway_seconds", "-1")]).unwrap_err();
        assert_eq!(error.name, "jwt_leeway_seconds");
        assert!(jwt(&[KEY, ("jwt_algorithm", "HS256")]).is_ok());
        let audience = jwt(&[KEY, ("jwt_audience", "shop")]).unwrap().audience;
        assert_eq!(audience.as_deref(), Some("shop"));
        let printed = format!("{:?}", jwt(&[KEY]).unwrap());
        assert!(!printed.contains("thirty-bytes"), "{printed}");
    }

    #[test]
    fn asymmetric_algorithms_take_public_keys_only() {
        use jwt_simple::prelude::*;
        let pair = ES256KeyPair::generate();
        let public = pair.public_key().to_pem().unwrap();
        let private = pair.to_pem().unwrap();
        let bundle = format!("kid: 2026-12\n{public}");
        let with = |extra: &[(&'static str, &str)]| {
            let mut vars = vec![("jwt_algorithm", "ES256")];
            vars.extend_from_slice(extra);
            jwt(&vars)
        };
        let taken = with(&[("jwt_verifying_key", &bundle)]).unwrap();
        assert_eq!(taken.algorithm, JwtAlgorithm::ES256);
        assert!(matches!(&taken.keys, JwtKeys::Public(keys)
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
        let both = refused(&[("jwt_verifying_key", &bundle), KEY]);
        assert_eq!(both.name, "jwt_signing_key");
        let twice = format!("kid: a\n{public}kid: a\n{public}");
        assert_eq!(
            refused(&[("jwt_verifying_key", &twice)]).name,
            "jwt_verifying_key"
        );
        // HS* still needs its shared key.
        assert_eq!(
            jwt(&[("jwt_algorithm", "HS512")]).unwrap_err().name,
            "jwt_signing_key"
        );
    }

    #[test]
    fn a_jwks_url_serves_asymmetric_algorithms_only() {
        let url = (
            "jwt_jwks_url",
            "https://auth.example.com/.well-known/jwks.json",
        );
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = vec![("jwt_algorithm", "ES256")];
            vars.extend_from_slice(extra);
            jwt(&vars)
        };
        // The JWKS alone is enough: no static key needed.
        let taken = with(&[url]).unwrap();
        let jwks = taken.jwks.unwrap();
        assert_eq!(
            (jwks.url.as_str(), jwks.refresh_seconds, jwks.timeout),
            (url.1, 300, TIMEOUT)
        );
        assert!(matches!(taken.keys, JwtKeys::Public(keys) if keys.is_empty()));
        let sixty = with(&[url, ("jwt_jwks_refresh_seconds", "60")]).unwrap();
        assert_eq!(sixty.jwks.unwrap().refresh_seconds, 60);
        for bad in ["0", "soon"] {
            let error = with(&[url, ("jwt_jwks_refresh_seconds", bad)]).unwrap_err();
            assert_eq!(error.name, "jwt_jwks_refresh_seconds");
        }
        let relative = with(&[("jwt_jwks_url", "auth/.well-known/jwks.json")]);
        assert_eq!(relative.unwrap_err().name, "jwt_jwks_url");
        assert_eq!(jwt(&[KEY, url]).unwrap_err().name, "jwt_jwks_url");
    }

    #[test]
    fn the_operator_token_is_long_or_absent_and_never_printed() {
        let read = |token| OperatorSettings::read(&Fixed::of(&[("admin_token", token)]));
        assert!(read("").unwrap().admin_token.is_none());
        assert_eq!(read("short").unwrap_err().name, "admin_token");
        let taken = read("operator-secret-0123456789").unwrap();
        assert!(taken.admin_token.is_some());
        assert!(!format!("{taken:?}").contains("operator-secret"));
    }
}
