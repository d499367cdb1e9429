//! SPEC §5: durable storage and migrations.

use crate::helpers::{json_body, order, spawn_app, spawn_app_on, token, Backend};
use futures::future::join_all;

crate::on_both_backends!(orders_survive_a_host_crash_and_restart);

async fn orders_survive_a_host_crash_and_restart(backend: Backend) {
    let mut app = spawn_app_on(backend).await;
    let created = json_body(app.post_order(Some(&token(42)), &order(&[(1, 1)])).await).await;
    app.restart().await; // SIGKILL, then a new host on the same file

    let second = json_body(app.post_order(Some(&token(42)), &order(&[(2, 1)])).await).await;
    assert!(second["id"].as_i64() > created["id"].as_i64());
    assert_eq!(app.count("orders"), 2);
    let (_, total, _) = app.stored_order(created["id"].as_i64().unwrap()).unwrap();
    assert_eq!(total, "999.99");
}

/// SQLite only: PostgreSQL's is `postgres::instances_starting_together_migrate_once`.
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
    assert_eq!(version, migration_files().len() as i64);
    assert_eq!(journal, "wal");
    let migrations_logged = app.stderr.events("migrated").len();
    assert_eq!(migrations_logged, 1);
}

/// Every `migrations/sqlite/*.sql` file, in order.
pub(crate) fn migration_files() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn schema(db: &rusqlite::Connection) -> Vec<(String, String, Option<String>)> {
    let mut statement = db
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// SQLite only: PostgreSQL's is
/// `postgres::the_migration_files_run_by_hand_give_the_schema_the_service_creates`.
#[tokio::test]
async fn the_schema_files_run_by_hand_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let by_hand = rusqlite::Connection::open(dir.path().join("by-hand.db")).unwrap();
    let files = migration_files();
    assert_eq!(files.len(), order_service::store::migrations::SQLITE.len());
    for sql in &files {
        by_hand.execute_batch(sql).unwrap();
    }
    let version: i64 = by_hand
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, files.len() as i64);

    let app = spawn_app().await;
    assert_eq!(
        app.post_order(Some(&token(42)), &order(&[(1, 1)]))
            .await
            .status(),
        201
    );
    assert_eq!(schema(&by_hand), schema(&app.db()));
}

/// A database of the previous schema (0007) in the state SQLite's reused
/// ids left it: owed release 1 while settled release 1 exists, so settling
/// it collided for ever. Migration 0008 gives the owed release a new id,
/// and it settles. (SQLite only: PostgreSQL's identity ids were never
/// reused; its own migration test is in postgres.rs.)
#[tokio::test]
async fn a_reused_release_id_settles_after_migrating() {
    let app = spawn_app().await;
    app.catalog
        .set_faults(serde_json::json!({"no_release": true}))
        .await;
    // Before the app's first request (it opens the file lazily).
    let db = app.db();
    for sql in &migration_files()[..7] {
        db.execute_batch(sql).unwrap();
    }
    db.execute_batch(
        "INSERT INTO settled_releases (id, user_id, product_id, quantity, order_id, reason, \
         request_id, attempts, last_error, created_at, outcome, settled_by, note, settled_at) \
         VALUES (1, 42, 2, 1, NULL, 'order_cancelled', 'r1', 1, 'e', '2026-01-01T00:00:00Z', \
         'written_off', 'ops', 'n', '2026-01-01T00:01:00Z'); \
         INSERT INTO pending_releases (id, user_id, product_id, quantity, reason, request_id, \
         attempts, last_error, created_at, next_attempt_at, claimed_until, order_id) \
         VALUES (1, 42, 2, 3, 'order_cancelled', 'r2', 1, 'e', '2026-01-02T00:00:00Z', \
         '2099-01-01T00:00:00Z', '', NULL);",
    )
    .unwrap();
    drop(db);

    let report = app.reconcile().await;
    assert_eq!(report["pending_total"], 1, "{report}");
    let id = report["pending"][0]["id"].as_i64().unwrap();
    assert!(id > 1, "a new id, past the settled one: {id}");
    assert_eq!(report["pending"][0]["quantity"], 3);
    let settled = app
        .settle_release(
            id,
            serde_json::json!({"outcome": "released_manually", "settled_by": "ops", "note": "n"}),
        )
        .await;
    assert_eq!(settled.status(), 200);
    assert_eq!(app.reconcile().await["pending_total"], 0);
    assert_eq!(app.count("settled_releases"), 2);
    // And the next owed release takes an id never used before.
    let created = app.create(42, &[(2, 1)]).await;
    app.cancel(42, &created["id"]).await;
    let next = app.reconcile().await["pending"][0]["id"].as_i64().unwrap();
    assert!(next > id, "{next} after {id}");
}

/// Migration 0009: item and intent ids are never reused. The intent of a
/// request that died (lease over) survives the rebuild and is expired as
/// before; ids continue past every id the tables held. (SQLite only:
/// PostgreSQL's identity ids were never reused.)
#[tokio::test]
async fn item_and_intent_ids_continue_past_the_old_ones_after_migrating() {
    let app = spawn_app().await;
    // Before the app's first request (it opens the file lazily).
    let db = app.db();
    for sql in &migration_files()[..8] {
        db.execute_batch(sql).unwrap();
    }
    db.execute_batch(
        "INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at) \
         VALUES (1, 42, '999.99', 'CREATED', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'); \
         INSERT INTO order_items (id, order_id, product_id, quantity, price) \
         VALUES (50, 1, 1, 1, '999.99'); \
         INSERT INTO stock_intents (id, user_id, request_id, items, created_at, lease_until) \
         VALUES (70, 7, 'died', '[[2,1]]', '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z');",
    )
    .unwrap();
    drop(db);

    let report = app.reconcile().await;
    assert_eq!(report["expired_intents"], 1, "{report}");
    assert_eq!(report["released"], 1, "the dead request's unit is back");
    let created = app.create(42, &[(2, 1)]).await;
    let rows = app.rows(&format!(
        "SELECT id FROM order_items WHERE order_id = {}",
        created["id"]
    ));
    assert!(rows[0].parse::<i64>().unwrap() > 50, "{rows:?}");
    // The intent of the create above had an id past the deleted 70 (and
    // its own is gone too): the counter says so.
    assert_eq!(
        app.rows("SELECT seq > 70 FROM sqlite_sequence WHERE name = 'stock_intents'"),
        ["1"]
    );
    assert_eq!(
        app.rows("PRAGMA user_version"),
        [migration_files().len().to_string()]
    );
}
