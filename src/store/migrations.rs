//! The schema, one numbered series of SQL files per dialect
//! (`migrations/sqlite`, `migrations/postgres`), embedded at build time and
//! applied before the first statement that needs them; each file is also
//! runnable by hand (`sqlite3 db < migrations/sqlite/0001_init.sql`,
//! `psql -f`) and leaves the same state.
//!
//! - SQLite: the version is SQLite's `user_version`, which each file sets
//!   itself; checked when a request opens the database (in-process), and
//!   the missing files applied under `BEGIN IMMEDIATE`, the version read
//!   again under the lock, so racing first requests apply each file once.
//! - PostgreSQL: the version is `schema_migrations`' highest row, which
//!   each file inserts; checked by a request's first statement, and the
//!   missing files applied in one transaction after an advisory lock, so
//!   instances starting together apply each file once.

use super::{Dialect, Store, StoreError};

/// `(version, sql)`; append-only, versions contiguous from 1.
pub const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_exactly_once.sql"),
    ),
    (
        3,
        include_str!("../../migrations/sqlite/0003_settled_releases.sql"),
    ),
    (4, include_str!("../../migrations/sqlite/0004_payments.sql")),
    (5, include_str!("../../migrations/sqlite/0005_events.sql")),
    (
        6,
        include_str!("../../migrations/sqlite/0006_event_claims.sql"),
    ),
    (
        7,
        include_str!("../../migrations/sqlite/0007_order_submissions.sql"),
    ),
    (
        8,
        include_str!("../../migrations/sqlite/0008_release_ids.sql"),
    ),
    (
        9,
        include_str!("../../migrations/sqlite/0009_item_and_intent_ids.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_reservation_ids.sql"),
    ),
    (
        11,
        include_str!("../../migrations/sqlite/0011_event_traceparent.sql"),
    ),
    (12, include_str!("../../migrations/sqlite/0012_metrics.sql")),
    (13, include_str!("../../migrations/sqlite/0013_jwks.sql")),
    (
        14,
        include_str!("../../migrations/sqlite/0014_refund_on_cancel.sql"),
    ),
    (
        15,
        include_str!("../../migrations/sqlite/0015_fulfilment_and_refunds.sql"),
    ),
    (
        16,
        include_str!("../../migrations/sqlite/0016_statements_in_the_store.sql"),
    ),
    (
        17,
        include_str!("../../migrations/sqlite/0017_order_request_id.sql"),
    ),
    (
        18,
        include_str!("../../migrations/sqlite/0018_unpaid_orders_by_user.sql"),
    ),
    (
        19,
        include_str!("../../migrations/sqlite/0019_expired_orders.sql"),
    ),
    (
        20,
        include_str!("../../migrations/sqlite/0020_background_passes.sql"),
    ),
];

/// `(version, sql)`; append-only, versions contiguous from 1.
pub const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_payments.sql"),
    ),
    (3, include_str!("../../migrations/postgres/0003_events.sql")),
    (
        4,
        include_str!("../../migrations/postgres/0004_event_claims.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_money_precision.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_wide_counters.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_reservation_ids.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_event_traceparent.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_metrics.sql"),
    ),
    (10, include_str!("../../migrations/postgres/0010_jwks.sql")),
    (
        11,
        include_str!("../../migrations/postgres/0011_refund_on_cancel.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_fulfilment_and_refunds.sql"),
    ),
    (
        13,
        include_str!("../../migrations/postgres/0013_utc_timestamps.sql"),
    ),
    (
        14,
        include_str!("../../migrations/postgres/0014_order_request_id.sql"),
    ),
    (
        15,
        include_str!("../../migrations/postgres/0015_unpaid_orders_by_user.sql"),
    ),
    (
        16,
        include_str!("../../migrations/postgres/0016_expired_orders.sql"),
    ),
    (
        17,
        include_str!("../../migrations/postgres/0017_background_passes.sql"),
    ),
];

/// Key of the advisory lock that serialises PostgreSQL migrations across
/// instances.
const MIGRATION_LOCK: i64 = 0x6f72_6465_7273; // "orders"

/// The version the last file of `series` records.
pub fn latest(series: &[(i64, &str)]) -> i64 {
    series.last().map_or(0, |(version, _)| *version)
}

/// Brings SQLite's schema up to date. Costs one `PRAGMA user_version` read
/// when it is current, which is every request but the first; the version
/// it migrated to, if it applied anything.
pub(super) async fn sqlite_current(store: &Store) -> Result<Option<i64>, StoreError> {
    let latest = latest(SQLITE);
    // The connection's first read can meet the exclusive lock of another
    // request's connection closing (the last one to close a WAL database
    // checkpoints it, fsync included): waited for like a writer.
    if store.retry_busy(|| user_version(store)).await? >= latest {
        return Ok(None);
    }
    // WAL lets readers proceed during writes; it is persistent, so set
    // once. Best-effort, like the connection's pragmas.
    let _ = store.conn.execute("PRAGMA journal_mode = WAL", &[]);
    store.retry_busy(|| store.conn.begin()).await?;
    let applied = store.finish(apply_sqlite(store, latest))?;
    if !applied {
        // Another request migrated while this connection waited. Its
        // schema cache may predate the new tables, and a statement that
        // names one would fail to prepare ("no such table") outside a
        // transaction: reading sqlite_master checks the schema cookie and
        // reloads it.
        store
            .conn
            .query("SELECT count(*) FROM sqlite_master", &[])?;
    }
    Ok(applied.then_some(latest))
}

/// Under the write lock: the files after the version read again.
fn apply_sqlite(store: &Store, latest: i64) -> Result<bool, StoreError> {
    let current = user_version(store)?;
    if current >= latest {
        return Ok(false); // another request migrated while we waited
    }
    for (version, sql) in SQLITE.iter().filter(|(v, _)| *v > current) {
        for statement in statements(sql) {
            store.conn.execute(statement, &[])?;
        }
        if user_version(store)? != *version {
            return Err(StoreError::Malformed(
                "a migration file did not set user_version",
            ));
        }
    }
    Ok(true)
}

fn user_version(store: &Store) -> Result<i64, StoreError> {
    let rows = store.conn.query("PRAGMA user_version", &[])?;
    rows.first().map_or(Ok(0), |row| row.int("user_version"))
}

/// Brings PostgreSQL's schema up to date: one read when it is current;
/// the version it migrated to, if it applied anything.
pub(super) fn postgres_current(store: &Store) -> Result<Option<i64>, StoreError> {
    debug_assert_eq!(store.dialect(), Dialect::Postgres);
    let latest = latest(POSTGRES);
    if schema_version(store).ok() == Some(latest) {
        return Ok(None);
    }
    store.write_now(|store| {
        store
            .conn
            .execute("SELECT pg_advisory_xact_lock($1)", &[MIGRATION_LOCK.into()])?;
        store.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, \
             applied_at timestamptz NOT NULL DEFAULT now())",
            &[],
        )?;
        let current = schema_version(store)?;
        if current >= latest {
            return Ok(None); // another instance migrated while we waited
        }
        for (_, sql) in POSTGRES.iter().filter(|(v, _)| *v > current) {
            for statement in statements(sql) {
                store.conn.execute(statement, &[])?;
            }
        }
        if schema_version(store)? != latest {
            return Err(StoreError::Malformed(
                "a migration file did not record its version",
            ));
        }
        Ok(Some(latest))
    })
}

fn schema_version(store: &Store) -> Result<i64, StoreError> {
    let rows = store.conn.query(
        "SELECT coalesce(max(version), 0)::bigint AS version FROM schema_migrations",
        &[],
    )?;
    rows.first()
        .ok_or(StoreError::Malformed("schema_migrations"))?
        .int("version")
}

/// Splits a migration file into statements (Spin runs only the first
/// statement of a string): `;` at the end of a line ends a statement, but
/// a trigger's body (from a line `BEGIN`) ends only at a line `END;`, and
/// nothing inside `$$` quotes (a PostgreSQL function's body) ends one;
/// `--` comment lines before a statement are dropped.
pub fn statements(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    let mut in_trigger_body = false;
    let mut in_dollar_quote = false;
    for line in sql.split_inclusive('\n') {
        offset += line.len();
        let code = line.trim();
        if code.matches("$$").count() % 2 == 1 {
            in_dollar_quote = !in_dollar_quote;
        }
        if in_dollar_quote {
            continue;
        }
        if code.eq_ignore_ascii_case("BEGIN") {
            in_trigger_body = true;
        }
        let ends = if in_trigger_body {
            code.eq_ignore_ascii_case("END;")
        } else {
            code.ends_with(';')
        };
        if ends {
            push_statement(&mut out, &sql[start..offset]);
            start = offset;
            in_trigger_body = false;
        }
    }
    push_statement(&mut out, &sql[start..]);
    out
}

fn push_statement<'a>(out: &mut Vec<&'a str>, chunk: &'a str) {
    let code_starts = chunk
        .split_inclusive('\n')
        .take_while(|line| line.trim().is_empty() || line.trim_start().starts_with("--"))
        .map(str::len)
        .sum::<usize>();
    let statement = chunk[code_starts..].trim();
    if !statement.is_empty() {
        out.push(statement);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_contiguous_and_each_file_records_its_version() {
        for (index, (version, sql)) in SQLITE.iter().enumerate() {
            assert_eq!(*version, index as i64 + 1);
            let last = *statements(sql).last().unwrap();
            assert_eq!(last, format!("PRAGMA user_version = {version};"));
        }
        for (index, (version, sql)) in POSTGRES.iter().enumerate() {
            assert_eq!(*version, index as i64 + 1);
            let recorded = format!("INSERT INTO schema_migrations (version) VALUES ({version});");
            assert!(statements(sql).contains(&recorded.as_str()), "{version}");
        }
    }

    #[test]
    fn splits_statements_and_drops_leading_comments() {
        let sql = "-- header\n\nCREATE TABLE a (x INTEGER, -- trailing note\n  y TEXT);\n-- next\nCREATE INDEX i ON a (x);\nPRAGMA user_version = 1;\n";
        assert_eq!(
            statements(sql),
            [
                "CREATE TABLE a (x INTEGER, -- trailing note\n  y TEXT);",
                "CREATE INDEX i ON a (x);",
                "PRAGMA user_version = 1;"
            ]
        );
    }

    #[test]
    fn a_trigger_is_one_statement_up_to_its_end() {
        let sql = "CREATE TABLE t (x);\nCREATE TRIGGER g AFTER INSERT ON t\nBEGIN\n    DELETE FROM t;\n    SELECT 1;\nEND;\nPRAGMA user_version = 7;\n";
        assert_eq!(
            statements(sql),
            [
                "CREATE TABLE t (x);",
                "CREATE TRIGGER g AFTER INSERT ON t\nBEGIN\n    DELETE FROM t;\n    SELECT 1;\nEND;",
                "PRAGMA user_version = 7;"
            ]
        );
    }

    #[test]
    fn a_dollar_quoted_function_is_one_statement() {
        let sql = "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n    IF x THEN\n        RETURN NULL;\n    END IF;\n    RETURN NULL;\nEND\n$$ LANGUAGE plpgsql;\nCREATE TRIGGER g AFTER INSERT ON t\nFOR EACH ROW EXECUTE FUNCTION f();\nSELECT 1;\n";
        assert_eq!(
            statements(sql),
            [
                "CREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n    IF x THEN\n        RETURN NULL;\n    END IF;\n    RETURN NULL;\nEND\n$$ LANGUAGE plpgsql;",
                "CREATE TRIGGER g AFTER INSERT ON t\nFOR EACH ROW EXECUTE FUNCTION f();",
                "SELECT 1;"
            ]
        );
    }
}
