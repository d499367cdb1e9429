//! What handlers do first, once per request: load the settings, verify the
//! caller (a user's JWT or the operator token), and build the workflows'
//! dependencies (database, Catalog client).

use super::error::ApiError;
use super::{AccessLog, RequestFacts};
use crate::auth::jwks_cache;
use crate::auth::{bearer_token, token_kid, AuthError, Verifier};
use crate::catalog::CatalogClient;
use crate::clock::unix_now;
use crate::config::Config;
use crate::domain::UserId;
use crate::orders::Deps;

/// The caller's user id from their access token, with the settings. With
/// a JWKS, its cached keys are read (fetched when due: `auth::jwks_cache`).
pub async fn authenticate(
    facts: &RequestFacts,
    access: &AccessLog,
) -> Result<(Config, UserId), ApiError> {
    let config = Config::load()?;
    let header = facts.authorization.as_deref();
    let fetched = match &config.jwt.jwks {
        // No token, no look-up: 401 without touching the database.
        Some(jwks) if header.is_some() => {
            let database_url = config.database_url.as_ref().map(|url| url.0.as_str());
            let kid = token_kid(header);
            let keys = jwks_cache::verifying_keys(
                jwks,
                config.jwt.algorithm,
                database_url,
                kid.as_deref(),
            );
            access.phases.timed("jwks", keys).await?
        }
        _ => Vec::new(),
    };
    let user = access.phases.timed_sync("auth", || {
        Verifier::with_fetched_keys(&config.jwt, fetched)
            .authenticate(header, unix_now())
            .map_err(|error| match error {
                AuthError::NotAuthenticated => ApiError::NotAuthenticated,
                AuthError::InvalidToken(_) => ApiError::TokenNotValid,
            })
    })?;
    access.user_id.set(Some(user.get()));
    Ok((config, user))
}

/// The settings, once the caller has shown the operator token (a separate
/// secret, not a user JWT: any user holds one of those). Unset, the
/// operator endpoints refuse everyone.
pub fn authenticate_operator(facts: &RequestFacts) -> Result<Config, ApiError> {
    let config = Config::load()?;
    let presented = match bearer_token(facts.authorization.as_deref()) {
        Ok(token) => token,
        Err(AuthError::NotAuthenticated) => return Err(ApiError::NotAuthenticated),
        Err(AuthError::InvalidToken(_)) => return Err(ApiError::PermissionDenied),
    };
    let expected = config
        .admin_token
        .as_ref()
        .ok_or(ApiError::PermissionDenied)?;
    // Compare digests, so the time taken says nothing about the token.
    if hmac_sha256::Hash::hash(presented.as_bytes())
        != hmac_sha256::Hash::hash(expected.0.as_bytes())
    {
        return Err(ApiError::PermissionDenied);
    }
    Ok(config)
}

/// Opens the database and builds the Catalog client for the workflows.
/// A migration is made by the first statement that needs it: once the work
/// is done, [`Deps::log_if_migrated`] (or the follow-up) reports it.
pub async fn dependencies<'a>(
    facts: &'a RequestFacts,
    access: &'a AccessLog,
    config: Config,
) -> Result<Deps<'a>, ApiError> {
    let catalog = CatalogClient::new(
        &config.catalog_url,
        config.catalog_timeout,
        facts.authorization.as_deref().unwrap_or_default(),
        &facts.request_id,
        facts.trace.clone(),
    );
    let traceparent = facts.trace.traceparent();
    Ok(Deps::open(
        config,
        catalog,
        &facts.request_id,
        traceparent,
        &access.phases,
    )
    .await?)
}
