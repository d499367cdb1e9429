//! The seam's native connections: rusqlite on a real SQLite file (SQLite
//! bundled, as Spin's is), and the `postgres` crate on the run's PostgreSQL
//! server (tokio-postgres underneath, as Spin's factor). They bind values,
//! read cells and classify errors as the component's Spin connections do
//! (`src/store/spin`), so the store above them runs unchanged.

use order_service::store::connection::{Cell, Connection, Rows, Value};
use order_service::store::{DatabaseError, Dialect, StoreError};
use postgres::types::{FromSql, IsNull, ToSql, Type};
use std::cell::RefCell;

pub struct NativeSqlite {
    conn: rusqlite::Connection,
}

impl NativeSqlite {
    /// The database at `path`, with the component's short busy wait.
    pub fn open(path: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.busy_timeout(std::time::Duration::from_millis(10))
            .unwrap();
        NativeSqlite { conn }
    }
}

fn sqlite_failure(error: rusqlite::Error) -> StoreError {
    let detail = error.to_string();
    if matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    ) {
        return StoreError::Busy;
    }
    let failure = DatabaseError {
        database: "SQLite",
        detail: detail.clone(),
    };
    if detail.contains("no such table") || detail.contains("no such column") {
        StoreError::SchemaBehind(failure)
    } else {
        StoreError::Refused(failure)
    }
}

fn sqlite_value(value: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match value {
        Value::Bool(Some(b)) => V::Integer(i64::from(*b)),
        Value::Int(Some(i)) => V::Integer(i64::from(*i)),
        Value::BigInt(Some(i)) => V::Integer(*i),
        Value::BigUnsigned(Some(n)) => V::Integer(i64::try_from(*n).unwrap()),
        Value::String(Some(text)) => V::Text(text.clone()),
        Value::Decimal(Some(amount)) => V::Text(amount.to_string()),
        Value::Bool(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::BigUnsigned(None)
        | Value::String(None)
        | Value::Decimal(None) => V::Null,
        other => panic!("the store never binds {other:?}"),
    }
}

impl Connection for NativeSqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&self, sql: &str, values: &[Value]) -> Result<Rows, StoreError> {
        let mut statement = self.conn.prepare(sql).map_err(sqlite_failure)?;
        let columns: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let params: Vec<_> = values.iter().map(sqlite_value).collect();
        let width = columns.len();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(sqlite_failure)?;
        let mut answer = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_failure)? {
            let cells = (0..width)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => Cell::Null,
                    rusqlite::types::ValueRef::Integer(n) => Cell::Int(n),
                    rusqlite::types::ValueRef::Real(r) => Cell::Decimal(r.to_string()),
                    rusqlite::types::ValueRef::Text(t) => {
                        Cell::Text(String::from_utf8_lossy(t).into_owned())
                    }
                    rusqlite::types::ValueRef::Blob(b) => {
                        Cell::Text(String::from_utf8_lossy(b).into_owned())
                    }
                })
                .collect();
            answer.push(cells);
        }
        Ok(Rows::new(columns, answer))
    }

    fn execute(&self, sql: &str, values: &[Value]) -> Result<(), StoreError> {
        self.query(sql, values).map(drop)
    }

    fn begin(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(sqlite_failure)
    }

    fn commit(&self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT").map_err(sqlite_failure)
    }

    fn rollback(&self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}

pub struct NativePostgres {
    client: RefCell<postgres::Client>,
}

impl NativePostgres {
    pub fn connect(url: &str) -> Self {
        let client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        NativePostgres {
            client: RefCell::new(client),
        }
    }
}

fn postgres_failure(error: postgres::Error) -> StoreError {
    let failure = DatabaseError {
        database: "PostgreSQL",
        detail: format!("{error:?}"),
    };
    match error.code().map(|code| code.code()) {
        Some("23505" | "40001" | "40P01") => StoreError::Raced(failure),
        Some("42P01" | "42703") => StoreError::SchemaBehind(failure),
        Some(code) if ["08", "53", "57", "58"].iter().any(|c| code.starts_with(c)) => {
            StoreError::Unavailable(failure)
        }
        None if error.is_closed() => StoreError::Unavailable(failure),
        _ => StoreError::Refused(failure),
    }
}

/// NULL of whatever type the statement says, as Spin binds `db-null`.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A value as Spin's PostgreSQL API binds it: each type to its own (an
/// `i64` to `bigint` only, a string to text only).
fn postgres_value(value: &Value) -> Box<dyn ToSql + Sync> {
    match value {
        Value::Bool(Some(b)) => Box::new(*b),
        Value::Int(Some(i)) => Box::new(*i),
        Value::BigInt(Some(i)) => Box::new(*i),
        Value::BigUnsigned(Some(n)) => Box::new(i64::try_from(*n).unwrap()),
        Value::String(Some(text)) => Box::new(text.clone()),
        Value::Decimal(Some(amount)) => Box::new(*amount),
        Value::Bool(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::BigUnsigned(None)
        | Value::String(None)
        | Value::Decimal(None) => Box::new(Null),
        other => panic!("the store never binds {other:?}"),
    }
}

/// A value read as Spin's PostgreSQL API reads it: `timestamp` as a date
/// and time (formatted as the API shows it), `numeric` as text; a type Spin
/// refuses (`timestamptz`, say) is refused here too.
struct PgCell(Cell);

impl<'a> FromSql<'a> for PgCell {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgCell(match *ty {
            Type::BOOL => Cell::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Cell::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Cell::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Cell::Int(i64::from_sql(ty, raw)?),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                Cell::Text(String::from_sql(ty, raw)?)
            }
            Type::NUMERIC => Cell::Decimal(rust_decimal::Decimal::from_sql(ty, raw)?.to_string()),
            Type::TIMESTAMP => Cell::Time(
                chrono::NaiveDateTime::from_sql(ty, raw)?
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            ),
            ref other => return Err(format!("Spin reads no {other} column").into()),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(PgCell(Cell::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

impl Connection for NativePostgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&self, sql: &str, values: &[Value]) -> Result<Rows, StoreError> {
        let params: Vec<Box<dyn ToSql + Sync>> = values.iter().map(postgres_value).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        let mut client = self.client.borrow_mut();
        let statement = client.prepare(sql).map_err(postgres_failure)?;
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let rows = client
            .query(&statement, &refs)
            .map_err(postgres_failure)?
            .iter()
            .map(|row| {
                (0..columns.len())
                    .map(|i| row.try_get::<_, PgCell>(i).map(|cell| cell.0))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(postgres_failure)?;
        Ok(Rows::new(columns, rows))
    }

    fn execute(&self, sql: &str, values: &[Value]) -> Result<(), StoreError> {
        let params: Vec<Box<dyn ToSql + Sync>> = values.iter().map(postgres_value).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        self.client
            .borrow_mut()
            .execute(sql, &refs)
            .map(drop)
            .map_err(postgres_failure)
    }

    fn begin(&self) -> Result<(), StoreError> {
        self.client
            .borrow_mut()
            .batch_execute("BEGIN")
            .map_err(postgres_failure)
    }

    fn commit(&self) -> Result<(), StoreError> {
        self.client
            .borrow_mut()
            .batch_execute("COMMIT")
            .map_err(postgres_failure)
    }

    fn rollback(&self) {
        let _ = self.client.borrow_mut().batch_execute("ROLLBACK");
    }
}
