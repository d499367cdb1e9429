//! `spin:sqlite/sqlite@3.0.0` on rusqlite with the bundled SQLite, like
//! Spin's in-process implementation: one connection per `open`, statements
//! prepared (and cached) per connection, run on the blocking pool.

use crate::bindings::spin::sqlite::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::state::HostState;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use wasmtime::component::Resource;
use wasmtime::Result;

/// One open database connection, as handed to the component.
pub struct SqliteConnection {
    conn: Arc<Mutex<rusqlite::Connection>>,
}

impl sqlite::Host for HostState {}

impl sqlite::HostConnection for HostState {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Result<Resource<SqliteConnection>, Error>> {
        let Some(path) = self.app.sqlite_path(&self.component, &database) else {
            return Ok(Err(if self.app.sqlite_label_exists(&database) {
                Error::AccessDenied
            } else {
                Error::NoSuchDatabase
            }));
        };
        let opened = tokio::task::spawn_blocking(move || open(path)).await?;
        match opened {
            Ok(conn) => Ok(Ok(self.table.push(SqliteConnection {
                conn: Arc::new(Mutex::new(conn)),
            })?)),
            Err(error) => Ok(Err(Error::Io(error.to_string()))),
        }
    }

    async fn execute(
        &mut self,
        connection: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<Result<QueryResult, Error>> {
        let conn = self.table.get(&connection)?.conn.clone();
        Ok(tokio::task::spawn_blocking(move || {
            let conn = conn.lock().expect("sqlite connection mutex poisoned");
            query(&conn, &statement, parameters).map_err(|e| Error::Io(e.to_string()))
        })
        .await?)
    }

    async fn last_insert_rowid(&mut self, connection: Resource<SqliteConnection>) -> Result<i64> {
        let conn = self.table.get(&connection)?.conn.clone();
        let rowid = conn
            .lock()
            .expect("sqlite connection mutex poisoned")
            .last_insert_rowid();
        Ok(rowid)
    }

    async fn changes(&mut self, connection: Resource<SqliteConnection>) -> Result<u64> {
        let conn = self.table.get(&connection)?.conn.clone();
        let changes = conn
            .lock()
            .expect("sqlite connection mutex poisoned")
            .changes();
        Ok(changes)
    }

    async fn drop(&mut self, connection: Resource<SqliteConnection>) -> Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

fn open(path: PathBuf) -> rusqlite::Result<rusqlite::Connection> {
    // rusqlite sets a 5 s busy timeout on open, as in Spin.
    rusqlite::Connection::open(path)
}

fn query(
    conn: &rusqlite::Connection,
    sql: &str,
    parameters: Vec<Value>,
) -> rusqlite::Result<QueryResult> {
    let mut statement = conn.prepare_cached(sql)?;
    let columns: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let params = parameters.into_iter().map(|value| match value {
        Value::Integer(i) => rusqlite::types::Value::Integer(i),
        Value::Real(r) => rusqlite::types::Value::Real(r),
        Value::Text(t) => rusqlite::types::Value::Text(t),
        Value::Blob(b) => rusqlite::types::Value::Blob(b),
        Value::Null => rusqlite::types::Value::Null,
    });
    let mut rows = statement.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..columns.len())
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(i) => Value::Integer(i),
                    rusqlite::types::ValueRef::Real(r) => Value::Real(r),
                    rusqlite::types::ValueRef::Text(t) => {
                        Value::Text(String::from_utf8_lossy(t).into_owned())
                    }
                    rusqlite::types::ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                })
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Order Service relies on this default for durability (an
    /// acknowledged order survives power loss) instead of setting it on
    /// every connection: Spin's bundled SQLite has the same default.
    #[test]
    fn connections_fsync_every_commit_also_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(dir.path().join("db.sqlite3")).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let reopened = open(dir.path().join("db.sqlite3")).unwrap();
        let synchronous: i64 = reopened
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
    }
}
