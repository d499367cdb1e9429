//! The clients: each a user doing random operations through the gateway
//! (payments, refunds and fulfilment updates go to an instance directly,
//! as the Payment and Fulfilment Services do), and the history of
//! everything they sent and saw.

use crate::faults::Rng;
use crate::helpers::{
    customer_client, payment_signature, token, unix_now, FULFILMENT_SECRET, PAYMENT_SECRET,
};
use crate::system::{Urls, STOCK};
use crate::Settings;
use futures::future::join_all;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longer than any answer the service should take (a create: product
/// reads, a reserve asked twice, the write), shorter than the run.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub enum Kind {
    Create {
        items: Vec<(i64, i64)>,
        key: Option<String>,
    },
    Cancel {
        order: i64,
    },
    Pay {
        order: i64,
        payment_id: String,
        amount: String,
    },
    /// The Fulfilment Service: `SHIPPED` or `DELIVERED`.
    Fulfil {
        order: i64,
        event_id: String,
        status: &'static str,
    },
    /// The Payment Service confirms a refund of one of its payments.
    Refund {
        order: i64,
        payment_id: String,
        refund_id: String,
        amount: String,
    },
    Read {
        order: i64,
    },
    List,
}

impl Kind {
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Create { .. } => "create",
            Kind::Cancel { .. } => "cancel",
            Kind::Pay { .. } => "pay",
            Kind::Fulfil { .. } => "fulfil",
            Kind::Refund { .. } => "refund",
            Kind::Read { .. } => "read",
            Kind::List => "list",
        }
    }
}

/// What a client saw.
#[derive(Debug, Clone)]
pub enum Outcome {
    Answer {
        status: u16,
        body: Value,
    },
    /// No answer in [`CLIENT_TIMEOUT`].
    TimedOut,
    /// The connection failed or was cut.
    Broken(String),
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Answer { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The client cannot tell whether the operation happened.
    pub fn unclear(&self) -> bool {
        !matches!(self, Outcome::Answer { status, .. } if *status < 500)
    }
}

#[derive(Debug, Clone)]
pub struct Op {
    pub user: i64,
    pub kind: Kind,
    pub started: Instant,
    pub ended: Instant,
    pub outcome: Outcome,
}

#[derive(Default, Clone)]
pub struct History(Arc<Mutex<Vec<Op>>>);

impl History {
    fn record(&self, op: Op) {
        self.0.lock().unwrap().push(op);
    }

    pub fn take(&self) -> Vec<Op> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// An order a client placed, as its 201 showed it.
#[derive(Debug, Clone)]
struct Placed {
    id: i64,
    total: String,
}

struct ClientState {
    user: i64,
    rng: Rng,
    http: Client,
    urls: Urls,
    history: History,
    placed: Vec<Placed>,
    next_payment: u64,
    /// `(order, payment id, amount)` of every payment sent.
    payments: Vec<(i64, String, String)>,
    next_event: u64,
}

pub async fn run_clients(settings: &Settings, urls: &Urls, history: &History, run: Duration) {
    let until = Instant::now() + run;
    let clients = (0..settings.clients).map(|c| {
        let user = 1000 + c as i64;
        let mut state = ClientState {
            user,
            rng: Rng::new(settings.seed.wrapping_add(c as u64 * 7919)),
            // Each customer from an address of its own: the gateway limits
            // creates per client address.
            http: customer_client(user)
                .timeout(CLIENT_TIMEOUT)
                .build()
                .unwrap(),
            urls: urls.clone(),
            history: history.clone(),
            placed: Vec::new(),
            next_payment: 0,
            payments: Vec::new(),
            next_event: 0,
        };
        async move {
            while Instant::now() < until {
                state.step().await;
                let pause = state.rng.millis(0, 60);
                tokio::time::sleep(pause).await;
            }
        }
    });
    join_all(clients).await;
}

impl ClientState {
    async fn step(&mut self) {
        let roll = self.rng.below(100);
        let known = self.known_order();
        match (roll, known) {
            (0..40, _) | (_, None) => self.create().await,
            (40..52, Some(order)) => {
                let copies = if self.rng.chance(25) { 2 } else { 1 };
                let kind = Kind::Cancel { order: order.id };
                self.send_copies(kind, copies).await;
            }
            (52..65, Some(order)) => self.pay(order).await,
            (65..73, Some(order)) => self.fulfil(order).await,
            (73..78, _) => self.refund().await,
            (78..90, Some(order)) => {
                self.send(Kind::Read { order: order.id }).await;
            }
            _ => {
                self.send(Kind::List).await;
            }
        }
    }

    fn known_order(&mut self) -> Option<Placed> {
        if self.placed.is_empty() {
            return None;
        }
        let i = self.rng.below(self.placed.len() as u64) as usize;
        Some(self.placed[i].clone())
    }

    async fn create(&mut self) {
        let lines = self.rng.between(1, 3);
        let mut items = BTreeMap::new();
        for _ in 0..lines {
            let product = STOCK[self.rng.below(STOCK.len() as u64) as usize].0;
            *items.entry(product).or_insert(0) += self.rng.between(1, 3) as i64;
        }
        let items: Vec<(i64, i64)> = items.into_iter().collect();
        let key = self
            .rng
            .chance(35)
            .then(|| format!("chaos-{}-{}", self.user, self.rng.next_u64()));
        let kind = Kind::Create {
            items,
            key: key.clone(),
        };
        // Under a key: sometimes two copies at once; an unclear answer is
        // retried once, as a careful client does.
        let copies = if key.is_some() && self.rng.chance(20) {
            2
        } else {
            1
        };
        let outcomes = self.send_copies(kind.clone(), copies).await;
        if key.is_some() && outcomes.iter().all(Outcome::unclear) {
            self.send(kind).await;
        }
    }

    async fn pay(&mut self, order: Placed) {
        self.next_payment += 1;
        let payment_id = format!("pay-{}-{}", self.user, self.next_payment);
        let amount = if self.rng.chance(20) {
            // A cent too much: refused, a refund recorded.
            add_a_cent(&order.total)
        } else {
            order.total.clone()
        };
        self.payments
            .push((order.id, payment_id.clone(), amount.clone()));
        let kind = Kind::Pay {
            order: order.id,
            payment_id,
            amount,
        };
        let copies = if self.rng.chance(25) { 2 } else { 1 };
        self.send_copies(kind, copies).await;
    }

    /// Ships the order, or (a third of the time) delivers it: either may
    /// be refused (not paid yet, cancelled, not shipped yet); sometimes the
    /// same update twice at once.
    async fn fulfil(&mut self, order: Placed) {
        self.next_event += 1;
        let status = if self.rng.chance(33) {
            "DELIVERED"
        } else {
            "SHIPPED"
        };
        let kind = Kind::Fulfil {
            order: order.id,
            event_id: format!("ful-{}-{}", self.user, self.next_event),
            status,
        };
        let copies = if self.rng.chance(20) { 2 } else { 1 };
        self.send_copies(kind, copies).await;
    }

    /// Confirms a refund of a payment this client sent (the Payment
    /// Service would only for one owed back: here any, so that refusals
    /// are met too; a payment never applied is 404).
    async fn refund(&mut self) {
        if self.payments.is_empty() {
            self.send(Kind::List).await;
            return;
        }
        let i = self.rng.below(self.payments.len() as u64) as usize;
        let (order, payment_id, amount) = self.payments[i].clone();
        self.next_event += 1;
        let kind = Kind::Refund {
            order,
            refund_id: format!("re-{}-{}", self.user, self.next_event),
            payment_id,
            amount,
        };
        let copies = if self.rng.chance(20) { 2 } else { 1 };
        self.send_copies(kind, copies).await;
    }

    async fn send_copies(&mut self, kind: Kind, copies: usize) -> Vec<Outcome> {
        if copies == 1 {
            return vec![self.send(kind).await];
        }
        let sends = (0..copies).map(|_| self.request(&kind)).collect::<Vec<_>>();
        let outcomes = join_all(sends).await;
        outcomes
            .into_iter()
            .map(|(started, outcome)| self.note(kind.clone(), started, outcome))
            .collect()
    }

    async fn send(&mut self, kind: Kind) -> Outcome {
        let (started, outcome) = self.request(&kind).await;
        self.note(kind, started, outcome)
    }

    fn note(&mut self, kind: Kind, started: Instant, outcome: Outcome) -> Outcome {
        if let (Kind::Create { .. }, Outcome::Answer { status: 201, body }) = (&kind, &outcome) {
            let id = body["id"].as_i64().unwrap_or_default();
            if !self.placed.iter().any(|p| p.id == id) {
                self.placed.push(Placed {
                    id,
                    total: body["total_amount"].as_str().unwrap_or_default().to_owned(),
                });
            }
        }
        self.history.record(Op {
            user: self.user,
            kind,
            started,
            ended: Instant::now(),
            outcome: outcome.clone(),
        });
        outcome
    }

    /// Sends one operation; returns when it started and what came back.
    fn request(&self, kind: &Kind) -> impl std::future::Future<Output = (Instant, Outcome)> {
        let gateway = &self.urls.gateway;
        // Minted per request: an access token lives 5 minutes, a run longer.
        let token = token(self.user);
        let builder = match kind {
            Kind::Create { items, key } => {
                let body = json!({"items": items.iter()
                    .map(|(p, q)| json!({"product_id": p, "quantity": q}))
                    .collect::<Vec<_>>()});
                let mut builder = self
                    .http
                    .post(format!("{gateway}/orders/orders/"))
                    .bearer_auth(&token)
                    .json(&body);
                if let Some(key) = key {
                    builder = builder.header("idempotency-key", key);
                }
                builder
            }
            Kind::Cancel { order } => self
                .http
                .post(format!("{gateway}/orders/orders/{order}/cancel/"))
                .bearer_auth(&token),
            Kind::Read { order } => self
                .http
                .get(format!("{gateway}/orders/orders/{order}/"))
                .bearer_auth(&token),
            Kind::List => self
                .http
                .request(Method::GET, format!("{gateway}/orders/orders/?limit=20"))
                .bearer_auth(&token),
            Kind::Pay {
                order,
                payment_id,
                amount,
            } => {
                // The Payment Service reaches an instance directly.
                let node = &self.urls.nodes[(*order as usize) % self.urls.nodes.len()];
                let body = json!({"payment_id": payment_id, "order_id": order,
                                  "amount": amount, "currency": "EUR"})
                .to_string();
                self.http
                    .post(format!("{node}/orders/payments/"))
                    .header("content-type", "application/json")
                    .header(
                        "payment-signature",
                        payment_signature(PAYMENT_SECRET, unix_now(), &body),
                    )
                    .body(body)
            }
            Kind::Fulfil {
                order,
                event_id,
                status,
            } => {
                let node = &self.urls.nodes[(*order as usize + 1) % self.urls.nodes.len()];
                let body = json!({"event_id": event_id, "order_id": order, "status": status,
                                  "carrier": "DHL", "tracking_reference": event_id})
                .to_string();
                self.http
                    .post(format!("{node}/orders/fulfilments/"))
                    .header("content-type", "application/json")
                    .header(
                        "fulfilment-signature",
                        payment_signature(FULFILMENT_SECRET, unix_now(), &body),
                    )
                    .body(body)
            }
            Kind::Refund {
                order,
                payment_id,
                refund_id,
                amount,
            } => {
                let node = &self.urls.nodes[(*order as usize) % self.urls.nodes.len()];
                let body = json!({"refund_id": refund_id, "payment_id": payment_id,
                                  "order_id": order, "amount": amount, "currency": "EUR"})
                .to_string();
                self.http
                    .post(format!("{node}/orders/refunds/"))
                    .header("content-type", "application/json")
                    .header(
                        "payment-signature",
                        payment_signature(PAYMENT_SECRET, unix_now(), &body),
                    )
                    .body(body)
            }
        };
        async move {
            let started = Instant::now();
            let outcome = match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = response.json::<Value>().await.unwrap_or(Value::Null);
                    Outcome::Answer { status, body }
                }
                Err(error) if error.is_timeout() => Outcome::TimedOut,
                Err(error) => Outcome::Broken(error.to_string()),
            };
            (started, outcome)
        }
    }
}

/// "12.35" → "12.36": a payment that does not match its order.
fn add_a_cent(amount: &str) -> String {
    let (whole, cents) = amount.split_once('.').unwrap_or((amount, "00"));
    let total: i64 = whole.parse::<i64>().unwrap_or(0) * 100 + cents.parse::<i64>().unwrap_or(0);
    let more = total + 1;
    format!("{}.{:02}", more / 100, more % 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cent_more() {
        assert_eq!(super::add_a_cent("12.35"), "12.36");
        assert_eq!(super::add_a_cent("0.99"), "1.00");
    }
}
