//! What handlers do first, once per request: read the settings, verify
//! the caller (a user's JWT or the operator token), and build the
//! workflows' dependencies (database, Catalog client). Each setting is read
//! once per request, here, and handed down.

use super::error::ApiError;
use super::{AccessLog, RequestFacts};
use crate::auth::jwks_cache;
use crate::auth::settings::OperatorSettings;
use crate::auth::{bearer_token, token_kid, AuthError, Verifier};
use crate::catalog::CatalogClient;
use crate::clock::unix_now;
use crate::domain::UserId;
use crate::orders::{Deps, Settings};
use crate::settings::SpinVariables;

/// The workflows' settings, from the app's variables.
pub fn settings() -> Result<Settings, ApiError> {
    Ok(Settings::read(&SpinVariables)?)
}

/// The caller's user id from their access token, with the settings. With
/// a JWKS, its cached keys are read (fetched when due: `auth::jwks_cache`).
pub async fn authenticate(
    facts: &RequestFacts,
    access: &AccessLog,
) -> Result<(Settings, UserId), ApiError> {
    let settings = settings()?;
    let header = facts.authorization.as_deref();
    let fetched = match &settings.jwt.jwks {
        // No token, no look-up: 401 without touching the database.
        Some(jwks) if header.is_some() => {
            let kid = token_kid(header);
            let keys = jwks_cache::verifying_keys(
                jwks,
                settings.jwt.algorithm,
                &settings.store,
                kid.as_deref(),
            );
            access.phases.timed("jwks", keys).await?
        }
        _ => Vec::new(),
    };
    let user = access.phases.timed_sync("auth", || {
        Verifier::with_fetched_keys(&settings.jwt, fetched)
            .authenticate(header, unix_now())
            .map_err(|error| match error {
                AuthError::NotAuthenticated => ApiError::NotAuthenticated,
                AuthError::InvalidToken(_) => ApiError::TokenNotValid,
            })
    })?;
    access.user_id.set(Some(user.get()));
    Ok((settings, user))
}

/// The settings, once the caller has shown the operator token (a separate
/// secret, not a user JWT: any user holds one of those). Unset, the
/// operator endpoints refuse everyone.
pub fn authenticate_operator(facts: &RequestFacts) -> Result<Settings, ApiError> {
    let operator = OperatorSettings::read(&SpinVariables)?;
    let presented = match bearer_token(facts.authorization.as_deref()) {
        Ok(token) => token,
        Err(AuthError::NotAuthenticated) => return Err(ApiError::NotAuthenticated),
        Err(AuthError::InvalidToken(_)) => return Err(ApiError::PermissionDenied),
    };
    let expected = operator
        .admin_token
        .as_ref()
        .ok_or(ApiError::PermissionDenied)?;
    // Compare digests, so the time taken says nothing about the token.
    if hmac_sha256::Hash::hash(presented.as_bytes())
        != hmac_sha256::Hash::hash(expected.0.as_bytes())
    {
        return Err(ApiError::PermissionDenied);
    }
    settings()
}

/// Opens the database and builds the Catalog client for the workflows.
/// A migration is made by the first statement that needs it: once the work
/// is done, [`Deps::log_if_migrated`] (or the follow-up) reports it.
pub async fn dependencies<'a>(
    facts: &'a RequestFacts,
    access: &'a AccessLog,
    settings: Settings,
) -> Result<Deps<'a>, ApiError> {
    let catalog = CatalogClient::new(
        &settings.catalog,
        facts.authorization.as_deref().unwrap_or_default(),
        &facts.request_id,
        facts.trace.clone(),
    );
    let traceparent = facts.trace.traceparent();
    Ok(Deps::open(
        settings,
        catalog,
        &facts.request_id,
        traceparent,
        &access.phases,
    )
    .await?)
}
