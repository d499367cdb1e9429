//! The Auth Service's verifying keys from its JWKS (`jwt_jwks_url`, issue
//! 23), for requests whose tokens are checked against them.
//!
//! A Spin component keeps nothing between requests, so the document is
//! cached in the database, shared by every instance and kept across
//! restarts: a request reads one row, and fetches only when
//! - nothing usable was ever fetched,
//! - the cached document is older than `jwt_jwks_refresh_seconds` (so a
//!   key the Auth Service withdrew stops working within that time), or
//! - the token names a `kid` the cached keys lack (a new key),
//!
//! and then only if no instance tried in the last [`COOL_DOWN_SECONDS`]
//! (or `jwt_jwks_refresh_seconds`, if shorter; claimed in one statement):
//! a flood of tokens with made-up `kid`s costs the JWKS endpoint one
//! request per cool-down, and only the request that won the claim waits
//! for the fetch (at most `catalog_timeout_ms`). A fetch that fails — the
//! endpoint down, slow, answering non-200, a malformed or oversized
//! document, no key of the pinned algorithm — is logged and the cached
//! keys keep serving.

use super::jwks::{self, MAX_JWKS_BYTES};
use super::keys::{JwtAlgorithm, PublicKey};
use super::settings::JwksSettings;
use crate::clock;
use crate::log::{self, Level};
use crate::outbound;
use crate::store::settings::StoreSettings;
use crate::store::{Store, StoreError};
use serde_json::json;
use spin_sdk::http::{Method, Request};

/// Least time between two fetches, across instances.
pub const COOL_DOWN_SECONDS: u64 = 30;

/// The JWKS keys to check a token with (whose header names `kid`, if
/// any). Empty when none was ever fetched and the endpoint cannot give
/// any now. Only a database failure is an error.
pub async fn verifying_keys(
    config: &JwksSettings,
    algorithm: JwtAlgorithm,
    database: &StoreSettings,
    kid: Option<&str>,
) -> Result<Vec<PublicKey>, StoreError> {
    let store = Store::open(database).await?;
    let cached = store.cached_jwks(&config.url)?;
    let keys = cached
        .as_ref()
        .and_then(|c| c.document.as_deref())
        .and_then(|document| jwks::parse(algorithm, document.as_bytes()).ok())
        .map(|parsed| parsed.keys)
        .unwrap_or_default();
    let refresh_seconds = clock::signed_seconds(config.refresh_seconds);
    let stale = cached
        .as_ref()
        .and_then(|c| c.age_seconds)
        .is_none_or(|age| age >= refresh_seconds);
    let unknown_kid = kid.is_some_and(|kid| !keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
    let cool_down = COOL_DOWN_SECONDS.min(config.refresh_seconds);
    if !(stale || unknown_kid) || !store.claim_jwks_refresh(&config.url, cool_down).await? {
        return Ok(keys);
    }
    match fetch(config, algorithm).await {
        Ok((document, fresh)) => {
            store.save_jwks(&config.url, &document).await?;
            log::event(
                Level::Info,
                "jwks_refreshed",
                None,
                json!({"keys": fresh.keys.len(), "skipped": fresh.skipped}),
            );
            Ok(fresh.keys)
        }
        Err(problem) => {
            log::event(
                Level::Warn,
                "jwks_refresh_failed",
                None,
                json!({"detail": problem, "cached_keys": keys.len()}),
            );
            Ok(keys)
        }
    }
}

/// The document at the JWKS URL, if it holds usable keys.
async fn fetch(
    config: &JwksSettings,
    algorithm: JwtAlgorithm,
) -> Result<(String, jwks::Jwks), String> {
    let mut request = Request::builder();
    request
        .method(Method::Get)
        .uri(&config.url)
        .header("accept", "application/json");
    let reply = outbound::send(request.build(), config.timeout, MAX_JWKS_BYTES)
        .await
        .map_err(|error| error.to_string())?;
    if reply.status != 200 {
        return Err(format!("HTTP {}", reply.status));
    }
    let parsed = jwks::parse(algorithm, &reply.body)?;
    let document = String::from_utf8(reply.body).map_err(|_| "not UTF-8".to_owned())?;
    Ok((document, parsed))
}
