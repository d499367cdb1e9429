//! `spin:sqlite/sqlite@3.0.0` on rusqlite with the bundled SQLite, like
//! Spin's in-process implementation (`crates/sqlite-inproc`,
//! `crates/factor-sqlite`): a label the component was not granted is
//! `AccessDenied` (checked before `NoSuchDatabase`); one connection per
//! `open`, opened lazily on the first statement; at most 256 open
//! connections per instance; only the first statement of a string runs;
//! results capped at 128 MiB; statements prepared (and cached) per
//! connection and run on the blocking pool.

use crate::bindings::spin::sqlite::sqlite::{self, Error, QueryResult, RowResult, Value};
use crate::resources::SqliteConnection;
use crate::runtime_config::SqliteLocation;
use crate::state::{AppState, HostState};
use crate::telemetry;
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::component::Resource;
use wasmtime::Result;

/// Open connections one instance may hold (Spin's resource table size).
pub const MAX_CONNECTIONS: usize = 256;
/// Largest query result handed to a component (Spin's
/// `MAX_HOST_BUFFERED_BYTES`).
const MAX_RESULT_BYTES: usize = 128 << 20;

impl SqliteConnection {
    fn connection(&self) -> Result<Arc<Mutex<rusqlite::Connection>>, Error> {
        if let Some(conn) = self.conn.get() {
            return Ok(conn.clone());
        }
        let opened = match &self.location {
            SqliteLocation::File(path) => rusqlite::Connection::open(path),
            SqliteLocation::InMemory => rusqlite::Connection::open_in_memory(),
        }
        .map_err(|e| Error::Io(e.to_string()))?;
        Ok(self
            .conn
            .get_or_init(|| Arc::new(Mutex::new(opened)))
            .clone())
    }
}

impl sqlite::Host for HostState {}

impl sqlite::HostConnection for HostState {
    #[tracing::instrument(name = "spin_sqlite.open", skip(self), fields(otel.kind = "client",
        db.system.name = "sqlite", sqlite.backend = tracing::field::Empty))]
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Result<Resource<SqliteConnection>, Error>> {
        let opened = self.open_sqlite(&database);
        telemetry::record_error(&opened);
        opened
    }

    #[tracing::instrument(name = "spin_sqlite.execute", skip(self, connection, statement, parameters),
        fields(otel.kind = "client", db.system.name = "sqlite", query = %statement,
        sqlite.backend = tracing::field::Empty))]
    async fn execute(
        &mut self,
        connection: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<Result<QueryResult, Error>> {
        let result = self.run_statement(connection, statement, parameters).await;
        telemetry::record_error(&result);
        result
    }

    async fn last_insert_rowid(&mut self, connection: Resource<SqliteConnection>) -> Result<i64> {
        let conn = self
            .table
            .get(&connection)?
            .connection()
            .map_err(|e| wasmtime::Error::msg(format!("{e:?}")))?;
        let rowid = conn
            .lock()
            .expect("sqlite connection mutex poisoned")
            .last_insert_rowid();
        Ok(rowid)
    }

    async fn changes(&mut self, connection: Resource<SqliteConnection>) -> Result<u64> {
        let conn = self
            .table
            .get(&connection)?
            .connection()
            .map_err(|e| wasmtime::Error::msg(format!("{e:?}")))?;
        let changes = conn
            .lock()
            .expect("sqlite connection mutex poisoned")
            .changes();
        Ok(changes)
    }

    async fn drop(&mut self, connection: Resource<SqliteConnection>) -> Result<()> {
        self.table.delete(connection)?;
        self.sqlite_connections = self.sqlite_connections.saturating_sub(1);
        Ok(())
    }
}

impl HostState {
    fn open_sqlite(&mut self, database: &str) -> Result<Result<Resource<SqliteConnection>, Error>> {
        let location =
            match database_location(&self.app, &self.component, database).and_then(|location| {
                reserve_connection(&mut self.sqlite_connections).map(|()| location)
            }) {
                Ok(location) => location,
                Err(error) => return Ok(Err(error)),
            };
        tracing::Span::current().record("sqlite.backend", location.summary());
        Ok(Ok(self.table.push(SqliteConnection {
            location,
            conn: OnceLock::new(),
            refused_pragmas: self.app.refused_pragmas.clone(),
        })?))
    }

    async fn run_statement(
        &mut self,
        connection: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> Result<Result<QueryResult, Error>> {
        let handle = self.table.get(&connection)?;
        tracing::Span::current().record("sqlite.backend", handle.location.summary());
        if let Some(pragma) = refused_pragma(&statement, &handle.refused_pragmas) {
            return Ok(Err(Error::Io(format!(
                "SQL not allowed: PRAGMA {pragma} is not supported by this database"
            ))));
        }
        let conn = match handle.connection() {
            Ok(conn) => conn,
            Err(error) => return Ok(Err(error)),
        };
        Ok(tokio::task::spawn_blocking(move || {
            let conn = conn.lock().expect("sqlite connection mutex poisoned");
            query(&conn, &statement, parameters).map_err(|e| Error::Io(e.to_string()))
        })
        .await?)
    }
}

/// Where `label` lives, if `component` may open it: not granted is
/// `AccessDenied` whether or not the label exists, as in Spin.
fn database_location(
    app: &AppState,
    component: &str,
    label: &str,
) -> Result<SqliteLocation, Error> {
    if !app.sqlite_granted(component, label) {
        return Err(Error::AccessDenied);
    }
    app.sqlite.get(label).cloned().ok_or(Error::NoSuchDatabase)
}

/// Counts one more open connection, refusing past [`MAX_CONNECTIONS`].
fn reserve_connection(open: &mut usize) -> Result<(), Error> {
    if *open >= MAX_CONNECTIONS {
        return Err(Error::Io("too many connections opened".into()));
    }
    *open += 1;
    Ok(())
}

/// The pragma `statement` sets or reads, if this host refuses it.
fn refused_pragma<'a>(statement: &str, refused: &'a [String]) -> Option<&'a str> {
    let rest = statement.trim_start();
    let rest = rest
        .get(..6)
        .filter(|word| word.eq_ignore_ascii_case("pragma"))
        .map(|_| rest[6..].trim_start())?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    refused
        .iter()
        .find(|r| r.eq_ignore_ascii_case(&name))
        .map(String::as_str)
}

/// `SPIN_HOST_LOG_TIMING=1`: log how long each statement took to prepare.
/// A connection lives for one request (Spin's model), so every request
/// compiles its statements again, and its first one parses the schema too;
/// bench/report.py sums these per statement.
fn log_prepare() -> bool {
    static LOG: OnceLock<bool> = OnceLock::new();
    *LOG.get_or_init(|| std::env::var_os("SPIN_HOST_LOG_TIMING").is_some_and(|v| v == "1"))
}

/// CPU time this thread has used, in µs: unlike the wall clock, not
/// stretched by the other threads of a loaded machine.
fn thread_cpu_us() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    (now.tv_sec as u64) * 1_000_000 + (now.tv_nsec as u64) / 1_000
}

/// What names a statement in that log: its first three words (never its
/// parameters, which are bound apart from the text).
fn statement_head(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The first statement of `sql`: Spin's in-process SQLite prepares the
/// string once and runs what it prepared, ignoring anything after the first
/// complete statement (rusqlite of this version would refuse the string).
fn first_statement(sql: &str) -> &str {
    let mut end = 0;
    while let Some(offset) = sql[end..].find(';') {
        end += offset + 1;
        let candidate = &sql[..end];
        let complete = std::ffi::CString::new(candidate)
            .map(|c| unsafe { rusqlite::ffi::sqlite3_complete(c.as_ptr()) } != 0)
            .unwrap_or(false);
        if complete {
            return candidate;
        }
    }
    sql
}

fn query(
    conn: &rusqlite::Connection,
    sql: &str,
    parameters: Vec<Value>,
) -> rusqlite::Result<QueryResult> {
    let started = log_prepare().then(thread_cpu_us);
    let mut statement = conn.prepare_cached(first_statement(sql))?;
    if let Some(started) = started {
        eprintln!(
            "{{\"spin_host\":\"sqlite_prepare\",\"cpu_us\":{},\"statement\":{}}}",
            thread_cpu_us().saturating_sub(started),
            serde_json::Value::from(statement_head(sql))
        );
    }
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
    let mut bytes = 0;
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
        bytes += values.iter().map(value_size).sum::<usize>();
        if bytes > MAX_RESULT_BYTES {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!("query result exceeds limit of {MAX_RESULT_BYTES} bytes").into(),
            ));
        }
        out.push(RowResult { values });
    }
    Ok(QueryResult { columns, rows: out })
}

/// Bytes a value takes, as Spin counts them against its result cap.
fn value_size(value: &Value) -> usize {
    match value {
        Value::Text(t) => t.len(),
        Value::Blob(b) => b.len(),
        _ => 8,
    }
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
        let conn = rusqlite::Connection::open(dir.path().join("db.sqlite3")).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let reopened = rusqlite::Connection::open(dir.path().join("db.sqlite3")).unwrap();
        let synchronous: i64 = reopened
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2, "FULL");
    }

    #[test]
    fn only_the_first_statement_of_a_string_runs() {
        assert_eq!(first_statement("SELECT 1; SELECT 2;"), "SELECT 1;");
        assert_eq!(
            first_statement("INSERT INTO t VALUES ('a;b'); DROP TABLE t"),
            "INSERT INTO t VALUES ('a;b');"
        );
        assert_eq!(first_statement("SELECT 1"), "SELECT 1");
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT)").unwrap();
        query(
            &conn,
            "INSERT INTO t VALUES ('one'); INSERT INTO t VALUES ('two')",
            vec![],
        )
        .unwrap();
        let rows = query(&conn, "SELECT x FROM t", vec![]).unwrap();
        assert_eq!(rows.rows.len(), 1);
    }

    #[test]
    fn refused_pragmas_are_recognised_in_any_case_and_spacing() {
        let refused = vec!["journal_mode".to_owned(), "busy_timeout".to_owned()];
        assert_eq!(
            refused_pragma("  pragma  JOURNAL_MODE = WAL", &refused),
            Some("journal_mode")
        );
        assert_eq!(
            refused_pragma("PRAGMA busy_timeout = 100", &refused),
            Some("busy_timeout")
        );
        assert_eq!(refused_pragma("PRAGMA user_version", &refused), None);
        assert_eq!(
            refused_pragma("SELECT 'PRAGMA journal_mode'", &refused),
            None
        );
    }

    fn app(granted: &[&str], defined: &[(&str, SqliteLocation)]) -> AppState {
        let component = crate::state::ComponentConfig {
            variables: Default::default(),
            allowed_hosts: Default::default(),
            sqlite_databases: granted.iter().map(|l| (*l).to_owned()).collect(),
        };
        AppState {
            components: [("c".to_owned(), component)].into(),
            sqlite: defined
                .iter()
                .map(|(l, loc)| ((*l).to_owned(), loc.clone()))
                .collect(),
            refused_pragmas: Default::default(),
            http_client: crate::outbound::shared_client(),
            pg_pools: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_label_not_granted_is_access_denied_even_when_undefined() {
        let app = app(&["default"], &[("default", SqliteLocation::InMemory)]);
        assert!(matches!(
            database_location(&app, "c", "other"),
            Err(Error::AccessDenied)
        ));
        let granted_but_undefined = self::app(&["other"], &[]);
        assert!(matches!(
            database_location(&granted_but_undefined, "c", "other"),
            Err(Error::NoSuchDatabase)
        ));
        assert_eq!(
            database_location(&app, "c", "default").unwrap(),
            SqliteLocation::InMemory
        );
    }

    #[test]
    fn an_instance_holds_at_most_256_connections() {
        let mut open = 0;
        for _ in 0..MAX_CONNECTIONS {
            reserve_connection(&mut open).unwrap();
        }
        assert!(matches!(reserve_connection(&mut open), Err(Error::Io(_))));
        assert_eq!(open, 256);
    }

    #[test]
    fn a_connection_opens_its_file_on_the_first_statement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lazy.db");
        let handle = SqliteConnection {
            location: SqliteLocation::File(path.clone()),
            conn: OnceLock::new(),
            refused_pragmas: Default::default(),
        };
        assert!(!path.exists(), "open alone touches nothing");
        let conn = handle.connection().unwrap();
        query(&conn.lock().unwrap(), "CREATE TABLE t (x)", vec![]).unwrap();
        assert!(path.exists());
    }

    #[test]
    fn in_memory_connections_each_start_empty() {
        let handle = |_| SqliteConnection {
            location: SqliteLocation::InMemory,
            conn: OnceLock::new(),
            refused_pragmas: Default::default(),
        };
        let first = handle(1).connection().unwrap();
        query(&first.lock().unwrap(), "CREATE TABLE t (x)", vec![]).unwrap();
        let second = handle(2).connection().unwrap();
        assert!(query(&second.lock().unwrap(), "SELECT * FROM t", vec![]).is_err());
    }
}
