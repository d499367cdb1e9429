//! The PostgreSQL backend where it differs from one SQLite file: migrations
//! that instances apply together and operators run by hand, and several
//! instances sharing one database behind the project's gateway — racing
//! for the last units, for one Idempotency-Key, for the same cancels and
//! the same owed releases, and one of them killed half-way.

use crate::helpers::{customer_client, nginx_binary, Gateway};
use crate::helpers::{
    json_body, order, pg_server, products, psql, spawn_app_on, spawn_app_with, token, AppOptions,
    Backend, ADMIN_TOKEN,
};
use futures::future::join_all;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Tables, columns, indexes and constraints of the database at `url`.
fn schema(url: &str) -> String {
    [
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
         || ' ' || coalesce(column_default, '') || ' ' || is_identity \
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1",
        "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
         ORDER BY 1",
        "SELECT conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE connamespace = 'public'::regnamespace ORDER BY 1",
    ]
    .iter()
    .map(|sql| psql(url, sql).unwrap())
    .collect::<Vec<_>>()
    .join("\n")
}

pub(crate) fn migration_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

/// Runs migration files by hand, as an operator would.
pub(crate) fn apply_by_hand(url: &str, files: &[std::path::PathBuf]) {
    for file in files {
        let status = std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"])
            .arg("-d")
            .arg(url)
            .arg("-f")
            .arg(file)
            .status()
            .unwrap();
        assert!(status.success(), "{}", file.display());
    }
}

/// The `migrated` lines an app has logged, by schema version.
fn migrations_logged(app: &crate::helpers::TestApp) -> Vec<Value> {
    app.stderr
        .events("migrated")
        .into_iter()
        .map(|line| line["schema_version"].clone())
        .collect()
}

fn schema_versions(url: &str) -> String {
    psql(
        url,
        "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_migrations",
    )
    .unwrap()
}

/// A create checks the schema in its first write (no round trip of its
/// own): on a database one release behind, that write must not land on the
/// old schema but migrate first, with or without an Idempotency-Key.
#[tokio::test]
async fn a_create_on_an_older_schema_migrates_it_first() {
    let files = migration_files();
    let all: Vec<String> = (1..=files.len()).map(|v| v.to_string()).collect();
    for key in [None, Some("upgrade-1")] {
        let app = spawn_app_on(Backend::Postgres).await;
        let url = app.database_url.clone().unwrap();
        apply_by_hand(&url, &files[..files.len() - 1]);
        assert_eq!(schema_versions(&url), all[..all.len() - 1].join(","));

        let token = app.catalog.token(7).await;
        let response = match key {
            None => app.post_order(Some(&token), &order(&[(1, 1)])).await,
            Some(key) => {
                app.post_order_with_key(&token, key, &order(&[(1, 1)]).to_string())
                    .await
            }
        };
        assert_eq!(response.status(), 201, "key {key:?}");
        assert_eq!(schema_versions(&url), all.join(","), "key {key:?}");
        assert_eq!(migrations_logged(&app), [json!(files.len())], "key {key:?}");
        assert_eq!(psql(&url, "SELECT count(*) FROM orders").unwrap(), "1");
        assert_eq!(
            psql(&url, "SELECT count(*) FROM stock_intents").unwrap(),
            "0"
        );
    }
}

/// During a rolling upgrade an instance of the earlier release meets a
/// schema a later one migrated: it takes orders and migrates nothing.
#[tokio::test]
async fn a_create_on_a_newer_schema_is_placed_and_migrates_nothing() {
    let app = spawn_app_on(Backend::Postgres).await;
    let url = app.database_url.clone().unwrap();
    apply_by_hand(&url, &migration_files());
    psql(&url, "INSERT INTO schema_migrations (version) VALUES (999)").unwrap();

    app.create(7, &[(1, 1)]).await;
    let listed = app.send_as(7, Method::GET, "/orders/orders/").await;
    assert_eq!(listed.status(), 200);
    assert!(migrations_logged(&app).is_empty());
    assert_eq!(psql(&url, "SELECT count(*) FROM orders").unwrap(), "1");
}

/// A create the Catalog refuses makes no statement of its own; the
/// follow-up's check then migrates a new database, and says so once.
#[tokio::test]
async fn a_refused_first_create_still_migrates_and_logs_it_once() {
    let app = spawn_app_on(Backend::Postgres).await;
    let url = app.database_url.clone().unwrap();
    let token = app.catalog.token(7).await;
    let refused = app.post_order(Some(&token), &order(&[(424_242, 1)])).await;
    assert_eq!(refused.status(), 400);
    let files = migration_files().len();
    assert!(
        crate::helpers::eventually(Duration::from_secs(10), || async {
            !migrations_logged(&app).is_empty()
        })
        .await,
        "the follow-up migrated and logged it"
    );
    app.create(7, &[(1, 1)]).await;
    assert_eq!(migrations_logged(&app), [json!(files)]);
    assert_eq!(
        schema_versions(&url),
        (1..=files)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
}

#[tokio::test]
async fn the_migration_files_run_by_hand_give_the_schema_the_service_creates() {
    let app = spawn_app_on(Backend::Postgres).await;
    let listed = app.send_as(42, Method::GET, "/orders/orders/").await;
    assert_eq!(listed.status(), 200, "the first request migrates");

    let by_hand = pg_server().create_database();
    apply_by_hand(&by_hand, &migration_files());
    let service = app.database_url.as_deref().unwrap();
    assert_eq!(schema(&by_hand), schema(service));
    assert_eq!(
        psql(
            service,
            "SELECT string_agg(version::text, ',') FROM schema_migrations"
        )
        .unwrap(),
        psql(
            &by_hand,
            "SELECT string_agg(version::text, ',') FROM schema_migrations"
        )
        .unwrap()
    );
}

#[tokio::test]
async fn instances_starting_together_migrate_once() {
    let app = spawn_app_on(Backend::Postgres).await;
    let second = app.start_instance().await;
    let client = Client::new();
    let statuses = join_all((0..16).map(|i| {
        let base = if i % 2 == 0 {
            &app.address
        } else {
            &second.address
        };
        let request = client
            .get(format!("{base}/orders/orders/"))
            .bearer_auth(token(i + 1));
        async move { request.send().await.unwrap().status().as_u16() }
    }))
    .await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let url = app.database_url.as_deref().unwrap();
    assert_eq!(
        psql(url, "SELECT count(*) FROM schema_migrations").unwrap(),
        migration_files().len().to_string(),
        "each file applied once"
    );
    let migrated = [&app.stderr, &second.stderr]
        .iter()
        .flat_map(|out| out.events("migrated"))
        .count();
    assert_eq!(migrated, 1);
}

/// `POST /orders/orders/` through `base` with an optional key.
async fn create_at(base: &str, user: i64, items: &[(i64, i64)], key: Option<&str>) -> (u16, Value) {
    let mut request = customer_client(user)
        .build()
        .unwrap()
        .post(format!("{base}/orders/orders/"))
        .bearer_auth(token(user))
        .json(&order(items));
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn reconcile_at(base: &str) -> Value {
    let response = Client::new()
        .post(format!("{base}/orders/admin/reconcile/"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    json_body(response).await
}

#[tokio::test]
async fn two_instances_behind_the_gateway_share_one_database_safely() {
    let app = spawn_app_with(AppOptions {
        backend: Backend::Postgres,
        variables: vec![
            ("catalog_timeout_ms", "1000".into()),
            ("stock_intent_lease_seconds", "10".into()),
        ],
        ..Default::default()
    })
    .await;
    let second = app.start_instance().await;
    let gateway =
        Gateway::start_in_front_of(nginx_binary(), &[&app.address, &second.address]).await;
    let url = app.database_url.clone().unwrap();

    // 24 buyers for the last 5 units, spread over both instances.
    let results =
        join_all((0..24).map(|i| create_at(&gateway.url, 100 + i, &[(4, 1)], None))).await;
    let created: Vec<&Value> = results
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(created.len(), 5, "{results:?}");
    assert!(results
        .iter()
        .all(|(status, body)| *status == 201 || body["code"] == "insufficient_stock"));
    assert_eq!(app.catalog.stock(4).await, 0, "no oversell");
    assert_eq!(app.count("orders"), 5, "no order without its stock");
    let served_by_both = [&app.stdout, &second.stdout].iter().all(|out| {
        out.json_lines()
            .iter()
            .any(|l| l["path"] == "/orders/orders/")
    });
    assert!(served_by_both, "the gateway spread the creates");

    // One Idempotency-Key sent 8 times at once: one order, one reservation.
    let reserves = app.catalog.calls().await.reserve;
    let repeats =
        join_all((0..8).map(|_| create_at(&gateway.url, 7, &[(5, 2)], Some("once")))).await;
    assert!(
        repeats
            .iter()
            .all(|(s, b)| *s == 201 || b["code"] == "idempotency_key_in_use"),
        "{repeats:?}"
    );
    assert_eq!(app.count("orders WHERE user_id = 7"), 1);
    assert_eq!(app.catalog.calls().await.reserve - reserves, 1);
    let (status, replay) = create_at(&gateway.url, 7, &[(5, 2)], Some("once")).await;
    assert_eq!(status, 201);
    assert_eq!(app.count("orders WHERE user_id = 7"), 1);
    assert_eq!(replay["total_amount"], "0.20");

    // Every sold order cancelled twice at once, across both instances:
    // each unit goes back exactly once.
    let releases = app.catalog.calls().await.release;
    let cancels = join_all(created.iter().flat_map(|order| {
        let user = order["user_id"].as_i64().unwrap();
        let path = format!("{}/orders/orders/{}/cancel/", gateway.url, order["id"]);
        [path.clone(), path].map(|path| async move {
            Client::new()
                .post(path)
                .bearer_auth(token(user))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    }))
    .await;
    assert!(cancels.iter().all(|s| *s == 200), "{cancels:?}");
    assert_eq!(
        app.catalog.calls().await.release - releases,
        5,
        "no double release"
    );
    assert_eq!(app.catalog.stock(4).await, 5);

    // Owed releases drained by both instances' reconcilers at once: each
    // row is tried by one of them.
    app.catalog.set_faults(json!({"release_status": 503})).await;
    for user in 1..=3 {
        let (status, body) = create_at(&gateway.url, user, &[(2, 1)], None).await;
        assert_eq!(status, 201);
        let cancelled = Client::new()
            .post(format!(
                "{}/orders/orders/{}/cancel/",
                gateway.url, body["id"]
            ))
            .bearer_auth(token(user))
            .send()
            .await
            .unwrap();
        assert_eq!(json_body(cancelled).await["stock_release"], "pending");
    }
    assert_eq!(app.count("pending_releases"), 3);
    app.catalog.set_faults(json!({})).await;
    let releases = app.catalog.calls().await.release;
    let reports = join_all([reconcile_at(&app.address), reconcile_at(&second.address)]).await;
    let released: i64 = reports
        .iter()
        .map(|r| r["released"].as_i64().unwrap())
        .sum();
    assert_eq!(released, 3, "{reports:?}");
    assert_eq!(
        app.catalog.calls().await.release - releases,
        3,
        "each row once"
    );
    assert_eq!(app.count("pending_releases"), 0);
    assert_eq!(app.catalog.stock(2).await, 100);

    // One instance dies between reserving and saving; the other settles
    // its intent once the lease has run out.
    app.catalog
        .set_faults(json!({"reserve_latency_ms": 300}))
        .await;
    let reserves = app.catalog.calls().await.reserve;
    let in_flight = tokio::spawn(create_at_owned(second.address.clone(), 9, vec![(1, 3)]));
    let started = Instant::now();
    while app.catalog.calls().await.reserve == reserves {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no reserve arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut second = second;
    second.child.kill().await.unwrap();
    let _ = in_flight.await;
    app.catalog.set_faults(json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await; // the Catalog applies it
    assert_eq!(
        app.catalog.stock(1).await,
        7,
        "the dead request's reservation applied"
    );
    assert_eq!(app.count("stock_intents"), 1);
    assert_eq!(app.count("orders WHERE user_id = 9"), 0);
    psql(
        &url,
        "UPDATE stock_intents SET lease_until = now() - interval '1 second'",
    )
    .unwrap();
    let report = reconcile_at(&app.address).await;
    assert_eq!(report["expired_intents"], 1, "{report}");
    assert_eq!(report["released"], 1, "{report}");
    assert_eq!(app.catalog.stock(1).await, 10);
    assert_eq!(app.count("stock_intents"), 0);
    assert_eq!(app.count("pending_releases"), 0);
}

async fn create_at_owned(base: String, user: i64, items: Vec<(i64, i64)>) -> (u16, Value) {
    create_at(&base, user, &items, None).await
}

/// Spin gates PostgreSQL addresses by `allowed_outbound_hosts` too: a
/// `database_host` that does not name the database's address denies it.
#[tokio::test]
async fn a_database_not_in_allowed_outbound_hosts_is_refused() {
    let app = spawn_app_with(AppOptions {
        backend: Backend::Postgres,
        variables: vec![("database_host", "postgres://127.0.0.1:1".into())],
        ..Default::default()
    })
    .await;
    let response = app.send_as(42, Method::GET, "/orders/orders/").await;
    assert_eq!(response.status(), 500);
    assert_eq!(json_body(response).await["code"], "internal_error");
    let denied = app
        .stderr
        .lines()
        .iter()
        .any(|line| line.contains("is not permitted"));
    assert!(denied, "{:?}", app.stderr.lines());
    assert!(
        !app.stderr
            .lines()
            .iter()
            .any(|l| l.contains("orders_test_")),
        "the connection string (a secret) is never logged"
    );
}

/// A psql session held open by the test (to hold a row lock), fed
/// statements on its standard input.
struct HeldSession(std::process::Child);

impl HeldSession {
    fn start(url: &str, sql: &str) -> Self {
        use std::io::Write;
        let mut child = std::process::Command::new("psql")
            .args(["-X", "-q", "-d", url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        writeln!(child.stdin.as_mut().unwrap(), "{sql}").unwrap();
        // Until the session has run it and waits, inside its transaction.
        let deadline = Instant::now() + Duration::from_secs(20);
        while psql(
            url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND application_name = 'psql' AND state = 'idle in transaction'",
        )
        .unwrap()
            == "0"
        {
            assert!(Instant::now() < deadline, "the held session never began");
            std::thread::sleep(Duration::from_millis(20));
        }
        HeldSession(child)
    }
}

impl Drop for HeldSession {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The service's connections left inside a transaction (`idle in
/// transaction`, or `… (aborted)` after a failed statement).
fn sessions_left_in_a_transaction(url: &str) -> i64 {
    psql(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND state LIKE 'idle in transaction%' AND application_name <> 'psql'",
    )
    .unwrap()
    .parse()
    .unwrap()
}

/// A statement that fails inside a transaction (cancelled while it waits
/// for a row lock, or its connection killed) rolls the transaction back and
/// answers: no connection is left `idle in transaction` holding locks, and
/// the next request on the pooled connections works.
#[tokio::test]
async fn a_statement_killed_inside_a_transaction_rolls_back_and_answers() {
    let app = spawn_app_on(Backend::Postgres).await;
    let url = app.database_url.clone().unwrap();
    let first = app.create(42, &[(1, 1)]).await;
    let second = app.create(42, &[(2, 1)]).await;

    for (order, kill) in [
        (&first, "pg_cancel_backend"),
        (&second, "pg_terminate_backend"),
    ] {
        let id = order["id"].as_i64().unwrap();
        // The test's own session holds the order's row lock, so the
        // cancel's transaction waits inside its `SELECT … FOR UPDATE`.
        let locker = HeldSession::start(
            &url,
            &format!("BEGIN; SELECT id FROM orders WHERE id = {id} FOR UPDATE;"),
        );
        let cancel = tokio::spawn({
            let request = app.request(Method::POST, &format!("/orders/orders/{id}/cancel/"));
            async move { request.bearer_auth(token(42)).send().await.unwrap() }
        });
        let waiting = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
                       AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'";
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid = loop {
            let found = psql(&url, waiting).unwrap();
            if !found.is_empty() {
                break found.lines().next().unwrap().to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the cancel never waited for the lock"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        psql(&url, &format!("SELECT {kill}({pid})")).unwrap();

        let answer = tokio::time::timeout(Duration::from_secs(20), cancel)
            .await
            .unwrap_or_else(|_| panic!("{kill}: the request never answered"))
            .unwrap();
        let status = answer.status().as_u16();
        assert!((500..600).contains(&status), "{kill}: {status}");
        let body = json_body(answer).await;
        assert!(body["code"].is_string(), "{kill}: a JSON error: {body}");
        assert_eq!(
            sessions_left_in_a_transaction(&url),
            0,
            "{kill}: a transaction was left open"
        );
        drop(locker);

        // Nothing changed, and the same cancel now goes through.
        let shown = json_body(
            app.send_as(42, Method::GET, &format!("/orders/orders/{id}/"))
                .await,
        )
        .await;
        assert_eq!(shown["status"], "CREATED", "{kill}");
        let again = app.cancel(42, &order["id"]).await;
        assert_eq!(again.status(), 200, "{kill}");
    }
    assert_eq!(sessions_left_in_a_transaction(&url), 0);
}

/// A database of the previous schema (0004) with orders in it moves to
/// 0005: the old order reads as before, and a total as large as SPEC's
/// limits allow is stored.
#[tokio::test]
async fn the_previous_schema_with_orders_takes_the_largest_totals_after_migrating() {
    let app = spawn_app_with(AppOptions {
        backend: Backend::Postgres,
        // SPEC's limits: 100 lines of up to 100,000 units.
        catalog_products: Some(products(100, "12345678.91", 100_000)),
        ..Default::default()
    })
    .await;
    let url = app.database_url.clone().unwrap();
    let files = migration_files();
    apply_by_hand(&url, &files[..4]);
    psql(
        &url,
        "INSERT INTO orders (user_id, total_amount, status, created_at, updated_at) \
         VALUES (42, 9999999999.99, 'CREATED', now(), now())",
    )
    .unwrap();

    let items: Vec<(i64, i64)> = (1..=100).map(|id| (id, 99_999)).collect();
    let created = app.create(42, &items).await;
    assert_eq!(created["total_amount"], "123455554532109.00");
    let list = json_body(app.send_as(42, Method::GET, "/orders/orders/").await).await;
    let totals: Vec<&Value> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["total_amount"])
        .collect();
    assert_eq!(
        totals,
        [&json!("123455554532109.00"), &json!("9999999999.99")]
    );
    let all: Vec<String> = (1..=files.len()).map(|v| v.to_string()).collect();
    assert_eq!(schema_versions(&url), all.join(","));
}

/// Migration 0006: an order's event sequence past `integer` (as SQLite's
/// 64-bit INTEGER takes it). On the previous schema the next event of such
/// an order could not be recorded, so its cancel failed on PostgreSQL only.
#[tokio::test]
async fn the_previous_schema_with_events_takes_wide_counters_after_migrating() {
    let app = spawn_app_on(Backend::Postgres).await;
    let url = app.database_url.clone().unwrap();
    let files = migration_files();
    apply_by_hand(&url, &files[..5]);
    psql(
        &url,
        "INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at) \
         OVERRIDING SYSTEM VALUE VALUES (1, 42, 0.00, 'CREATED', now(), now()); \
         INSERT INTO events (event_id, order_id, seq, type, payload, created_at, published_at) \
         VALUES ('e1', 1, 2147483647, 'order.created', '{}', now(), now())",
    )
    .unwrap();

    let cancelled = app.cancel(42, &json!(1)).await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(
        app.rows("SELECT seq FROM events WHERE order_id = 1 ORDER BY seq"),
        ["2147483647", "2147483648"]
    );
    let all: Vec<String> = (1..=files.len()).map(|v| v.to_string()).collect();
    assert_eq!(schema_versions(&url), all.join(","));
}

/// A database outage is 503 `database_unavailable` with `Retry-After`,
/// never a 500 (issue 20: while PostgreSQL restarted, every request was
/// `500 internal_error`), and nothing is reserved meanwhile; the pooled
/// connections the server closed are replaced, and once it takes
/// connections again requests go through. The outage is this test's
/// database alone: new connections refused, the open ones terminated, as a
/// restart does. (PostgreSQL only: an embedded SQLite file has no outage;
/// its busy answer is `catalog_faults::a_database_locked_past_the_busy_budget…`.)
#[tokio::test]
async fn a_database_outage_is_503_with_retry_after_and_passes() {
    let app = spawn_app_on(Backend::Postgres).await;
    let database = app
        .database_url
        .as_deref()
        .and_then(|url| url.rsplit('/').next())
        .unwrap()
        .to_owned();
    let admin = pg_server().url("postgres");
    let terminate = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{database}'"
    );
    let first = app.create(42, &[(1, 1)]).await;
    let stock = app.catalog.stock(2).await;

    psql(
        &admin,
        &format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false"),
    )
    .unwrap();
    psql(&admin, &terminate).unwrap();
    let path = format!("/orders/orders/{}/", first["id"]);
    let answers = [
        app.post_order(Some(&token(42)), &order(&[(2, 1)])).await,
        app.send_as(42, Method::GET, "/orders/orders/").await,
        app.send_as(42, Method::GET, &path).await,
        app.cancel(42, &first["id"]).await,
    ];
    for answer in answers {
        let status = answer.status().as_u16();
        let retry_after = answer.headers().get("retry-after").cloned();
        let body = json_body(answer).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["code"], "database_unavailable");
        assert_eq!(retry_after.unwrap(), "1");
    }
    assert_eq!(app.catalog.stock(2).await, stock, "nothing reserved");

    psql(
        &admin,
        &format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"),
    )
    .unwrap();
    let second = app.create(42, &[(2, 1)]).await;
    // Connections closed by the server while pooled (as after a restart).
    psql(&admin, &terminate).unwrap();
    let shown = app.send_as(42, Method::GET, &path).await;
    assert_eq!(shown.status(), 200);
    assert_eq!(app.cancel(42, &second["id"]).await.status(), 200);
    let failures: Vec<_> = app
        .request_logs()
        .into_iter()
        .filter(|line| line["status"] == 500)
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}
