//! `GET /orders/admin/metrics` (issue 22): the service's own gauges in the
//! Prometheus text format, read by the real parser (`prometheus_client`
//! from PyPI) and scraped by a real Prometheus (Debian's); operator token
//! only; each part of its one statement read through an index on both
//! backends.

use crate::helpers::{
    django_python, eventually, psql, spawn_app_on, token, Backend, TestApp, ADMIN_TOKEN,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

crate::on_both_backends!(
    the_gauges_follow_the_orders_and_parse_as_prometheus_text,
    only_the_operator_token_reads_the_metrics,
    a_real_prometheus_scrapes_the_metrics,
);

async fn scrape(app: &TestApp) -> String {
    app.metrics().await
}

/// The samples `prometheus_client`'s text parser reads from `text`, by
/// `name{label="value"}`, with their family's type.
fn parse(text: &str) -> BTreeMap<String, (f64, String)> {
    const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        samples[s.name + ("{" + labels + "}" if labels else "")] = [s.value, family.type]
print(json.dumps(samples))
"#;
    let mut child = Command::new(django_python())
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "prometheus_client refused the text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: BTreeMap<String, (f64, String)> = serde_json::from_slice(&output.stdout).unwrap();
    parsed
}

/// Every gauge moves with what it counts: orders by status (created,
/// paid, cancelled), a release owed (the Catalog has no release endpoint),
/// a refused payment awaiting its refund, stored Idempotency-Keys, order
/// events unpublished (no stream is set), each with the age of its oldest.
async fn the_gauges_follow_the_orders_and_parse_as_prometheus_text(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let empty = parse(&scrape(&app).await);
    assert_eq!(empty.len(), 15, "{empty:?}");
    for (name, (value, kind)) in &empty {
        assert_eq!(*value, 0.0, "{name}");
        assert_eq!(kind, "gauge", "{name}");
    }

    app.catalog.set_faults(json!({"no_release": true})).await;
    let paid = app.create(42, &[(2, 1)]).await;
    let cancelled = app.create(42, &[(2, 1)]).await;
    let refused = app.create(7, &[(2, 1)]).await;
    let keyed = app
        .request(reqwest::Method::POST, "/orders/orders/")
        .bearer_auth(token(9))
        .header("idempotency-key", "metrics-key-1")
        .json(&json!({"items": [{"product_id": 2, "quantity": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(keyed.status(), 201);
    let pay = |id: &str, order: &Value| {
        json!({"payment_id": id, "order_id": order["id"], "amount": order["total_amount"],
               "currency": "EUR"})
    };
    assert_eq!(app.confirm_payment(&pay("p-1", &paid)).await.status(), 200);
    assert_eq!(app.cancel(42, &cancelled["id"]).await.status(), 200);
    assert_eq!(app.cancel(7, &refused["id"]).await.status(), 200);
    let late = app.confirm_payment(&pay("p-2", &refused)).await;
    assert_eq!(
        late.status(),
        409,
        "a payment for a cancelled order is refused"
    );

    let gauges = parse(&scrape(&app).await);
    let value = |name: &str| gauges.get(name).map(|(v, _)| *v).unwrap_or(f64::NAN);
    assert_eq!(value(r#"order_service_orders{status="CREATED"}"#), 1.0);
    assert_eq!(value(r#"order_service_orders{status="PAID"}"#), 1.0);
    assert_eq!(value(r#"order_service_orders{status="CANCELLED"}"#), 2.0);
    assert_eq!(value("order_service_releases_owed"), 2.0);
    assert_eq!(value("order_service_refunds_owed"), 1.0);
    assert_eq!(value("order_service_idempotency_keys"), 1.0);
    assert_eq!(value("order_service_intents_expired"), 0.0);
    // created ×4, paid, cancelled ×2, refund required.
    assert_eq!(
        value("order_service_events_unpublished"),
        app.count("events") as f64
    );
    assert_eq!(value("order_service_events_unpublished"), 8.0);
    for age in [
        "order_service_releases_owed_oldest_age_seconds",
        "order_service_events_unpublished_oldest_age_seconds",
        "order_service_refunds_owed_oldest_age_seconds",
        "order_service_unpaid_orders_oldest_age_seconds",
    ] {
        let seconds = value(age);
        assert!((0.0..60.0).contains(&seconds), "{age} = {seconds}");
    }
    // The counts kept by the triggers agree with the orders themselves.
    assert_eq!(
        app.rows("SELECT status || ':' || sum(orders) FROM order_status_counts GROUP BY status ORDER BY status"),
        app.rows("SELECT status || ':' || count(*) FROM orders GROUP BY status ORDER BY status"),
    );
}

/// No token 401, a user's JWT 403, a wrong operator token 403; nothing
/// read.
async fn only_the_operator_token_reads_the_metrics(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let get = || app.request(reqwest::Method::GET, "/orders/admin/metrics");
    let anonymous = get().send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let user = get().bearer_auth(token(42)).send().await.unwrap();
    assert_eq!(user.status(), 403);
    let wrong = get()
        .bearer_auth("not-the-operator-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["code"], "permission_denied");
    let post = app
        .request(reqwest::Method::POST, "/orders/admin/metrics")
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 405);
    assert_eq!(post.headers()["allow"], "GET");
}

/// Debian's Prometheus scrapes the endpoint with the operator token as
/// its bearer credentials: the target is up and the samples are stored.
async fn a_real_prometheus_scrapes_the_metrics(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.create(42, &[(1, 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let target = app.address.trim_start_matches("http://");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: order-service\n    \
             metrics_path: /orders/admin/metrics\n    authorization:\n      type: Bearer\n      \
             credentials: {ADMIN_TOKEN}\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (Debian's package, installed by ./dev test)");
    let client = reqwest::Client::new();
    let query = |expr: &'static str| {
        let client = client.clone();
        async move {
            let answer: Value = client
                .get(format!("http://127.0.0.1:{port}/api/v1/query"))
                .query(&[("query", expr)])
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            answer["data"]["result"][0]["value"][1]
                .as_str()
                .map(str::to_owned)
        }
    };
    let scraped = eventually(Duration::from_secs(30), || async {
        query(r#"order_service_orders{status="CREATED"}"#)
            .await
            .as_deref()
            == Some("1")
    })
    .await;
    let up = query(r#"up{job="order-service"}"#).await;
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    assert!(scraped, "Prometheus never stored the gauge (up = {up:?})");
    assert_eq!(up.as_deref(), Some("1"));
}

/// Orders stored before the counts existed are counted from the start:
/// each backend migrated from its previous schema with orders in it.
#[tokio::test]
async fn orders_stored_before_the_counts_are_counted_after_migrating_sqlite() {
    let app = spawn_app_on(Backend::Sqlite).await;
    // Before the app's first request (it opens the file lazily).
    let db = app.db();
    for sql in &crate::persistence::migration_files()[..11] {
        db.execute_batch(sql).unwrap();
    }
    db.execute_batch(
        "INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at) VALUES \
         (1, 42, '1.00', 'CREATED', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), \
         (2, 42, '1.00', 'PAID', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'), \
         (17, 7, '1.00', 'CREATED', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');",
    )
    .unwrap();
    drop(db);
    counted_after_migrating(&app).await;
}

#[tokio::test]
async fn orders_stored_before_the_counts_are_counted_after_migrating_postgres() {
    let app = spawn_app_on(Backend::Postgres).await;
    let url = app.database_url.clone().unwrap();
    crate::postgres::apply_by_hand(&url, &crate::postgres::migration_files()[..8]);
    psql(
        &url,
        "INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at) \
         OVERRIDING SYSTEM VALUE VALUES (1, 42, 1.00, 'CREATED', now(), now()), \
         (2, 42, 1.00, 'PAID', now(), now()), (17, 7, 1.00, 'CREATED', now(), now()); \
         SELECT setval(pg_get_serial_sequence('orders', 'id'), 17)",
    )
    .unwrap();
    counted_after_migrating(&app).await;
}

/// Two `CREATED` (ids 1 and 17: one shard) and one `PAID` stored before;
/// cancelling one and creating one move the counts from there.
async fn counted_after_migrating(app: &TestApp) {
    let value = |gauges: &BTreeMap<String, (f64, String)>, status: &str| {
        gauges[&format!("order_service_orders{{status=\"{status}\"}}")].0
    };
    let before = parse(&scrape(app).await);
    assert_eq!(value(&before, "CREATED"), 2.0);
    assert_eq!(value(&before, "PAID"), 1.0);
    assert_eq!(value(&before, "CANCELLED"), 0.0);
    assert_eq!(app.cancel(42, &json!(1)).await.status(), 200);
    app.create(42, &[(1, 1)]).await;
    let after = parse(&scrape(app).await);
    assert_eq!(value(&after, "CREATED"), 2.0);
    assert_eq!(value(&after, "PAID"), 1.0);
    assert_eq!(value(&after, "CANCELLED"), 1.0);
}
