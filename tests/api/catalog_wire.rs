//! SPEC §4 on the wire: what the component's Catalog requests look like as
//! bytes (Django under WSGI reads a body only through `Content-Length`),
//! and what happens when whatever answers at `catalog_url` is not a Catalog.

use crate::helpers::{json_body, order, spawn_app_on, spawn_app_with, token, AppOptions, Backend};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

crate::on_both_backends!(
    every_catalog_write_carries_content_length_and_no_chunking,
    a_server_answering_200_to_everything_never_yields_an_order,
    a_reserve_confirmed_without_the_contracts_body_is_502_and_released,
    an_unexpected_catalog_answer_is_logged_with_a_sanitised_excerpt,
    catalog_connections_are_kept_alive_across_requests,
);

/// One request as it arrived: the head as text and the body bytes.
#[derive(Debug, Clone)]
struct RawRequest {
    head: String,
    body: Vec<u8>,
}

impl RawRequest {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    }
}

/// A bare HTTP/1.1 server that records every request byte for byte and
/// answers with `answer(request line)`: the test's view of the wire.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<RawRequest>>>,
    connections: Arc<AtomicUsize>,
}

impl Recorder {
    async fn start(answer: fn(&str) -> (u16, &'static str, String)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let record = record.clone();
                tokio::spawn(async move {
                    let mut stream = BufReader::new(stream);
                    loop {
                        let mut head = String::new();
                        loop {
                            let mut line = String::new();
                            if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                                return;
                            }
                            head.push_str(&line);
                            if line == "\r\n" {
                                break;
                            }
                        }
                        let mut request = RawRequest {
                            head,
                            body: Vec::new(),
                        };
                        if let Some(length) = request.header("content-length") {
                            let mut body = vec![0; length.parse().unwrap()];
                            stream.read_exact(&mut body).await.unwrap();
                            request.body = body;
                        } else if request.header("transfer-encoding").is_some() {
                            // Keep the chunked framing as it came.
                            loop {
                                let mut line = String::new();
                                stream.read_line(&mut line).await.unwrap();
                                request.body.extend_from_slice(line.as_bytes());
                                if line == "0\r\n" {
                                    let mut end = String::new();
                                    stream.read_line(&mut end).await.unwrap();
                                    break;
                                }
                            }
                        }
                        let request_line = request.head.lines().next().unwrap().to_owned();
                        record.lock().unwrap().push(request);
                        let (status, content_type, body) = answer(&request_line);
                        let response = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n\
                             content-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if stream
                            .get_mut()
                            .write_all(response.as_bytes())
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            url,
            seen,
            connections,
        }
    }

    fn requests(&self) -> Vec<RawRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// A Catalog that answers like Django would, for the product 1.
fn catalog_like(request_line: &str) -> (u16, &'static str, String) {
    if request_line.starts_with("GET /products/1/ ") {
        let product = json!({"id": 1, "name": "Laptop", "description": "", "price": "999.99",
            "is_active": true, "in_stock": 10, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"});
        (200, "application/json", product.to_string())
    } else if request_line.starts_with("POST /products/1/reserve/ ") {
        (200, "application/json", r#"{"remaining_stock": 8}"#.into())
    } else {
        (404, "text/html", "<h1>Not Found</h1>".into())
    }
}

async fn every_catalog_write_carries_content_length_and_no_chunking(backend: Backend) {
    let recorder = Recorder::start(catalog_like).await;
    let app = spawn_app_with(AppOptions {
        backend,
        catalog_url: Some(recorder.url.clone()),
        ..Default::default()
    })
    .await;

    let response = app.post_order(Some(&token(42)), &order(&[(1, 2)])).await;
    assert_eq!(response.status(), 201);

    let requests = recorder.requests();
    let reserve = requests
        .iter()
        .find(|r| r.head.starts_with("POST /products/1/reserve/ HTTP/1.1\r\n"))
        .expect("a reserve request");
    assert_eq!(reserve.body, br#"{"quantity": 2}"#, "{reserve:?}");
    assert_eq!(reserve.header("content-length").as_deref(), Some("15"));
    assert_eq!(
        reserve.header("transfer-encoding"),
        None,
        "{}",
        reserve.head
    );
    assert_eq!(
        reserve.header("content-type").as_deref(),
        Some("application/json")
    );
    assert!(reserve
        .header("authorization")
        .is_some_and(|value| value.starts_with("Bearer ")));
    // SPEC §4's reservation id: the create's random key and the product.
    let reservation = reserve.header("idempotency-key").expect("a reservation id");
    let (key, product) = reservation.split_once('-').unwrap();
    assert!(
        key.len() == 32 && key.chars().all(|c| c.is_ascii_hexdigit()) && product == "1",
        "{reservation}"
    );

    // A cancel's release is a write with a body too.
    let id = json_body(response).await["id"].as_i64().unwrap();
    let cancelled = app
        .send_as(
            42,
            reqwest::Method::POST,
            &format!("/orders/orders/{id}/cancel/"),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    let requests = recorder.requests();
    let release = requests
        .iter()
        .find(|r| r.head.starts_with("POST /products/1/release/ "))
        .expect("a release request");
    // …naming the reservation it gives back.
    let expected = format!(r#"{{"quantity":2,"reservation":"{reservation}"}}"#);
    assert_eq!(String::from_utf8_lossy(&release.body), expected);
    assert_eq!(
        release.header("content-length"),
        Some(expected.len().to_string())
    );
    assert_eq!(release.header("transfer-encoding"), None);
    // GETs carry no body and no framing headers.
    let get = requests
        .iter()
        .find(|r| r.head.starts_with("GET "))
        .unwrap();
    assert!(get.body.is_empty());
    assert_eq!(get.header("transfer-encoding"), None);
}

async fn a_server_answering_200_to_everything_never_yields_an_order(backend: Backend) {
    let recorder =
        Recorder::start(|_| (200, "text/html", "<html>It works!</html>".to_owned())).await;
    let app = spawn_app_with(AppOptions {
        backend,
        catalog_url: Some(recorder.url.clone()),
        ..Default::default()
    })
    .await;
    let response = app.post_order(Some(&token(42)), &order(&[(1, 2)])).await;
    assert_eq!(response.status(), 502);
    assert_eq!(json_body(response).await["code"], "catalog_bad_response");
    assert_eq!(app.count("orders"), 0);
    assert!(
        recorder
            .requests()
            .iter()
            .all(|r| r.head.starts_with("GET ")),
        "nothing reserved when the product read is nonsense"
    );
}

async fn a_reserve_confirmed_without_the_contracts_body_is_502_and_released(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog
        .set_faults(json!({"reserve_garbage": true}))
        .await;
    let response = app
        .post_order(Some(&token(42)), &order(&[(1, 2), (2, 3)]))
        .await;
    assert_eq!(response.status(), 502);
    assert_eq!(json_body(response).await["code"], "catalog_bad_response");
    assert_eq!(app.count("orders"), 0);
    // Both reservations were applied by the Catalog and both were released
    // as maybe taken: the stock is back exactly.
    assert_eq!(app.catalog.stock(1).await, 10);
    assert_eq!(app.catalog.stock(2).await, 100);
    let calls = app.catalog.calls().await;
    assert_eq!((calls.reserve, calls.release), (2, 2));
    assert_eq!(app.count("pending_releases"), 0);
    assert_eq!(app.count("stock_intents"), 0);
}

async fn an_unexpected_catalog_answer_is_logged_with_a_sanitised_excerpt(backend: Backend) {
    let recorder = Recorder::start(|line| {
        if line.starts_with("POST ") {
            (
                400,
                "application/json",
                r#"{"detail": "Invalid quantity"}"#.into(),
            )
        } else {
            catalog_like(line)
        }
    })
    .await;
    let app = spawn_app_with(AppOptions {
        backend,
        catalog_url: Some(recorder.url.clone()),
        ..Default::default()
    })
    .await;
    let user_token = token(42);
    let response = app
        .request(reqwest::Method::POST, "/orders/orders/")
        .bearer_auth(&user_token)
        .header("x-request-id", "excerpt-1")
        .json(&order(&[(1, 2)]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body = json_body(response).await;
    assert!(!body.to_string().contains("Invalid quantity"), "{body}");

    // The request's one error line carries what the Catalog said.
    let failures: Vec<serde_json::Value> = app
        .stderr
        .json_lines()
        .into_iter()
        .filter(|line| line["request_id"] == "excerpt-1" && line["level"] == "error")
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let cause = failures[0]["cause"].as_str().unwrap();
    assert!(
        cause.contains(r#"HTTP 400: {"detail": "Invalid quantity"}"#),
        "{cause}"
    );
    let signature = user_token.rsplit('.').next().unwrap();
    assert!(app.stderr.lines().iter().all(|l| !l.contains(signature)));
}

/// spin-host, like Spin, sends outbound requests through one pooled
/// keep-alive client, so sequential Catalog calls share a connection.
async fn catalog_connections_are_kept_alive_across_requests(backend: Backend) {
    let recorder = Recorder::start(catalog_like).await;
    let app = spawn_app_with(AppOptions {
        backend,
        catalog_url: Some(recorder.url.clone()),
        ..Default::default()
    })
    .await;
    for _ in 0..5 {
        let response = app.post_order(Some(&token(42)), &order(&[(1, 1)])).await;
        assert_eq!(response.status(), 201);
    }
    let requests = recorder.requests().len();
    let connections = recorder.connections.load(Ordering::SeqCst);
    assert_eq!(requests, 10, "a read and a reserve per order");
    assert!(
        connections <= 2,
        "{connections} connections for {requests} sequential requests"
    );
}
