//! Spin's SQLite `default` database.

use crate::store::connection::{Cell, Connection, Rows, Value};
use crate::store::{errors, Dialect, StoreError};
use spin_sdk::sqlite3;

/// SQLite's own wait per attempt (`busy_timeout`): inside the host, without
/// a round trip, its handler sleeps 1, 2, 5 and 2 ms, then the store tries
/// again. Left to itself the handler's sleeps grow to 25, 50 and 100 ms,
/// which miss the lock's release and starve the longest waiters. 10 ms
/// rather than 30 or 100: on real Spin the best tail of the three at every
/// concurrency measured (p99 about half at 8 connections), at a cost in
/// throughput at 32 in one run of three (bench/README.md, "Issue 21: the
/// floor").
pub const BUSY_SLICE_MS: u32 = 10;

pub struct SpinSqlite {
    conn: sqlite3::Connection,
}

impl SpinSqlite {
    /// Opens the `default` database with a short busy wait inside SQLite,
    /// which the store repeats (`Store::retry_busy`). Best-effort: a
    /// remote SQLite (libSQL, hosted Spin) refuses the pragma.
    ///
    /// Durability needs no statement: SQLite's default `synchronous` is
    /// FULL, also in WAL mode (fsync on every commit), in Spin's and
    /// spin-host's bundled SQLite alike; a spin-host test pins it.
    pub fn open_default() -> Result<Self, StoreError> {
        let conn = sqlite3::Connection::open_default().map_err(errors::sqlite)?;
        let db = SpinSqlite { conn };
        let _ = db.exec(&format!("PRAGMA busy_timeout = {BUSY_SLICE_MS}"));
        Ok(db)
    }

    fn exec(&self, sql: &str) -> Result<sqlite3::QueryResult, StoreError> {
        self.conn.execute(sql, &[]).map_err(errors::sqlite)
    }
}

impl Connection for SpinSqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&self, sql: &str, values: &[Value]) -> Result<Rows, StoreError> {
        let params = values.iter().map(bind).collect::<Result<Vec<_>, _>>()?;
        let result = self.conn.execute(sql, &params).map_err(errors::sqlite)?;
        let rows = result
            .rows
            .into_iter()
            .map(|row| row.values.into_iter().map(cell).collect())
            .collect();
        Ok(Rows::new(result.columns, rows))
    }

    fn execute(&self, sql: &str, values: &[Value]) -> Result<(), StoreError> {
        let params = values.iter().map(bind).collect::<Result<Vec<_>, _>>()?;
        self.conn.execute(sql, &params).map_err(errors::sqlite)?;
        Ok(())
    }

    fn begin(&self) -> Result<(), StoreError> {
        self.exec("BEGIN IMMEDIATE").map(drop)
    }

    fn commit(&self) -> Result<(), StoreError> {
        self.exec("COMMIT").map(drop)
    }

    fn rollback(&self) {
        let _ = self.exec("ROLLBACK");
    }
}

/// A value as SQLite binds it: amounts as text with two places, as stored.
pub fn bind(value: &Value) -> Result<sqlite3::Value, StoreError> {
    Ok(match value {
        Value::Bool(Some(b)) => sqlite3::Value::Integer(i64::from(*b)),
        Value::Int(Some(i)) => sqlite3::Value::Integer(i64::from(*i)),
        Value::BigInt(Some(i)) => sqlite3::Value::Integer(*i),
        // `LIMIT` counts.
        Value::BigUnsigned(Some(n)) => {
            sqlite3::Value::Integer(i64::try_from(*n).unwrap_or(i64::MAX))
        }
        Value::String(Some(text)) => sqlite3::Value::Text(text.clone()),
        Value::Decimal(Some(amount)) => sqlite3::Value::Text(amount.to_string()),
        Value::Bool(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::String(None)
        | Value::BigUnsigned(None)
        | Value::Decimal(None) => sqlite3::Value::Null,
        _ => return Err(StoreError::Malformed("a value the store never binds")),
    })
}

fn cell(value: sqlite3::Value) -> Cell {
    match value {
        sqlite3::Value::Integer(i) => Cell::Int(i),
        sqlite3::Value::Text(text) => Cell::Text(text),
        sqlite3::Value::Null => Cell::Null,
        sqlite3::Value::Real(r) => Cell::Decimal(r.to_string()),
        sqlite3::Value::Blob(bytes) => Cell::Text(String::from_utf8_lossy(&bytes).into_owned()),
    }
}
