//! Placing an order (SPEC §3 steps): read every product from the Catalog,
//! refuse before reserving anything if one is missing, inactive or short,
//! durably note the intent to reserve, reserve all lines, price them
//! exactly, then write order and items, close the intent and store the
//! Idempotency-Key response in one transaction. If anything fails after a
//! reservation, every unit reserved is given back; a release that cannot be
//! made now stays stored and is retried ([`crate::reconcile`]).

use crate::catalog::{CatalogClient, CatalogError, Product};
use crate::config::Config;
use crate::domain::order::{Order, PricedOrder};
use crate::domain::order_request::{OrderLine, OrderRequest};
use crate::domain::{ProductId, UserId};
use crate::log;
use crate::reconcile::{self, Credentials};
use crate::store::intents::IntentId;
use crate::store::orders::KeyCompletion;
use crate::store::{Store, StoreError};
use futures::future::join_all;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Where the time of one placement went, for the request log.
#[derive(Debug, Default, Clone, Copy)]
pub struct PhaseTimes {
    pub catalog_read: Duration,
    pub intent: Duration,
    pub reserve: Duration,
    pub persist: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PlaceOrderError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("order total is too large")]
    TotalTooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything one order placement needs from its surroundings.
pub struct Placement<'a> {
    pub store: &'a Store,
    pub catalog: &'a CatalogClient<'a>,
    pub config: &'a Config,
    pub user: UserId,
    pub request_id: &'a str,
    /// The caller's `Authorization`, forwarded on releases.
    pub authorization: &'a str,
}

impl Placement<'_> {
    /// Places the order, recording phase durations in `times` as it goes.
    pub async fn place(
        &self,
        request: &OrderRequest,
        completion: Option<KeyCompletion<'_>>,
        times: &mut PhaseTimes,
    ) -> Result<Order, PlaceOrderError> {
        let lines = request.lines();
        let started = Instant::now();
        let products = self.check_products(lines).await?;
        times.catalog_read = started.elapsed();
        let priced = PricedOrder::new(lines, |id| products[&id].price)
            .map_err(|_| PlaceOrderError::TotalTooLarge)?;

        let started = Instant::now();
        let lease = self.config.intent_lease.as_secs();
        let intent = self
            .store
            .open_intent(self.user, self.request_id, lines, lease)
            .await?;
        times.intent = started.elapsed();
        let started = Instant::now();
        self.reserve_all(lines, intent).await?;
        times.reserve = started.elapsed();
        let started = Instant::now();
        let stored = self
            .store
            .insert_order(self.user, &priced, intent, completion)
            .await;
        times.persist = started.elapsed();
        match stored {
            Ok(order) => Ok(order),
            Err(StoreError::LeaseLost) => {
                // The reconciler took the intent over and gives the units back.
                log::error(
                    self.request_id,
                    "order_not_persisted",
                    "reservation lease lost",
                );
                Err(StoreError::LeaseLost.into())
            }
            Err(error) => {
                log::error(self.request_id, "order_not_persisted", &error.to_string());
                self.give_back(intent, lines, "order_not_persisted").await;
                Err(error.into())
            }
        }
    }

    /// Reads all products concurrently and applies the pre-check: the first
    /// problem in item order wins.
    async fn check_products(
        &self,
        lines: &[OrderLine],
    ) -> Result<HashMap<ProductId, Product>, PlaceOrderError> {
        let answers = join_all(lines.iter().map(|l| self.catalog.product(l.product_id))).await;
        let mut products = HashMap::with_capacity(lines.len());
        for (line, answer) in lines.iter().zip(answers) {
            let product = answer.inspect_err(|e| self.log_catalog(e))?;
            if !product.is_active {
                return Err(CatalogError::ProductNotFound(line.product_id).into());
            }
            if product
                .in_stock
                .is_some_and(|stock| stock < i64::from(line.quantity.get()))
            {
                return Err(CatalogError::InsufficientStock(line.product_id).into());
            }
            products.insert(line.product_id, product);
        }
        Ok(products)
    }

    /// Reserves every line concurrently. If any reservation fails, the ones
    /// that were (or may have been) made are released before answering.
    async fn reserve_all(
        &self,
        lines: &[OrderLine],
        intent: IntentId,
    ) -> Result<(), PlaceOrderError> {
        let outcomes = join_all(
            lines
                .iter()
                .map(|l| self.catalog.reserve(l.product_id, l.quantity.get())),
        )
        .await;
        let mut first_error = None;
        let mut taken = Vec::new();
        for (line, outcome) in lines.iter().zip(outcomes) {
            match outcome {
                Ok(()) => taken.push(*line),
                Err(error) => {
                    self.log_catalog(&error);
                    if error.outcome_unknown() {
                        taken.push(*line);
                    }
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            None => Ok(()),
            Some(error) => {
                self.give_back(intent, &taken, "reservation_failed").await;
                Err(error.into())
            }
        }
    }

    /// Closes the intent by turning `lines` into pending releases claimed by
    /// this request, then tries them at once. What fails stays stored.
    async fn give_back(&self, intent: IntentId, lines: &[OrderLine], reason: &str) {
        let claim = reconcile::claim_seconds(self.config);
        match self
            .store
            .abandon_intent(intent, lines, reason, claim)
            .await
        {
            Ok(claimed) => {
                reconcile::release_claimed(
                    self.store,
                    self.config,
                    self.request_id,
                    &claimed,
                    &Credentials::Caller(self.authorization),
                )
                .await;
            }
            // The intent is still there: once its lease runs out the
            // reconciler releases every unit it names.
            Err(error) => log::release_unrecorded(self.request_id, self.user, lines, &error),
        }
    }

    fn log_catalog(&self, error: &CatalogError) {
        if matches!(
            error,
            CatalogError::Unavailable { .. }
                | CatalogError::BadResponse(_)
                | CatalogError::Unconfirmed(_)
        ) {
            log::error(self.request_id, "catalog_error", &error.to_string());
        }
    }
}
