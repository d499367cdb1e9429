//! All SQL lives here: one SQLite connection per request (Spin's model),
//! parameterised statements only, schema kept current by [`migrations`].

mod migrations;
pub mod orders;
pub mod releases;

use spin_sdk::sqlite3::{Connection, Error as SqliteError, QueryResult, Value};

/// How long a statement waits for another writer before giving up.
const BUSY_TIMEOUT_MS: u32 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer held the database for longer than the busy timeout.
    #[error("database busy")]
    Busy,
    #[error("database error: {0}")]
    Failed(String),
}

impl From<SqliteError> for StoreError {
    fn from(error: SqliteError) -> Self {
        let text = match error {
            SqliteError::Io(text) => text,
            other => format!("{other:?}"),
        };
        if text.contains("database is locked") || text.contains("database is busy") {
            StoreError::Busy
        } else {
            StoreError::Failed(text)
        }
    }
}

/// The `default` database, ready for use.
pub struct Store {
    conn: Connection,
    migrated_now: bool,
}

impl Store {
    /// Opens the database, sets this connection's durability settings and
    /// brings the schema up to date.
    pub fn open() -> Result<Self, StoreError> {
        let mut store = Store {
            conn: Connection::open_default()?,
            migrated_now: false,
        };
        // Per-connection settings: wait for other writers instead of failing
        // at once, and fsync the WAL on every commit so an acknowledged order
        // survives power loss. Best-effort: a remote SQLite (libSQL, hosted
        // Spin) manages both itself and may refuse the pragmas.
        let _ = store.exec(&format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}"), &[]);
        let _ = store.exec("PRAGMA synchronous = FULL", &[]);
        store.migrated_now = migrations::ensure_current(&store)?;
        Ok(store)
    }

    /// Whether this connection applied migrations (the first request on a
    /// new database).
    pub fn migrated_now(&self) -> bool {
        self.migrated_now
    }

    fn exec(&self, sql: &str, params: &[Value]) -> Result<QueryResult, StoreError> {
        Ok(self.conn.execute(sql, params)?)
    }

    /// Runs `work` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on error.
    /// IMMEDIATE takes the write lock up front, so two writers queue on the
    /// busy timeout instead of deadlocking on a read-to-write upgrade.
    fn write_transaction<T>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.exec("BEGIN IMMEDIATE", &[])?;
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

/// Reads column `index` of the first row, if any.
fn first<'a, T: TryFrom<&'a Value>>(result: &'a QueryResult, index: usize) -> Option<T> {
    result.rows.first().and_then(|row| row.get(index))
}
