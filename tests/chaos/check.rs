//! After the run: heal, let the service reconcile until nothing is owed or
//! unpublished, then check the invariants over the history and the final
//! state — the Catalog's stock, the database, the event stream — and print
//! each with its numbers.

use crate::faults::Window;
use crate::helpers::{sql_rows, Backend, ADMIN_TOKEN};
use crate::system::{System, INTENT_LEASE_SECONDS, PAYMENT_DEADLINE_SECONDS, STOCK};
use crate::workload::{Kind, Op, Outcome};
use crate::Settings;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The stream the service publishes to (its default).
const STREAM: &str = "orders.events";
/// Longest the service may take to drain what is owed once healed.
const QUIESCE_LIMIT: Duration = Duration::from_secs(120);

/// One invariant's verdict and the numbers behind it.
struct Line {
    name: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Default)]
pub struct Report {
    summary: String,
    lines: Vec<Line>,
}

impl Report {
    fn check(&mut self, name: &'static str, ok: bool, detail: String) {
        self.lines.push(Line { name, ok, detail });
    }

    pub fn violations(&self) -> Vec<&'static str> {
        self.lines
            .iter()
            .filter(|l| !l.ok)
            .map(|l| l.name)
            .collect()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.summary)?;
        for line in &self.lines {
            let verdict = if line.ok { "ok      " } else { "VIOLATED" };
            writeln!(f, "chaos: {verdict} {}: {}", line.name, line.detail)?;
        }
        Ok(())
    }
}

/// The database, read directly (SQL is this checker's subject).
struct Db {
    postgres_url: Option<String>,
    sqlite_file: std::path::PathBuf,
}

impl Db {
    /// Every row of `sql`, columns as text (NULL as "").
    fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        sql_rows(self.postgres_url.as_deref(), &self.sqlite_file, sql)
    }

    fn count(&self, table: &str) -> i64 {
        self.rows(&format!("SELECT count(*) FROM {table}"))[0][0]
            .parse()
            .unwrap()
    }
}

/// An amount as hundredths, whichever way a backend prints it.
fn cents(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let fraction = format!("{fraction:0<2}");
    whole.parse::<i64>().unwrap() * 100 + fraction[..2].parse::<i64>().unwrap()
}

pub async fn quiesce_and_check(
    settings: &Settings,
    system: &System,
    ops: &[Op],
    windows: &[Window],
) -> Report {
    let mut report = Report::default();
    let db = Db {
        postgres_url: (settings.backend == Backend::Postgres)
            .then(|| system.postgres.as_ref().unwrap().database_url()),
        sqlite_file: system.sqlite_file(),
    };
    summarise(&mut report, ops, windows);
    let drained = quiesce(system, &db).await;
    report.check("quiesced", drained.is_ok(), drained.unwrap_or_else(|e| e));

    check_answers(&mut report, system, ops, windows);
    check_stock(&mut report, system, &db).await;
    check_expiry(&mut report, &db);
    check_orders(&mut report, ops, &db);
    check_keys(&mut report, ops, &db);
    check_transitions(&mut report, &db);
    check_payments(&mut report, &db);
    check_stream(&mut report, system, &db);
    report
}

fn summarise(report: &mut Report, ops: &[Op], windows: &[Window]) {
    let mut by_kind: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for op in ops {
        let outcome = match &op.outcome {
            Outcome::Answer { status, .. } => status.to_string(),
            Outcome::TimedOut => "timeout".to_owned(),
            Outcome::Broken(_) => "broken".to_owned(),
        };
        *by_kind
            .entry(op.kind.name())
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }
    let mut text = format!(
        "chaos: {} operations, {} faults\n",
        ops.len(),
        windows.len()
    );
    for (kind, outcomes) in by_kind {
        let total: usize = outcomes.values().sum();
        let shown: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o}×{n}")).collect();
        let _ = writeln!(text, "chaos:   {kind:<6} {total:>6}  {}", shown.join(" "));
    }
    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
    for window in windows {
        *faults.entry(window.fault.clone()).or_default() += 1;
    }
    let shown: Vec<String> = faults.iter().map(|(f, n)| format!("{f}×{n}")).collect();
    let _ = writeln!(text, "chaos:   faults {}", shown.join(", "));
    report.summary = text;
}

/// Heals and reconciles until nothing is owed, pending or unpublished.
async fn quiesce(system: &System, db: &Db) -> Result<String, String> {
    system.catalog.set_faults(serde_json::json!({})).await;
    // Intents of requests cut off by a kill expire after their lease, and
    // every order left unpaid passes its deadline.
    let wait = INTENT_LEASE_SECONDS.max(PAYMENT_DEADLINE_SECONDS) + 1;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let started = Instant::now();
    let client = reqwest::Client::new();
    let mut passes = 0;
    loop {
        passes += 1;
        let answer = client
            .post(format!("{}/orders/admin/reconcile/", system.nodes[0].url))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await;
        let report: Value = match answer {
            Ok(response) if response.status() == 200 => response.json().await.unwrap(),
            Ok(response) => Value::String(format!("HTTP {}", response.status())),
            Err(error) => Value::String(error.to_string()),
        };
        let intents = db.count("stock_intents");
        let pending = report["pending_total"].as_i64();
        let unpublished = report["events_unpublished"].as_i64();
        // A pass expires at most 100 orders: one that expired none is the
        // last one needed.
        let expired = report["expired_orders"].as_i64();
        if pending == Some(0) && unpublished == Some(0) && intents == 0 && expired == Some(0) {
            return Ok(format!(
                "nothing owed, pending or unpublished after {passes} reconcile pass(es), {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        if started.elapsed() > QUIESCE_LIMIT {
            return Err(format!(
                "still owed after {:.0} s: releases {pending:?}, unpublished events \
                 {unpublished:?}, open intents {intents}; last report {report}",
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// No 500 ever; 5xx, timeouts and cut connections only while a fault was
/// in force (or in its aftermath).
fn check_answers(report: &mut Report, system: &System, ops: &[Op], windows: &[Window]) {
    let mut internal = Vec::new();
    let mut outside = Vec::new();
    let mut unexpected = Vec::new();
    let mut inside = 0;
    for op in ops {
        let status = op.outcome.status();
        if status == Some(500) {
            let met: Vec<&str> = windows
                .iter()
                .filter(|w| w.covers(op.started, op.ended))
                .map(|w| w.fault.as_str())
                .collect();
            internal.push(format!("{} (during {met:?})", describe(op)));
            continue;
        }
        if status.is_some_and(|s| s < 500 && !expected(&op.kind, s)) {
            unexpected.push(describe(op));
        }
        if !op.outcome.unclear() {
            continue;
        }
        if windows.iter().any(|w| w.covers(op.started, op.ended)) {
            inside += 1;
        } else {
            outside.push(describe(op));
        }
    }
    // The service logs each 5xx's cause: the replay starts from it.
    let causes: Vec<String> = system
        .nodes
        .iter()
        .flat_map(|node| node.logs.iter().flat_map(|log| log.lines()))
        .filter(|line| line.contains("\"internal_error\""))
        .collect();
    report.check(
        "no 500 ever",
        internal.is_empty(),
        format!(
            "{} answered 500 {:?}; logged causes {:?}",
            internal.len(),
            first(&internal),
            first(&causes)
        ),
    );
    report.check(
        "every other answer one SPEC gives for the request",
        unexpected.is_empty(),
        format!("{} unexpected {:?}", unexpected.len(), first(&unexpected)),
    );
    report.check(
        "5xx, timeouts and cut connections only during a fault",
        outside.is_empty(),
        format!(
            "{inside} during a fault, {} outside {:?}",
            outside.len(),
            first(&outside)
        ),
    );
}

/// The answers below 500 a well-formed request of this kind can get: the
/// success, and 409 for a refusal (out of stock, a key in use, a refused
/// payment, a shipped order's cancel, a fulfilment step out of order, a
/// refund not owed); a refund of a payment whose confirmation never
/// reached the service is 404. Anything else (400, 401, …) means the
/// service misread a valid request.
fn expected(kind: &Kind, status: u16) -> bool {
    match kind {
        // 429: the gateway's per-client limit on creates (SPEC §3).
        Kind::Create { .. } => matches!(status, 201 | 409 | 429),
        Kind::Cancel { .. } | Kind::Pay { .. } | Kind::Fulfil { .. } => {
            matches!(status, 200 | 409)
        }
        Kind::Refund { .. } => matches!(status, 200 | 404 | 409),
        Kind::Read { .. } | Kind::List => status == 200,
    }
}

fn describe(op: &Op) -> String {
    let outcome = match &op.outcome {
        Outcome::Answer { status, body } => format!("{status} {body}"),
        Outcome::TimedOut => "no answer in time".to_owned(),
        Outcome::Broken(error) => format!("connection failed: {error}"),
    };
    format!("user {} {:?}: {outcome}", op.user, op.kind)
}

fn first(items: &[String]) -> Vec<&String> {
    items.iter().take(3).collect()
}

/// Every order left unpaid expired (the quiesce waited past the payment
/// deadline and ran passes until one expired nothing), exactly once: one
/// `order.expired` event and one `system` timeline entry per `EXPIRED`
/// order, and never another status after it.
fn check_expiry(report: &mut Report, db: &Db) {
    let waiting = db.count("orders WHERE status = 'CREATED'");
    let expired = db.count("orders WHERE status = 'EXPIRED'");
    let events = db.count("events WHERE type = 'order.expired'");
    let entries = db.count("order_status_changes WHERE status = 'EXPIRED' AND source = 'system'");
    report.check(
        "every unpaid order expired, once",
        waiting == 0 && events == expired && entries == expired,
        format!(
            "{expired} expired ({events} events, {entries} timeline entries), \
             {waiting} still CREATED past the deadline"
        ),
    );
}

/// For every product: units taken at the Catalog = units of live orders +
/// units still owed back (none after quiescing).
async fn check_stock(report: &mut Report, system: &System, db: &Db) {
    let mut held: HashMap<i64, i64> = HashMap::new();
    for row in db.rows(
        "SELECT i.product_id, i.quantity FROM order_items i JOIN orders o ON o.id = i.order_id \
         WHERE o.status NOT IN ('CANCELLED', 'EXPIRED')",
    ) {
        *held.entry(row[0].parse().unwrap()).or_default() += row[1].parse::<i64>().unwrap();
    }
    let mut owed: HashMap<i64, i64> = HashMap::new();
    for row in db.rows("SELECT product_id, quantity FROM pending_releases") {
        *owed.entry(row[0].parse().unwrap()).or_default() += row[1].parse::<i64>().unwrap();
    }
    let mut details = Vec::new();
    let mut exact = true;
    for (product, initial) in STOCK {
        let now = system.catalog.stock(product).await;
        let taken = initial - now;
        let accounted =
            held.get(&product).copied().unwrap_or(0) + owed.get(&product).copied().unwrap_or(0);
        exact &= taken == accounted;
        details.push(format!(
            "p{product} taken {taken} = held {} + owed {}{}",
            held.get(&product).copied().unwrap_or(0),
            owed.get(&product).copied().unwrap_or(0),
            if taken == accounted { "" } else { " ✗" }
        ));
    }
    report.check(
        "stock exact (taken = live orders + owed)",
        exact,
        details.join("; "),
    );
}

struct StoredOrder {
    user: i64,
    total: i64,
    status: String,
    items: BTreeMap<i64, i64>,
}

fn stored_orders(db: &Db) -> BTreeMap<i64, StoredOrder> {
    let mut orders: BTreeMap<i64, StoredOrder> = db
        .rows("SELECT id, user_id, total_amount, status FROM orders")
        .into_iter()
        .map(|r| {
            (
                r[0].parse().unwrap(),
                StoredOrder {
                    user: r[1].parse().unwrap(),
                    total: cents(&r[2]),
                    status: r[3].clone(),
                    items: BTreeMap::new(),
                },
            )
        })
        .collect();
    for row in db.rows("SELECT order_id, product_id, quantity FROM order_items") {
        if let Some(order) = orders.get_mut(&row[0].parse().unwrap()) {
            *order.items.entry(row[1].parse().unwrap()).or_default() +=
                row[2].parse::<i64>().unwrap();
        }
    }
    orders
}

/// Every 201 is a stored order with the same items and total; an order
/// nobody saw a 201 for exists only where its client saw no clear answer.
fn check_orders(report: &mut Report, ops: &[Op], db: &Db) {
    let orders = stored_orders(db);
    let mut acknowledged = BTreeSet::new();
    let mut wrong = Vec::new();
    let mut unclear_creates: HashMap<i64, usize> = HashMap::new();
    for op in ops {
        let Kind::Create { items, .. } = &op.kind else {
            continue;
        };
        match &op.outcome {
            Outcome::Answer { status: 201, body } => {
                let id = body["id"].as_i64().unwrap_or_default();
                acknowledged.insert(id);
                let expected: BTreeMap<i64, i64> = items.iter().copied().collect();
                let total = body["total_amount"].as_str().map(cents);
                match orders.get(&id) {
                    Some(order)
                        if order.user == op.user
                            && order.items == expected
                            && Some(order.total) == total => {}
                    Some(_) => wrong.push(format!("order {id} differs from its 201")),
                    None => wrong.push(format!("order {id} acknowledged but not stored")),
                }
            }
            outcome if outcome.unclear() => *unclear_creates.entry(op.user).or_default() += 1,
            _ => {}
        }
    }
    report.check(
        "every 201 is a stored order with its items and total",
        wrong.is_empty(),
        format!(
            "{} acknowledged, {} wrong {:?}",
            acknowledged.len(),
            wrong.len(),
            first(&wrong)
        ),
    );
    let mut unexplained = Vec::new();
    let mut silent = 0;
    let mut per_user: HashMap<i64, usize> = HashMap::new();
    for (id, order) in &orders {
        if !acknowledged.contains(id) {
            silent += 1;
            *per_user.entry(order.user).or_default() += 1;
        }
    }
    for (user, count) in &per_user {
        let unclear = unclear_creates.get(user).copied().unwrap_or(0);
        if *count > unclear {
            unexplained.push(format!(
                "user {user}: {count} orders without a 201, {unclear} unclear creates"
            ));
        }
    }
    report.check(
        "orders without a 201 only after an unclear create",
        unexplained.is_empty(),
        format!(
            "{silent} without a 201, {} creates unclear to their client {:?}",
            unclear_creates.values().sum::<usize>(),
            first(&unexplained)
        ),
    );
}

/// No Idempotency-Key made two orders: all its 201s name one order, and
/// the stored key names that order.
fn check_keys(report: &mut Report, ops: &[Op], db: &Db) {
    let mut answered: BTreeMap<(i64, String), BTreeSet<i64>> = BTreeMap::new();
    for op in ops {
        if let (Kind::Create { key: Some(key), .. }, Outcome::Answer { status: 201, body }) =
            (&op.kind, &op.outcome)
        {
            answered
                .entry((op.user, key.clone()))
                .or_default()
                .insert(body["id"].as_i64().unwrap_or_default());
        }
    }
    let stored: HashMap<(i64, String), String> = db
        .rows("SELECT user_id, key, order_id FROM idempotency_keys")
        .into_iter()
        .map(|r| ((r[0].parse().unwrap(), r[1].clone()), r[2].clone()))
        .collect();
    let mut bad = Vec::new();
    for ((user, key), ids) in &answered {
        if ids.len() > 1 {
            bad.push(format!("user {user} key {key}: orders {ids:?}"));
        }
        let stored_id = stored
            .get(&(*user, key.clone()))
            .cloned()
            .unwrap_or_default();
        if ids.len() == 1 && !ids.contains(&stored_id.parse().unwrap_or(-1)) {
            bad.push(format!(
                "user {user} key {key}: answered {ids:?}, stored {stored_id:?}"
            ));
        }
    }
    let repeated = ops
        .iter()
        .filter(|op| matches!(&op.kind, Kind::Create { key: Some(_), .. }))
        .count();
    report.check(
        "no Idempotency-Key made two orders",
        bad.is_empty(),
        format!(
            "{} keys answered 201 over {repeated} keyed requests, {} bad {:?}",
            answered.len(),
            bad.len(),
            first(&bad)
        ),
    );
}

/// Each order's events tell a path of the state machine (created; paid;
/// shipped, delivered; or cancelled, once paid with its refund owed right
/// after), ending in its stored status; a refund is confirmed only after
/// it was owed, once per payment; and the order's timeline lists the same
/// status changes as its events.
fn check_transitions(report: &mut Report, db: &Db) {
    let orders = stored_orders(db);
    let mut events: BTreeMap<i64, Vec<(i64, String, String)>> = BTreeMap::new();
    for row in db.rows("SELECT order_id, seq, type, payload FROM events") {
        events.entry(row[0].parse().unwrap()).or_default().push((
            row[1].parse().unwrap(),
            row[2].clone(),
            row[3].clone(),
        ));
    }
    let mut timelines: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for row in db.rows("SELECT order_id, status FROM order_status_changes ORDER BY id") {
        timelines
            .entry(row[0].parse().unwrap())
            .or_default()
            .push(row[1].clone());
    }
    let mut bad = Vec::new();
    for (id, order) in &orders {
        let mut seen = events.remove(id).unwrap_or_default();
        seen.sort();
        let types: Vec<&str> = seen.iter().map(|(_, t, _)| t.as_str()).collect();
        let gapless = seen
            .iter()
            .enumerate()
            .all(|(i, (seq, _, _))| *seq == i as i64 + 1);
        let status_changes: Vec<&str> = types
            .iter()
            .copied()
            .filter(|t| {
                [
                    "order.paid",
                    "order.cancelled",
                    "order.expired",
                    "order.shipped",
                    "order.delivered",
                ]
                .contains(t)
            })
            .collect();
        let expected_status = match status_changes.as_slice() {
            [] => Some("CREATED"),
            ["order.paid"] => Some("PAID"),
            ["order.cancelled"] | ["order.paid", "order.cancelled"] => Some("CANCELLED"),
            ["order.expired"] => Some("EXPIRED"),
            ["order.paid", "order.shipped"] => Some("SHIPPED"),
            ["order.paid", "order.shipped", "order.delivered"] => Some("DELIVERED"),
            _ => None,
        };
        // The timeline: the same changes, as statuses.
        let timeline: Vec<String> = status_changes
            .iter()
            .map(|t| t.trim_start_matches("order.").to_uppercase())
            .collect();
        let timeline_fits = timelines.remove(id).unwrap_or_default() == timeline;
        // A refund confirmed once per payment, after it was owed.
        let payment_of = |payload: &str| -> String {
            let payload: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
            payload["payment_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let mut owed = HashSet::new();
        let mut refunds_fit = true;
        for (_, kind, payload) in &seen {
            match kind.as_str() {
                "payment.refund_required" => {
                    owed.insert(payment_of(payload));
                }
                "payment.refunded" => refunds_fit &= owed.remove(&payment_of(payload)),
                _ => {}
            }
        }
        // A paid order's cancel records its refund owed right after it.
        let refund_follows_cancel = status_changes != ["order.paid", "order.cancelled"]
            || types
                .iter()
                .position(|t| *t == "order.cancelled")
                .is_some_and(|at| types.get(at + 1) == Some(&"payment.refund_required"));
        if types.first() != Some(&"order.created")
            || !gapless
            || expected_status != Some(order.status.as_str())
            || !refund_follows_cancel
            || !timeline_fits
            || !refunds_fit
        {
            bad.push(format!("order {id} {}: {types:?}", order.status));
        }
    }
    bad.extend(
        events
            .keys()
            .map(|id| format!("events of order {id}, which does not exist")),
    );
    report.check(
        "status changes follow the state machine",
        bad.is_empty(),
        format!(
            "{} orders, {} bad {:?}",
            orders.len(),
            bad.len(),
            first(&bad)
        ),
    );
}

/// A payment that made an order PAID was for exactly its total; only a
/// payment owed back was refunded.
fn check_payments(report: &mut Report, db: &Db) {
    let orders = stored_orders(db);
    let mut paid = 0;
    let mut refused = 0;
    let mut bad = Vec::new();
    let mut paid_per_order: HashMap<i64, usize> = HashMap::new();
    let mut owed_back = 0;
    let mut refunded = 0;
    let yes = |text: &str| matches!(text, "1" | "t" | "true");
    for row in db.rows(
        "SELECT payment_id, order_id, amount, outcome, refund_required_at IS NOT NULL, \
         refunded_at IS NOT NULL FROM payments",
    ) {
        let order: i64 = row[1].parse().unwrap();
        if yes(&row[5]) {
            refunded += 1;
            if row[3] == "paid" && !yes(&row[4]) {
                bad.push(format!("payment {} refunded, never owed", row[0]));
            }
        }
        if row[3] == "paid" {
            paid += 1;
            *paid_per_order.entry(order).or_default() += 1;
            // Paid and still PAID, or paid, cancelled and owed back.
            let owed = yes(&row[4]);
            owed_back += usize::from(owed);
            let status_fits = |status: &str| match status {
                "PAID" | "SHIPPED" | "DELIVERED" => !owed,
                "CANCELLED" => owed,
                _ => false,
            };
            match orders.get(&order) {
                Some(o) if o.total == cents(&row[2]) && status_fits(&o.status) => {}
                _ => bad.push(format!(
                    "payment {} of {} for order {order}",
                    row[0], row[2]
                )),
            }
        } else {
            refused += 1;
        }
    }
    bad.extend(
        paid_per_order
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(order, n)| format!("order {order} paid {n} times")),
    );
    report.check(
        "a paid amount equals its order's total",
        bad.is_empty(),
        format!(
            "{paid} paid ({owed_back} cancelled since, refund owed), {refused} refused \
             (refund recorded), {refunded} refunded, {} bad {:?}",
            bad.len(),
            first(&bad)
        ),
    );
}

/// Every recorded event is on the stream (copies of one event id counted:
/// publishing is at least once), nothing else is, and each order's events
/// first appear in their order.
fn check_stream(report: &mut Report, system: &System, db: &Db) {
    let recorded: HashMap<String, (i64, i64)> = db
        .rows("SELECT event_id, order_id, seq FROM events")
        .into_iter()
        .map(|r| (r[0].clone(), (r[1].parse().unwrap(), r[2].parse().unwrap())))
        .collect();
    let entries = system.redis.entries(STREAM);
    let mut copies: HashMap<String, usize> = HashMap::new();
    let mut last_seq: HashMap<i64, i64> = HashMap::new();
    let mut strangers = 0;
    let mut out_of_order = Vec::new();
    for entry in &entries {
        let event_id = entry.field("event_id").to_owned();
        let count = copies.entry(event_id.clone()).or_default();
        *count += 1;
        if *count > 1 {
            continue;
        }
        let Some((order, seq)) = recorded.get(&event_id) else {
            strangers += 1;
            continue;
        };
        let last = last_seq.entry(*order).or_default();
        if *seq != *last + 1 {
            out_of_order.push(format!("order {order}: seq {seq} after {last}"));
        }
        *last = (*last).max(*seq);
    }
    let missing = recorded
        .keys()
        .filter(|id| !copies.contains_key(*id))
        .count();
    let duplicated = copies.values().filter(|n| **n > 1).count();
    report.check(
        "every event on the stream, in order per order",
        missing == 0 && strangers == 0 && out_of_order.is_empty(),
        format!(
            "{} recorded, {} entries, {missing} missing, {duplicated} published more than once \
             (at-least-once, counted), {strangers} unknown, {} out of order {:?}",
            recorded.len(),
            entries.len(),
            out_of_order.len(),
            first(&out_of_order)
        ),
    );
}
