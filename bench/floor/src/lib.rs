//! The floor of a create: exactly the I/O SPEC §3's create needs and no
//! logic — read product 1 from the Catalog, reserve one unit with the
//! caller's token, then two durable writes on their own (the reservation
//! intent and the order) — on Spin's `default` SQLite database, or on
//! PostgreSQL when `database_url` is set. No JSON parsing, no token check,
//! no configuration beyond three variables, no logging, no migrations; each
//! SQLite write waits for the lock in the Order Service's 10 ms slices.
//!
//! `bench/run` serves it beside hello and the Order Service: its CPU per
//! request is what any component making a create's calls costs the host,
//! so "Order Service ÷ floor" is the part the service's own code can move.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use spin_sdk::http::{send, Method, Request, Response};

const TABLE: &str =
    "CREATE TABLE IF NOT EXISTS floor_writes (id INTEGER PRIMARY KEY, at TEXT NOT NULL)";
const PG_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS floor_writes (id BIGSERIAL PRIMARY KEY, at TEXT NOT NULL)";
const WRITE: &str = "INSERT INTO floor_writes (at) VALUES (?)";
const PG_WRITE: &str = "INSERT INTO floor_writes (at) VALUES ($1)";

#[cfg_attr(target_arch = "wasm32", spin_sdk::http_component)]
async fn handle(request: Request) -> Response {
    match create(&request).await {
        Ok(()) => answer(201, r#"{"status":"CREATED"}"#),
        Err(error) => answer(503, &format!(r#"{{"error":{error:?}}}"#)),
    }
}

async fn create(request: &Request) -> Result<(), String> {
    let catalog = spin_sdk::variables::get("catalog_url").map_err(|e| e.to_string())?;
    let token = request
        .header("authorization")
        .and_then(|value| value.as_str())
        .unwrap_or_default()
        .to_owned();
    let read: Response = send(Request::get(format!("{catalog}/products/1/")))
        .await
        .map_err(|e| e.to_string())?;
    if *read.status() != 200 {
        return Err(format!("read: {}", read.status()));
    }
    let body = r#"{"quantity": 1}"#;
    let reserve = Request::builder()
        .method(Method::Post)
        .uri(format!("{catalog}/products/1/reserve/"))
        .header("authorization", token)
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string())
        .body(body)
        .build();
    let reserved: Response = send(reserve).await.map_err(|e| e.to_string())?;
    if *reserved.status() != 200 {
        return Err(format!("reserve: {}", reserved.status()));
    }
    let database_url = spin_sdk::variables::get("database_url").map_err(|e| e.to_string())?;
    if database_url.is_empty() {
        let slice = spin_sdk::variables::get("busy_slice_ms").map_err(|e| e.to_string())?;
        two_sqlite_writes(slice.parse().unwrap_or(0))
    } else {
        two_postgres_writes(&database_url)
    }
}

/// `busy_slice_ms` (default 10, as the Order Service's `Store::retry_busy`):
/// SQLite waits at most that long per attempt and the write is tried again
/// at once, for 5 s in all; 0 leaves each write to the runtime's own busy
/// handler (Spin's: 5 s, in sleeps growing to 100 ms).
fn two_sqlite_writes(busy_slice_ms: u32) -> Result<(), String> {
    use spin_sdk::sqlite3::{Connection, Error, Value};
    let db = Connection::open_default().map_err(|e| e.to_string())?;
    if busy_slice_ms > 0 {
        db.execute(&format!("PRAGMA busy_timeout = {busy_slice_ms}"), &[])
            .map_err(|e| e.to_string())?;
    }
    let write = |what: &str| {
        let started = std::time::Instant::now();
        loop {
            match db.execute(WRITE, &[Value::Text(what.into())]) {
                Err(Error::Io(text))
                    if text.contains("database is locked")
                        && started.elapsed() < std::time::Duration::from_secs(5) => {}
                other => return other,
            }
        }
    };
    if let Err(error) = write("intent") {
        // First request on a new file: make the table (in WAL mode, as the
        // Order Service's database is), then write.
        if !error.to_string().contains("no such table") {
            return Err(error.to_string());
        }
        db.execute("PRAGMA journal_mode = WAL", &[])
            .map_err(|e| e.to_string())?;
        db.execute(TABLE, &[]).map_err(|e| e.to_string())?;
        write("intent").map_err(|e| e.to_string())?;
    }
    write("order").map_err(|e| e.to_string())?;
    Ok(())
}

fn two_postgres_writes(url: &str) -> Result<(), String> {
    use spin_sdk::pg4::{Connection, ParameterValue};
    let db = Connection::open(url).map_err(|e| e.to_string())?;
    let write = |what: &str| {
        db.execute(PG_WRITE, &[ParameterValue::Str(what.into())])
            .map_err(|e| e.to_string())
    };
    if let Err(error) = write("intent") {
        if !error.contains("floor_writes") {
            return Err(error);
        }
        db.execute(PG_TABLE, &[]).map_err(|e| e.to_string())?;
        write("intent")?;
    }
    write("order")?;
    Ok(())
}

fn answer(status: u16, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .build()
}
