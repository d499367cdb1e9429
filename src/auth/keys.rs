//! The keys access tokens are checked with (issue 23): the algorithm the
//! Auth Service signs with, pinned, and either the shared HMAC key or its
//! public keys — never a private key, so with an asymmetric algorithm
//! this service can check a user's token but never mint one.
//!
//! Public keys come as one PEM block or several (a bundle), each
//! optionally labelled with the `kid` the Auth Service puts in its tokens'
//! headers, by a line `kid: <id>` just before the block (text outside the
//! PEM boundaries, which PEM readers ignore):
//!
//! ```text
//! kid: 2026-12
//! -----BEGIN PUBLIC KEY-----
//! ...
//! -----END PUBLIC KEY-----
//! ```

use jwt_simple::prelude::*;
use serde_json::{Map, Value};

/// Every algorithm both SimpleJWT can sign with and jwt-simple can verify
/// (SimpleJWT's ES512/ES521 are not: jwt-simple has no P-521; nor ES256K:
/// jwt-simple refuses high-S secp256k1 signatures, which PyJWT writes
/// half the time; `none` is never one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl JwtAlgorithm {
    pub const ALL: [JwtAlgorithm; 12] = [
        JwtAlgorithm::HS256,
        JwtAlgorithm::HS384,
        JwtAlgorithm::HS512,
        JwtAlgorithm::RS256,
        JwtAlgorithm::RS384,
        JwtAlgorithm::RS512,
        JwtAlgorithm::PS256,
        JwtAlgorithm::PS384,
        JwtAlgorithm::PS512,
        JwtAlgorithm::ES256,
        JwtAlgorithm::ES384,
        JwtAlgorithm::EdDSA,
    ];

    /// The JOSE name, as in SimpleJWT's `ALGORITHM` and a token's `alg`.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::HS384 => "HS384",
            JwtAlgorithm::HS512 => "HS512",
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::RS384 => "RS384",
            JwtAlgorithm::RS512 => "RS512",
            JwtAlgorithm::PS256 => "PS256",
            JwtAlgorithm::PS384 => "PS384",
            JwtAlgorithm::PS512 => "PS512",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::ES384 => "ES384",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// A shared secret (HS*) rather than a key pair.
    pub fn is_hmac(self) -> bool {
        matches!(
            self,
            JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512
        )
    }
}

/// jwt-simple refuses HMAC keys under 12 bytes. HMAC pads any key shorter
/// than the hash block with zeros, so padding to 12 gives the very same
/// MAC and keeps short shared keys interoperable.
const MIN_JWT_SIMPLE_KEY_BYTES: usize = 12;

/// The shared key of an HS* algorithm.
#[derive(Clone)]
pub enum HmacKey {
    HS256(HS256Key),
    HS384(HS384Key),
    HS512(HS512Key),
}

impl HmacKey {
    /// `None` for an algorithm that is not HMAC.
    pub fn new(algorithm: JwtAlgorithm, secret: &[u8]) -> Option<Self> {
        let mut bytes = secret.to_vec();
        if bytes.len() < MIN_JWT_SIMPLE_KEY_BYTES {
            bytes.resize(MIN_JWT_SIMPLE_KEY_BYTES, 0);
        }
        Some(match algorithm {
            JwtAlgorithm::HS256 => HmacKey::HS256(HS256Key::from_bytes(&bytes)),
            JwtAlgorithm::HS384 => HmacKey::HS384(HS384Key::from_bytes(&bytes)),
            JwtAlgorithm::HS512 => HmacKey::HS512(HS512Key::from_bytes(&bytes)),
            _ => return None,
        })
    }

    pub fn verify(
        &self,
        token: &str,
        options: VerificationOptions,
    ) -> Result<JWTClaims<Map<String, Value>>, jwt_simple::Error> {
        match self {
            HmacKey::HS256(key) => key.verify_token(token, Some(options)),
            HmacKey::HS384(key) => key.verify_token(token, Some(options)),
            HmacKey::HS512(key) => key.verify_token(token, Some(options)),
        }
    }

    pub fn sign(&self, claims: JWTClaims<Map<String, Value>>) -> Result<String, jwt_simple::Error> {
        match self {
            HmacKey::HS256(key) => key.authenticate(claims),
            HmacKey::HS384(key) => key.authenticate(claims),
            HmacKey::HS512(key) => key.authenticate(claims),
        }
    }
}

/// One public key of an asymmetric algorithm.
#[derive(Clone)]
enum AnyPublicKey {
    RS256(RS256PublicKey),
    RS384(RS384PublicKey),
    RS512(RS512PublicKey),
    PS256(PS256PublicKey),
    PS384(PS384PublicKey),
    PS512(PS512PublicKey),
    ES256(ES256PublicKey),
    ES384(ES384PublicKey),
    EdDSA(Ed25519PublicKey),
}

/// `$make` with `$K` naming jwt-simple's public key type for `$algorithm`,
/// wrapped in its [`AnyPublicKey`]; `$other` for an HMAC algorithm.
macro_rules! public_key_of {
    ($algorithm:expr, $K:ident => $make:expr, else $other:expr) => {
        match $algorithm {
            JwtAlgorithm::RS256 => {
                type $K = RS256PublicKey;
                AnyPublicKey::RS256($make)
            }
            JwtAlgorithm::RS384 => {
                type $K = RS384PublicKey;
                AnyPublicKey::RS384($make)
            }
            JwtAlgorithm::RS512 => {
                type $K = RS512PublicKey;
                AnyPublicKey::RS512($make)
            }
            JwtAlgorithm::PS256 => {
                type $K = PS256PublicKey;
                AnyPublicKey::PS256($make)
            }
            JwtAlgorithm::PS384 => {
                type $K = PS384PublicKey;
                AnyPublicKey::PS384($make)
            }
            JwtAlgorithm::PS512 => {
                type $K = PS512PublicKey;
                AnyPublicKey::PS512($make)
            }
            JwtAlgorithm::ES256 => {
                type $K = ES256PublicKey;
                AnyPublicKey::ES256($make)
            }
            JwtAlgorithm::ES384 => {
                type $K = ES384PublicKey;
                AnyPublicKey::ES384($make)
            }
            JwtAlgorithm::EdDSA => {
                type $K = Ed25519PublicKey;
                AnyPublicKey::EdDSA($make)
            }
            JwtAlgorithm::HS256 | JwtAlgorithm::HS384 | JwtAlgorithm::HS512 => $other,
        }
    };
}

/// A verifying key and the `kid` it was labelled with, if any.
#[derive(Clone)]
pub struct PublicKey {
    pub kid: Option<String>,
    key: AnyPublicKey,
}

impl PublicKey {
    /// One PEM `PUBLIC KEY` block (SPKI; RSA keys also as `RSA PUBLIC
    /// KEY`) for `algorithm`; an error says what is wrong, never the key.
    pub fn from_pem(
        algorithm: JwtAlgorithm,
        pem: &str,
        kid: Option<String>,
    ) -> Result<Self, String> {
        let wrong = |_| format!("not a {} public key", algorithm.name());
        let key = public_key_of!(algorithm, K => K::from_pem(pem).map_err(wrong)?,
            else return Err(format!("{} has no public key", algorithm.name())));
        Ok(PublicKey { kid, key })
    }

    /// One JWK (RFC 7517) of `algorithm`'s key type, imported by
    /// jwt-simple's strict `from_jwk` (no private member; `alg` and `use`
    /// must fit when present); its `kid` labels it.
    pub fn from_jwk(algorithm: JwtAlgorithm, jwk: &str) -> Result<Self, String> {
        let wrong = |_| format!("not a {} public key", algorithm.name());
        let key = public_key_of!(algorithm, K => K::from_jwk(jwk).map_err(wrong)?,
            else return Err(format!("{} has no public key", algorithm.name())));
        let kid = serde_json::from_str::<Value>(jwk)
            .ok()
            .and_then(|v| v.get("kid")?.as_str().map(str::to_owned));
        Ok(PublicKey { kid, key })
    }

    /// Checks `token`'s signature (and its header's `alg`, which must be
    /// this key's algorithm) and claims.
    pub fn verify(
        &self,
        token: &str,
        options: VerificationOptions,
    ) -> Result<JWTClaims<Map<String, Value>>, jwt_simple::Error> {
        let options = Some(options);
        match &self.key {
            AnyPublicKey::RS256(key) => key.verify_token(token, options),
            AnyPublicKey::RS384(key) => key.verify_token(token, options),
            AnyPublicKey::RS512(key) => key.verify_token(token, options),
            AnyPublicKey::PS256(key) => key.verify_token(token, options),
            AnyPublicKey::PS384(key) => key.verify_token(token, options),
            AnyPublicKey::PS512(key) => key.verify_token(token, options),
            AnyPublicKey::ES256(key) => key.verify_token(token, options),
            AnyPublicKey::ES384(key) => key.verify_token(token, options),
            AnyPublicKey::EdDSA(key) => key.verify_token(token, options),
        }
    }
}

/// What tokens are checked with: the shared key, or the public keys.
#[derive(Clone)]
pub enum JwtKeys {
    Hmac(HmacKey),
    Public(Vec<PublicKey>),
}

/// Most keys one bundle may hold (rotation needs two or three).
pub const MAX_BUNDLE_KEYS: usize = 16;

/// The public keys of a PEM bundle for `algorithm`, each with the `kid`
/// its label line gives. Refuses a private key anywhere in the text, an
/// empty bundle, a block that is not a public key of that algorithm, and
/// two keys with the same `kid`.
pub fn parse_bundle(algorithm: JwtAlgorithm, text: &str) -> Result<Vec<PublicKey>, String> {
    if text.contains("PRIVATE KEY") {
        return Err("holds a private key: give the Auth Service's public key(s) only".to_owned());
    }
    let mut keys: Vec<PublicKey> = Vec::new();
    let mut label: Option<String> = None;
    let mut block: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(pem) = block.as_mut() {
            pem.push_str(line);
            pem.push('\n');
            if line.starts_with("-----END ") {
                let n = keys.len() + 1;
                let key = PublicKey::from_pem(algorithm, pem, label.take())
                    .map_err(|problem| format!("key {n}: {problem}"))?;
                if key.kid.is_some() && keys.iter().any(|k| k.kid == key.kid) {
                    return Err(format!("key {n}: its kid is used by another key"));
                }
                keys.push(key);
                block = None;
            }
        } else if line.starts_with("-----BEGIN ") {
            block = Some(format!("{line}\n"));
        } else if let Some(kid) = line.strip_prefix("kid:") {
            let kid = kid.trim();
            if kid.is_empty() || kid.len() > 256 {
                return Err("a kid label must be 1 to 256 characters".to_owned());
            }
            label = Some(kid.to_owned());
        } else if !line.is_empty() {
            label = None;
        }
        if keys.len() > MAX_BUNDLE_KEYS {
            return Err(format!("more than {MAX_BUNDLE_KEYS} keys"));
        }
    }
    if block.is_some() {
        return Err("a PEM block without its END line".to_owned());
    }
    if keys.is_empty() {
        return Err(format!("no {} public key (PEM)", algorithm.name()));
    }
    Ok(keys)
}
