//! Stock owed back to the Catalog (SPEC §3/§4): why it is owed, and how an
//! operator may close a release by hand; the reservation ids releases name.

use super::ProductId;

/// Why releases are owed: a create gave up after reserving…
pub const RESERVATION_FAILED: &str = "reservation_failed";
/// …or after reserving all, when its order could not be written…
pub const ORDER_NOT_PERSISTED: &str = "order_not_persisted";
/// …or its request ended in between (the intent's lease ran out)…
pub const RESERVATION_ABANDONED: &str = "reservation_abandoned";
/// …or the order was cancelled…
pub const ORDER_CANCELLED: &str = "order_cancelled";
/// …or it expired unpaid (its payment deadline passed).
pub const ORDER_EXPIRED: &str = "order_expired";

/// What an expired order's releases say until they are tried.
pub const EXPIRED_DETAIL: &str = "the order was not paid within payment_deadline_seconds";

/// What an abandoned reservation's releases say until they are tried.
pub const ABANDONED_DETAIL: &str = "the request ended between reserving and saving";

/// How an operator settled a pending release by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// The units were given back at the Catalog by other means.
    ReleasedManually,
    /// The units are not coming back (counted, sold elsewhere, lost).
    WrittenOff,
}

impl Settlement {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "released_manually" => Some(Settlement::ReleasedManually),
            "written_off" => Some(Settlement::WrittenOff),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Settlement::ReleasedManually => "released_manually",
            Settlement::WrittenOff => "written_off",
        }
    }
}

/// The reservation id of one line (SPEC §4's extension for exact stock):
/// the create's random reservation key and the line's product, so every
/// path that releases the line (a failed create, the reconciler, a cancel)
/// names the same reservation. Lines are merged by product, so it is
/// unique within the order.
pub fn reservation_id(key: &str, product: ProductId) -> String {
    format!("{key}-{product}")
}

/// A fresh reservation key: 128 random bits, so ids never repeat across
/// databases sharing one Catalog (a wiped dev database, two deployments).
pub fn new_reservation_key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A pending release as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRelease {
    pub id: i64,
    pub user_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub order_id: Option<i64>,
    pub reason: String,
    pub request_id: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: String,
    pub next_attempt_at: String,
    /// What to name at the Catalog to release it by hand.
    pub reservation: Option<String>,
}

/// A release an operator settled: the audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledRelease {
    pub id: i64,
    pub user_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub order_id: Option<i64>,
    pub reason: String,
    pub outcome: Settlement,
    pub settled_by: String,
    pub note: String,
    pub settled_at: String,
    pub reservation: Option<String>,
}
