//! A JWKS document (RFC 7517 §5), as an Auth Service publishes its
//! verifying keys at `jwt_jwks_url` (issue 23): the keys of the pinned
//! algorithm, each with its `kid`. Each JWK is imported by jwt-simple's
//! strict `from_jwk` for that algorithm's key type (right `kty`/`crv`,
//! canonical key material, no private member, `alg`/`use` matching when
//! present); a key of another type or algorithm is skipped and named, so
//! a document that also lists, say, an encryption key still serves.

use super::keys::{JwtAlgorithm, PublicKey, MAX_BUNDLE_KEYS};
use serde_json::Value;

/// Largest document read: a JWKS of 16 RSA-4096 public keys is ~12 KB.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// The usable keys of a document, and why the others were skipped.
pub struct Jwks {
    pub keys: Vec<PublicKey>,
    pub skipped: Vec<String>,
}

/// The keys for `algorithm` in `document`. An error (the document is not
/// JSON, has no `keys` array, is too large, or has no usable key) says
/// what is wrong with it, never a key.
pub fn parse(algorithm: JwtAlgorithm, document: &[u8]) -> Result<Jwks, String> {
    if document.len() > MAX_JWKS_BYTES {
        return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
    }
    let value: Value =
        serde_json::from_slice(document).map_err(|_| "not a JSON document".to_owned())?;
    let entries = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "no \"keys\" array".to_owned())?;
    let mut jwks = Jwks {
        keys: Vec::new(),
        skipped: Vec::new(),
    };
    for (index, entry) in entries.iter().enumerate() {
        let kid = entry.get("kid").and_then(Value::as_str);
        let name = kid.map_or_else(|| format!("key {}", index + 1), |k| format!("kid {k:?}"));
        if !entry.is_object() {
            jwks.skipped.push(format!("{name}: not an object"));
            continue;
        }
        match PublicKey::from_jwk(algorithm, &entry.to_string()) {
            Ok(key) if key.kid.is_some() && jwks.keys.iter().any(|k| k.kid == key.kid) => {
                jwks.skipped
                    .push(format!("{name}: its kid is used by another key"));
            }
            Ok(key) => jwks.keys.push(key),
            Err(problem) => jwks.skipped.push(format!("{name}: {problem}")),
        }
        if jwks.keys.len() > MAX_BUNDLE_KEYS {
            return Err(format!("more than {MAX_BUNDLE_KEYS} usable keys"));
        }
    }
    if jwks.keys.is_empty() {
        return Err(format!(
            "no usable {} key ({} entries: {})",
            algorithm.name(),
            entries.len(),
            jwks.skipped.join("; ")
        ));
    }
    Ok(jwks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_simple::prelude::*;
    use serde_json::json;

    fn document(keys: &[String]) -> Vec<u8> {
        let keys: Vec<Value> = keys
            .iter()
            .map(|k| serde_json::from_str(k).unwrap())
            .collect();
        serde_json::to_vec(&json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn keys_of_the_algorithm_are_taken_with_their_kid_and_others_skipped() {
        let a = ES256KeyPair::generate().with_key_id("a");
        let b = ES256KeyPair::generate().with_key_id("b");
        let ed = Ed25519KeyPair::generate().with_key_id("ed");
        let doc = document(&[
            a.public_key().to_jwk(),
            ed.public_key().to_jwk(),
            b.public_key().to_jwk(),
        ]);
        let jwks = parse(JwtAlgorithm::ES256, &doc).unwrap();
        let kids: Vec<_> = jwks.keys.iter().map(|k| k.kid.clone().unwrap()).collect();
        assert_eq!(kids, ["a", "b"]);
        assert_eq!(jwks.skipped.len(), 1, "{:?}", jwks.skipped);
        assert!(jwks.skipped[0].starts_with("kid \"ed\""));
        // The keys verify their own tokens.
        let token = b.sign(Claims::create(Duration::from_mins(1))).unwrap();
        let options = VerificationOptions::default();
        assert!(jwks.keys[1].verify(&token, options.clone()).is_ok());
        assert!(jwks.keys[0].verify(&token, options).is_err());
    }

    #[test]
    fn a_private_key_a_wrong_type_and_malformed_documents_are_refused() {
        let pair = ES256KeyPair::generate().with_key_id("p");
        // The private JWK (with `d`) is never taken as a verifying key.
        assert!(parse(JwtAlgorithm::ES256, &document(&[pair.to_jwk()])).is_err());
        // An EdDSA document for an ES256 service: nothing usable.
        let ed = Ed25519KeyPair::generate();
        let problem = parse(JwtAlgorithm::ES256, &document(&[ed.public_key().to_jwk()]))
            .err()
            .unwrap();
        assert!(problem.starts_with("no usable ES256 key"), "{problem}");
        for bad in [
            &b"not json"[..],
            br#"{"keys": {}}"#,
            br#"{"no": []}"#,
            br#"[]"#,
            br#"{"keys": []}"#,
            br#"{"keys": [1, "x", null]}"#,
        ] {
            assert!(parse(JwtAlgorithm::ES256, bad).is_err(), "{bad:?}");
        }
        let huge = vec![b' '; MAX_JWKS_BYTES + 1];
        assert!(parse(JwtAlgorithm::ES256, &huge)
            .err()
            .unwrap()
            .starts_with("larger than"));
    }

    #[test]
    fn an_alg_member_must_match_the_pinned_algorithm() {
        let rsa = RS256KeyPair::generate(2048).unwrap().with_key_id("r");
        let jwk = rsa.public_key().to_jwk();
        assert!(parse(JwtAlgorithm::RS256, &document(std::slice::from_ref(&jwk))).is_ok());
        // The same RSA key labelled RS256 is not a PS256 key.
        assert!(parse(JwtAlgorithm::PS256, &document(&[jwk])).is_err());
    }
}
