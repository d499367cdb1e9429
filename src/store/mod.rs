//! All SQL, behind one interface: the workflows (`orders`, and `auth` for
//! its JWKS cache) neither know nor ask which database they use, and the
//! HTTP edge never sees this module (its records are converted to
//! responses by the workflows' callers; `tests/layout.rs` checks the
//! imports).
//!
//! - [`connection`]: the seam — a [`Connection`] runs a statement and
//!   answers rows read by column name; Spin's SQLite and PostgreSQL in the
//!   component ([`spin`]), rusqlite and `postgres` in the contract suite
//!   (`tests/storage`).
//! - [`dialect`]: everything that differs between SQLite and PostgreSQL,
//!   in one place; [`schema`]: the tables' and columns' names.
//! - One file per concern ([`orders`], `intents`, `keys`, `releases`,
//!   `payments`, `fulfilments`, `events`, `jwks`, `metrics`): each
//!   statement written once with sea-query, and each record's reader and
//!   column list beside it.
//! - [`migrations`]: one numbered series per dialect, applied before the
//!   first statement that needs the schema.
//!
//! Nothing here decides anything. A change that needs a rule (cancel, pay,
//! claim a key, settle a release) is written once by its workflow as a
//! transaction ([`Store::write`]) of [`Tx`] primitives: read under the
//! lock, then each guarded write the rule chose. Statements that need no
//! rule (claims with `SKIP LOCKED`, purges, reads) are [`Store`] methods.

pub mod connection;
pub mod dialect;
pub mod errors;
pub mod events;
pub mod fulfilments;
pub mod intents;
pub mod jwks;
pub mod keys;
pub mod metrics;
pub mod migrations;
pub mod orders;
pub mod payments;
pub mod reconciliation;
pub mod releases;
pub mod schema;
pub mod settings;
pub mod spin;

use crate::clock;
use crate::domain::events::EventRecord;
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::money::Money;
use crate::domain::order::{OrderStatus, PricedOrder};
use crate::domain::UserId;
pub use connection::{Connection, Record, Row, Rows};
pub use dialect::Dialect;
pub use errors::{DatabaseError, StoreError};
pub use intents::{IntentId, NewIntent, TakenIntent};
pub use jwks::CachedJwks;
pub use payments::OwedRefund;
pub use releases::{ClaimedRelease, NewReleases, ReleaseClaim};
use sea_query::{Expr, ExprTrait, Iden, InsertStatement, OnConflict, Query, QueryStatementBuilder};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// How long a write waits for other writers in total before giving up.
const BUSY_BUDGET: Duration = Duration::from_secs(5);
/// Pause between two attempts, for SQLite servers that ignore the
/// connection's own busy wait (`spin::sqlite::BUSY_SLICE_MS`).
const BUSY_PAUSE: Duration = Duration::from_millis(1);

/// The key a request owns, for storing its outcome.
#[derive(Debug, Clone, Copy)]
pub struct OwnedKey<'a> {
    pub user: UserId,
    pub key: &'a IdempotencyKey,
}

/// A new order as its workflow decided it: what the create writes.
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
    /// gives the id and time, filled in as it is written).
    pub created: &'a EventRecord,
}

/// An amount as both backends bind it (text with two places on SQLite,
/// `numeric` on PostgreSQL).
fn money(amount: Money) -> sea_query::Expr {
    sea_query::Expr::val(amount.to_decimal())
}

/// A quantity as both backends bind it (`integer` on PostgreSQL).
fn quantity(value: u32) -> sea_query::Expr {
    sea_query::Expr::val(i32::try_from(value).unwrap_or(i32::MAX))
}

/// The database of this request, whichever it is.
pub struct Store {
    conn: Box<dyn Connection>,
    /// Whether this request has seen the schema current (or made it so).
    schema_checked: Cell<bool>,
    /// The version this request migrated the schema to, if it did.
    migrated_to: Cell<Option<i64>>,
    /// Whether reconciliation is due, when a write already answered it
    /// (PostgreSQL's create does): the follow-up's check then costs no
    /// round trip.
    due_known: Cell<Option<bool>>,
}

impl Store {
    /// The database `settings` name: Spin's SQLite `default`, or
    /// PostgreSQL through Spin's PostgreSQL API.
    pub async fn open(settings: &settings::StoreSettings) -> Result<Self, StoreError> {
        let conn: Box<dyn Connection> = match settings.postgres_url() {
            None => Box::new(spin::SpinSqlite::open_default()?),
            Some(url) => Box::new(spin::SpinPostgres::open(url)?),
        };
        Store::on(conn).await
    }

    /// The store over `conn`. SQLite's schema is brought up to date now
    /// (in-process, no round trip); PostgreSQL's before the first statement
    /// that needs it (a new order's first write makes the check itself,
    /// `intents::open_intent`).
    pub async fn on(conn: Box<dyn Connection>) -> Result<Self, StoreError> {
        let store = Store {
            conn,
            schema_checked: Cell::new(false),
            migrated_to: Cell::new(None),
            due_known: Cell::new(None),
        };
        if store.dialect() == Dialect::Sqlite {
            let migrated = migrations::sqlite_current(&store).await?;
            store.migrated_to.set(migrated);
            store.schema_checked.set(true);
        }
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// The schema version this request migrated the database to, if it
    /// did and this was not asked since.
    pub fn take_migrated_to(&self) -> Option<i64> {
        self.migrated_to.take()
    }

    /// PostgreSQL's schema check, once per request: one read when current,
    /// else the missing migrations under an advisory lock.
    fn ensure_schema(&self) -> Result<(), StoreError> {
        if self.schema_checked.get() {
            return Ok(());
        }
        let migrated = migrations::postgres_current(self)?;
        self.schema_checked.set(true);
        if migrated.is_some() {
            self.migrated_to.set(migrated);
        }
        Ok(())
    }

    /// Runs `work` as one write transaction: all of it or nothing. Its
    /// reads see the rows it will change locked against other writers.
    pub async fn write<T>(
        &self,
        work: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.ensure_schema()?;
        self.retry_busy(|| self.conn.begin()).await?;
        self.finish(work(&Tx { store: self }))
    }

    /// [`Store::write`] without busy waits: for PostgreSQL's migrations,
    /// whose row and advisory locks wait by themselves.
    fn write_now<T>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn.begin()?;
        self.finish(work(self))
    }

    /// Commits what `done` wrote, or rolls back when it or the commit failed.
    fn finish<T>(&self, done: Result<T, StoreError>) -> Result<T, StoreError> {
        match done.and_then(|value| self.conn.commit().map(|()| value)) {
            Ok(value) => Ok(value),
            Err(error) => {
                self.conn.rollback();
                Err(error)
            }
        }
    }

    /// One write statement on its own (its own transaction), answering
    /// rows: on SQLite it waits for other writers (busy retries), on
    /// PostgreSQL its row locks do.
    async fn write_rows(&self, statement: &impl QueryStatementBuilder) -> Result<Rows, StoreError> {
        self.ensure_schema()?;
        let (sql, values) = self.dialect().build(statement);
        self.retry_busy(|| self.conn.query(&sql, &values)).await
    }

    /// [`Store::write_rows`] for a statement that answers nothing.
    async fn write_exec(&self, statement: &impl QueryStatementBuilder) -> Result<(), StoreError> {
        self.ensure_schema()?;
        let (sql, values) = self.dialect().build(statement);
        self.retry_busy(|| self.conn.execute(&sql, &values)).await
    }

    /// Runs `attempt` until it is not refused for a lock another writer
    /// holds, for [`BUSY_BUDGET`] in all (each attempt also waits a slice
    /// inside SQLite).
    async fn retry_busy<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        loop {
            match attempt() {
                Err(StoreError::Busy) if started.elapsed() < BUSY_BUDGET => {
                    clock::sleep(clock::jitter(BUSY_PAUSE)).await;
                }
                other => return other,
            }
        }
    }
}

/// One write transaction in progress ([`Store::write`]): the primitives the
/// workflows compose their rules from (in the files of their concerns).
/// Each takes the workflow's decision as it is and never checks a status
/// itself.
pub struct Tx<'a> {
    store: &'a Store,
}

/// Where a statement runs: a request's store (reads), or a transaction.
trait Run {
    fn store(&self) -> &Store;

    fn dialect(&self) -> Dialect {
        self.store().dialect()
    }

    /// Runs `statement`; the rows it answers.
    fn rows(&self, statement: &impl QueryStatementBuilder) -> Result<Rows, StoreError> {
        let store = self.store();
        store.ensure_schema()?;
        let (sql, values) = store.dialect().build(statement);
        store.conn.query(&sql, &values)
    }

    /// Runs `statement`, which answers nothing.
    fn exec(&self, statement: &impl QueryStatementBuilder) -> Result<(), StoreError> {
        let store = self.store();
        store.ensure_schema()?;
        let (sql, values) = store.dialect().build(statement);
        store.conn.execute(&sql, &values)
    }
}

impl Run for Store {
    fn store(&self) -> &Store {
        self
    }
}

impl Run for Tx<'_> {
    fn store(&self) -> &Store {
        self.store
    }
}

/// A claim that one request among all instances wins at most once per
/// `seconds`: stamps `time` of the row keyed `key` in `table` with now,
/// unless it was stamped within the last `seconds`; answers the key's row
/// only when it did. One statement, so two requests asking at once get one
/// yes (a JWKS refresh, an expiry pass).
fn claim_once_per<T: Iden + Copy + 'static>(
    d: Dialect,
    (table, key_column, time): (T, T, T),
    key: &str,
    seconds: u64,
) -> InsertStatement {
    Query::insert()
        .into_table(table)
        .columns([key_column, time])
        .values_panic([key.into(), d.now()])
        .on_conflict(
            OnConflict::column(key_column)
                .update_column(time)
                .action_and_where(
                    Expr::col((table, time)).lte(d.now_plus(-clock::signed_seconds(seconds))),
                )
                .to_owned(),
        )
        .returning_col(key_column)
        .to_owned()
}
