//! Stateless verification of SimpleJWT access tokens (SPEC §2, issue 23):
//! the configured algorithm pinned (HS*, RS*, PS*, ES256/384, EdDSA; a
//! token naming another, `none` included, is refused), `token_type ==
//! "access"`, `jti` and `exp` required, `user_id` as a JSON integer or a
//! string of digits. With public keys, a token's `kid` picks its key;
//! without one every key is tried in order (rotation). No database or
//! network look-up.
//!
//! - [`keys`]: algorithms, the HMAC key, PEM bundles of public keys;
//! - [`jwks`]: the keys of a JWKS document (fetched and cached by
//!   `auth::jwks_cache`).

pub mod jwks;
pub mod jwks_cache;
pub mod keys;
pub mod settings;

use crate::domain::UserId;
use jwt_simple::prelude::*;
use keys::{JwtKeys, PublicKey};
use serde_json::Value;
use settings::JwtSettings;

/// Why a request is not authenticated. The `&'static str` is for logs only:
/// clients see one generic message per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header, or a scheme other than Bearer.
    NotAuthenticated,
    /// A Bearer credential that is not a valid access token.
    InvalidToken(&'static str),
}

/// Tokens larger than this are rejected before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Lifetime of the tokens minted for retried releases (SPEC §4: ≤ 60 s).
pub const SERVICE_TOKEN_SECONDS: u64 = 60;

/// A verifier built from the configured keys and checks.
pub struct Verifier {
    keys: JwtKeys,
    options: VerificationOptions,
}

/// Mints an access token for `user` exactly as SimpleJWT shapes one
/// (`token_type`, `user_id` as a string, `jti`, `iat`, `exp`, plus `aud`/`iss`
/// when configured), valid for [`SERVICE_TOKEN_SECONDS`] from `now`. Used
/// only for a release retried after the user's request has ended: the
/// Catalog wants a JWT on every write and there is no caller to forward.
/// `None` with an asymmetric algorithm: this service holds no private key
/// and cannot mint (the release then uses `catalog_service_token`).
pub fn mint_access_token(config: &JwtSettings, user: UserId, now: u64) -> Option<String> {
    let JwtKeys::Hmac(key) = &config.keys else {
        return None;
    };
    let custom = serde_json::json!({"token_type": "access", "user_id": user.get().to_string()});
    let custom = custom.as_object().cloned().unwrap_or_default();
    let mut claims = Claims::with_custom_claims(custom, Duration::from_secs(SERVICE_TOKEN_SECONDS))
        .with_jwt_id(uuid::Uuid::new_v4().simple().to_string());
    claims.issued_at = Some(UnixTimeStamp::from_secs(now));
    claims.invalid_before = None;
    claims.expires_at = Some(UnixTimeStamp::from_secs(now + SERVICE_TOKEN_SECONDS));
    if let Some(audience) = &config.audience {
        claims = claims.with_audience(audience);
    }
    if let Some(issuer) = &config.issuer {
        claims = claims.with_issuer(issuer);
    }
    Some(
        key.sign(claims)
            .expect("HMAC signing of a small claim set cannot fail"),
    )
}

/// The token a release retried without its caller carries: one minted for
/// `user` with the shared key, else the service token the Auth Service
/// issued (`catalog_service_token`); `None` when there is neither.
pub fn release_credential(config: &JwtSettings, user: UserId, now: u64) -> Option<String> {
    mint_access_token(config, user, now)
        .or_else(|| config.service_token.as_ref().map(|t| t.0.clone()))
}

/// Seconds until `token`'s `exp` (negative once expired), read without
/// verifying it: to watch the service token this service was given, whose
/// signature only the Catalog needs to check.
pub fn expires_in(token: &str, now: u64) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = Base64UrlSafeNoPadding::decode_to_vec(payload, None).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims
        .get("exp")?
        .as_i64()?
        .checked_sub(i64::try_from(now).ok()?)
}

/// The `kid` a bearer token's header names, read without verifying
/// anything: only to choose which keys to fetch.
pub fn token_kid(header: Option<&str>) -> Option<String> {
    let token = bearer_token(header).ok()?;
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    Token::decode_metadata(token)
        .ok()?
        .key_id()
        .map(str::to_owned)
}

impl Verifier {
    /// With the configured keys, and `fetched` (a JWKS's) after them.
    pub fn with_fetched_keys(config: &JwtSettings, fetched: Vec<PublicKey>) -> Self {
        let mut verifier = Self::new(config);
        if let JwtKeys::Public(keys) = &mut verifier.keys {
            keys.extend(fetched);
        }
        verifier
    }

    pub fn new(config: &JwtSettings) -> Self {
        let options = VerificationOptions {
            time_tolerance: Some(Duration::from_secs(config.leeway_seconds)),
            max_token_length: Some(MAX_TOKEN_BYTES),
            allowed_audiences: config.audience.clone().map(|a| HashSet::from([a])),
            allowed_issuers: config.issuer.clone().map(|i| HashSet::from([i])),
            ..Default::default()
        };
        Self {
            keys: config.keys.clone(),
            options,
        }
    }

    /// Authenticates a request from its `Authorization` header value at
    /// `now` (seconds since the Unix epoch).
    pub fn authenticate(&self, header: Option<&str>, now: u64) -> Result<UserId, AuthError> {
        let token = bearer_token(header)?;
        let mut options = self.options.clone();
        options.artificial_time = Some(UnixTimeStamp::from_secs(now));
        let claims = self.verify(token, options)?;
        if claims.expires_at.is_none() {
            return Err(AuthError::InvalidToken("no exp"));
        }
        if claims.jwt_id.as_deref().is_none_or(str::is_empty) {
            return Err(AuthError::InvalidToken("no jti"));
        }
        if claims.custom.get("token_type") != Some(&Value::String("access".into())) {
            return Err(AuthError::InvalidToken("token_type is not access"));
        }
        claims
            .custom
            .get("user_id")
            .and_then(parse_user_id)
            .ok_or(AuthError::InvalidToken("bad user_id"))
    }
}

impl Verifier {
    /// The token's claims, if one of the keys it may be signed with (its
    /// algorithm pinned) verifies it.
    fn verify(
        &self,
        token: &str,
        options: VerificationOptions,
    ) -> Result<JWTClaims<serde_json::Map<String, Value>>, AuthError> {
        let invalid = AuthError::InvalidToken("signature, algorithm, time or format");
        match &self.keys {
            JwtKeys::Hmac(key) => key.verify(token, options).map_err(|_| invalid),
            JwtKeys::Public(keys) => {
                let metadata = Token::decode_metadata(token).map_err(|_| invalid.clone())?;
                let kid = metadata.key_id();
                let named: Vec<_> = keys.iter().filter(|k| k.kid.as_deref() == kid).collect();
                // A kid no key has: the unlabelled keys may still be it
                // (a bundle need not label its keys).
                let candidates = if kid.is_some() && named.is_empty() {
                    keys.iter().filter(|k| k.kid.is_none()).collect()
                } else if kid.is_some() {
                    named
                } else {
                    keys.iter().collect()
                };
                candidates
                    .into_iter()
                    .find_map(|key| key.verify(token, options.clone()).ok())
                    .ok_or(invalid)
            }
        }
    }
}

/// Extracts the token of `Bearer <token>` (the scheme in any case, as
/// RFC 9110 says of auth schemes); any other scheme is "not
/// authenticated", a malformed Bearer value is an invalid token. Users'
/// tokens and the operator's are read alike.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::NotAuthenticated)?;
    let mut parts = header.split_ascii_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Err(AuthError::InvalidToken("empty Authorization header")),
        (Some(scheme), _, _) if !scheme.eq_ignore_ascii_case("bearer") => {
            Err(AuthError::NotAuthenticated)
        }
        (Some(_), Some(token), None) => Ok(token),
        _ => Err(AuthError::InvalidToken("Bearer needs exactly one token")),
    }
}

/// `user_id` as SimpleJWT writes it: `42` (older) or `"42"` (5.5+). Strings
/// must be ASCII digits without sign or leading zero; the value 1..=2^63-1.
fn parse_user_id(value: &Value) -> Option<UserId> {
    let raw = match value {
        Value::Number(number) => number.as_i64()?,
        Value::String(text) => {
            let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
            if !digits_only || text.starts_with('0') {
                return None;
            }
            text.parse().ok()?
        }
        _ => return None,
    };
    UserId::new(raw)
}

#[cfg(test)]
mod tests {
    use super::keys::{HmacKey, JwtAlgorithm};
    use super::*;
    use serde_json::json;

    const KEY: &[u8] = b"django-insecure-thirty-bytes!!"; // 30 bytes, like the reference system
    const NOW: u64 = 1_800_000_000;

    /// SimpleJWT's default: HS256 with the shared key.
    fn hs256_config(
        audience: Option<String>,
        issuer: Option<String>,
        leeway_seconds: u64,
    ) -> JwtSettings {
        JwtSettings {
            algorithm: JwtAlgorithm::HS256,
            keys: JwtKeys::Hmac(HmacKey::new(JwtAlgorithm::HS256, KEY).unwrap()),
            signing_key_bytes: KEY.len(),
            audience,
            issuer,
            leeway_seconds,
            service_token: None,
            jwks: None,
        }
    }

    /// An asymmetric configuration with these public keys.
    fn public_config(algorithm: JwtAlgorithm, bundle: &str) -> JwtSettings {
        JwtSettings {
            algorithm,
            keys: JwtKeys::Public(keys::parse_bundle(algorithm, bundle).unwrap()),
            signing_key_bytes: 0,
            audience: None,
            issuer: None,
            leeway_seconds: 0,
            service_token: None,
            jwks: None,
        }
    }

    fn verifier() -> Verifier {
        Verifier::new(&hs256_config(None, None, 0))
    }

    /// Claims exactly as SimpleJWT 5.5 writes an access token.
    fn simplejwt_claims(user_id: Value) -> JWTClaims<serde_json::Map<String, Value>> {
        let custom = json!({"token_type": "access", "user_id": user_id});
        let mut claims = Claims::with_custom_claims(
            custom.as_object().unwrap().clone(),
            Duration::from_secs(300),
        )
        .with_jwt_id("0f7c3c1e9d7e4c0f9f1e2d3c4b5a6978");
        claims.issued_at = Some(UnixTimeStamp::from_secs(NOW - 10));
        claims.expires_at = Some(UnixTimeStamp::from_secs(NOW + 290));
        claims
    }

    fn mint(claims: JWTClaims<serde_json::Map<String, Value>>) -> String {
        HS256Key::from_bytes(KEY).authenticate(claims).unwrap()
    }

    fn check(token: &str) -> Result<UserId, AuthError> {
        verifier().authenticate(Some(&format!("Bearer {token}")), NOW)
    }

    #[test]
    fn minted_service_tokens_verify_as_short_lived_access_tokens() {
        let config = hs256_config(Some("shop".into()), Some("auth".into()), 0);
        let token = mint_access_token(&config, UserId::new(42).unwrap(), NOW).unwrap();
        let verifier = Verifier::new(&config);
        let header = format!("Bearer {token}");
        assert_eq!(
            verifier
                .authenticate(Some(&header), NOW + 59)
                .map(UserId::get),
            Ok(42)
        );
        assert!(verifier
            .authenticate(Some(&header), NOW + SERVICE_TOKEN_SECONDS + 1)
            .is_err());
    }

    #[test]
    fn accepts_user_id_as_string_and_as_integer() {
        assert_eq!(
            check(&mint(simplejwt_claims(json!("42")))).unwrap().get(),
            42
        );
        assert_eq!(check(&mint(simplejwt_claims(json!(42)))).unwrap().get(), 42);
        let max = i64::MAX.to_string();
        assert_eq!(
            check(&mint(simplejwt_claims(json!(max)))).unwrap().get(),
            i64::MAX
        );
    }

    #[test]
    fn rejects_every_bad_user_id() {
        for bad in [
            json!(0),
            json!(-1),
            json!("0"),
            json!("-1"),
            json!("+1"),
            json!("042"),
            json!("abc"),
            json!(""),
            json!(" 42"),
            json!(42.5),
            json!(true),
            json!(null),
            json!([42]),
            json!({"id": 42}),
            json!("9223372036854775808"),
            json!(u64::MAX),
        ] {
            assert!(
                matches!(
                    check(&mint(simplejwt_claims(bad.clone()))),
                    Err(AuthError::InvalidToken(_))
                ),
                "{bad}"
            );
        }
        let mut claims = simplejwt_claims(json!(1));
        claims.custom.remove("user_id");
        assert!(check(&mint(claims)).is_err());
    }

    #[test]
    fn rejects_refresh_tokens_and_tokens_without_jti_or_exp() {
        let mut refresh = simplejwt_claims(json!(1));
        refresh.custom.insert("token_type".into(), json!("refresh"));
        assert!(check(&mint(refresh)).is_err());

        let mut no_type = simplejwt_claims(json!(1));
        no_type.custom.remove("token_type");
        assert!(check(&mint(no_type)).is_err());

        let mut no_jti = simplejwt_claims(json!(1));
        no_jti.jwt_id = None;
        assert!(check(&mint(no_jti)).is_err());

        let mut no_exp = simplejwt_claims(json!(1));
        no_exp.expires_at = None;
        assert!(check(&mint(no_exp)).is_err());
    }

    #[test]
    fn rejects_expired_and_not_yet_valid_tokens_within_leeway_rules() {
        let mut expired = simplejwt_claims(json!(1));
        expired.expires_at = Some(UnixTimeStamp::from_secs(NOW - 1));
        let expired = mint(expired);
        assert!(check(&expired).is_err());

        let mut early = simplejwt_claims(json!(1));
        early.invalid_before = Some(UnixTimeStamp::from_secs(NOW + 5));
        let early = mint(early);
        assert!(check(&early).is_err());

        let lenient = Verifier::new(&hs256_config(None, None, 10));
        for token in [&expired, &early] {
            assert!(lenient
                .authenticate(Some(&format!("Bearer {token}")), NOW)
                .is_ok());
        }
    }

    #[test]
    fn rejects_wrong_key_and_other_algorithms() {
        let claims = simplejwt_claims(json!(1));
        let other_key = HS256Key::from_bytes(b"another-key-of-thirty-bytes!!!");
        assert!(check(&other_key.authenticate(claims.clone()).unwrap()).is_err());
        let hs512 = HS512Key::from_bytes(KEY)
            .authenticate(claims.clone())
            .unwrap();
        assert!(check(&hs512).is_err());

        // `alg: none` with the signature stripped.
        let valid = mint(claims);
        let payload = valid.split('.').nth(1).unwrap();
        let none_header =
            Base64UrlSafeNoPadding::encode_to_string(br#"{"alg":"none","typ":"JWT"}"#).unwrap();
        assert!(check(&format!("{none_header}.{payload}.")).is_err());
        assert!(check(&format!("{none_header}.{payload}")).is_err());
    }

    /// Each asymmetric family verifies its own tokens, refuses tokens of
    /// another key, and is not fooled by the classic confusions: an HS256
    /// token whose HMAC key is the public key's PEM, and `alg: none`.
    #[test]
    fn public_keys_verify_their_tokens_and_refuse_confusion() {
        let claims = simplejwt_claims(json!("42"));
        let someone_else = simplejwt_claims(json!("43"));
        let es = ES256KeyPair::generate();
        let ed = Ed25519KeyPair::generate();
        // (algorithm, public PEM, a valid token, another key's token,
        // a valid token for another user)
        let cases: Vec<(JwtAlgorithm, String, String, String, String)> = vec![
            (
                JwtAlgorithm::ES256,
                es.public_key().to_pem().unwrap(),
                es.sign(claims.clone()).unwrap(),
                ES256KeyPair::generate().sign(claims.clone()).unwrap(),
                es.sign(someone_else.clone()).unwrap(),
            ),
            (
                JwtAlgorithm::EdDSA,
                ed.public_key().to_pem(),
                ed.sign(claims.clone()).unwrap(),
                Ed25519KeyPair::generate().sign(claims.clone()).unwrap(),
                ed.sign(someone_else.clone()).unwrap(),
            ),
        ];
        for (algorithm, pem, good, other_key, other_user) in cases {
            let verifier = Verifier::new(&public_config(algorithm, &pem));
            let auth = |token: &str| verifier.authenticate(Some(&format!("Bearer {token}")), NOW);
            assert_eq!(auth(&good).map(UserId::get), Ok(42), "{algorithm:?}");
            assert!(auth(&other_key).is_err(), "{algorithm:?}: another key");
            let confused = HS256Key::from_bytes(pem.as_bytes())
                .authenticate(claims.clone())
                .unwrap();
            assert!(
                auth(&confused).is_err(),
                "{algorithm:?}: HS256 with the PEM as key"
            );
            let payload = good.split('.').nth(1).unwrap();
            let none =
                Base64UrlSafeNoPadding::encode_to_string(br#"{"alg":"none","typ":"JWT"}"#).unwrap();
            assert!(
                auth(&format!("{none}.{payload}.")).is_err(),
                "{algorithm:?}: none"
            );
            let mut tampered: Vec<&str> = good.split('.').collect();
            let other_payload = other_user.split('.').nth(1).unwrap().to_owned();
            tampered[1] = &other_payload;
            assert!(
                auth(&tampered.join(".")).is_err(),
                "{algorithm:?}: tampered payload"
            );
        }
    }

    /// Rotation: a token's `kid` picks its key; without one, every key is
    /// tried; a `kid` naming the wrong key fails even if another key would
    /// verify it.
    #[test]
    fn a_tokens_kid_picks_its_key_and_keys_without_kid_are_tried_in_order() {
        let old = ES256KeyPair::generate().with_key_id("old");
        let new = ES256KeyPair::generate().with_key_id("new");
        let bundle = format!(
            "kid: old\n{}\nkid: new\n{}",
            old.public_key().to_pem().unwrap(),
            new.public_key().to_pem().unwrap()
        );
        let verifier = Verifier::new(&public_config(JwtAlgorithm::ES256, &bundle));
        let auth = |token: &str| verifier.authenticate(Some(&format!("Bearer {token}")), NOW);
        let claims = simplejwt_claims(json!("7"));
        assert!(auth(&old.sign(claims.clone()).unwrap()).is_ok());
        assert!(auth(&new.sign(claims.clone()).unwrap()).is_ok());
        // No kid: tried in order, the second key verifies it.
        let unlabelled = ES256KeyPair::from_bytes(&new.to_bytes()).unwrap();
        assert!(auth(&unlabelled.sign(claims.clone()).unwrap()).is_ok());
        // The old key's token claiming to be the new key's: refused.
        let lying = ES256KeyPair::from_bytes(&old.to_bytes())
            .unwrap()
            .with_key_id("new");
        assert!(auth(&lying.sign(claims.clone()).unwrap()).is_err());
        // A kid no key has, and every key labelled: refused.
        let unknown = ES256KeyPair::from_bytes(&old.to_bytes())
            .unwrap()
            .with_key_id("zzz");
        assert!(auth(&unknown.sign(claims.clone()).unwrap()).is_err());
        // Only the new key left (the old one removed): old tokens fail.
        let rotated = Verifier::new(&public_config(
            JwtAlgorithm::ES256,
            &format!("kid: new\n{}", new.public_key().to_pem().unwrap()),
        ));
        let header = format!("Bearer {}", old.sign(claims).unwrap());
        assert!(rotated.authenticate(Some(&header), NOW).is_err());
    }

    #[test]
    fn with_public_keys_nothing_is_minted_and_releases_use_the_service_token() {
        let pair = ES256KeyPair::generate();
        let mut config = public_config(JwtAlgorithm::ES256, &pair.public_key().to_pem().unwrap());
        let user = UserId::new(42).unwrap();
        assert_eq!(mint_access_token(&config, user, NOW), None);
        assert_eq!(release_credential(&config, user, NOW), None);
        config.service_token = Some(crate::settings::Secret("service-token".into()));
        assert_eq!(
            release_credential(&config, user, NOW).as_deref(),
            Some("service-token")
        );
        // With the shared key, a token is minted for the user instead.
        let minted = release_credential(&hs256_config(None, None, 0), user, NOW).unwrap();
        assert!(verifier()
            .authenticate(Some(&format!("Bearer {minted}")), NOW + 1)
            .is_ok());
    }

    #[test]
    fn a_tokens_expiry_is_read_without_its_key() {
        let token = mint(simplejwt_claims(json!(1)));
        assert_eq!(expires_in(&token, NOW), Some(290));
        assert_eq!(expires_in(&token, NOW + 300), Some(-10));
        assert_eq!(expires_in("not.a-token", NOW), None);
        let mut no_exp = simplejwt_claims(json!(1));
        no_exp.expires_at = None;
        assert_eq!(expires_in(&mint(no_exp), NOW), None);
    }

    #[test]
    fn checks_audience_and_issuer_only_when_configured() {
        let strict = Verifier::new(&hs256_config(
            Some("shop".into()),
            Some("auth-service".into()),
            0,
        ));
        let header = |claims| Some(format!("Bearer {}", mint(claims)));
        let plain = simplejwt_claims(json!(7));
        assert!(strict
            .authenticate(header(plain.clone()).as_deref(), NOW)
            .is_err());
        let good = plain
            .clone()
            .with_audience("shop")
            .with_issuer("auth-service");
        assert_eq!(
            strict
                .authenticate(header(good).as_deref(), NOW)
                .unwrap()
                .get(),
            7
        );
        let wrong = plain
            .clone()
            .with_audience("other")
            .with_issuer("auth-service");
        assert!(strict.authenticate(header(wrong).as_deref(), NOW).is_err());
        // Without configuration, aud/iss in the token are not checked.
        let extra = plain.with_audience("anything").with_issuer("anyone");
        assert!(check(&mint(extra)).is_ok());
    }

    #[test]
    fn header_forms() {
        let v = verifier();
        let token = mint(simplejwt_claims(json!(1)));
        assert_eq!(v.authenticate(None, NOW), Err(AuthError::NotAuthenticated));
        assert_eq!(
            v.authenticate(Some(&format!("Token {token}")), NOW),
            Err(AuthError::NotAuthenticated)
        );
        assert_eq!(
            v.authenticate(Some("Basic dXNlcjpwYXNz"), NOW),
            Err(AuthError::NotAuthenticated)
        );
        for malformed in [
            "",
            "   ",
            "Bearer",
            "Bearer a b",
            "Bearer not-a-jwt",
            "Bearer a.b.c",
        ] {
            assert!(
                matches!(
                    v.authenticate(Some(malformed), NOW),
                    Err(AuthError::InvalidToken(_))
                ),
                "{malformed:?}"
            );
        }
        assert!(v
            .authenticate(Some(&format!("bearer  {token}")), NOW)
            .is_ok());
    }

    #[test]
    fn short_keys_verify_like_any_hmac_implementation() {
        // A 5-byte key: jwt-simple itself refuses it, PyJWT does not. Mint with
        // a plain HMAC-SHA256 the way PyJWT would and check we accept it.
        let short = b"short";
        let header =
            Base64UrlSafeNoPadding::encode_to_string(br#"{"alg":"HS256","typ":"JWT"}"#).unwrap();
        let claims = serde_json::to_vec(&json!({
            "token_type": "access", "exp": NOW + 60, "iat": NOW, "jti": "abc", "user_id": "5"
        }))
        .unwrap();
        let payload = Base64UrlSafeNoPadding::encode_to_string(claims).unwrap();
        let signing_input = format!("{header}.{payload}");
        let mac = hmac_sha256::HMAC::mac(signing_input.as_bytes(), short);
        let token = format!(
            "{signing_input}.{}",
            Base64UrlSafeNoPadding::encode_to_string(mac).unwrap()
        );

        let v = Verifier::new(&JwtSettings {
            keys: JwtKeys::Hmac(HmacKey::new(JwtAlgorithm::HS256, short).unwrap()),
            signing_key_bytes: short.len(),
            ..hs256_config(None, None, 0)
        });
        assert_eq!(
            v.authenticate(Some(&format!("Bearer {token}")), NOW)
                .unwrap()
                .get(),
            5
        );
    }
}
