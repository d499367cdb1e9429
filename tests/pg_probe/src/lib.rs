//! Test-only: runs one statement through `spin:postgres/postgres@4.0.0`
//! (the interface the Order Service uses) and answers, as JSON, what the
//! runtime made of each parameter and column, or which error it gave. The
//! end-to-end test `pg_types` sends the same statements to real Spin and to
//! spin-host, so a value one runtime converts and the other refuses shows.
//!
//! Request: `{"url", "op": "query" | "execute", "sql", "params": [[kind,
//! value], ...]}`. Answer: `{"ok": {"columns": [type...], "rows": [[[kind,
//! value]...]...]}}`, `{"ok": <rows changed>}` or `{"error": variant,
//! "message": text}`.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use serde_json::{json, Value};
use spin_sdk::http::{Request, Response};
use spin_sdk::pg4::{
    Connection, DbDataType, DbValue, ParameterValue, PgError as Error, QueryError,
};

#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
fn handle(request: Request) -> Response {
    let answer = match serde_json::from_slice::<Value>(request.body()) {
        Ok(probe) => run(&probe),
        Err(e) => json!({"error": "probe", "message": e.to_string()}),
    };
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(answer.to_string())
        .build()
}

fn run(probe: &Value) -> Value {
    let params: Result<Vec<ParameterValue>, String> = probe["params"]
        .as_array()
        .map(|p| p.iter().map(parameter).collect())
        .unwrap_or(Ok(Vec::new()));
    let params = match params {
        Ok(params) => params,
        Err(message) => return json!({"error": "probe", "message": message}),
    };
    let connection = match Connection::open(probe["url"].as_str().unwrap_or_default()) {
        Ok(connection) => connection,
        Err(e) => return error(e),
    };
    // Further statements on the same connection (`"then": [sql...]`, run
    // with `execute`), answered in `"then"`.
    let first = statement(&connection, probe, &params);
    let then: Vec<Value> = probe["then"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(
                    |sql| match connection.execute(sql.as_str().unwrap_or_default(), &[]) {
                        Ok(changed) => json!({"ok": changed}),
                        Err(e) => error(e),
                    },
                )
                .collect()
        })
        .unwrap_or_default();
    if then.is_empty() {
        first
    } else {
        json!({"first": first, "then": then})
    }
}

fn statement(connection: &Connection, probe: &Value, params: &[ParameterValue]) -> Value {
    let sql = probe["sql"].as_str().unwrap_or_default();
    if probe["op"] == "execute" {
        return match connection.execute(sql, params) {
            Ok(changed) => json!({"ok": changed}),
            Err(e) => error(e),
        };
    }
    match connection.query(sql, params) {
        Ok(rows) => json!({"ok": {
            "columns": rows.columns.iter().map(|c| data_type(&c.data_type)).collect::<Vec<_>>(),
            "rows": rows.rows.iter()
                .map(|row| row.iter().map(value).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        }}),
        Err(e) => error(e),
    }
}

fn error(error: Error) -> Value {
    let (variant, message) = match error {
        Error::ConnectionFailed(m) => ("connection-failed", m),
        Error::BadParameter(m) => ("bad-parameter", m),
        Error::QueryFailed(QueryError::Text(m)) => ("query-failed", m),
        Error::QueryFailed(QueryError::DbError(db)) => ("query-failed", db.as_text),
        Error::ValueConversionFailed(m) => ("value-conversion-failed", m),
        Error::Other(m) => ("other", m),
    };
    json!({"error": variant, "message": message})
}

fn parameter(spec: &Value) -> Result<ParameterValue, String> {
    let kind = spec[0].as_str().unwrap_or_default();
    let v = &spec[1];
    let int = || v.as_i64().ok_or(format!("{kind}: not an integer"));
    let text = || {
        v.as_str()
            .map(str::to_owned)
            .ok_or(format!("{kind}: not a string"))
    };
    let part = |i: usize| v[i].as_i64().unwrap_or_default();
    Ok(match kind {
        "boolean" => ParameterValue::Boolean(v.as_bool().unwrap_or_default()),
        "int16" => ParameterValue::Int16(int()? as i16),
        "int32" => ParameterValue::Int32(int()? as i32),
        "int64" => ParameterValue::Int64(int()?),
        "floating64" => ParameterValue::Floating64(v.as_f64().unwrap_or_default()),
        "str" => ParameterValue::Str(text()?),
        "binary" => ParameterValue::Binary(text()?.into_bytes()),
        "decimal" => ParameterValue::Decimal(text()?),
        "uuid" => ParameterValue::Uuid(text()?),
        "jsonb" => ParameterValue::Jsonb(text()?.into_bytes()),
        "date" => ParameterValue::Date((part(0) as i32, part(1) as u8, part(2) as u8)),
        "time" => {
            ParameterValue::Time((part(0) as u8, part(1) as u8, part(2) as u8, part(3) as u32))
        }
        "datetime" => ParameterValue::Datetime((
            part(0) as i32,
            part(1) as u8,
            part(2) as u8,
            part(3) as u8,
            part(4) as u8,
            part(5) as u8,
            part(6) as u32,
        )),
        "timestamp" => ParameterValue::Timestamp(int()?),
        "null" => ParameterValue::DbNull,
        other => return Err(format!("unknown parameter kind {other}")),
    })
}

fn value(value: &DbValue) -> Value {
    match value {
        DbValue::Boolean(v) => json!(["boolean", v]),
        DbValue::Int8(v) => json!(["int8", v]),
        DbValue::Int16(v) => json!(["int16", v]),
        DbValue::Int32(v) => json!(["int32", v]),
        DbValue::Int64(v) => json!(["int64", v]),
        DbValue::Floating32(v) => json!(["floating32", v]),
        DbValue::Floating64(v) => json!(["floating64", v]),
        DbValue::Str(v) => json!(["str", v]),
        DbValue::Binary(v) => json!(["binary", v]),
        DbValue::Date(v) => json!(["date", [v.0, v.1, v.2]]),
        DbValue::Time(v) => json!(["time", [v.0, v.1, v.2, v.3]]),
        DbValue::Datetime(v) => json!(["datetime", [v.0, v.1, v.2, v.3, v.4, v.5, v.6]]),
        DbValue::Timestamp(v) => json!(["timestamp", v]),
        DbValue::Uuid(v) => json!(["uuid", v]),
        DbValue::Jsonb(v) => json!(["jsonb", String::from_utf8_lossy(v)]),
        DbValue::Decimal(v) => json!(["decimal", v]),
        DbValue::Interval(v) => json!(["interval", [v.micros, v.days, v.months]]),
        DbValue::DbNull => json!(["null"]),
        DbValue::Unsupported(_) => json!(["unsupported"]),
        DbValue::RangeInt32(_) | DbValue::RangeInt64(_) | DbValue::RangeDecimal(_) => {
            json!(["range"])
        }
        DbValue::ArrayInt32(_)
        | DbValue::ArrayInt64(_)
        | DbValue::ArrayDecimal(_)
        | DbValue::ArrayStr(_) => json!(["array"]),
    }
}

fn data_type(data_type: &DbDataType) -> String {
    match data_type {
        DbDataType::Other(name) => format!("other({name})"),
        other => format!("{other:?}").to_lowercase(),
    }
}
