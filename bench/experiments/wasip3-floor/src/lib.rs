//! Experiment (bench/experiments/README.md): the floor of a create
//! (bench/floor) as a WASIp3 component (spin-sdk 6.0, the WASI 0.3 RC that
//! Spin 4.1 speaks), which Spin reuses for up to 128 requests, 16 at once.
//! Environment (the manifests beside this file): `P3_REUSE_DB` (default on)
//! keeps the SQLite connection as long as the instance (statements compiled
//! once, the schema parsed once); `P3_FIFO` (default on) queues the
//! instance's writers on an async mutex instead of all sleeping in SQLite's
//! busy handler; `P3_RESERVE_GET` replaces the reservation by a second
//! product read.
use bytes::Bytes;
use http_body_util::{Empty, Full};
use spin_sdk::http::Request;
use spin_sdk::sqlite::{Connection, Error, Value};
use std::cell::RefCell;
use std::rc::Rc;

const WRITE: &str = "INSERT INTO floor_writes (at) VALUES (?)";

thread_local! {
    static DB: RefCell<Option<Rc<Connection>>> = const { RefCell::new(None) };
    static WRITERS: Rc<futures::lock::Mutex<()>> = Rc::new(futures::lock::Mutex::new(()));
}

fn flag(name: &str) -> bool {
    std::env::var(name).map(|v| v != "0").unwrap_or(true)
}

async fn db() -> Result<Rc<Connection>, String> {
    if let Some(conn) = DB.with(|cell| cell.borrow().clone()) {
        return Ok(conn);
    }
    let conn = Rc::new(
        Connection::open_default()
            .await
            .map_err(|e| e.to_string())?,
    );
    if flag("P3_REUSE_DB") {
        DB.with(|cell| *cell.borrow_mut() = Some(conn.clone()));
    }
    Ok(conn)
}

#[spin_sdk::http_service]
async fn handle(request: Request) -> hyperium::Response<String> {
    let (status, body) = match create(&request).await {
        Ok(()) => (201, "{\"status\":\"CREATED\"}".to_string()),
        Err(e) => (503, format!("{{\"error\":{e:?}}}")),
    };
    hyperium::Response::builder()
        .status(status)
        .body(body)
        .unwrap()
}

async fn create(request: &Request) -> Result<(), String> {
    let catalog = spin_sdk::variables::get("catalog_url")
        .await
        .map_err(|e| e.to_string())?;
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let read = hyperium::Request::get(format!("{catalog}/products/1/"))
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let read = spin_sdk::http::send(read)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if read.status() != 200 {
        return Err(format!("read {}", read.status()));
    }
    http_body_util::BodyExt::collect(read.into_body())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let body = r#"{"quantity": 1}"#;
    let reserved = if std::env::var("P3_RESERVE_GET").is_ok() {
        // Spin 4.1's WASIp3 outbound path holds a request with a body ~43 ms:
        // a second read stands in for the reservation to measure the rest.
        let again = hyperium::Request::get(format!("{catalog}/products/1/"))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let _ = (token, body, Full::new(Bytes::new()));
        spin_sdk::http::send(again)
            .await
            .map_err(|e| format!("{e:?}"))?
    } else {
        let reserve = hyperium::Request::post(format!("{catalog}/products/1/reserve/"))
            .header("authorization", token)
            .header("content-type", "application/json")
            .header("content-length", body.len().to_string())
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .map_err(|e| e.to_string())?;
        spin_sdk::http::send(reserve)
            .await
            .map_err(|e| format!("{e:?}"))?
    };
    if reserved.status() != 200 {
        return Err(format!("reserve {}", reserved.status()));
    }
    http_body_util::BodyExt::collect(reserved.into_body())
        .await
        .map_err(|e| format!("{e:?}"))?;
    for what in ["intent", "order"] {
        let lock = WRITERS.with(Rc::clone);
        let _turn = if flag("P3_FIFO") {
            Some(lock.lock().await)
        } else {
            None
        };
        let db = db().await?;
        write(&db, what).await?;
    }
    Ok(())
}

async fn run(db: &Connection, sql: &str, params: Vec<Value>) -> Result<(), Error> {
    db.execute(sql, params).await?.result().await
}

async fn write(db: &Connection, what: &str) -> Result<(), String> {
    loop {
        match run(db, WRITE, vec![Value::Text(what.into())]).await {
            Err(Error::Io(text)) if text.contains("no such table") => {
                run(db, "PRAGMA journal_mode = WAL", vec![])
                    .await
                    .map_err(|e| e.to_string())?;
                run(db, "CREATE TABLE IF NOT EXISTS floor_writes (id INTEGER PRIMARY KEY, at TEXT NOT NULL)", vec![])
                    .await
                    .map_err(|e| e.to_string())?;
            }
            other => return other.map_err(|e| e.to_string()),
        }
    }
}
