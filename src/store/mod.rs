//! All SQL lives here, one module per backend, behind one interface
//! ([`Store`]): the workflows neither know nor ask which database they use.
//!
//! - [`sqlite`]: Spin's SQLite `default` database (the embedded default).
//! - [`postgres`]: PostgreSQL through Spin's PostgreSQL API, when
//!   `database_url` is set: several instances share one database.
//!
//! Both take and return the domain values and records below, and keep the
//! same guarantees (see each backend's documentation for how).

pub mod postgres;
pub mod sqlite;

use crate::domain::idempotency::IdempotencyKey;
use crate::domain::money::Money;
use crate::domain::order::{Cancellation, InvalidTransition, Order, PricedOrder, Refusal};
use crate::domain::order_request::OrderLine;
use crate::domain::payment::{PaymentConfirmation, PaymentRefusal};
use crate::domain::{ProductId, UserId};
use serde::Serialize;
use spin_sdk::sqlite3::Error as SqliteError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Other writers held the database for longer than the busy budget.
    #[error("database busy")]
    Busy,
    /// The reservation intent's lease ran out before the order was written;
    /// the reconciler is giving the stock back, so the order must not exist.
    #[error("reservation lease lost")]
    LeaseLost,
    #[error("SQLite")]
    Sqlite(#[source] SqliteError),
    #[error("PostgreSQL")]
    Postgres(#[source] Box<spin_sdk::pg4::PgError>),
    /// Stored data that breaks the schema's promises.
    #[error("unexpected stored data: {0}")]
    Malformed(&'static str),
    #[error("stored JSON")]
    Json(#[from] serde_json::Error),
    /// Another request recorded the same payment id for another order at
    /// this very moment; a retry answers from its row.
    #[error("payment id recorded concurrently")]
    PaymentIdTaken,
}

impl From<SqliteError> for StoreError {
    fn from(error: SqliteError) -> Self {
        let busy = matches!(&error, SqliteError::Io(text)
            if text.contains("database is locked") || text.contains("database is busy"));
        if busy {
            StoreError::Busy
        } else {
            StoreError::Sqlite(error)
        }
    }
}

/// The outcome a key keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    Created { order_id: i64 },
    Refused(Refusal),
}

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// This request owns the key now and must settle it.
    Claimed,
    /// The first request finished: answer with its outcome.
    Replay(KeyOutcome),
    /// The first request is still running (or died less than a lease ago).
    InUse,
    /// The key was used with a different request body.
    Reused,
}

/// The key a request owns, for storing its outcome.
#[derive(Debug, Clone, Copy)]
pub struct OwnedKey<'a> {
    pub user: UserId,
    pub key: &'a IdempotencyKey,
}

/// An open intent, owned by the request that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntentId(pub(crate) i64);

/// Why intents are released.
pub const ABANDONED: &str = "reservation_abandoned";

/// Why pending releases are written for a cancelled order.
pub const CANCELLED: &str = "order_cancelled";

/// What a cancel did.
#[derive(Debug)]
pub struct Cancelled {
    /// The order after the cancel (or as it is, when refused).
    pub order: Order,
    pub outcome: Result<Cancellation, InvalidTransition>,
    /// Releases this request must now try (empty unless stock goes back).
    pub releases: Vec<ClaimedRelease>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRelease {
    pub id: i64,
    pub user: UserId,
    pub product_id: ProductId,
    pub quantity: u32,
    /// Tries so far, this one included.
    pub attempts: i64,
}

/// How a claimed release ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseOutcome {
    Released,
    /// Try again after `retry_in_seconds`; `error` says why (no secrets).
    Failed {
        error: String,
        retry_in_seconds: u64,
    },
}

/// A pending release as operators see it.
#[derive(Debug, Clone, Serialize)]
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
}

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

/// A release an operator settled: the audit row.
#[derive(Debug, Clone, Serialize)]
pub struct SettledRelease {
    pub id: i64,
    pub user_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub order_id: Option<i64>,
    pub reason: String,
    pub outcome: String,
    pub settled_by: String,
    pub note: String,
    pub settled_at: String,
}

/// What asking to settle a release found.
#[derive(Debug)]
pub enum SettleResult {
    Settled(SettledRelease),
    /// A request is trying this release right now: ask again shortly.
    InProgress,
    NotFound,
}

/// A payment confirmation as recorded: the first answer for its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub payment_id: String,
    pub order_id: i64,
    pub amount: Money,
    pub currency: String,
    /// `Ok`: the order became `PAID`; `Err`: refused, to be refunded.
    pub outcome: Result<(), PaymentRefusal>,
    pub created_at: String,
}

impl PaymentRecord {
    fn outcome_text(outcome: Result<(), PaymentRefusal>) -> &'static str {
        if outcome.is_ok() {
            "paid"
        } else {
            "refund_required"
        }
    }

    /// The outcome a stored `reason` (NULL when paid) stands for.
    fn outcome_from(reason: Option<&str>) -> Result<Result<(), PaymentRefusal>, StoreError> {
        match reason {
            None => Ok(Ok(())),
            Some(text) => PaymentRefusal::parse(text)
                .map(Err)
                .ok_or(StoreError::Malformed("payments.reason")),
        }
    }

    /// What a confirmation with this record's id gets: the same answer if
    /// it is the same confirmation, else a refusal of the reused id.
    fn answer_for(self, payment: &PaymentConfirmation) -> PaymentResult {
        let same = self.order_id == payment.order_id
            && self.amount == payment.amount
            && self.currency == payment.currency;
        if same {
            PaymentResult::Recorded(self)
        } else {
            PaymentResult::IdReused
        }
    }
}

/// What confirming a payment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentResult {
    /// Recorded now, or earlier with the same id and content.
    Recorded(PaymentRecord),
    NoSuchOrder,
    /// The payment id was recorded with another order, amount or currency.
    IdReused,
}

/// An order event claimed for publishing, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Outbox row id: recording order.
    pub id: i64,
    pub event_id: String,
    pub order_id: i64,
    /// 1, 2, … per order.
    pub seq: i64,
    /// `order.created`, …
    pub kind: String,
    /// JSON.
    pub payload: String,
    pub created_at: String,
}

/// When a request brings the schema up to date.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Schema {
    /// On opening: one more round trip on PostgreSQL.
    CheckedNow,
    /// With the first statement; a new order's first write makes the check
    /// itself, saving that round trip (SQLite's check is in-process and
    /// always made on opening).
    CheckedByFirstStatement,
}

/// The database of this request, whichever backend it is.
pub enum Store {
    Sqlite(sqlite::Db),
    Postgres(postgres::Db),
}

/// Calls the same method on whichever backend this is.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* ) $(.$await:ident)?) => {
        match $self {
            Store::Sqlite(db) => db.$method($($arg),*)$(.$await)?,
            Store::Postgres(db) => db.$method($($arg),*)$(.$await)?,
        }
    };
}

impl Store {
    /// `database_url` empty: Spin's SQLite `default`; else PostgreSQL at
    /// that address. Either way the schema is brought up to date, now or
    /// (PostgreSQL, `Schema::CheckedByFirstStatement`) before the first
    /// statement, so a migration may be made by any later call.
    pub async fn open(database_url: Option<&str>, schema: Schema) -> Result<Self, StoreError> {
        Ok(match database_url {
            None => Store::Sqlite(sqlite::Db::open().await?),
            Some(url) => Store::Postgres(postgres::Db::open(url, schema).await?),
        })
    }

    /// The schema version this request migrated the database to, if it
    /// did and this was not asked since.
    pub fn take_migrated_to(&self) -> Option<i64> {
        dispatch!(self.take_migrated_to())
    }

    /// Records the intent to reserve `lines`, valid for `lease_seconds`.
    pub async fn open_intent(
        &self,
        user: UserId,
        request_id: &str,
        lines: &[OrderLine],
        lease_seconds: u64,
    ) -> Result<IntentId, StoreError> {
        dispatch!(
            self.open_intent(user, request_id, lines, lease_seconds)
                .await
        )
    }

    /// The create failed: closes the intent and records `owed` as pending
    /// releases claimed by this request, in one transaction.
    pub async fn abandon_intent(
        &self,
        intent: IntentId,
        owed: &[OrderLine],
        reason: &str,
        claim_seconds: u64,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        dispatch!(
            self.abandon_intent(intent, owed, reason, claim_seconds)
                .await
        )
    }

    /// Turns intents whose lease ran out (at most `limit`) into releases.
    pub async fn expire_intents(&self, limit: u32) -> Result<usize, StoreError> {
        dispatch!(self.expire_intents(limit).await)
    }

    /// Writes a new order, closes its intent and records it as the key's
    /// outcome, in one transaction.
    pub async fn insert_order(
        &self,
        user: UserId,
        order: &PricedOrder,
        intent: IntentId,
        key: Option<OwnedKey<'_>>,
    ) -> Result<Order, StoreError> {
        dispatch!(self.insert_order(user, order, intent, key).await)
    }

    /// `user`'s order `id`, or `None` (also when it is someone else's).
    pub fn order(&self, user: UserId, id: i64) -> Result<Option<Order>, StoreError> {
        dispatch!(self.order(user, id))
    }

    /// Up to `limit` of `user`'s orders below `before_id`, newest first,
    /// and whether more follow.
    pub fn list_orders(
        &self,
        user: UserId,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Order>, bool), StoreError> {
        dispatch!(self.list_orders(user, before_id, limit))
    }

    /// Cancels `user`'s order `id` as the state machine says, writing the
    /// releases it owes in the same transaction. `None`: no such order.
    pub async fn cancel_order(
        &self,
        user: UserId,
        id: i64,
        request_id: &str,
        claim_seconds: u64,
    ) -> Result<Option<Cancelled>, StoreError> {
        dispatch!(self.cancel_order(user, id, request_id, claim_seconds).await)
    }

    /// Claims an Idempotency-Key for a request with this body fingerprint.
    pub async fn claim_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<KeyClaim, StoreError> {
        dispatch!(self.claim_key(owned, fingerprint, lease_seconds).await)
    }

    /// Stores a refusal that reached the Catalog for replay.
    pub async fn complete_key(
        &self,
        owned: OwnedKey<'_>,
        refusal: Refusal,
    ) -> Result<(), StoreError> {
        dispatch!(self.complete_key(owned, refusal).await)
    }

    /// Gives the key up: a retry runs again.
    pub async fn release_key(&self, owned: OwnedKey<'_>) -> Result<(), StoreError> {
        dispatch!(self.release_key(owned).await)
    }

    /// Deletes up to `limit` keys past the retention; returns how many.
    pub async fn purge_expired_keys(&self, limit: u32) -> Result<usize, StoreError> {
        dispatch!(self.purge_expired_keys(limit).await)
    }

    /// Claims up to `limit` releases nobody is trying right now.
    pub async fn claim_releases(
        &self,
        limit: u32,
        ignore_backoff: bool,
        claim_seconds: u64,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        dispatch!(
            self.claim_releases(limit, ignore_backoff, claim_seconds)
                .await
        )
    }

    /// Records how claimed releases ended.
    pub async fn settle_releases(
        &self,
        outcomes: &[(i64, ReleaseOutcome)],
    ) -> Result<(), StoreError> {
        dispatch!(self.settle_releases(outcomes).await)
    }

    /// The oldest pending releases (at most `limit`) and how many there are.
    pub fn pending_releases(&self, limit: u32) -> Result<(i64, Vec<PendingRelease>), StoreError> {
        dispatch!(self.pending_releases(limit))
    }

    /// Moves a pending release to `settled_releases` with the operator's
    /// account of it.
    pub async fn settle_release(
        &self,
        id: i64,
        settlement: Settlement,
        settled_by: &str,
        note: &str,
    ) -> Result<SettleResult, StoreError> {
        dispatch!(self.settle_release(id, settlement, settled_by, note).await)
    }

    /// Records a payment confirmation and applies it to its order (or
    /// records the refusal), in one transaction; a repeat of an id gets
    /// the first answer.
    pub async fn confirm_payment(
        &self,
        payment: &PaymentConfirmation,
    ) -> Result<PaymentResult, StoreError> {
        dispatch!(self.confirm_payment(payment).await)
    }

    /// How many order events wait to be published.
    pub fn unpublished_events(&self) -> Result<i64, StoreError> {
        dispatch!(self.unpublished_events())
    }

    /// Claims up to `limit` events for publishing, for `claim_seconds`:
    /// the oldest unclaimed ones, at most the earliest unpublished event
    /// of each order. Sorted by recording order.
    pub async fn claim_events(
        &self,
        limit: u32,
        claim_seconds: u64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // `UPDATE … RETURNING` promises no order.
        let mut events = dispatch!(self.claim_events(limit, claim_seconds).await)?;
        events.sort_by_key(|event| event.id);
        Ok(events)
    }

    /// Marks events `ids` as published.
    pub async fn mark_events_published(&self, ids: &[i64]) -> Result<(), StoreError> {
        dispatch!(self.mark_events_published(ids).await)
    }

    /// Gives back the claims on events `ids` (their delivery failed).
    pub async fn unclaim_events(&self, ids: &[i64]) -> Result<(), StoreError> {
        dispatch!(self.unclaim_events(ids).await)
    }

    /// Deletes up to `limit` events published over `retention_seconds` ago.
    pub async fn purge_published_events(
        &self,
        limit: u32,
        retention_seconds: u64,
    ) -> Result<usize, StoreError> {
        dispatch!(self.purge_published_events(limit, retention_seconds).await)
    }

    /// Whether stock of order `order_id` is still owed to the Catalog.
    pub fn order_release_pending(&self, order_id: i64) -> Result<bool, StoreError> {
        dispatch!(self.order_release_pending(order_id))
    }

    /// Whether any reconciliation work is due (one indexed read).
    pub fn reconciliation_due(&self) -> Result<bool, StoreError> {
        dispatch!(self.reconciliation_due())
    }
}
