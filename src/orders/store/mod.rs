//! All SQL lives here, one module per backend, behind one interface: the
//! workflows neither know nor ask which database they use.
//!
//! - [`sqlite`]: Spin's SQLite `default` database (the embedded default).
//! - [`postgres`]: PostgreSQL through Spin's PostgreSQL API, when
//!   `database_url` is set: several instances share one database.
//!
//! Nothing here decides anything. A change that needs a rule (cancel, pay,
//! claim a key, settle a release) is written once by its workflow in
//! `orders/` as a transaction ([`Store::write`]) of [`Tx`] primitives: read
//! under the lock, then each guarded write the rule chose. A backend only
//! says each primitive in its own SQL, with its own locking (`BEGIN
//! IMMEDIATE` on SQLite; row locks, `FOR UPDATE`, on PostgreSQL). Single
//! statements that need no rule (the one-statement create, claims with
//! `SKIP LOCKED`, purges) are [`Store`] methods.

pub mod postgres;
mod rows;
pub mod sqlite;

use crate::domain::events::EventRecord;
use crate::domain::idempotency::{IdempotencyKey, StoredKey};
use crate::domain::money::Money;
use crate::domain::order::{Order, OrderStatus, PricedOrder};
use crate::domain::order_request::OrderLine;
use crate::domain::payment::{PaymentConfirmation, PaymentRefusal};
use crate::domain::release::Settlement;
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

/// The key a request owns, for storing its outcome.
#[derive(Debug, Clone, Copy)]
pub struct OwnedKey<'a> {
    pub user: UserId,
    pub key: &'a IdempotencyKey,
}

/// An open intent, owned by the request that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntentId(pub(crate) i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedRelease {
    pub id: i64,
    pub user: UserId,
    pub product_id: ProductId,
    pub quantity: u32,
    /// Tries so far, this one included.
    pub attempts: i64,
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

/// Releases to record as owed in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct NewReleases<'a> {
    pub user: UserId,
    pub request_id: &'a str,
    /// One of the reasons in [`crate::domain::release`].
    pub reason: &'static str,
    pub order_id: Option<i64>,
    pub lines: &'a [(ProductId, u32)],
    pub claim: ReleaseClaim<'a>,
}

/// Who tries new releases first.
#[derive(Debug, Clone, Copy)]
pub enum ReleaseClaim<'a> {
    /// This request, at once: claimed by it for `seconds` (its first try
    /// counted), so no other request tries them meanwhile.
    ThisRequest { seconds: u64 },
    /// Whoever reconciles next; `last_error` says why they wait.
    Nobody { last_error: &'a str },
}

impl ReleaseClaim<'_> {
    /// Where `claimed_until` goes, from now: past for nobody's.
    fn offset_seconds(self) -> i64 {
        match self {
            ReleaseClaim::ThisRequest { seconds } => i64::try_from(seconds).unwrap_or(i64::MAX),
            ReleaseClaim::Nobody { .. } => -1,
        }
    }

    /// What [`Tx::insert_releases`] answers: the rows this request claimed.
    fn keeps(self, inserted: Vec<ClaimedRelease>) -> Vec<ClaimedRelease> {
        match self {
            ReleaseClaim::ThisRequest { .. } => inserted,
            ReleaseClaim::Nobody { .. } => Vec::new(),
        }
    }

    fn last_error(self) -> String {
        match self {
            ReleaseClaim::ThisRequest { .. } => String::new(),
            ReleaseClaim::Nobody { last_error } => last_error.to_owned(),
        }
    }
}

/// An intent whose request ended without closing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredIntent {
    pub user: UserId,
    pub request_id: String,
    pub lines: Vec<(ProductId, u32)>,
}

impl ExpiredIntent {
    /// From a row's `user_id`, `request_id` and `items` (JSON pairs of
    /// product id and quantity, as `open_intent` wrote them).
    fn from_row(
        user: Option<i64>,
        request_id: Option<&str>,
        items: Option<&str>,
    ) -> Result<Self, StoreError> {
        let malformed = || StoreError::Malformed("stock_intents row");
        let pairs: Vec<(i64, u32)> = serde_json::from_str(items.ok_or_else(malformed)?)?;
        Ok(ExpiredIntent {
            user: user.and_then(UserId::new).ok_or_else(malformed)?,
            request_id: request_id.ok_or_else(malformed)?.to_owned(),
            lines: pairs
                .into_iter()
                .map(|(product, quantity)| ProductId::new(product).map(|p| (p, quantity)))
                .collect::<Option<_>>()
                .ok_or_else(malformed)?,
        })
    }
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
    /// What the `outcome` column says.
    pub fn outcome_text(outcome: Result<(), PaymentRefusal>) -> &'static str {
        if outcome.is_ok() {
            "paid"
        } else {
            "refund_required"
        }
    }

    /// The outcome a stored `reason` (NULL when paid) stands for.
    pub fn outcome_from(reason: Option<&str>) -> Result<Result<(), PaymentRefusal>, StoreError> {
        match reason {
            None => Ok(Ok(())),
            Some(text) => PaymentRefusal::parse(text)
                .map(Err)
                .ok_or(StoreError::Malformed("payments.reason")),
        }
    }
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

/// The database of this request, whichever backend it is.
pub enum Store {
    Sqlite(sqlite::Db),
    Postgres(postgres::Db),
}

/// Calls the same method on whichever backend this is.
macro_rules! dispatch {
    ($on:ident: $self:ident . $method:ident ( $($arg:expr),* ) $(.$await:ident)?) => {
        match $self {
            $on::Sqlite(db) => db.$method($($arg),*)$(.$await)?,
            $on::Postgres(db) => db.$method($($arg),*)$(.$await)?,
        }
    };
}

impl Store {
    /// `database_url` empty: Spin's SQLite `default`, its schema brought up
    /// to date now (in-process, no round trip); else PostgreSQL at that
    /// address, its schema checked by the first statement (a new order's
    /// first write makes the check itself, saving a round trip).
    pub async fn open(database_url: Option<&str>) -> Result<Self, StoreError> {
        Ok(match database_url {
            None => Store::Sqlite(sqlite::Db::open().await?),
            Some(url) => Store::Postgres(postgres::Db::open(url)?),
        })
    }

    /// The schema version this request migrated the database to, if it
    /// did and this was not asked since.
    pub fn take_migrated_to(&self) -> Option<i64> {
        dispatch!(Store: self.take_migrated_to())
    }

    /// Runs `work` as one write transaction: all of it or nothing. Its
    /// reads see the rows it will change locked against other writers.
    pub async fn write<T>(
        &self,
        work: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Store::Sqlite(db) => db.write_transaction(|db| work(&Tx::Sqlite(db))).await,
            Store::Postgres(db) => db.transaction(|db| work(&Tx::Postgres(db))),
        }
    }

    /// Records the intent to reserve `lines`, valid for `lease_seconds`.
    pub async fn open_intent(
        &self,
        user: UserId,
        request_id: &str,
        lines: &[OrderLine],
        lease_seconds: u64,
    ) -> Result<IntentId, StoreError> {
        dispatch!(Store: self.open_intent(user, request_id, lines, lease_seconds).await)
    }

    /// In one statement: closes the intent, writes the `CREATED` order and
    /// its items, records it as the key's outcome and records `created`
    /// (the event of the order as [`PricedOrder::unsaved`] shows it, its id
    /// and time filled in by the database). Returns the order's id and
    /// creation time; [`StoreError::LeaseLost`] if the intent was gone.
    pub async fn insert_order(
        &self,
        user: UserId,
        order: &PricedOrder,
        intent: IntentId,
        key: Option<OwnedKey<'_>>,
        created: &EventRecord,
    ) -> Result<(i64, String), StoreError> {
        dispatch!(Store: self.insert_order(user, order, intent, key, created).await)
    }

    /// `user`'s order `id`, or `None` (also when it is someone else's).
    pub fn order(&self, user: UserId, id: i64) -> Result<Option<Order>, StoreError> {
        dispatch!(Store: self.order(user, id))
    }

    /// Up to `limit` of `user`'s orders below `before_id`, newest first,
    /// and whether more follow.
    pub fn list_orders(
        &self,
        user: UserId,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Order>, bool), StoreError> {
        dispatch!(Store: self.list_orders(user, before_id, limit))
    }

    /// Stores the outcome `body` (a refusal) of a key this request holds.
    pub async fn complete_key(&self, owned: OwnedKey<'_>, body: &str) -> Result<(), StoreError> {
        dispatch!(Store: self.complete_key(owned, body).await)
    }

    /// Gives the key up: a retry runs again.
    pub async fn release_key(&self, owned: OwnedKey<'_>) -> Result<(), StoreError> {
        dispatch!(Store: self.release_key(owned).await)
    }

    /// Deletes up to `limit` keys past the retention; returns how many.
    pub async fn purge_expired_keys(&self, limit: u32) -> Result<usize, StoreError> {
        dispatch!(Store: self.purge_expired_keys(limit).await)
    }

    /// Claims up to `limit` releases nobody is trying right now.
    pub async fn claim_releases(
        &self,
        limit: u32,
        ignore_backoff: bool,
        claim_seconds: u64,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        dispatch!(Store: self.claim_releases(limit, ignore_backoff, claim_seconds).await)
    }

    /// The oldest pending releases (at most `limit`) and how many there are.
    pub fn pending_releases(&self, limit: u32) -> Result<(i64, Vec<PendingRelease>), StoreError> {
        dispatch!(Store: self.pending_releases(limit))
    }

    /// How many order events wait to be published.
    pub fn unpublished_events(&self) -> Result<i64, StoreError> {
        dispatch!(Store: self.unpublished_events())
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
        let mut events = dispatch!(Store: self.claim_events(limit, claim_seconds).await)?;
        events.sort_by_key(|event| event.id);
        Ok(events)
    }

    /// Marks events `ids` as published.
    pub async fn mark_events_published(&self, ids: &[i64]) -> Result<(), StoreError> {
        dispatch!(Store: self.mark_events_published(ids).await)
    }

    /// Gives back the claims on events `ids` (their delivery failed).
    pub async fn unclaim_events(&self, ids: &[i64]) -> Result<(), StoreError> {
        dispatch!(Store: self.unclaim_events(ids).await)
    }

    /// Deletes up to `limit` events published over `retention_seconds` ago.
    pub async fn purge_published_events(
        &self,
        limit: u32,
        retention_seconds: u64,
    ) -> Result<usize, StoreError> {
        dispatch!(Store: self.purge_published_events(limit, retention_seconds).await)
    }

    /// Whether stock of order `order_id` is still owed to the Catalog.
    pub fn order_release_pending(&self, order_id: i64) -> Result<bool, StoreError> {
        dispatch!(Store: self.order_release_pending(order_id))
    }

    /// Whether any reconciliation work is due (one indexed read).
    pub fn reconciliation_due(&self) -> Result<bool, StoreError> {
        dispatch!(Store: self.reconciliation_due())
    }
}

/// One write transaction in progress ([`Store::write`]): the primitives the
/// workflows compose their rules from. Each is one statement (or two where
/// a backend needs them), takes the workflow's decision as it is and never
/// checks a status itself.
pub enum Tx<'a> {
    Sqlite(&'a sqlite::Db),
    Postgres(&'a postgres::Db),
}

impl Tx<'_> {
    /// Order `id` (anyone's), locked until the transaction ends.
    pub fn lock_order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        dispatch!(Tx: self.lock_order(id))
    }

    /// Moves order `id` from `from` to `to`. Guarded by `from` as well as
    /// by the lock: an order found otherwise is [`StoreError::Malformed`].
    pub fn set_status(
        &self,
        id: i64,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<(), StoreError> {
        dispatch!(Tx: self.set_status(id, from, to))
    }

    /// Records `event` as its order's next one (the order's lock orders
    /// the sequence).
    pub fn append_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        dispatch!(Tx: self.append_event(event))
    }

    /// Records releases as owed; returns them when this request claimed
    /// them ([`ReleaseClaim::ThisRequest`]), else nothing.
    pub fn insert_releases(
        &self,
        new: &NewReleases<'_>,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        dispatch!(Tx: self.insert_releases(new))
    }

    /// Deletes open intent `intent`, returning whose it was; `None` when
    /// the reconciler took it over (its lease ran out).
    pub fn take_intent(&self, intent: IntentId) -> Result<Option<(UserId, String)>, StoreError> {
        dispatch!(Tx: self.take_intent(intent))
    }

    /// Deletes up to `limit` intents whose lease ran out (not those another
    /// instance is taking) and returns them.
    pub fn take_expired_intents(&self, limit: u32) -> Result<Vec<ExpiredIntent>, StoreError> {
        dispatch!(Tx: self.take_expired_intents(limit))
    }

    /// Deletes claimed release `id` (the Catalog confirmed it).
    pub fn delete_release(&self, id: i64) -> Result<(), StoreError> {
        dispatch!(Tx: self.delete_release(id))
    }

    /// Unclaims release `id` and schedules its next try.
    pub fn reschedule_release(
        &self,
        id: i64,
        error: &str,
        retry_in_seconds: u64,
    ) -> Result<(), StoreError> {
        dispatch!(Tx: self.reschedule_release(id, error, retry_in_seconds))
    }

    /// Moves pending release `id`, unless a request holds it claimed, to
    /// `settled_releases` with the operator's account; the audit row.
    pub fn move_to_settled(
        &self,
        id: i64,
        settlement: Settlement,
        settled_by: &str,
        note: &str,
    ) -> Result<Option<SettledRelease>, StoreError> {
        dispatch!(Tx: self.move_to_settled(id, settlement, settled_by, note))
    }

    /// Whether pending release `id` exists.
    pub fn release_exists(&self, id: i64) -> Result<bool, StoreError> {
        dispatch!(Tx: self.release_exists(id))
    }

    /// Writes key `owned` as claimed (`in_flight`, with the body's
    /// `fingerprint`, for `lease_seconds`) unless it exists; whether it did.
    pub fn insert_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<bool, StoreError> {
        dispatch!(Tx: self.insert_key(owned, fingerprint, lease_seconds))
    }

    /// Key `owned` as stored, locked until the transaction ends.
    pub fn lock_key(&self, owned: OwnedKey<'_>) -> Result<Option<StoredKey>, StoreError> {
        dispatch!(Tx: self.lock_key(owned))
    }

    /// Claims existing key `owned` afresh for this request.
    pub fn take_over_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<(), StoreError> {
        dispatch!(Tx: self.take_over_key(owned, fingerprint, lease_seconds))
    }

    /// The payment recorded with `payment_id`, if any.
    pub fn stored_payment(&self, payment_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        dispatch!(Tx: self.stored_payment(payment_id))
    }

    /// Records `payment` with `outcome`; its recording time, or `None` when
    /// its id was recorded meanwhile (by a transaction this one did not see).
    pub fn insert_payment(
        &self,
        payment: &PaymentConfirmation,
        outcome: Result<(), PaymentRefusal>,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(Tx: self.insert_payment(payment, outcome))
    }
}
