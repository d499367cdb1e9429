//! Numbered SQL files from `migrations/`, embedded at build time and applied
//! in order. The schema version is SQLite's `user_version`, which each file
//! sets itself, so a file run by hand
//! (`sqlite3 db < migrations/sqlite/0001_init.sql`) leaves the same state.

use super::{first, Db};
use crate::orders::store::StoreError;

/// `(version, sql)`; append-only, versions contiguous from 1.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        include_str!("../../../../migrations/sqlite/0002_exactly_once.sql"),
    ),
    (
        3,
        include_str!("../../../../migrations/sqlite/0003_settled_releases.sql"),
    ),
    (
        4,
        include_str!("../../../../migrations/sqlite/0004_payments.sql"),
    ),
    (
        5,
        include_str!("../../../../migrations/sqlite/0005_events.sql"),
    ),
    (
        6,
        include_str!("../../../../migrations/sqlite/0006_event_claims.sql"),
    ),
    (
        7,
        include_str!("../../../../migrations/sqlite/0007_order_submissions.sql"),
    ),
    (
        8,
        include_str!("../../../../migrations/sqlite/0008_release_ids.sql"),
    ),
    (
        9,
        include_str!("../../../../migrations/sqlite/0009_item_and_intent_ids.sql"),
    ),
    (
        10,
        include_str!("../../../../migrations/sqlite/0010_reservation_ids.sql"),
    ),
    (
        11,
        include_str!("../../../../migrations/sqlite/0011_event_traceparent.sql"),
    ),
    (
        12,
        include_str!("../../../../migrations/sqlite/0012_metrics.sql"),
    ),
    (
        13,
        include_str!("../../../../migrations/sqlite/0013_jwks.sql"),
    ),
    (
        14,
        include_str!("../../../../migrations/sqlite/0014_refund_on_cancel.sql"),
    ),
    (
        15,
        include_str!("../../../../migrations/sqlite/0015_fulfilment_and_refunds.sql"),
    ),
];

/// Applies whatever is missing. Costs one `PRAGMA user_version` read when the
/// schema is current, which is every request but the first.
/// Returns the version it migrated to, if this call applied anything.
pub(super) async fn ensure_current(store: &Db) -> Result<Option<i64>, StoreError> {
    let latest = MIGRATIONS.last().map_or(0, |(version, _)| *version);
    if user_version(store)? >= latest {
        return Ok(None);
    }
    // WAL lets readers proceed during writes; it is persistent, so set once.
    // Best-effort, like the per-connection pragmas.
    let _ = store.exec("PRAGMA journal_mode = WAL", &[]);
    // Several first requests may race here: the write lock serialises them
    // and the version is read again under it, so each file runs once.
    let applied = store
        .write_transaction(|store| {
            let current = user_version(store)?;
            if current >= latest {
                return Ok(false); // another request migrated while we waited
            }
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
                for statement in statements(sql) {
                    store.exec(statement, &[])?;
                }
                if user_version(store)? != *version {
                    return Err(StoreError::Malformed(
                        "a migration file did not set user_version",
                    ));
                }
            }
            Ok(true)
        })
        .await?;
    if !applied {
        // Another request migrated while this connection waited. Its
        // schema cache may predate the new tables, and a statement that
        // names one would fail to prepare ("no such table") outside a
        // transaction: reading sqlite_master checks the schema cookie and
        // reloads it.
        store.exec("SELECT count(*) FROM sqlite_master", &[])?;
    }
    Ok(applied.then_some(latest))
}

fn user_version(store: &Db) -> Result<i64, StoreError> {
    let result = store.exec("PRAGMA user_version", &[])?;
    Ok(first(&result, 0).unwrap_or(0))
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
    fn versions_are_contiguous_and_each_file_sets_its_version() {
        for (index, (version, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, index as i64 + 1);
            let last = *statements(sql).last().unwrap();
            assert_eq!(last, format!("PRAGMA user_version = {version};"));
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

    #[test]
    fn the_initial_schema_has_the_expected_statements() {
        let statements = statements(MIGRATIONS[0].1);
        assert!(statements.iter().all(|s| s.ends_with(';')));
        assert_eq!(
            statements
                .iter()
                .filter(|s| s.starts_with("CREATE TABLE"))
                .count(),
            3
        );
    }
}
