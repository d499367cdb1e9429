//! Stateless verification of SimpleJWT access tokens (SPEC §2): HS256 pinned,
//! `token_type == "access"`, `jti` and `exp` required, `user_id` as a JSON
//! integer or a string of digits. No database or network look-up.

use crate::config::JwtConfig;
use crate::domain::UserId;
use jwt_simple::prelude::*;
use serde_json::Value;

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
/// jwt-simple refuses HMAC keys under 12 bytes. HMAC pads any key shorter
/// than the hash block (64 bytes) with zeros, so padding to 12 gives the
/// very same MAC and keeps short shared keys interoperable.
const MIN_JWT_SIMPLE_KEY_BYTES: usize = 12;

/// Lifetime of the tokens minted for retried releases (SPEC §4: ≤ 60 s).
pub const SERVICE_TOKEN_SECONDS: u64 = 60;

/// A verifier built from the configured key and checks.
pub struct Verifier {
    key: HS256Key,
    options: VerificationOptions,
}

fn hs256_key(config: &JwtConfig) -> HS256Key {
    let mut key_bytes = config.signing_key.clone();
    if key_bytes.len() < MIN_JWT_SIMPLE_KEY_BYTES {
        key_bytes.resize(MIN_JWT_SIMPLE_KEY_BYTES, 0);
    }
    HS256Key::from_bytes(&key_bytes)
}

/// Mints an access token for `user` exactly as SimpleJWT shapes one
/// (`token_type`, `user_id` as a string, `jti`, `iat`, `exp`, plus `aud`/`iss`
/// when configured), valid for [`SERVICE_TOKEN_SECONDS`] from `now`. Used
/// only for a release retried after the user's request has ended: the
/// Catalog wants a JWT on every write and there is no caller to forward.
pub fn mint_access_token(config: &JwtConfig, user: UserId, now: u64) -> String {
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
    hs256_key(config)
        .authenticate(claims)
        .expect("HS256 signing of a small claim set cannot fail")
}

impl Verifier {
    pub fn new(config: &JwtConfig) -> Self {
        let options = VerificationOptions {
            time_tolerance: Some(Duration::from_secs(config.leeway_seconds)),
            max_token_length: Some(MAX_TOKEN_BYTES),
            allowed_audiences: config.audience.clone().map(|a| HashSet::from([a])),
            allowed_issuers: config.issuer.clone().map(|i| HashSet::from([i])),
            ..Default::default()
        };
        Self {
            key: hs256_key(config),
            options,
        }
    }

    /// Authenticates a request from its `Authorization` header value at
    /// `now` (seconds since the Unix epoch).
    pub fn authenticate(&self, header: Option<&str>, now: u64) -> Result<UserId, AuthError> {
        let token = bearer_token(header)?;
        let mut options = self.options.clone();
        options.artificial_time = Some(UnixTimeStamp::from_secs(now));
        let claims = self
            .key
            .verify_token::<serde_json::Map<String, Value>>(token, Some(options))
            .map_err(|_| AuthError::InvalidToken("signature, algorithm, time or format"))?;
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
    use super::*;
    use serde_json::json;

    const KEY: &[u8] = b"django-insecure-thirty-bytes!!"; // 30 bytes, like the reference system
    const NOW: u64 = 1_800_000_000;

    fn verifier() -> Verifier {
        Verifier::new(&JwtConfig {
            signing_key: KEY.to_vec(),
            audience: None,
            issuer: None,
            leeway_seconds: 0,
        })
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
        let config = JwtConfig {
            signing_key: KEY.to_vec(),
            audience: Some("shop".into()),
            issuer: Some("auth".into()),
            leeway_seconds: 0,
        };
        let token = mint_access_token(&config, UserId::new(42).unwrap(), NOW);
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

        let lenient = Verifier::new(&JwtConfig {
            signing_key: KEY.to_vec(),
            audience: None,
            issuer: None,
            leeway_seconds: 10,
        });
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

    #[test]
    fn checks_audience_and_issuer_only_when_configured() {
        let strict = Verifier::new(&JwtConfig {
            signing_key: KEY.to_vec(),
            audience: Some("shop".into()),
            issuer: Some("auth-service".into()),
            leeway_seconds: 0,
        });
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

        let v = Verifier::new(&JwtConfig {
            signing_key: short.to_vec(),
            audience: None,
            issuer: None,
            leeway_seconds: 0,
        });
        assert_eq!(
            v.authenticate(Some(&format!("Bearer {token}")), NOW)
                .unwrap()
                .get(),
            5
        );
    }
}
