//! Many buyers, few units: the Catalog's atomic reservation decides, and the
//! service never oversells, never loses an order, never loses stock.

use crate::helpers::{json_body, order, spawn_app, spawn_app_on, token, Backend};
use futures::future::join_all;

crate::on_both_backends!(parallel_orders_for_the_last_units_sell_exactly_the_stock,);

async fn parallel_orders_for_the_last_units_sell_exactly_the_stock(backend: Backend) {
    let app = spawn_app_on(backend).await;
    let stock = app.catalog.stock(4).await;
    assert_eq!(stock, 5);

    let attempts = 24;
    let responses = join_all((0..attempts).map(|i| {
        let token = token(100 + i);
        let app = &app;
        async move { app.post_order(Some(&token), &order(&[(4, 1)])).await }
    }))
    .await;

    let mut created = 0;
    let mut refused = 0;
    for response in responses {
        match response.status().as_u16() {
            201 => created += 1,
            409 => {
                assert_eq!(json_body(response).await["code"], "insufficient_stock");
                refused += 1;
            }
            other => panic!(
                "unexpected status {other}: {}",
                response.text().await.unwrap()
            ),
        }
    }
    assert_eq!(created, stock);
    assert_eq!(refused, attempts - stock);
    assert_eq!(app.catalog.stock(4).await, 0);
    assert_eq!(app.count("orders"), stock);
    assert_eq!(
        app.count("order_items WHERE product_id = 4 AND quantity = 1"),
        stock
    );
}

/// SQLite only: a storm on its one write lock (PostgreSQL has row locks and
/// no busy answer; its races are `postgres::two_instances_…`).
#[tokio::test]
async fn a_busy_storm_loses_no_order_and_no_unit() {
    let app = spawn_app().await;
    let stock_before = app.catalog.stock(5).await;

    // An outside writer keeps grabbing the database while 40 creates run.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let blocker = {
        let stop = stop.clone();
        let db = app.db();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // It competes like any writer: when the service's writers
                // keep the lock past rusqlite's busy wait, it tries again.
                if db.execute_batch("BEGIN IMMEDIATE").is_err() {
                    continue;
                }
                std::thread::sleep(std::time::Duration::from_millis(150));
                db.execute_batch("ROLLBACK").unwrap();
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        })
    };
    let responses = join_all((0..40).map(|i| {
        let token = token(200 + i);
        let app = &app;
        async move {
            let response = app
                .post_order(Some(&token), &order(&[(5, 1 + i % 3)]))
                .await;
            let status = response.status().as_u16();
            (status, json_body(response).await)
        }
    }))
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    blocker.join().unwrap();

    let mut sold = 0;
    let mut created = 0;
    for (status, body) in &responses {
        match status {
            201 => {
                created += 1;
                sold += body["items"][0]["quantity"].as_i64().unwrap();
            }
            503 => assert_eq!(body["code"], "service_busy"),
            other => panic!(
                "no {other} under a busy storm: {body} {:?}",
                app.stderr
                    .lines()
                    .iter()
                    .filter(|l| l.contains("error"))
                    .collect::<Vec<_>>()
            ),
        }
    }
    assert!(created > 0, "{responses:?}");
    assert_eq!(app.count("orders"), created, "every 201 is stored");
    assert_eq!(
        app.catalog.stock(5).await,
        stock_before - sold,
        "every unit accounted for"
    );
    assert_eq!(app.count("stock_intents"), 0);
    assert_eq!(app.count("pending_releases"), 0);
    // Forty instances logging at once: still one JSON object per line.
    for line in app.stdout.lines().iter().chain(app.stderr.lines().iter()) {
        if line.starts_with('{') || line.contains("\"level\"") {
            assert!(
                serde_json::from_str::<serde_json::Value>(line).is_ok(),
                "interleaved log line: {line}"
            );
        }
    }
}
