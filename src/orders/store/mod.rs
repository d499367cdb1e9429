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
//! under the lock, then each guarded write the rule chose. Statements that
//! need no rule (claims with `SKIP LOCKED`, purges, reads) are [`Store`]
//! methods.
//!
//! Each primitive is written once, in the file of its concern ([`orders`],
//! `intents`, `keys`, `releases`, `payments`, `fulfilments`, `events`), as one statement
//! in both dialects with one list of values (`sql`); rows are read into
//! records once (`rows`). A backend module only runs its dialect's text,
//! with its own locking (`BEGIN IMMEDIATE` on SQLite; row locks, `FOR
//! UPDATE`, on PostgreSQL), and keeps what is truly its own: connection,
//! transactions and busy waits, migrations, and the one-statement create
//! (a trigger on SQLite, data-modifying CTEs on PostgreSQL).

mod events;
mod fulfilments;
mod intents;
mod jwks;
mod keys;
pub mod metrics;
pub mod orders;
mod payments;
pub mod postgres;
mod releases;
mod rows;
mod sql;
pub mod sqlite;

use crate::domain::events::EventRecord;
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::money::Money;
use crate::domain::order::{OrderStatus, PricedOrder};
use crate::domain::order_request::OrderLine;
use crate::domain::payment::PaymentRefusal;
use crate::domain::{ProductId, UserId};
pub use fulfilments::FulfilmentRecord;
pub use payments::RefundRecord;
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
    /// The database is unreachable, starting up or shutting down, or the
    /// connection broke: an outage, not a refused statement.
    #[error("database unavailable")]
    Unavailable(#[source] Box<spin_sdk::pg4::PgError>),
    /// Stored data that breaks the schema's promises.
    #[error("unexpected stored data: {0}")]
    Malformed(&'static str),
    #[error("stored JSON")]
    Json(#[from] serde_json::Error),
    /// Another request recorded the same payment, refund or fulfilment
    /// event id at this very moment; a retry answers from its row.
    #[error("id recorded concurrently")]
    IdTaken,
    /// PostgreSQL refused the statement because a concurrent transaction
    /// won a race (a unique key it wrote first, a serialization failure,
    /// a deadlock): a retry sees that transaction's result.
    #[error("lost a race with a concurrent transaction")]
    Raced(#[source] Box<spin_sdk::pg4::PgError>),
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
    /// The reservation id it releases, sent along (SPEC §4).
    pub reservation: Option<String>,
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
    /// What to name at the Catalog to release it by hand.
    pub reservation: Option<String>,
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
    pub reservation: Option<String>,
}

/// A new order as its workflow decided it: what the one-statement create
/// writes.
#[derive(Debug, Clone, Copy)]
pub struct NewOrder<'a> {
    pub user: UserId,
    /// Its first status.
    pub status: OrderStatus,
    pub order: &'a PricedOrder,
    /// The intent its reservations were made under, closed by the write.
    pub intent: IntentId,
    /// The Idempotency-Key whose outcome it becomes.
    pub key: Option<OwnedKey<'a>>,
    /// Its event, as the order shows before it is stored (the database
    /// fills in the id and time).
    pub created: &'a EventRecord,
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
    /// The key the lines were reserved under: each release then carries
    /// its line's reservation id. `None` for reservations made before.
    pub reservation_key: Option<&'a str>,
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

/// An intent taken back: by its own request after a failure, or by the
/// reconciler once its request ended without closing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenIntent {
    pub user: UserId,
    pub request_id: String,
    pub lines: Vec<(ProductId, u32)>,
    /// Its reservations' key (SPEC §4's reservation ids); `None` for an
    /// intent opened before they existed.
    pub reservation_key: Option<String>,
}

impl TakenIntent {
    /// From a row's `user_id`, `request_id`, `items` (JSON pairs of
    /// product id and quantity, as `open_intent` wrote them) and
    /// `reservation_key`.
    fn from_row(
        user: Option<i64>,
        request_id: Option<&str>,
        items: Option<&str>,
        reservation_key: Option<&str>,
    ) -> Result<Self, StoreError> {
        let malformed = || StoreError::Malformed("stock_intents row");
        let pairs: Vec<(i64, u32)> = serde_json::from_str(items.ok_or_else(malformed)?)?;
        Ok(TakenIntent {
            reservation_key: reservation_key.map(str::to_owned),
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
    /// The request that caused it (`None` for events recorded before
    /// events carried it).
    pub traceparent: Option<String>,
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

    /// Records the intent to reserve `lines` under `reservation_key`,
    /// valid for `lease_seconds`.
    pub async fn open_intent(
        &self,
        user: UserId,
        request_id: &str,
        lines: &[OrderLine],
        reservation_key: &str,
        lease_seconds: u64,
    ) -> Result<IntentId, StoreError> {
        let items = intents::intent_items(lines);
        dispatch!(Store: self.open_intent(user, request_id, &items, reservation_key, lease_seconds).await)
    }

    /// In one statement: closes the intent, writes the order and its
    /// items, records it as the key's outcome and records its event (the
    /// database fills in the order's id and time). Returns the order's id
    /// and creation time; [`StoreError::LeaseLost`] if the intent was gone.
    pub async fn insert_order(&self, new: &NewOrder<'_>) -> Result<(i64, String), StoreError> {
        dispatch!(Store: self.insert_order(new).await)
    }

    /// Whether any reconciliation work is due (one indexed read).
    pub fn reconciliation_due(&self) -> Result<bool, StoreError> {
        dispatch!(Store: self.reconciliation_due())
    }
}

/// One write transaction in progress ([`Store::write`]): the primitives the
/// workflows compose their rules from (in the files of their concerns).
/// Each takes the workflow's decision as it is and never checks a status
/// itself.
pub enum Tx<'a> {
    Sqlite(&'a sqlite::Db),
    Postgres(&'a postgres::Db),
}

/// Where a statement runs: a request's store (reads), or a transaction.
trait Run {
    /// Runs `sql` in this backend's dialect with `params`, reading each
    /// row it answers with `read`.
    fn rows<T>(
        &self,
        sql: &sql::Sql,
        params: &[sql::Param<'_>],
        read: impl Fn(&dyn rows::Columns) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError>;
}

impl Run for Tx<'_> {
    fn rows<T>(
        &self,
        sql: &sql::Sql,
        params: &[sql::Param<'_>],
        read: impl Fn(&dyn rows::Columns) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Tx::Sqlite(db) => read_all(&db.run(&sql.sqlite, params)?.rows, read),
            Tx::Postgres(db) => read_all(&db.run(&sql.postgres, params)?, read),
        }
    }
}

/// Each row of an answer, read with `read`.
fn read_all<T>(
    answer: &[impl rows::Columns],
    read: impl Fn(&dyn rows::Columns) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    answer.iter().map(|row| read(row)).collect()
}

/// Outside a transaction: reads run as a transaction's statements do (a
/// write goes through [`Store::write_rows`]).
impl Run for Store {
    fn rows<T>(
        &self,
        sql: &sql::Sql,
        params: &[sql::Param<'_>],
        read: impl Fn(&dyn rows::Columns) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let on = match self {
            Store::Sqlite(db) => Tx::Sqlite(db),
            Store::Postgres(db) => Tx::Postgres(db),
        };
        on.rows(sql, params, read)
    }
}

impl Store {
    /// One write statement on its own (its own transaction): on SQLite it
    /// waits for other writers (busy retries), on PostgreSQL its row locks
    /// do.
    async fn write_rows<T>(
        &self,
        sql: &sql::Sql,
        params: &[sql::Param<'_>],
        read: impl Fn(&dyn rows::Columns) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        match self {
            Store::Sqlite(db) => read_all(&db.run_write(&sql.sqlite, params).await?.rows, read),
            // PostgreSQL's row locks wait for other writers themselves.
            Store::Postgres(db) => Tx::Postgres(db).rows(sql, params, read),
        }
    }
}
