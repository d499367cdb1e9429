//! What went wrong in storage, and the databases' errors classified, in one
//! place: a statement the database refused (a bug: 500), a database that
//! is not there (503, try again), a race lost to a concurrent transaction
//! (503: the retry answers from the winner's row), a lock held too long
//! (503).
//!
//! Spin passes most driver errors on as **text** (SQLite's as `io(…)`,
//! tokio-postgres's as its `Debug` output inside `query-failed(text(…))`),
//! so several patterns below match text; each is tested on the exact text
//! Spin 4.1 gives. The native connections of the contract suite classify
//! their drivers' typed errors into the same variants.

use spin_sdk::pg4::{PgError, QueryError};
use spin_sdk::sqlite3::Error as SqliteError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Other writers held the database for longer than the busy budget.
    #[error("database busy")]
    Busy,
    /// The reservation intent's lease ran out before the order was written;
    /// the reconciler is giving the stock back, so the order must not exist.
    #[error("reservation lease lost")]
    LeaseLost,
    /// Another request recorded the same payment, refund or fulfilment
    /// event id at this very moment; a retry answers from its row.
    #[error("id recorded concurrently")]
    IdTaken,
    /// The database refused the statement: the service's fault.
    #[error("statement refused")]
    Refused(#[source] DatabaseError),
    /// A statement met a schema older than this release's (no such table
    /// or column): migrate, then try again.
    #[error("schema behind this release")]
    SchemaBehind(#[source] DatabaseError),
    /// The database is unreachable, starting up or shutting down, or the
    /// connection broke: an outage, not a refused statement.
    #[error("database unavailable")]
    Unavailable(#[source] DatabaseError),
    /// A concurrent transaction won a race (a unique key it wrote first,
    /// a serialization failure, a deadlock): a retry sees its result.
    #[error("lost a race with a concurrent transaction")]
    Raced(#[source] DatabaseError),
    /// Stored data that breaks the schema's promises.
    #[error("unexpected stored data: {0}")]
    Malformed(&'static str),
    #[error("stored JSON")]
    Json(#[from] serde_json::Error),
}

/// What the database said, for the log (never for a client).
#[derive(Debug)]
pub struct DatabaseError {
    pub database: &'static str,
    pub detail: String,
}

impl std::fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.database, self.detail)
    }
}

impl std::error::Error for DatabaseError {}

fn sqlite_error(detail: String) -> DatabaseError {
    DatabaseError {
        database: "SQLite",
        detail,
    }
}

fn postgres_error(detail: String) -> DatabaseError {
    DatabaseError {
        database: "PostgreSQL",
        detail,
    }
}

/// Spin's SQLite error (`rusqlite`'s message as `io(…)`).
pub fn sqlite(error: SqliteError) -> StoreError {
    match error {
        // SQLITE_BUSY, after the connection's busy timeout.
        SqliteError::Io(text)
            if text.contains("database is locked") || text.contains("database is busy") =>
        {
            StoreError::Busy
        }
        SqliteError::Io(text)
            if text.contains("no such table") || text.contains("no such column") =>
        {
            StoreError::SchemaBehind(sqlite_error(text))
        }
        SqliteError::Io(text) => StoreError::Refused(sqlite_error(text)),
        other => StoreError::Refused(sqlite_error(format!("{other:?}"))),
    }
}

/// Spin's PostgreSQL error, classified.
pub fn postgres(error: PgError) -> StoreError {
    let code = sqlstate(&error);
    // A concurrent transaction got there first (e.g. the same refund id
    // for another payment): 503, and the retry answers from its row.
    if matches!(code, Some("23505" | "40001" | "40P01")) {
        return StoreError::Raced(postgres_error(describe(&error)));
    }
    if matches!(code, Some("42P01" | "42703")) {
        return StoreError::SchemaBehind(postgres_error(describe(&error)));
    }
    let outage = match &error {
        // Unless the address is refused by `allowed_outbound_hosts` or
        // not a PostgreSQL address: settings to fix, not an outage.
        PgError::ConnectionFailed(text) => {
            !text.contains("is not permitted") && !text.contains("kind: Config")
        }
        // The server's own classes of "not the statement's fault": 08
        // connection exception, 53 insufficient resources (too many
        // connections after a restart), 57 operator intervention
        // (shutting down, crashed, starting up, statement cancelled),
        // 58 system error (I/O).
        PgError::QueryFailed(_) if code.is_some() => ["08", "53", "57", "58"]
            .iter()
            .any(|class| code.unwrap_or_default().starts_with(class)),
        _ => connection_lost(&error) || driver_failed(&error),
    };
    let detail = postgres_error(describe(&error));
    if outage {
        StoreError::Unavailable(detail)
    } else {
        StoreError::Refused(detail)
    }
}

fn describe(error: &PgError) -> String {
    match error {
        PgError::QueryFailed(QueryError::DbError(db)) => {
            format!("{} {}: {}", db.severity, db.code, db.message)
        }
        other => format!("{other:?}"),
    }
}

/// The SQLSTATE of a server error: its `code`, or, when Spin passes the
/// error on as text (it does for a statement it runs asynchronously: a
/// `DbError` nested in the text, CI's chaos run caught a `57P01` so), the
/// code written in it (`SqlState(E57P01)` or `code: "57P01"`).
fn sqlstate(error: &PgError) -> Option<&str> {
    match error {
        PgError::QueryFailed(QueryError::DbError(db)) => Some(db.code.as_str()),
        PgError::QueryFailed(QueryError::Text(text)) => {
            let code = |marker: &str| {
                let start = text.find(marker)? + marker.len();
                let code = text.get(start..start + 5)?;
                code.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    .then_some(code)
            };
            code("SqlState(E")
                .or_else(|| code("code: \\\""))
                .or_else(|| code("code: \""))
        }
        _ => None,
    }
}

/// The connection itself is gone: closed by the server (`57P01` when it
/// shuts down) or broken (the driver's `Closed`/`Io` error, which Spin
/// passes on as text). A pooled connection found so outside a
/// transaction is replaced and the statement sent again.
pub fn connection_lost(error: &PgError) -> bool {
    match error {
        PgError::QueryFailed(QueryError::Text(text))
            if text.contains("kind: Closed") || text.contains("kind: Io") =>
        {
            true
        }
        _ => sqlstate(error) == Some("57P01"),
    }
}

/// The driver, not the server, failed the exchange (Spin passes
/// tokio-postgres's error on as its `Debug` text): a protocol message out
/// of place, a TLS or connect failure, a timeout. Conversions of values
/// (`ToSql`, `FromSql`, `Column`) are the statement's and stay errors.
fn driver_failed(error: &PgError) -> bool {
    const KINDS: [&str; 5] = [
        "kind: UnexpectedMessage",
        "kind: Parse",
        "kind: Tls",
        "kind: Connect",
        "kind: Timeout",
    ];
    matches!(error, PgError::QueryFailed(QueryError::Text(text))
        if KINDS.iter().any(|kind| text.contains(kind)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spin_sdk::pg4::DbError;

    fn db_error(code: &str) -> PgError {
        PgError::QueryFailed(QueryError::DbError(DbError {
            as_text: String::new(),
            severity: "ERROR".into(),
            code: code.into(),
            message: String::new(),
            detail: None,
            extras: Vec::new(),
        }))
    }

    fn text(t: &str) -> PgError {
        PgError::QueryFailed(QueryError::Text(t.into()))
    }

    fn is_outage(error: PgError) -> bool {
        matches!(postgres(error), StoreError::Unavailable(_))
    }

    /// As Spin 4.1's SQLite (`rusqlite`'s `Display`) words them.
    #[test]
    fn sqlite_locks_are_busy_and_refusals_refused() {
        assert!(matches!(
            sqlite(SqliteError::Io("database is locked".into())),
            StoreError::Busy
        ));
        assert!(matches!(
            sqlite(SqliteError::Io("no such table: orders".into())),
            StoreError::SchemaBehind(_)
        ));
        let refused = sqlite(SqliteError::Io(
            "UNIQUE constraint failed: events.order_id, events.seq".into(),
        ));
        assert!(matches!(refused, StoreError::Refused(_)));
        assert!(matches!(
            sqlite(SqliteError::AccessDenied),
            StoreError::Refused(_)
        ));
    }

    /// What answers 503 (try again) and what 500 (the statement is wrong).
    #[test]
    fn outages_are_told_from_refused_statements() {
        for code in ["08006", "53300", "57P01", "57P03", "57014", "58030"] {
            assert!(is_outage(db_error(code)), "{code}");
        }
        for code in ["23505", "42P01", "22003", "40P01"] {
            assert!(!is_outage(db_error(code)), "{code}");
        }
        for code in ["23505", "40001", "40P01"] {
            assert!(
                matches!(postgres(db_error(code)), StoreError::Raced(_)),
                "{code}"
            );
        }
        for code in ["42P01", "42703"] {
            let behind = postgres(db_error(code));
            assert!(matches!(behind, StoreError::SchemaBehind(_)), "{code}");
        }
        for lost in [
            "Error { kind: Closed, cause: None }",
            "Error { kind: Io, cause: Some(Os { code: 104 }) }",
            "Error { kind: UnexpectedMessage, cause: None }",
        ] {
            assert!(is_outage(text(lost)), "{lost}");
        }
        assert!(!is_outage(text("Error { kind: FromSql(0), cause: None }")));
        // As Spin 4.1 passed it on in CI's chaos run: a server error
        // nested in the text of another.
        let nested = r#"Error::QueryFailed(QueryError::DbError(DbError { as-text: "Error { kind: Db, cause: Some(DbError { severity: \"FATAL\", parsed_severity: Some(Fatal), code: SqlState(E57P01), message: \"terminating connection due to administrator command\" }) }", severity: "FATAL", code: "57P01" }))"#;
        assert!(is_outage(text(nested)));
        assert!(connection_lost(&text(nested)));
        let refused = r#"Error { kind: Db, cause: Some(DbError { code: SqlState(E23505) }) }"#;
        assert!(!is_outage(text(refused)));
        assert_eq!(sqlstate(&text(refused)), Some("23505"));
        assert!(is_outage(PgError::ConnectionFailed(
            "Error { kind: Connect, cause: Some(Os { code: 111 }) }".into()
        )));
        // Spin 4.1's words for an address allowed_outbound_hosts refuses.
        assert!(!is_outage(PgError::ConnectionFailed(
            "address postgres://db:5432 is not permitted".into()
        )));
    }
}
