//! The reads that grow with the data are served by indexes: the query
//! plans of the very statements the store builds, on the real schemas.
//! PostgreSQL's are checked with sequential scans priced out (on a test's
//! tiny tables it rightly prefers them).

use crate::{helpers, Backend, Fresh, Location};
use order_service::domain::order::OrderStatus;
use order_service::domain::page::{OrderFilter, PageRequest};
use order_service::domain::UserId;
use order_service::store::connection::Value;
use order_service::store::{intents, metrics, orders, reconciliation, Dialect};

/// SQLite's plan of `sql` with `values`, one detail line per step.
fn sqlite_plan(fresh: &Fresh, (sql, values): (String, Vec<Value>)) -> String {
    let Location::Sqlite(dir) = &fresh.location else {
        unreachable!()
    };
    let db = rusqlite::Connection::open(dir.path().join("db.sqlite3")).unwrap();
    let mut statement = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    // Each value bound as text or integer; the plan does not depend on it.
    let params: Vec<rusqlite::types::Value> = values
        .iter()
        .map(|value| match value {
            Value::String(Some(text)) => rusqlite::types::Value::Text(text.clone()),
            _ => rusqlite::types::Value::Integer(1),
        })
        .collect();
    statement
        .query_map(rusqlite::params_from_iter(params), |row| {
            row.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every shape of the order list (SPEC §3 "Finding orders": a user's own
/// or the operator's, with statuses and a created-at range).
fn list_shapes() -> Vec<PageRequest> {
    let mut shapes = Vec::new();
    for user in [Some(UserId::new(42).unwrap()), None] {
        for statuses in [0, 1, 3] {
            for (from, before) in [(false, false), (true, true), (true, false)] {
                let time = || Some("2026-01-01T00:00:00Z".to_owned());
                shapes.push(PageRequest {
                    limit: 20,
                    before_id: Some(1000),
                    filter: OrderFilter {
                        statuses: OrderStatus::ALL[..statuses].to_vec(),
                        created_from: if from { time() } else { None },
                        created_before: if before { time() } else { None },
                        user,
                    },
                });
            }
        }
    }
    shapes
}

#[test]
fn reads_of_orders_use_indexes_not_scans_on_sqlite() {
    let fresh = Fresh::new(Backend::Sqlite);
    fresh.store.order(UserId::new(1).unwrap(), 1).unwrap(); // migrated
    let d = Dialect::Sqlite;
    for shape in list_shapes() {
        let plan = sqlite_plan(&fresh, d.build(&orders::page_query(d, &shape)));
        assert!(
            plan.lines().all(|step| !step.starts_with("SCAN")),
            "{shape:?}: {plan}"
        );
        // A user's orders through their index, whatever else is asked,
        // in its order; everyone's of some statuses through the status
        // index (several statuses: merged by a sort of what the keyset
        // bounds); everyone's, walking the ids down.
        let index = match (shape.filter.user, shape.filter.statuses.len()) {
            (Some(_), _) => "INDEX orders_by_user",
            (None, 0) => "INTEGER PRIMARY KEY",
            (None, _) => "INDEX orders_by_status",
        };
        assert!(plan.contains(index), "{shape:?}: {plan}");
        if shape.filter.user.is_some() || shape.filter.statuses.len() < 2 {
            assert!(
                !plan.contains("TEMP B-TREE"),
                "no sort step: {shape:?}: {plan}"
            );
        }
    }
    let own = sqlite_plan(
        &fresh,
        d.build(&orders::own_order_query(UserId::new(1).unwrap(), 1)),
    );
    assert!(own.contains("USING INTEGER PRIMARY KEY"), "{own}");
    let items = sqlite_plan(&fresh, d.build(&orders::items_query(&[1, 2])));
    assert!(
        items.contains("USING INDEX order_items_by_order"),
        "{items}"
    );
}

#[test]
fn the_gauges_and_the_due_check_read_through_indexes_on_sqlite() {
    let fresh = Fresh::new(Backend::Sqlite);
    let d = Dialect::Sqlite;
    for (what, built, indexes) in [
        (
            "gauges",
            d.build(&metrics::gauges_query(d)),
            &[
                "order_status_counts",
                "pending_releases",
                "stock_intents_by_lease",
                "events_unpublished",
                "payments_refund_required",
                "payments_refund_after_cancel",
                "orders_by_status",
                "idempotency_keys_by_age",
            ][..],
        ),
        (
            "due",
            d.build(&reconciliation::due_query(d)),
            &[
                "pending_releases_due",
                "stock_intents_by_lease",
                "idempotency_keys_by_age",
                "events_unpublished",
            ][..],
        ),
    ] {
        let plan = sqlite_plan(&fresh, built);
        for line in plan.lines() {
            // A constant row is a UNION ALL's branch without a table.
            if let Some(scan) = line.strip_prefix("SCAN ").filter(|s| *s != "CONSTANT ROW") {
                assert!(
                    scan.contains("USING") && scan.contains("INDEX"),
                    "{what}: a table scan: {line}\n{plan}"
                );
            }
        }
        for index in indexes {
            assert!(plan.contains(index), "{what}: {index} unused:\n{plan}");
        }
    }
}

/// `sql` with `values` written in as literals (psql takes no parameters).
fn with_literals((sql, values): (String, Vec<Value>)) -> String {
    let mut literal = sql;
    for (n, value) in values.iter().enumerate().rev() {
        let text = match value {
            Value::String(Some(text)) => format!("'{text}'"),
            Value::BigInt(Some(i)) => i.to_string(),
            Value::BigUnsigned(Some(i)) => i.to_string(),
            other => panic!("{other:?}"),
        };
        literal = literal.replace(&format!("${}", n + 1), &text);
    }
    literal
}

/// PostgreSQL's plans for every shape of the list: an index serves each,
/// bounded by the keyset. Which index is PostgreSQL's choice, by its
/// statistics (on this near-empty table a user's paid orders come from
/// the status index).
#[test]
fn every_list_shape_reads_through_an_index_on_postgres() {
    let fresh = Fresh::new(Backend::Postgres);
    fresh.store.order(UserId::new(1).unwrap(), 1).unwrap(); // migrated
    let Location::Postgres(url) = &fresh.location else {
        unreachable!()
    };
    let d = Dialect::Postgres;
    for shape in list_shapes() {
        let sql = with_literals(d.build(&orders::page_query(d, &shape)));
        let plan = helpers::psql(url, &format!("SET enable_seqscan = off; EXPLAIN {sql}")).unwrap();
        assert!(
            !plan.contains("Seq Scan"),
            "{shape:?}: a table scan:\n{plan}"
        );
        assert!(
            ["orders_by_user", "orders_pkey", "orders_by_status"]
                .iter()
                .any(|index| plan.contains(index)),
            "{shape:?}: no index:\n{plan}"
        );
        assert!(
            plan.contains("id < 1000"),
            "{shape:?}: no keyset bound:\n{plan}"
        );
    }
}

#[test]
fn the_gauges_read_through_indexes_on_postgres() {
    let fresh = Fresh::new(Backend::Postgres);
    fresh.store.order(UserId::new(1).unwrap(), 1).unwrap(); // migrated
    let Location::Postgres(url) = &fresh.location else {
        unreachable!()
    };
    let d = Dialect::Postgres;
    let literal = with_literals(d.build(&metrics::gauges_query(d)));
    let plan = helpers::psql(url, &format!("SET enable_seqscan = off; EXPLAIN {literal}")).unwrap();
    assert!(!plan.contains("Seq Scan"), "a table scan:\n{plan}");
    for index in [
        "order_status_counts_pkey",
        "stock_intents_by_lease",
        "events_unpublished",
        "payments_refund_required",
        "orders_by_status",
        "idempotency_keys",
    ] {
        assert!(plan.contains(index), "{index} unused:\n{plan}");
    }
}

/// The cap per customer's count (issue 35) reads the customer's unpaid
/// orders through `orders_by_user_status`, not their whole history.
#[test]
fn the_unpaid_count_reads_a_customers_unpaid_orders_only() {
    let user = UserId::new(42).unwrap();
    let sqlite = Fresh::new(Backend::Sqlite);
    sqlite.store.order(user, 1).unwrap(); // migrated
    let d = Dialect::Sqlite;
    let plan = sqlite_plan(&sqlite, d.build(&intents::unpaid_query(d, user)));
    assert!(
        plan.contains("orders USING COVERING INDEX orders_by_user_status (user_id=? AND status=?)"),
        "{plan}"
    );
    assert!(!plan.contains("SCAN orders"), "{plan}");

    let postgres = Fresh::new(Backend::Postgres);
    postgres.store.order(user, 1).unwrap(); // migrated
    let Location::Postgres(url) = &postgres.location else {
        unreachable!()
    };
    let d = Dialect::Postgres;
    let sql = with_literals(d.build(&intents::unpaid_query(d, user)));
    let plan = helpers::psql(url, &format!("SET enable_seqscan = off; EXPLAIN {sql}")).unwrap();
    assert!(plan.contains("orders_by_user_status"), "{plan}");
    assert!(!plan.contains("Seq Scan on orders"), "{plan}");
}

/// The payment deadline's reads (issue 35) walk `orders_by_status` from
/// the oldest unpaid order: the due check reads one row (and the pace's
/// by its key), the batch as many as it takes, never the whole table.
#[test]
fn the_expiry_reads_walk_the_status_index() {
    let sqlite = Fresh::new(Backend::Sqlite);
    sqlite.store.order(UserId::new(1).unwrap(), 1).unwrap(); // migrated
    let d = Dialect::Sqlite;
    for built in [
        d.build(&orders::expiry_due_query(d, 60, 1)),
        d.build(&orders::expirable_query(d, 60).limit(5).to_owned()),
    ] {
        let plan = sqlite_plan(&sqlite, built);
        assert!(
            plan.contains("SEARCH orders USING INDEX orders_by_status (status=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
        assert!(!plan.contains("SCAN background_passes"), "{plan}");
    }

    let postgres = Fresh::new(Backend::Postgres);
    postgres.store.order(UserId::new(1).unwrap(), 1).unwrap(); // migrated
    let Location::Postgres(url) = &postgres.location else {
        unreachable!()
    };
    let d = Dialect::Postgres;
    for built in [
        d.build(&orders::expiry_due_query(d, 60, 1)),
        d.build(&orders::expirable_query(d, 60).limit(5).to_owned()),
    ] {
        let sql = with_literals(built);
        let plan = helpers::psql(url, &format!("SET enable_seqscan = off; EXPLAIN {sql}")).unwrap();
        assert!(plan.contains("orders_by_status"), "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
}
