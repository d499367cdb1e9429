//! `spin:postgres/postgres@4.0.0` as Spin's `crates/factor-outbound-pg`
//! implements it: the address must be allowed by the component's
//! `allowed_outbound_hosts` (`postgres://host:port`, checked for every host
//! of the connection string); a connection is a client taken from a
//! deadpool pool kept per address (64 connections, `Clean` recycling) and
//! held until the component drops it, so a transaction can span calls;
//! errors are the same variants (`connection-failed`, `bad-parameter`,
//! `query-failed` with the server's structured error, …); values map as
//! Spin maps them for the types below. Not implemented, as this project
//! does not use them: TLS connections, ranges, arrays, intervals, UUID and
//! JSONB parameters (refused with `bad-parameter`).

// The error type is the WIT's, carrying the server's structured error (as
// in Spin's factor-outbound-pg, which allows this lint too).
#![allow(clippy::result_large_err)]

use crate::bindings::spin::postgres::postgres::{
    self as pg, Column, DbDataType, DbError, DbValue, Error, ParameterValue, QueryError, RowSet,
};
use crate::outbound::AllowedHost;
use crate::state::HostState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use wasmtime::component::Resource;
use wasmtime::Result;

/// Max connections in one address's pool (Spin's `CONNECTION_POOL_SIZE`).
const POOL_SIZE: usize = 64;

/// One pool per address, shared by all instances of the app.
#[derive(Clone, Default)]
pub struct PgPools(Arc<Mutex<HashMap<String, deadpool_postgres::Pool>>>);

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

/// A pooled client, as handed to the component.
pub struct PgConnection {
    client: deadpool_postgres::Object,
}

impl pg::Host for HostState {}

impl pg::HostConnection for HostState {
    async fn open(&mut self, address: String) -> Result<Result<Resource<PgConnection>, Error>> {
        if let Err(error) = check_allowed(&address, &self.outbound.allowed) {
            eprintln!("spin-host: PostgreSQL connection denied: {error:?}");
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

    async fn query(
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
            return Ok(Ok(RowSet {
                columns: Vec::new(),
                rows: Vec::new(),
            }));
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

    async fn execute(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> Result<Result<u64, Error>> {
        let client = &self.table.get(&connection)?.client;
        let params = match to_sql_parameters(&params) {
            Ok(params) => params,
            Err(error) => return Ok(Err(error)),
        };
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        Ok(client
            .execute(&statement, &refs)
            .await
            .map_err(query_failed))
    }

    async fn drop(&mut self, connection: Resource<PgConnection>) -> Result<()> {
        // Back to the pool, which recycles it before the next use.
        self.table.delete(connection)?;
        Ok(())
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
        Type::NUMERIC => DbDataType::Decimal,
        _ => DbDataType::Other(ty.name().to_owned()),
    }
}

fn db_value(row: &tokio_postgres::Row, index: usize) -> Result<DbValue, String> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a tokio_postgres::Row,
        index: usize,
    ) -> Result<Option<T>, String> {
        row.try_get(index).map_err(|e| format!("{e:?}"))
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
        Type::TIMESTAMP => get::<chrono::NaiveDateTime>(row, index)?.map(datetime),
        Type::TIMESTAMPTZ => {
            get::<chrono::DateTime<chrono::Utc>>(row, index)?.map(|t| datetime(t.naive_utc()))
        }
        Type::DATE => get::<chrono::NaiveDate>(row, index)?.map(|d| {
            use chrono::Datelike;
            DbValue::Date((d.year(), d.month() as u8, d.day() as u8))
        }),
        Type::NUMERIC => {
            get::<rust_decimal::Decimal>(row, index)?.map(|d| DbValue::Decimal(d.to_string()))
        }
        _ => Some(DbValue::Unsupported(Vec::new())),
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

fn to_sql_parameter(value: &ParameterValue) -> Result<SqlParam, Error> {
    let bad = |what: &str| {
        Error::BadParameter(format!("{what} parameters are not supported by spin-host"))
    };
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
                .map_err(|e| Error::BadParameter(format!("invalid decimal {v}: {e}")))?,
        ),
        ParameterValue::Datetime((y, mo, d, h, mi, s, ns)) => {
            let date = chrono::NaiveDate::from_ymd_opt(*y, (*mo).into(), (*d).into());
            let time =
                chrono::NaiveTime::from_hms_nano_opt((*h).into(), (*mi).into(), (*s).into(), *ns);
            match date.zip(time) {
                Some((date, time)) => Box::new(chrono::NaiveDateTime::new(date, time)),
                None => return Err(Error::BadParameter("invalid date-time".into())),
            }
        }
        ParameterValue::Timestamp(v) => Box::new(
            chrono::DateTime::<chrono::Utc>::from_timestamp(*v, 0)
                .ok_or_else(|| Error::BadParameter(format!("invalid epoch timestamp {v}")))?,
        ),
        ParameterValue::DbNull => Box::new(PgNull),
        ParameterValue::Date(_) => return Err(bad("date")),
        ParameterValue::Time(_) => return Err(bad("time")),
        ParameterValue::Uuid(_) => return Err(bad("uuid")),
        ParameterValue::Jsonb(_) => return Err(bad("jsonb")),
        ParameterValue::RangeInt32(_)
        | ParameterValue::RangeInt64(_)
        | ParameterValue::RangeDecimal(_) => return Err(bad("range")),
        ParameterValue::ArrayInt32(_)
        | ParameterValue::ArrayInt64(_)
        | ParameterValue::ArrayDecimal(_)
        | ParameterValue::ArrayStr(_) => return Err(bad("array")),
        ParameterValue::Interval(_) => return Err(bad("interval")),
    })
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
    }
}
