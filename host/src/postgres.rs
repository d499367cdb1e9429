//! `spin:postgres/postgres@4.0.0` as Spin's `crates/factor-outbound-pg`
//! implements it: the address must be allowed by the component's
//! `allowed_outbound_hosts` (`postgres://host:port`, checked for every host
//! of the connection string); a connection is a client taken from a
//! deadpool pool kept per address (64 connections, `Clean` recycling) and
//! held until the component drops it, so a transaction can span calls;
//! errors are the same variants (`connection-failed`, `bad-parameter`,
//! `query-failed` with the server's structured error, …); values map as
//! Spin maps them (`types.rs`: the same Rust type read or bound for each
//! PostgreSQL type, so what Spin refuses fails here too; tests/api/pg_types
//! checks both runtimes against one table). Not implemented, as this
//! project uses neither: TLS connections and range types (refused).

// The error type is the WIT's, carrying the server's structured error (as
// in Spin's factor-outbound-pg, which allows this lint too).
#![allow(clippy::result_large_err)]

use crate::bindings::spin::postgres::postgres::{
    self as pg, Column, DbDataType, DbError, DbValue, Error, ParameterValue, QueryError, RowSet,
};
use crate::outbound::AllowedHost;
use crate::resources::{PgConnection, PgPools};
use crate::state::HostState;
use crate::telemetry;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tracing::field::Empty;
use wasmtime::component::Resource;
use wasmtime::Result;

/// Max connections in one address's pool (Spin's `CONNECTION_POOL_SIZE`).
const POOL_SIZE: usize = 64;

impl PgPools {
    fn pool(&self, address: &str) -> Result<deadpool_postgres::Pool, String> {
        let mut pools = self.0.lock().expect("pool map poisoned");
        if let Some(pool) = pools.get(address) {
            return Ok(pool.clone());
        }
        let config: tokio_postgres::Config = address.parse().map_err(|e| format!("{e:?}"))?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Clean,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| format!("building Postgres connection pool: {e:?}"))?;
        pools.insert(address.to_owned(), pool.clone());
        Ok(pool)
    }
}

impl pg::Host for HostState {}

impl pg::HostConnection for HostState {
    #[tracing::instrument(name = "spin_outbound_pg.open", skip(self, address), fields(
        otel.kind = "client", db.system.name = "postgresql", server.address = Empty,
        server.port = Empty, db.namespace = Empty))]
    async fn open(&mut self, address: String) -> Result<Result<Resource<PgConnection>, Error>> {
        record_address_fields(&address);
        let opened = self.open_postgres(address).await;
        record_pg_error(&opened);
        opened
    }

    #[tracing::instrument(name = "spin_outbound_pg.query", skip(self, connection, params),
        fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn query(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<Result<RowSet, Error>> {
        let rows = self.run_query(connection, statement, params).await;
        record_pg_error(&rows);
        rows
    }

    #[tracing::instrument(name = "spin_outbound_pg.execute", skip(self, connection, params),
        fields(otel.kind = "client", db.system.name = "postgresql"))]
    async fn execute(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<Result<u64, Error>> {
        let changed = self.run_execute(connection, statement, params).await;
        record_pg_error(&changed);
        changed
    }

    async fn drop(&mut self, connection: Resource<PgConnection>) -> Result<()> {
        // Back to the pool, which recycles it before the next use.
        self.table.delete(connection)?;
        Ok(())
    }
}

/// What Spin's spans say of a failed call: an `error` event, the status,
/// and whose fault it was (`mark_as_error` with its blame).
fn record_pg_error<T>(result: &Result<Result<T, Error>>) {
    telemetry::record_error(result);
    if let Ok(Err(error)) = result {
        let blame = match error {
            Error::ConnectionFailed(_) | Error::BadParameter(_) | Error::QueryFailed(_) => "guest",
            _ => "host",
        };
        telemetry::blame(blame, error);
    }
}

/// `server.address`, `server.port` (0 when not given) and `db.namespace`
/// (the database) of the span, from the connection URL (Spin's
/// `record_address_fields`).
fn record_address_fields(address: &str) {
    if let Ok(url) = url::Url::parse(address) {
        let span = tracing::Span::current();
        span.record("server.address", url.host_str().unwrap_or_default());
        span.record("server.port", url.port().unwrap_or(0));
        span.record("db.namespace", url.path().trim_start_matches('/'));
    }
}

impl HostState {
    async fn open_postgres(
        &mut self,
        address: String,
    ) -> Result<Result<Resource<PgConnection>, Error>> {
        if let Err(error) = check_allowed(&address, &self.outbound.allowed) {
            return Ok(Err(error));
        }
        let pool = match self.app.pg_pools.pool(&address) {
            Ok(pool) => pool,
            Err(message) => return Ok(Err(Error::ConnectionFailed(message))),
        };
        match pool.get().await {
            Ok(client) => Ok(Ok(self.table.push(PgConnection { client })?)),
            Err(error) => Ok(Err(Error::ConnectionFailed(format!("{error:?}")))),
        }
    }

    async fn run_query(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<Result<RowSet, Error>> {
        let client = &self.table.get(&connection)?.client;
        let params = match to_sql_parameters(&params) {
            Ok(params) => params,
            Err(error) => return Ok(Err(error)),
        };
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        let rows = match client.query(&statement, &refs).await {
            Ok(rows) => rows,
            Err(error) => return Ok(Err(query_failed(error))),
        };
        let Some(first) = rows.first() else {
            // Spin 4.1's `query` never answers a statement that yields no
            // rows (the request hangs holding its connection; Spin 3 answers
            // an empty set). spin-host fails it at once instead, so a test
            // on spin-host fails where Spin would hang (docs/decisions.md).
            eprintln!("spin-host: a PostgreSQL query returned no rows, which Spin 4.1 never answers: {statement}");
            return Ok(Err(Error::Other(
                "spin-host: the query returned no rows; Spin 4.1 never answers such a query".into(),
            )));
        };
        let columns = first
            .columns()
            .iter()
            .map(|c| Column {
                name: c.name().to_owned(),
                data_type: data_type(c.type_()),
            })
            .collect();
        let converted: Result<Vec<Vec<DbValue>>, String> = rows
            .iter()
            .map(|row| (0..row.len()).map(|i| db_value(row, i)).collect())
            .collect();
        Ok(match converted {
            Ok(rows) => Ok(RowSet { columns, rows }),
            Err(message) => Err(Error::QueryFailed(QueryError::Text(message))),
        })
    }

    async fn run_execute(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<Result<u64, Error>> {
        let client = &self.table.get(&connection)?.client;
        // Spin's `execute` reports a parameter it cannot convert as
        // `value-conversion-failed` (`query` says `bad-parameter`).
        let params = match to_sql_parameters(&params) {
            Ok(params) => params,
            Err(Error::BadParameter(message)) => {
                return Ok(Err(Error::ValueConversionFailed(message)))
            }
            Err(error) => return Ok(Err(error)),
        };
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        Ok(client
            .execute(&statement, &refs)
            .await
            .map_err(query_failed))
    }
}

/// Every host of the connection string must be allowed as
/// `postgres://host:port` (the port may be left to the allow-list's).
fn check_allowed(address: &str, allowed: &[AllowedHost]) -> Result<(), Error> {
    let config: tokio_postgres::Config = address
        .parse()
        .map_err(|e: tokio_postgres::Error| Error::ConnectionFailed(e.to_string()))?;
    let ports = config.get_ports();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let tokio_postgres::config::Host::Tcp(name) = host else {
            return Err(Error::ConnectionFailed(
                "Unix sockets are not supported on WebAssembly".into(),
            ));
        };
        let port = ports
            .get(i)
            .or(if ports.len() == 1 {
                ports.first()
            } else {
                None
            })
            .copied()
            .unwrap_or(5432);
        if !allowed
            .iter()
            .any(|a| a.allows_address("postgres", name, port))
        {
            crate::outbound::warn_disallowed(&format!("postgres://{name}:{port}"));
            return Err(Error::ConnectionFailed(format!(
                "address postgres://{name}:{port} is not permitted"
            )));
        }
    }
    Ok(())
}

fn query_failed(error: tokio_postgres::Error) -> Error {
    let flattened = format!("{error:?}");
    Error::QueryFailed(match error.as_db_error() {
        None => QueryError::Text(flattened),
        Some(db) => QueryError::DbError(DbError {
            as_text: flattened,
            severity: db.severity().to_owned(),
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
            extras: Vec::new(),
        }),
    })
}

fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        _ => DbDataType::Other(ty.name().to_owned()),
    }
}

/// One column's value as Spin's `types::convert_entry` makes it: the same
/// Rust type read for each PostgreSQL type, so what Spin cannot read fails
/// here too. Notably a `timestamptz` is read as a `NaiveDateTime`, which
/// tokio-postgres refuses ("cannot convert between the Rust type
/// `Option<NaiveDateTime>` and the Postgres type `timestamptz`"), and so
/// is an infinite `timestamp`.
fn db_value(row: &tokio_postgres::Row, index: usize) -> Result<DbValue, String> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a tokio_postgres::Row,
        index: usize,
    ) -> Result<Option<T>, String> {
        row.try_get(index).map_err(|e| e.to_string())
    }
    let ty = row.columns()[index].type_().clone();
    let value = match ty {
        Type::BOOL => get::<bool>(row, index)?.map(DbValue::Boolean),
        Type::BYTEA => get::<Vec<u8>>(row, index)?.map(DbValue::Binary),
        Type::FLOAT4 => get::<f32>(row, index)?.map(DbValue::Floating32),
        Type::FLOAT8 => get::<f64>(row, index)?.map(DbValue::Floating64),
        Type::INT2 => get::<i16>(row, index)?.map(DbValue::Int16),
        Type::INT4 => get::<i32>(row, index)?.map(DbValue::Int32),
        Type::INT8 => get::<i64>(row, index)?.map(DbValue::Int64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => get::<String>(row, index)?.map(DbValue::Str),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            get::<chrono::NaiveDateTime>(row, index)?.map(datetime)
        }
        Type::DATE => get::<chrono::NaiveDate>(row, index)?.map(|d| {
            use chrono::Datelike;
            DbValue::Date((d.year(), d.month() as u8, d.day() as u8))
        }),
        Type::TIME => get::<chrono::NaiveTime>(row, index)?.map(|t| {
            use chrono::Timelike;
            DbValue::Time((
                t.hour() as u8,
                t.minute() as u8,
                t.second() as u8,
                t.nanosecond(),
            ))
        }),
        Type::UUID => get::<uuid::Uuid>(row, index)?.map(|u| DbValue::Uuid(u.to_string())),
        Type::JSONB => match get::<serde_json::Value>(row, index)? {
            Some(json) => Some(DbValue::Jsonb(
                serde_json::to_vec(&json)
                    .map_err(|e| format!("invalid JSON from database: {e}"))?,
            )),
            None => None,
        },
        Type::NUMERIC => {
            get::<rust_decimal::Decimal>(row, index)?.map(|d| DbValue::Decimal(d.to_string()))
        }
        Type::INT4_ARRAY => get::<Vec<Option<i32>>>(row, index)?.map(DbValue::ArrayInt32),
        Type::INT8_ARRAY => get::<Vec<Option<i64>>>(row, index)?.map(DbValue::ArrayInt64),
        Type::NUMERIC_ARRAY => get::<Vec<Option<rust_decimal::Decimal>>>(row, index)?
            .map(|ds| DbValue::ArrayDecimal(ds.iter().map(|d| d.map(|d| d.to_string())).collect())),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            get::<Vec<Option<String>>>(row, index)?.map(DbValue::ArrayStr)
        }
        Type::INTERVAL => get::<Interval>(row, index)?.map(|i| DbValue::Interval(i.0)),
        // Ranges are Spin's too, but this project reads none: spin-host
        // refuses them rather than guess (docs/decisions.md).
        Type::INT4_RANGE | Type::INT8_RANGE | Type::NUM_RANGE => {
            return Err("range columns are not supported by spin-host".into())
        }
        _ => get::<Other>(row, index)?.map(|_| DbValue::Unsupported(Vec::new())),
    };
    Ok(value.unwrap_or(DbValue::DbNull))
}

/// Date-times are UTC tuples, as in Spin.
fn datetime(value: chrono::NaiveDateTime) -> DbValue {
    use chrono::{Datelike, Timelike};
    DbValue::Datetime((
        value.year(),
        value.month() as u8,
        value.day() as u8,
        value.hour() as u8,
        value.minute() as u8,
        value.second() as u8,
        value.nanosecond(),
    ))
}

type SqlParam = Box<dyn ToSql + Send + Sync>;

fn to_sql_parameters(params: &[ParameterValue]) -> Result<Vec<SqlParam>, Error> {
    params.iter().map(to_sql_parameter).collect()
}

/// A parameter as Spin's `types::to_sql_parameter` binds it: each WIT kind
/// to one Rust type, whose `ToSql` accepts only its own PostgreSQL types
/// (an `int64` binds to `bigint` only, a `datetime` to `timestamp` only, a
/// `timestamp` to `timestamptz` only). A value that does not parse is
/// `bad-parameter`, as in Spin.
fn to_sql_parameter(value: &ParameterValue) -> Result<SqlParam, Error> {
    let bad = |message: String| Error::BadParameter(message);
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(*v),
        ParameterValue::Int8(v) => Box::new(*v),
        ParameterValue::Int16(v) => Box::new(*v),
        ParameterValue::Int32(v) => Box::new(*v),
        ParameterValue::Int64(v) => Box::new(*v),
        ParameterValue::Floating32(v) => Box::new(*v),
        ParameterValue::Floating64(v) => Box::new(*v),
        ParameterValue::Str(v) => Box::new(v.clone()),
        ParameterValue::Binary(v) => Box::new(v.clone()),
        ParameterValue::Decimal(v) => Box::new(
            rust_decimal::Decimal::from_str_exact(v)
                .map_err(|e| bad(format!("invalid decimal {v}: {e}")))?,
        ),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => {
            let date = chrono::NaiveDate::from_ymd_opt(*y, (*mo).into(), (*d).into());
            let time =
                chrono::NaiveTime::from_hms_nano_opt((*h).into(), (*mi).into(), (*s).into(), *ns);
            match date.zip(time) {
                Some((date, time)) => Box::new(chrono::NaiveDateTime::new(date, time)),
                None => return Err(bad(format!("invalid datetime {y}-{mo}-{d} {h}:{mi}:{s}"))),
            }
        }
        ParameterValue::Timestamp(v) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(*v, 0)
                .ok_or_else(|| bad(format!("invalid epoch timestamp {v}")))?,
        ),
        ParameterValue::Date((y, mo, d)) => Box::new(
            chrono::NaiveDate::from_ymd_opt(*y, (*mo).into(), (*d).into())
                .ok_or_else(|| bad(format!("invalid date y={y}, m={mo}, d={d}")))?,
        ),
        ParameterValue::Time((h, mi, s, ns)) => Box::new(
            chrono::NaiveTime::from_hms_nano_opt((*h).into(), (*mi).into(), (*s).into(), *ns)
                .ok_or_else(|| bad(format!("invalid time {h}:{mi}:{s}:{ns}")))?,
        ),
        ParameterValue::Uuid(v) => {
            Box::new(uuid::Uuid::parse_str(v).map_err(|_| bad(format!("invalid UUID {v}")))?)
        }
        ParameterValue::Jsonb(v) => Box::new(
            serde_json::from_slice::<serde_json::Value>(v)
                .map_err(|_| bad(format!("invalid JSON {}", String::from_utf8_lossy(v))))?,
        ),
        ParameterValue::ArrayInt32(v) => Box::new(v.clone()),
        ParameterValue::ArrayInt64(v) => Box::new(v.clone()),
        ParameterValue::ArrayStr(v) => Box::new(v.clone()),
        ParameterValue::ArrayDecimal(v) => Box::new(
            v.iter()
                .map(|d| {
                    d.as_deref()
                        .map(rust_decimal::Decimal::from_str_exact)
                        .transpose()
                        .map_err(|e| bad(format!("invalid decimal: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        ParameterValue::Interval(v) => Box::new(Interval(*v)),
        ParameterValue::DbNull => Box::new(PgNull),
        ParameterValue::RangeInt32(_)
        | ParameterValue::RangeInt64(_)
        | ParameterValue::RangeDecimal(_) => {
            return Err(bad("range parameters are not supported by spin-host".into()))
        }
    })
}

/// PostgreSQL's `interval` (microseconds, days, months), as Spin reads and
/// binds it.
#[derive(Debug)]
struct Interval(pg::Interval);

impl<'a> tokio_postgres::types::FromSql<'a> for Interval {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let bytes: [u8; 16] = raw.try_into()?;
        Ok(Interval(pg::Interval {
            micros: i64::from_be_bytes(bytes[0..8].try_into()?),
            days: i32::from_be_bytes(bytes[8..12].try_into()?),
            months: i32::from_be_bytes(bytes[12..16].try_into()?),
        }))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

impl ToSql for Interval {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0.micros.to_be_bytes());
        out.extend_from_slice(&self.0.days.to_be_bytes());
        out.extend_from_slice(&self.0.months.to_be_bytes());
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }

    to_sql_checked!();
}

/// Any other column, read as raw bytes (Spin answers `unsupported`).
struct Other;

impl<'a> tokio_postgres::types::FromSql<'a> for Other {
    fn from_sql(
        _ty: &Type,
        _raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Other)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// SQL NULL for a parameter of any type, as Spin's `PgNull`.
#[derive(Debug)]
struct PgNull;

impl ToSql for PgNull {
    fn to_sql(
        &self,
        _ty: &Type,
        _out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(entries: &[&str]) -> Vec<AllowedHost> {
        entries
            .iter()
            .map(|e| AllowedHost::parse(e).unwrap())
            .collect()
    }

    #[test]
    fn only_allowed_postgres_addresses_may_be_opened() {
        let list = allowed(&["postgres://db.internal:5432", "http://catalog:9001"]);
        assert!(check_allowed("postgres://u:p@db.internal:5432/orders", &list).is_ok());
        assert!(
            check_allowed("postgres://u:p@db.internal/orders", &list).is_ok(),
            "default port"
        );
        for denied in [
            "postgres://u:p@db.internal:6543/orders",
            "postgres://u:p@elsewhere:5432/orders",
            "postgres://u:p@catalog:9001/orders",
            "host=db.internal,elsewhere port=5432 user=u",
        ] {
            assert!(
                matches!(
                    check_allowed(denied, &list),
                    Err(Error::ConnectionFailed(_))
                ),
                "{denied}"
            );
        }
    }

    #[test]
    fn parameters_convert_like_spin_and_unsupported_ones_are_refused() {
        assert!(to_sql_parameter(&ParameterValue::Decimal("999.99".into())).is_ok());
        assert!(matches!(
            to_sql_parameter(&ParameterValue::Decimal("nine".into())),
            Err(Error::BadParameter(_))
        ));
        assert!(matches!(
            to_sql_parameter(&ParameterValue::Uuid("x".into())),
            Err(Error::BadParameter(_))
        ));
        assert!(to_sql_parameter(&ParameterValue::Uuid(
            "67e55044-10b1-426f-9247-bb680e5fe0c8".into()
        ))
        .is_ok());
    }
}
