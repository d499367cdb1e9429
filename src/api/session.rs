//! What every authenticated handler does first: load the settings, verify
//! the caller, open the database; and how storage failures become answers.

use super::error::ApiError;
use super::RequestContext;
use crate::auth::{AuthError, Verifier};
use crate::config::{Config, RECOMMENDED_KEY_BYTES};
use crate::domain::UserId;
use crate::log;
use crate::reconcile::unix_now;
use crate::store::{Store, StoreError};
use std::time::Instant;

pub fn load_config(ctx: &RequestContext) -> Result<Config, ApiError> {
    Config::load().map_err(|error| {
        log::error(&ctx.request_id, "configuration", &error.to_string());
        ApiError::Internal
    })
}

/// Settings and the verified caller.
pub fn authenticate(ctx: &mut RequestContext) -> Result<(Config, UserId), ApiError> {
    let started = Instant::now();
    let config = load_config(ctx)?;
    let user = Verifier::new(&config.jwt)
        .authenticate(ctx.authorization.as_deref(), unix_now())
        .map_err(|error| match error {
            AuthError::NotAuthenticated => ApiError::NotAuthenticated,
            AuthError::InvalidToken(_) => ApiError::TokenNotValid,
        })?;
    ctx.user_id = Some(user.get());
    ctx.timings.push(("auth", started.elapsed()));
    Ok((config, user))
}

pub async fn open_store(ctx: &mut RequestContext, config: &Config) -> Result<Store, ApiError> {
    let started = Instant::now();
    let store = Store::open()
        .await
        .map_err(|error| logged_store_error(&ctx.request_id, error))?;
    if store.migrated_now() && config.jwt.signing_key.len() < RECOMMENDED_KEY_BYTES {
        // Spin has no start-up hook; the first request on a new database is
        // the closest moment to "start-up" a component can see.
        log::warn(
            "weak_signing_key",
            &format!(
                "jwt_signing_key is {} bytes; at least {RECOMMENDED_KEY_BYTES} are recommended",
                config.jwt.signing_key.len()
            ),
        );
    }
    ctx.timings.push(("db_open", started.elapsed()));
    Ok(store)
}

/// Logs a storage failure and turns it into an answer.
pub fn logged_store_error(request_id: &str, error: StoreError) -> ApiError {
    log::error(request_id, "database", &error.to_string());
    store_error(error)
}

pub fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Busy | StoreError::LeaseLost => ApiError::Busy,
        StoreError::Failed(_) => ApiError::Internal,
    }
}
