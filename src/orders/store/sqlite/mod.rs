//! The SQLite backend (Spin's `default` database, the embedded default):
//! one connection per request (Spin's model), parameterised statements
//! only, schema kept current by [`migrations`]. Writers serialise on
//! SQLite's one write lock (`BEGIN IMMEDIATE`).
//!
//! Its own parts (the statements shared with PostgreSQL are in the files
//! of their concerns, one level up):
//! - [`orders`]: the one-statement create.
//! - [`intents`]: opening a reservation intent.
//! - [`releases`]: "is any reconciliation due?", answered by the create's
//!   statement too.
//! - [`migrations`]: the schema, kept current.

pub mod intents;
pub mod migrations;
pub mod orders;
pub mod releases;

use super::rows::Columns;
use super::sql::Param;
use crate::clock;
use crate::domain::money::Money;
use crate::orders::store::StoreError;
use spin_sdk::sqlite3::{Connection, QueryResult, RowResult, Value};
use std::time::{Duration, Instant};

/// How long a write waits for other writers in total before giving up.
const BUSY_BUDGET: Duration = Duration::from_secs(5);
/// SQLite's own wait per attempt (`busy_timeout`): inside the host, without
/// a round trip, its handler sleeps 1, 2, 5 and 2 ms, then the component
/// tries again. Left to itself the handler's sleeps grow to 25, 50 and
/// 100 ms, which miss the lock's release and starve the longest waiters.
/// 10 ms rather than 30 or 100: on real Spin the best tail of the three at
/// every concurrency measured (p99 about half at 8 connections), at a cost
/// in throughput at 32 in one run of three (bench/README.md, "Issue 21:
/// the floor").
const BUSY_SLICE_MS: u32 = 10;
/// Pause between two attempts, for SQLite servers that ignore `busy_timeout`.
const BUSY_PAUSE: Duration = Duration::from_millis(1);

/// The current time as stored: RFC 3339 UTC to the second, so text order
/// is time order.
pub(crate) const SQL_NOW: &str = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

/// [`SQL_NOW`] moved by a modifier bound as a parameter ([`seconds_from_now`]).
pub(crate) const SQL_NOW_PLUS: &str = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ?)";

/// The parameter for [`SQL_NOW_PLUS`]: `seconds` later (negative: earlier).
pub(crate) fn seconds_from_now(seconds: i64) -> Value {
    Value::Text(format!("{seconds:+} seconds"))
}

/// The `default` database, ready for use.
pub struct Db {
    conn: Connection,
    /// The schema version this connection migrated to, if it did.
    migrated_to: std::cell::Cell<Option<i64>>,
    /// Whether reconciliation is due, when a write already answered it
    /// (a new order's statement does): the follow-up's check then costs
    /// no statement.
    reconciliation_due_known: std::cell::Cell<Option<bool>>,
}

impl Db {
    /// Opens the database, sets this connection's durability settings and
    /// brings the schema up to date.
    pub async fn open() -> Result<Self, StoreError> {
        let store = Db {
            conn: Connection::open_default()?,
            migrated_to: Default::default(),
            reconciliation_due_known: Default::default(),
        };
        // Migrate under the host's busy timeout (5 s in Spin): racing first
        // requests then simply queue.
        store
            .migrated_to
            .set(migrations::ensure_current(&store).await?);
        // Then a short busy wait inside SQLite, which `retry_busy` repeats:
        // SQLite's handler sleeps 1…100 ms at a time and under load leaves
        // the write lock idle between writers and some waiters starving.
        // Best-effort: a remote SQLite (libSQL, hosted Spin) refuses it.
        //
        // Durability needs no statement: SQLite's default `synchronous` is
        // FULL, also in WAL mode (fsync on every commit), in Spin's and
        // spin-host's bundled SQLite alike; a spin-host test pins it.
        // Setting it again cost ~0.15 ms per request.
        let _ = store.exec(&format!("PRAGMA busy_timeout = {BUSY_SLICE_MS}"), &[]);
        Ok(store)
    }

    /// The schema version this connection brought the database to, when
    /// it applied migrations (the first request on a new database).
    pub fn take_migrated_to(&self) -> Option<i64> {
        self.migrated_to.take()
    }

    fn exec(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        Ok(self.conn.execute(sql, params)?)
    }

    /// Runs SQLite's text of a shared statement.
    pub(super) fn run(&self, sql: &str, params: &[Param<'_>]) -> Result<QueryResult, StoreError> {
        let values: Vec<Value> = params.iter().map(value).collect();
        self.exec(sql, &values)
    }

    /// [`Db::run`] for a write on its own, waiting for other writers.
    pub(super) async fn run_write(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<QueryResult, StoreError> {
        let values: Vec<Value> = params.iter().map(value).collect();
        self.write_statement(sql, &values).await
    }

    /// Runs `attempt` until it is not refused for a lock another writer
    /// holds (each attempt waits up to [`BUSY_SLICE_MS`] inside SQLite),
    /// for [`BUSY_BUDGET`] in all.
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

    /// One write statement on its own (SQLite makes it a transaction): one
    /// host call instead of three for `BEGIN … COMMIT` around it.
    async fn write_statement(
        &self,
        sql: &str,
        params: &[Value],
    ) -> Result<QueryResult, StoreError> {
        self.retry_busy(|| self.exec(sql, params)).await
    }

    /// Runs `work` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on error.
    /// IMMEDIATE takes the write lock up front, so two writers queue for it
    /// instead of deadlocking on a read-to-write upgrade.
    pub(super) async fn write_transaction<T>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.retry_busy(|| self.exec("BEGIN IMMEDIATE", &[]))
            .await?;
        match work(self).and_then(|value| self.exec("COMMIT", &[]).map(|_| value)) {
            Ok(value) => Ok(value),
            Err(error) => {
                // The transaction may already be gone (failed COMMIT); a
                // failing ROLLBACK then changes nothing.
                let _ = self.exec("ROLLBACK", &[]);
                Err(error)
            }
        }
    }
}

impl Columns for RowResult {
    fn int(&self, index: usize) -> Option<i64> {
        self.get(index)
    }

    fn text(&self, index: usize) -> Option<&str> {
        self.get(index)
    }

    fn flag(&self, index: usize) -> Option<bool> {
        self.get(index)
    }

    fn money(&self, index: usize) -> Option<Money> {
        self.get::<&str>(index).and_then(|t| Money::parse(t).ok())
    }

    /// Stored as shown ([`SQL_NOW`]).
    fn time(&self, index: usize) -> Option<String> {
        self.get::<&str>(index).map(str::to_owned)
    }
}

/// A shared statement's value as SQLite binds it.
fn value(param: &Param<'_>) -> Value {
    match param {
        Param::Int(value) => Value::Integer(*value),
        Param::Int32(value) => Value::Integer(i64::from(*value)),
        Param::Text(text) => Value::Text((*text).to_owned()),
        Param::OptInt(value) => value.map_or(Value::Null, Value::Integer),
        Param::OptText(text) => text.map_or(Value::Null, |t| Value::Text(t.to_owned())),
        // The service's own text: two places, as stored.
        Param::Money(money) => Value::Text(money.to_string()),
        Param::Seconds(seconds) => seconds_from_now(*seconds),
    }
}

/// Reads column `index` of the first row, if any.
fn first<'a, T: TryFrom<&'a Value>>(result: &'a QueryResult, index: usize) -> Option<T> {
    result.rows.first().and_then(|row| row.get(index))
}
