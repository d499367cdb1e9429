//! Pure business rules: no I/O, no Spin SDK types, so everything here is
//! unit-tested natively.
//!
//! - [`money`]: exact decimal amounts as the Catalog writes them.
//! - [`order_request`]: the create-order body, parsed once at the edge.
//! - [`order`]: order status (the state machine) and pricing.
//! - [`idempotency`]: Idempotency-Key format and request fingerprints.
//! - [`page`]: keyset pagination of the order list.
//! - [`payment`]: payment confirmations and refunds from the Payment Service.
//! - [`fulfilment`]: shipments and deliveries from the Fulfilment Service.
//! - [`events`]: the order events other services are told about.
//! - [`gauges`]: the service's own state, as operators watch it.
//! - [`release`]: stock owed back to the Catalog, and its settlement.

pub mod events;
pub mod fulfilment;
pub mod gauges;
pub mod idempotency;
pub mod money;
pub mod order;
pub mod order_request;
pub mod page;
pub mod payment;
pub mod release;

/// A user id as carried by the JWT `user_id` claim (1..=2^63-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(i64);

impl UserId {
    /// Accepts 1..=i64::MAX; anything else is not a user id.
    pub fn new(raw: i64) -> Option<Self> {
        (raw >= 1).then_some(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A product id: an external reference into the Catalog (1..=2^63-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProductId(i64);

impl ProductId {
    pub fn new(raw: i64) -> Option<Self> {
        (raw >= 1).then_some(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for ProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
