//! SPEC §5: durable storage and migrations.

use crate::helpers::{json_body, order, spawn_app, token};
use futures::future::join_all;

#[tokio::test]
async fn orders_survive_a_host_crash_and_restart() {
    let mut app = spawn_app().await;
    let created = json_body(app.post_order(Some(&token(42)), &order(&[(1, 1)])).await).await;
    app.restart().await; // SIGKILL, then a new host on the same file

    let second = json_body(app.post_order(Some(&token(42)), &order(&[(2, 1)])).await).await;
    assert!(second["id"].as_i64() > created["id"].as_i64());
    assert_eq!(app.count("orders"), 2);
    let total: String = app
        .db()
        .query_row(
            "SELECT total_amount FROM orders WHERE id = ?",
            [created["id"].as_i64()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(total, "999.99");
}

#[tokio::test]
async fn racing_first_requests_migrate_once_and_all_succeed() {
    let app = spawn_app().await;
    let responses = join_all((0..8).map(|i| {
        let token = token(i + 1);
        let app = &app;
        async move {
            app.post_order(Some(&token), &order(&[(5, 1)]))
                .await
                .status()
        }
    }))
    .await;
    assert!(responses.iter().all(|s| *s == 201), "{responses:?}");

    let db = app.db();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let journal: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    assert_eq!(journal, "wal");
    let migrations_logged = app
        .stderr
        .json_lines()
        .into_iter()
        .filter(|l| l["event"] == "migrated")
        .count();
    assert_eq!(migrations_logged, 1);
}

#[tokio::test]
async fn the_schema_file_runs_by_hand_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("by-hand.db")).unwrap();
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/0001_init.sql"),
    )
    .unwrap();
    db.execute_batch(&sql).unwrap();
    let version: i64 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 1);
    let tables: i64 = db
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('orders', 'order_items', 'pending_releases')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tables, 3);
}
