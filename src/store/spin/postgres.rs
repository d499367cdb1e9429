//! PostgreSQL through Spin's PostgreSQL API (`spin:postgres/postgres@4.0.0`;
//! Spin pools the connections): for several instances sharing one
//! database, and hosted Spin without SQLite. One pooled connection per
//! request, so `BEGIN … COMMIT` spans calls.

// The closures given to `call` return the SDK's own `PgError` (144 bytes),
// once per statement, straight into `errors::postgres`: boxing it first
// would buy nothing.
#![allow(clippy::result_large_err)]

use crate::store::connection::{Cell, Connection, Rows, Value};
use crate::store::{errors, Dialect, StoreError};
use spin_sdk::pg4::{self, DbValue, ParameterValue as P, PgError, RowSet};
use std::cell::{Cell as Flag, RefCell};

pub struct SpinPostgres {
    url: String,
    /// Replaced once by a fresh connection when the pooled one turns out
    /// to be closed (the server restarted since it was pooled).
    conn: RefCell<pg4::Connection>,
    /// Inside `BEGIN … COMMIT`: a lost connection lost the transaction, so
    /// a statement is not tried again on another.
    in_transaction: Flag<bool>,
}

impl SpinPostgres {
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let conn = pg4::Connection::open(url).map_err(errors::postgres)?;
        Ok(SpinPostgres {
            url: url.to_owned(),
            conn: RefCell::new(conn),
            in_transaction: Flag::new(false),
        })
    }

    /// Runs `statement` on this request's connection. A connection found
    /// closed outside a transaction (a pooled one, from before the server
    /// restarted) is replaced by a fresh one and the statement run once
    /// more.
    fn call<T>(
        &self,
        statement: impl Fn(&pg4::Connection) -> Result<T, PgError>,
    ) -> Result<T, StoreError> {
        match statement(&self.conn.borrow()) {
            Err(error) if errors::connection_lost(&error) && !self.in_transaction.get() => {
                let fresh = pg4::Connection::open(&self.url).map_err(errors::postgres)?;
                *self.conn.borrow_mut() = fresh;
                statement(&self.conn.borrow()).map_err(errors::postgres)
            }
            other => other.map_err(errors::postgres),
        }
    }

    fn send(
        &self,
        sql: &str,
        values: &[Value],
    ) -> Result<(Vec<String>, Vec<Vec<DbValue>>), StoreError> {
        let params = values.iter().map(bind).collect::<Result<Vec<_>, _>>()?;
        let RowSet { columns, rows } = self.call(|conn| conn.query(sql, &params))?;
        Ok((columns.into_iter().map(|c| c.name).collect(), rows))
    }

    fn control(&self, sql: &str) -> Result<(), StoreError> {
        self.call(|conn| conn.execute(sql, &[])).map(drop)
    }
}

impl Connection for SpinPostgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    /// Spin 4.1's `query` never returns when a statement yields no rows:
    /// the request hangs, holding its connection (and, inside a
    /// transaction, its locks). So the statement runs as a CTE, numbered in
    /// its own order, outer-joined to a single row; that row alone (no
    /// number) means "no rows". (Spin 3.6.3 answers such a statement; the
    /// wrapper costs it nothing but the server's work.)
    fn query(&self, sql: &str, values: &[Value]) -> Result<Rows, StoreError> {
        let wrapped = format!(
            "WITH q AS MATERIALIZED ({sql}), \
             n AS (SELECT row_number() OVER () AS row_number_, q.* FROM q) \
             SELECT n.* FROM (SELECT 1) AS one LEFT JOIN n ON true ORDER BY n.row_number_"
        );
        let (mut names, rows) = self.send(&wrapped, values)?;
        names.remove(0);
        let rows = rows
            .into_iter()
            .filter(|row| !matches!(row.first(), None | Some(DbValue::DbNull)))
            .map(|row| row.into_iter().skip(1).map(cell).collect())
            .collect();
        Ok(Rows::new(names, rows))
    }

    /// Sent as it is: PostgreSQL cannot nest a statement with
    /// data-modifying CTEs in [`Connection::query`]'s wrapper, so such a
    /// statement is written to answer one row itself.
    fn query_one_row(&self, sql: &str, values: &[Value]) -> Result<Rows, StoreError> {
        let (names, rows) = self.send(sql, values)?;
        let rows = rows
            .into_iter()
            .map(|row| row.into_iter().map(cell).collect())
            .collect();
        Ok(Rows::new(names, rows))
    }

    /// `execute` answers a count, never hangs: no wrapper needed.
    fn execute(&self, sql: &str, values: &[Value]) -> Result<(), StoreError> {
        let params = values.iter().map(bind).collect::<Result<Vec<_>, _>>()?;
        self.call(|conn| conn.execute(sql, &params)).map(drop)
    }

    fn begin(&self) -> Result<(), StoreError> {
        self.control("BEGIN")?;
        self.in_transaction.set(true);
        Ok(())
    }

    fn commit(&self) -> Result<(), StoreError> {
        let committed = self.control("COMMIT");
        self.in_transaction.set(false);
        committed
    }

    fn rollback(&self) {
        let _ = self.control("ROLLBACK");
        self.in_transaction.set(false);
    }
}

/// A value as Spin's PostgreSQL API binds it.
fn bind(value: &Value) -> Result<P, StoreError> {
    Ok(match value {
        Value::Bool(Some(b)) => P::Boolean(*b),
        Value::Int(Some(i)) => P::Int32(*i),
        Value::BigInt(Some(i)) => P::Int64(*i),
        // `LIMIT` counts.
        Value::BigUnsigned(Some(n)) => P::Int64(i64::try_from(*n).unwrap_or(i64::MAX)),
        Value::String(Some(text)) => P::Str(text.clone()),
        Value::Decimal(Some(amount)) => P::Decimal(amount.to_string()),
        Value::Bool(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::String(None)
        | Value::BigUnsigned(None)
        | Value::Decimal(None) => P::DbNull,
        _ => return Err(StoreError::Malformed("a value the store never binds")),
    })
}

/// A value as the store reads it. Times are `timestamp` (UTC, to the
/// second), shown as the API writes them; Spin refuses `timestamptz`
/// columns (docs/decisions.md, "PostgreSQL values through Spin").
fn cell(value: DbValue) -> Cell {
    match value {
        DbValue::DbNull => Cell::Null,
        DbValue::Boolean(b) => Cell::Bool(b),
        DbValue::Int8(i) => Cell::Int(i64::from(i)),
        DbValue::Int16(i) => Cell::Int(i64::from(i)),
        DbValue::Int32(i) => Cell::Int(i64::from(i)),
        DbValue::Int64(i) => Cell::Int(i),
        DbValue::Str(text) => Cell::Text(text),
        DbValue::Decimal(text) => Cell::Decimal(text),
        DbValue::Datetime((year, month, day, hour, minute, second, _)) => Cell::Time(format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"
        )),
        other => Cell::Text(format!("{other:?}")),
    }
}
