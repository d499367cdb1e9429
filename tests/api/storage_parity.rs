//! One set of values for both backends: what one stores the other stores,
//! no id is ever reused, and text one refuses the other refuses too.

use crate::helpers::{
    json_body, products, psql, spawn_app_on, spawn_app_with, AppOptions, Backend, TestApp,
};
use crate::on_both_backends;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

on_both_backends!(
    the_largest_total_the_limits_allow_is_stored,
    release_ids_are_never_reused,
    settlement_text_with_nul_is_refused_alike,
);

/// 100 lines of 99,999 units at 12,345,678.91: within SPEC's limits, so
/// 201 with the exact total on both (PostgreSQL's money columns were
/// `numeric(12,2)` and refused it).
async fn the_largest_total_the_limits_allow_is_stored(backend: Backend) {
    let app = spawn_app_with(AppOptions {
        backend,
        // SPEC's limits: 100 lines of up to 100,000 units.
        catalog_products: Some(products(100, "12345678.91", 100_000)),
        ..Default::default()
    })
    .await;
    let items: Vec<(i64, i64)> = (1..=100).map(|id| (id, 99_999)).collect();
    let created = app.create(42, &items).await;
    assert_eq!(created["total_amount"], "123455554532109.00");
    let path = format!("/orders/orders/{}/", created["id"]);
    let shown = json_body(app.send_as(42, Method::GET, &path).await).await;
    assert_eq!(shown["total_amount"], "123455554532109.00");
    assert_eq!(shown["items"][99]["price"], "12345678.91");
}

/// An order cancelled against a Catalog without `/release/`: its units
/// become one owed release; returns that release's id.
async fn owe_one_release(app: &TestApp) -> i64 {
    let created = app.create(42, &[(2, 1)]).await;
    let cancelled = json_body(app.cancel(42, &created["id"]).await).await;
    assert_eq!(cancelled["stock_release"], "pending");
    let report = app.reconcile().await;
    assert_eq!(report["pending_total"], 1, "{report}");
    report["pending"][0]["id"].as_i64().unwrap()
}

fn settlement(note: &str) -> Value {
    json!({"outcome": "released_manually", "settled_by": "ops@example.com", "note": note})
}

/// Settled, then owed again: the new release has a new id, and settling it
/// works (SQLite reused id 1 and answered 500 for ever).
async fn release_ids_are_never_reused(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog.set_faults(json!({"no_release": true})).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = owe_one_release(&app).await;
        assert!(!ids.contains(&id), "release id {id} reused: {ids:?}");
        ids.push(id);
        let settled = app.settle_release(id, settlement("handled by hand")).await;
        assert_eq!(settled.status(), 200);
        assert_eq!(app.reconcile().await["pending_total"], 0);
    }
}

/// U+0000 cannot be stored in PostgreSQL's text: refused with 400 on both
/// backends, and nothing is settled.
async fn settlement_text_with_nul_is_refused_alike(backend: Backend) {
    let app = spawn_app_on(backend).await;
    app.catalog.set_faults(json!({"no_release": true})).await;
    let id = owe_one_release(&app).await;
    for (field, body) in [
        ("note", settlement("a\u{0}b")),
        (
            "settled_by",
            json!({"outcome": "written_off", "settled_by": "\u{0}", "note": "n"}),
        ),
    ] {
        let refused = app.settle_release(id, body).await;
        assert_eq!(refused.status(), 400, "{field}");
        let errors = json_body(refused).await["errors"].clone();
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    assert_eq!(app.reconcile().await["pending_total"], 1);
}

/// A column as both dialects are compared: the range of values it takes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Domain {
    /// 64-bit integers.
    Int64,
    /// 32-bit integers (PostgreSQL `integer`; SQLite has none).
    Int32,
    Text,
    /// An exact amount of at least 20 digits, two of them decimals (SQLite
    /// keeps the service's `Money` text; PostgreSQL `numeric(p,2)`, p ≥ 20).
    Money,
    /// A time (SQLite: RFC 3339 text; PostgreSQL: `timestamptz`).
    Time,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    domain: Domain,
    nullable: bool,
}

/// Tables → columns, unique keys (sorted column lists) and, per table with
/// a generated id, whether that id is never reused.
#[derive(Debug, Default)]
struct Schema {
    columns: BTreeMap<String, BTreeMap<String, Column>>,
    unique: BTreeSet<(String, Vec<String>)>,
    ids_never_reused: BTreeMap<String, bool>,
}

/// Tables one backend has for its own mechanics, not for values.
const OWN_TABLES: [&str; 3] = ["order_submissions", "sqlite_sequence", "schema_migrations"];

/// SQLite keeps money and times as text: which of its text columns are
/// which (from the migrations' comments and `Money`/`SQL_NOW`).
fn sqlite_text_domain(column: &str) -> Domain {
    match column {
        "total_amount" | "price" | "amount" => Domain::Money,
        c if c.ends_with("_at") || c.ends_with("_until") => Domain::Time,
        _ => Domain::Text,
    }
}

fn sqlite_schema(app: &TestApp) -> Schema {
    let db = app.db();
    let mut schema = Schema::default();
    let tables: Vec<(String, String)> = db
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (table, sql) in tables {
        if OWN_TABLES.contains(&table.as_str()) {
            continue;
        }
        let mut primary_key = Vec::new();
        let columns = db
            .prepare(&format!("PRAGMA table_info({table})"))
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        for (name, declared, not_null, pk) in columns {
            let domain = match declared.to_uppercase().as_str() {
                "INTEGER" => Domain::Int64,
                "TEXT" => sqlite_text_domain(&name),
                other => Domain::Other(other.to_owned()),
            };
            if pk > 0 {
                primary_key.push((pk, name.clone()));
            }
            // A primary key column is NOT NULL in effect (SQLite's rowid).
            let nullable = !not_null && pk == 0;
            schema
                .columns
                .entry(table.clone())
                .or_default()
                .insert(name, Column { domain, nullable });
        }
        primary_key.sort();
        let mut key: Vec<String> = primary_key.into_iter().map(|(_, c)| c).collect();
        if key == ["id"] {
            // INTEGER PRIMARY KEY reuses the largest id after a delete
            // unless AUTOINCREMENT.
            schema
                .ids_never_reused
                .insert(table.clone(), sql.to_uppercase().contains("AUTOINCREMENT"));
        }
        if !key.is_empty() {
            key.sort();
            schema.unique.insert((table.clone(), key));
        }
        let indexes: Vec<(String, bool)> = db
            .prepare(&format!("PRAGMA index_list({table})"))
            .unwrap()
            .query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (index, unique) in indexes.into_iter().filter(|(_, unique)| *unique) {
            let _ = unique;
            let mut columns: Vec<String> = db
                .prepare(&format!("PRAGMA index_info({index})"))
                .unwrap()
                .query_map([], |r| r.get(2))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            columns.sort();
            schema.unique.insert((table.clone(), columns));
        }
    }
    schema
}

fn pg_schema(app: &TestApp) -> Schema {
    let url = app.database_url.clone().expect("a PostgreSQL app");
    let mut schema = Schema::default();
    let columns = psql(
        &url,
        "SELECT table_name, column_name, data_type, is_nullable, \
         coalesce(numeric_precision, 0), coalesce(numeric_scale, 0), \
         is_identity, coalesce(column_default, '') \
         FROM information_schema.columns WHERE table_schema = 'public' \
         ORDER BY table_name, ordinal_position",
    )
    .unwrap();
    for line in columns.lines() {
        let c: Vec<&str> = line.split('|').collect();
        let (table, name) = (c[0].to_owned(), c[1].to_owned());
        if OWN_TABLES.contains(&table.as_str()) {
            continue;
        }
        let precision: u32 = c[4].parse().unwrap();
        let scale: u32 = c[5].parse().unwrap();
        let domain = match c[2] {
            "bigint" => Domain::Int64,
            "integer" => Domain::Int32,
            "text" => Domain::Text,
            "numeric" if precision >= 20 && scale == 2 => Domain::Money,
            // UTC, to the second (0013), as SQLite's RFC 3339 text.
            "timestamp without time zone" => Domain::Time,
            other => Domain::Other(format!("{other}({precision},{scale})")),
        };
        if name == "id" {
            let generated = c[6] == "YES" || c[7].starts_with("nextval(");
            schema.ids_never_reused.insert(table.clone(), generated);
        }
        schema.columns.entry(table).or_default().insert(
            name,
            Column {
                domain,
                nullable: c[3] == "YES",
            },
        );
    }
    let unique = psql(
        &url,
        "SELECT t.relname, array_to_string(array_agg(a.attname ORDER BY a.attname), ',') \
         FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) \
         WHERE i.indisunique GROUP BY i.indexrelid, t.relname",
    )
    .unwrap();
    for line in unique.lines() {
        let (table, columns) = line.split_once('|').unwrap();
        if OWN_TABLES.contains(&table) {
            continue;
        }
        let columns = columns.split(',').map(str::to_owned).collect();
        schema.unique.insert((table.to_owned(), columns));
    }
    schema
}

/// Tables whose `id` is not generated but copied from another table's
/// (which must itself never reuse one).
const IDS_COPIED: [(&str, &str); 1] = [("settled_releases", "pending_releases")];

/// Columns whose PostgreSQL type is narrower than SQLite's, and the
/// domain rule that keeps every value the service writes within both.
const NARROWER_ON_POSTGRES: [(&str, &str, &str); 4] = [
    ("order_items", "quantity", "Quantity: 1..=100000"),
    ("pending_releases", "quantity", "Quantity: 1..=100000"),
    (
        "settled_releases",
        "quantity",
        "copied from pending_releases",
    ),
    (
        "idempotency_keys",
        "status",
        "an HTTP status, written by old rows only",
    ),
];

/// The two schemas, as migrated by the service, compared: the same
/// tables and columns, the same nullability, types of the same range
/// (with the exceptions above, each bounded by a domain rule), the same
/// unique keys, and no table whose ids may be reused. Every difference is
/// listed; the test fails on any.
#[tokio::test]
async fn the_two_schemas_hold_the_same_values() {
    let sqlite = spawn_app_on(Backend::Sqlite).await;
    let postgres = spawn_app_on(Backend::Postgres).await;
    for app in [&sqlite, &postgres] {
        // Any statement migrates.
        assert_eq!(app.reconcile().await["pending_total"], 0);
    }
    let (lite, pg) = (sqlite_schema(&sqlite), pg_schema(&postgres));
    let mut differences = Vec::new();
    let tables: BTreeSet<&String> = lite.columns.keys().chain(pg.columns.keys()).collect();
    for table in tables {
        let (Some(a), Some(b)) = (lite.columns.get(table), pg.columns.get(table)) else {
            differences.push(format!("table {table} exists on one backend only"));
            continue;
        };
        let names: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for name in names {
            let (Some(x), Some(y)) = (a.get(name), b.get(name)) else {
                differences.push(format!("{table}.{name} exists on one backend only"));
                continue;
            };
            let narrower = NARROWER_ON_POSTGRES
                .iter()
                .any(|(t, c, _)| t == table && c == name);
            let same_range = x.domain == y.domain
                || (narrower && x.domain == Domain::Int64 && y.domain == Domain::Int32);
            if !same_range {
                differences.push(format!(
                    "{table}.{name}: {:?} on SQLite, {:?} on PostgreSQL",
                    x.domain, y.domain
                ));
            }
            if x.nullable != y.nullable {
                differences.push(format!(
                    "{table}.{name}: nullable {} on SQLite, {} on PostgreSQL",
                    x.nullable, y.nullable
                ));
            }
        }
    }
    for key in lite.unique.symmetric_difference(&pg.unique) {
        let on = if lite.unique.contains(key) {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        differences.push(format!("unique {key:?} on {on} only"));
    }
    for (table, never_reused) in lite.ids_never_reused.iter().chain(&pg.ids_never_reused) {
        let copied = IDS_COPIED.iter().find(|(t, _)| t == table);
        let never_reused = match copied {
            Some((_, from)) => lite.ids_never_reused[*from] && pg.ids_never_reused[*from],
            None => *never_reused,
        };
        if !never_reused {
            differences.push(format!("{table}.id may be reused"));
        }
    }
    println!(
        "compared {} tables, {} columns, {} unique keys",
        lite.columns.len(),
        lite.columns.values().map(BTreeMap::len).sum::<usize>(),
        lite.unique.len()
    );
    assert!(differences.is_empty(), "{differences:#?}");
}
