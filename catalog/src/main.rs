//! `demo-catalog`: an in-memory stand-in for the Django Catalog Service
//! (SPEC §4), for the quickstart, the end-to-end tests and the benchmarks.
//!
//! - `GET /products/<id>/` → 200 product, 404 when missing or inactive.
//! - `POST /products/<id>/reserve/` `{"quantity": n}` (valid JWT required)
//!   → 200 `{"remaining_stock"}`, 409 short, 404 missing, 400 bad quantity.
//! - `POST /products/<id>/release/` `{"quantity": n}` → 200 (the extension).
//! - Reservation ids (SPEC §4's extension for exact stock): a reserve with
//!   `Idempotency-Key: <id>` and a release with `{"reservation": "<id>"}`
//!   are applied at most once; a repeat gets the first answer; the release
//!   of a reservation never applied answers `"released": 0`, and a reserve
//!   arriving after its reservation was released is refused (409), so a
//!   late request never takes units nobody will give back.
//! - Paths without the trailing slash → 301, as Django's APPEND_SLASH.
//!
//! Test controls (not part of the Catalog contract): `GET /_state` (stock
//! and call counts), `PUT /_faults` (latency, forced statuses, garbage
//! bodies, a missing release endpoint, per-product reserve failures,
//! connections dropped before or after a reserve or release is applied).

use anyhow::{Context, Result};
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use jwt_simple::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(about = "In-memory demo Catalog Service with fault injection")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: String,
    /// JSON list of products to start with.
    #[arg(long, default_value = "catalog/seed.json")]
    seed: PathBuf,
    /// HS256 key shared with the Auth Service; reserve/release need a token.
    #[arg(
        long,
        env = "SPIN_VARIABLE_JWT_SIGNING_KEY",
        hide_env_values = true,
        default_value = ""
    )]
    jwt_signing_key: String,
    /// The Auth Service's algorithm when it signs with a key pair (RS256,
    /// PS256, ES256, ES384, EdDSA, …), as SimpleJWT's `ALGORITHM`.
    #[arg(long, default_value = "HS256")]
    jwt_algorithm: String,
    /// Its public key(s), PEM (several blocks: any of them), as
    /// SimpleJWT's `VERIFYING_KEY`; instead of --jwt-signing-key.
    #[arg(long)]
    jwt_verifying_key_file: Option<PathBuf>,
}

/// Checks a token's signature and claims: the Django Catalog's SimpleJWT
/// authentication, with the shared key or the Auth Service's public keys.
type TokenCheck = Box<dyn Fn(&str) -> Option<TokenClaims> + Send + Sync>;
type TokenClaims = JWTClaims<serde_json::Map<String, Value>>;

fn token_check(args: &Args) -> Result<TokenCheck> {
    let Some(file) = &args.jwt_verifying_key_file else {
        anyhow::ensure!(
            args.jwt_algorithm == "HS256",
            "--jwt-algorithm other than HS256 needs --jwt-verifying-key-file"
        );
        let mut key = args.jwt_signing_key.clone().into_bytes();
        anyhow::ensure!(!key.is_empty(), "--jwt-signing-key must not be empty");
        key.resize(key.len().max(12), 0); // HMAC zero-pads short keys anyway
        let key = HS256Key::from_bytes(&key);
        return Ok(Box::new(move |token| key.verify_token(token, None).ok()));
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut checks: Vec<TokenCheck> = Vec::new();
    for block in text.split("-----END PUBLIC KEY-----") {
        let Some(start) = block.find("-----BEGIN PUBLIC KEY-----") else {
            continue;
        };
        let pem = format!("{}-----END PUBLIC KEY-----\n", &block[start..]);
        macro_rules! with {
            ($key:ty) => {{
                let key = <$key>::from_pem(&pem).map_err(|e| anyhow::anyhow!("{e}"))?;
                Box::new(move |token: &str| key.verify_token(token, None).ok()) as TokenCheck
            }};
        }
        checks.push(match args.jwt_algorithm.as_str() {
            "RS256" => with!(RS256PublicKey),
            "RS384" => with!(RS384PublicKey),
            "RS512" => with!(RS512PublicKey),
            "PS256" => with!(PS256PublicKey),
            "PS384" => with!(PS384PublicKey),
            "PS512" => with!(PS512PublicKey),
            "ES256" => with!(ES256PublicKey),
            "ES384" => with!(ES384PublicKey),
            "EdDSA" => with!(Ed25519PublicKey),
            other => anyhow::bail!("--jwt-algorithm {other} has no public key"),
        });
    }
    anyhow::ensure!(!checks.is_empty(), "no public key in {}", file.display());
    Ok(Box::new(move |token| {
        checks.iter().find_map(|check| check(token))
    }))
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
struct Product {
    id: i64,
    name: String,
    #[serde(default)]
    description: String,
    price: String,
    is_active: bool,
    in_stock: i64,
}

/// Faults the tests switch on: all off by default.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
struct Faults {
    /// Delay before answering any /products request.
    latency_ms: u64,
    /// Answer every /products request with this status and an HTML body.
    status: Option<u16>,
    /// Answer product GETs with 200 and a body that is not a product.
    garbage: bool,
    /// Add to each product a member nested this many arrays deep (valid
    /// JSON deeper than any product).
    nested_depth: usize,
    /// Behave like the stock Django Catalog: no release endpoint (404).
    no_release: bool,
    /// Answer releases with this status instead of releasing.
    release_status: Option<u16>,
    /// Answer reserves of these product ids with the given status.
    reserve_status: BTreeMap<i64, u16>,
    /// Delay reserves by this much, then apply them anyway (as Django
    /// finishes a request whose client has given up).
    reserve_latency_ms: u64,
    /// Apply reserves, then answer 200 with a body that is not the
    /// contract's (as a proxy page or a server answering 200 to anything).
    reserve_garbage: bool,
    /// Close the connection without an answer, before or after applying
    /// a reserve (as a crash or a network cut at either moment).
    reserve_drop: Option<DropPoint>,
    /// The same for releases.
    release_drop: Option<DropPoint>,
    /// How many reserves and releases the drops strike before they stop
    /// (none: all of them).
    drop_limit: Option<u64>,
}

/// When a dropped connection is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum DropPoint {
    BeforeApply,
    AfterApply,
}

/// What happened to one reservation id: the first answer, kept for repeats.
#[derive(Debug, Clone)]
enum Reservation {
    /// Applied: `quantity` units of `product` taken.
    Taken {
        product: i64,
        quantity: i64,
        answer: Value,
    },
    /// Refused (short, missing, bad quantity): nothing taken.
    Refused { status: u16, answer: Value },
    /// Released (what was taken, maybe nothing): closed for good.
    Released {
        answer: Value,
        /// Reserves under its id that arrived after it (refused).
        late_reserves_refused: u64,
    },
}

impl Reservation {
    /// How `/_state` shows it.
    fn describe(&self, id: &str) -> Value {
        match self {
            Reservation::Taken {
                product, quantity, ..
            } => json!({"id": id, "state": "taken", "product": product, "quantity": quantity}),
            Reservation::Refused { status, .. } => {
                json!({"id": id, "state": "refused", "status": status})
            }
            Reservation::Released {
                answer,
                late_reserves_refused,
            } => json!({
                "id": id,
                "state": "released",
                "released": answer["released"],
                "late_reserves_refused": late_reserves_refused,
            }),
        }
    }
}

#[derive(Default, serde::Serialize)]
struct Calls {
    get: u64,
    reserve: u64,
    release: u64,
    /// `X-Request-ID` of every /products request, in arrival order.
    request_ids: Vec<String>,
    /// Its `traceparent` and `tracestate` ("" when absent), in the same order.
    traces: Vec<[String; 2]>,
    /// Connections dropped by the drop faults.
    dropped: u64,
    /// Reserves and releases answered from a reservation's first answer.
    repeats: u64,
}

struct Catalog {
    products: Mutex<HashMap<i64, Product>>,
    reservations: Mutex<HashMap<String, Reservation>>,
    faults: Mutex<Faults>,
    calls: Mutex<Calls>,
    /// Drop faults struck since the faults were last set.
    drops_struck: AtomicU64,
    check_token: TokenCheck,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let seed = std::fs::read_to_string(&args.seed)
        .with_context(|| format!("cannot read seed file {}", args.seed.display()))?;
    let products: Vec<Product> = serde_json::from_str(&seed).context("invalid seed file")?;
    let check_token = token_check(&args)?;
    let catalog = Arc::new(Catalog {
        products: Mutex::new(products.into_iter().map(|p| (p.id, p)).collect()),
        reservations: Mutex::default(),
        faults: Mutex::default(),
        calls: Mutex::default(),
        drops_struck: AtomicU64::new(0),
        check_token,
    });

    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("Catalog listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let catalog = catalog.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let catalog = catalog.clone();
                // Run each request to completion even if the client hangs
                // up, as Django does: a reservation whose caller timed out
                // still takes effect. No answer: the connection is closed
                // (hyper closes it when the service fails).
                async move {
                    let answer = tokio::spawn(async move { catalog.handle(request).await });
                    match answer.await {
                        Ok(Some(reply)) => Ok(reply),
                        Ok(None) => Err(DroppedConnection),
                        Err(_) => Ok(detail(500, "handler panicked")),
                    }
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

type Reply = Response<Full<Bytes>>;

/// A drop fault struck: hyper closes the connection without an answer.
#[derive(Debug)]
struct DroppedConnection;

impl std::fmt::Display for DroppedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped (injected)")
    }
}

impl std::error::Error for DroppedConnection {}

fn reply(status: u16, body: Value) -> Reply {
    reply_text(status, body.to_string())
}

fn reply_text(status: u16, json: String) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(json)))
        .expect("valid response")
}

fn detail(status: u16, text: &str) -> Reply {
    reply(status, json!({ "detail": text }))
}

/// `object` plus `"extra": [[[…0…]]]`, `depth` arrays deep; spliced as
/// text, as a `Value` that deep would overflow this server's own stack.
fn with_nested_member(object: &Value, depth: usize) -> String {
    let text = object.to_string();
    let open = text.strip_suffix('}').expect("an object");
    format!(
        r#"{open},"extra":{}0{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

impl Catalog {
    /// The answer, or `None` to drop the connection.
    async fn handle(&self, request: Request<Incoming>) -> Option<Reply> {
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        Some(match (request.method(), segments.as_slice()) {
            (&Method::GET, ["_state"]) => self.state(),
            (&Method::PUT, ["_faults"]) => match read_json::<Faults>(request).await {
                Ok(faults) => {
                    *self.faults.lock().unwrap() = faults.clone();
                    self.drops_struck.store(0, Ordering::SeqCst);
                    reply(200, json!(faults))
                }
                Err(_) => detail(400, "bad faults"),
            },
            _ if segments.first() == Some(&"products") && !path.ends_with('/') => {
                Response::builder()
                    .status(StatusCode::MOVED_PERMANENTLY)
                    .header("location", format!("{path}/"))
                    .body(Full::new(Bytes::new()))
                    .expect("valid response")
            }
            (method, ["products", id, rest @ ..]) => {
                let Ok(id) = id.parse::<i64>() else {
                    return Some(detail(404, "Not found."));
                };
                let header = |name: &str| {
                    request
                        .headers()
                        .get(name)
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                };
                if let Some(request_id) = header("x-request-id") {
                    let mut calls = self.calls.lock().unwrap();
                    calls.request_ids.push(request_id);
                    calls.traces.push([
                        header("traceparent").unwrap_or_default(),
                        header("tracestate").unwrap_or_default(),
                    ]);
                }
                let faults = self.faults.lock().unwrap().clone();
                if faults.latency_ms > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(faults.latency_ms)).await;
                }
                if let Some(status) = faults.status {
                    return Some(
                        Response::builder()
                            .status(status)
                            .body(Full::new(Bytes::from_static(b"<h1>Server Error</h1>")))
                            .expect("valid response"),
                    );
                }
                match (method, rest) {
                    (&Method::GET, []) => self.get(id, &faults),
                    (&Method::POST, ["reserve"]) => {
                        return self.stock_change(request, id, &faults, false).await
                    }
                    (&Method::POST, ["release"]) if !faults.no_release => {
                        return self.stock_change(request, id, &faults, true).await
                    }
                    _ => detail(404, "Not found."),
                }
            }
            _ => detail(404, "Not found."),
        })
    }

    fn state(&self) -> Reply {
        let stock: BTreeMap<String, i64> = self
            .products
            .lock()
            .unwrap()
            .values()
            .map(|p| (p.id.to_string(), p.in_stock))
            .collect();
        let mut reservations: Vec<Value> = self
            .reservations
            .lock()
            .unwrap()
            .iter()
            .map(|(id, reservation)| reservation.describe(id))
            .collect();
        reservations.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        reply(
            200,
            json!({
                "stock": stock,
                "calls": *self.calls.lock().unwrap(),
                "reservations": reservations,
            }),
        )
    }

    fn get(&self, id: i64, faults: &Faults) -> Reply {
        self.calls.lock().unwrap().get += 1;
        if faults.garbage {
            return reply(200, json!({"unexpected": "shape", "price": {"amount": 1}}));
        }
        match self.products.lock().unwrap().get(&id) {
            Some(product) if product.is_active => {
                let mut body = json!(product);
                body["created_at"] = json!("2026-01-01T00:00:00Z");
                body["updated_at"] = json!("2026-01-01T00:00:00Z");
                if faults.nested_depth > 0 {
                    return reply_text(200, with_nested_member(&body, faults.nested_depth));
                }
                reply(200, body)
            }
            _ => detail(404, "Not found."),
        }
    }

    /// A reserve or release; `None` drops the connection (a drop fault).
    async fn stock_change(
        &self,
        request: Request<Incoming>,
        id: i64,
        faults: &Faults,
        release: bool,
    ) -> Option<Reply> {
        let authorized = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|token| self.valid_access_token(token));
        let idempotency_key = request
            .headers()
            .get("idempotency-key")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let drop_point = if release {
            self.calls.lock().unwrap().release += 1;
            if let Some(status) = faults.release_status {
                return Some(detail(status, "release failed (injected)"));
            }
            faults.release_drop
        } else {
            self.calls.lock().unwrap().reserve += 1;
            if faults.reserve_latency_ms > 0 {
                let delay = std::time::Duration::from_millis(faults.reserve_latency_ms);
                tokio::time::sleep(delay).await;
            }
            if let Some(status) = faults.reserve_status.get(&id) {
                return Some(detail(*status, "reserve failed (injected)"));
            }
            faults.reserve_drop
        };
        let drop_point = drop_point.filter(|_| self.strike_drop(faults));
        if drop_point == Some(DropPoint::BeforeApply) {
            return self.dropped();
        }
        if !authorized {
            return Some(detail(401, "Authentication credentials were not provided."));
        }
        let body = read_json::<Value>(request).await.ok();
        let quantity = match body.as_ref().and_then(|b| b["quantity"].as_i64()) {
            Some(q) if q >= 1 => q,
            _ => return Some(detail(400, "quantity must be a positive integer")),
        };
        let (status, answer) = if release {
            match body.as_ref().and_then(|b| b["reservation"].as_str()) {
                Some(reservation) => self.release_reservation(id, reservation),
                None => self.apply(id, quantity, true),
            }
        } else {
            match idempotency_key {
                Some(reservation) => self.reserve_once(id, quantity, &reservation),
                None => self.apply(id, quantity, false),
            }
        };
        if drop_point == Some(DropPoint::AfterApply) {
            return self.dropped();
        }
        if faults.reserve_garbage && !release && status == 200 {
            return Some(
                Response::builder()
                    .status(200)
                    .header("content-type", "text/html")
                    .body(Full::new(Bytes::from_static(
                        b"<html><body>OK</body></html>",
                    )))
                    .expect("valid response"),
            );
        }
        Some(reply(status, answer))
    }

    /// Whether a drop fault strikes this request (`drop_limit` not reached).
    fn strike_drop(&self, faults: &Faults) -> bool {
        let struck = self.drops_struck.fetch_add(1, Ordering::SeqCst);
        faults.drop_limit.is_none_or(|limit| struck < limit)
    }

    fn dropped(&self) -> Option<Reply> {
        self.calls.lock().unwrap().dropped += 1;
        None
    }

    /// Takes (or gives back) `quantity` units of product `id`.
    fn apply(&self, id: i64, quantity: i64, release: bool) -> (u16, Value) {
        let mut products = self.products.lock().unwrap();
        let Some(product) = products.get_mut(&id) else {
            return (404, json!({"detail": "Not found."}));
        };
        if release {
            product.in_stock += quantity;
        } else if product.in_stock < quantity {
            return (409, json!({"detail": "Insufficient stock"}));
        } else {
            product.in_stock -= quantity;
        }
        (200, json!({ "remaining_stock": product.in_stock }))
    }

    /// A reserve under a reservation id: applied the first time only.
    fn reserve_once(&self, id: i64, quantity: i64, reservation: &str) -> (u16, Value) {
        let mut reservations = self.reservations.lock().unwrap();
        if let Some(known) = reservations.get_mut(reservation) {
            self.calls.lock().unwrap().repeats += 1;
            return match known {
                Reservation::Taken {
                    product,
                    quantity: taken,
                    answer,
                } if *product == id && *taken == quantity => (200, answer.clone()),
                Reservation::Taken { .. } => (
                    400,
                    json!({"detail": "reservation id reused for another product or quantity"}),
                ),
                Reservation::Refused { status, answer } => (*status, answer.clone()),
                Reservation::Released {
                    late_reserves_refused,
                    ..
                } => {
                    *late_reserves_refused += 1;
                    (409, json!({"detail": "reservation already released"}))
                }
            };
        }
        let (status, answer) = self.apply(id, quantity, false);
        let record = if status == 200 {
            Reservation::Taken {
                product: id,
                quantity,
                answer: answer.clone(),
            }
        } else {
            Reservation::Refused {
                status,
                answer: answer.clone(),
            }
        };
        reservations.insert(reservation.to_owned(), record);
        (status, answer)
    }

    /// The release of a reservation: gives back what it took, once; one
    /// never applied (or refused) gave nothing and is closed, so a late
    /// reserve under its id is refused.
    fn release_reservation(&self, id: i64, reservation: &str) -> (u16, Value) {
        let mut reservations = self.reservations.lock().unwrap();
        let released = match reservations.get(reservation) {
            Some(Reservation::Released { answer, .. }) => {
                self.calls.lock().unwrap().repeats += 1;
                return (200, answer.clone());
            }
            Some(Reservation::Taken {
                product, quantity, ..
            }) => {
                let (product, quantity) = (*product, *quantity);
                let (status, answer) = self.apply(product, quantity, true);
                if status != 200 {
                    return (status, answer);
                }
                quantity
            }
            Some(Reservation::Refused { .. }) | None => 0,
        };
        let remaining = self.products.lock().unwrap().get(&id).map(|p| p.in_stock);
        let Some(remaining) = remaining else {
            return (404, json!({"detail": "Not found."}));
        };
        let answer = json!({"remaining_stock": remaining, "released": released});
        reservations.insert(
            reservation.to_owned(),
            Reservation::Released {
                answer: answer.clone(),
                late_reserves_refused: 0,
            },
        );
        (200, answer)
    }

    /// What the Django Catalog's SimpleJWT authentication accepts.
    fn valid_access_token(&self, token: &str) -> bool {
        (self.check_token)(token)
            .is_some_and(|claims| claims.custom.get("token_type") == Some(&json!("access")))
    }
}

/// Reads a JSON body the way Django under a WSGI server does: only as many
/// bytes as `Content-Length` says, so a chunked body without it reads as
/// empty (and a reserve answers `400`, like the real Catalog).
async fn read_json<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Result<T> {
    let length: usize = request
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let body = request.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&body[..length.min(body.len())])?)
}
