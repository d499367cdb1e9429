//! The PostgreSQL backend, through Spin's PostgreSQL API
//! (`spin:postgres/postgres@4.0.0`; Spin pools the connections): for
//! several instances sharing one database, and hosted Spin without SQLite.
//!
//! Concurrency is PostgreSQL's, not a file lock's: the workflows' write
//! transactions read the rows they change `FOR UPDATE`, and every status
//! change is guarded in its `WHERE` clause by the status it was read with; Idempotency-Key claims are `INSERT … ON CONFLICT DO
//! NOTHING`; reconciliation claims rows with `FOR UPDATE SKIP LOCKED`, so
//! instances draining at once never take the same row; transactions are
//! short and never span a Catalog call. Money is `NUMERIC(20,2)`, times
//! `timestamptz` (shown to the second, like the SQLite backend).
//! Migrations (`migrations/postgres/`) run in one transaction under an
//! advisory lock, so instances starting together apply each file once.
//! Checking the schema costs a round trip; a new order's first statement
//! makes that check itself (`open_intent`), so creates skip it.

use super::rows::Columns;
use super::sql::Param;
use super::{IntentId, NewOrder, StoreError};
use crate::domain::events::RETENTION_SECONDS as EVENT_RETENTION;
use crate::domain::idempotency::RETENTION_SECONDS;
use crate::domain::money::Money;
use crate::domain::UserId;
use spin_sdk::pg4::{Connection, DbValue, ParameterValue as P, PgError, QueryError, RowSet};

/// `(version, sql)`; append-only, versions contiguous from 1.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_payments.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_events.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_event_claims.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/postgres/0005_money_precision.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/0006_wide_counters.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/postgres/0007_reservation_ids.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/postgres/0008_event_traceparent.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/postgres/0009_metrics.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/postgres/0010_jwks.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/postgres/0011_refund_on_cancel.sql"),
    ),
    (
        12,
        include_str!("../../../migrations/postgres/0012_fulfilment_and_refunds.sql"),
    ),
];

/// The version the last migration file records.
fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// Whether `error` is PostgreSQL's "no such table" or "no such column":
/// what a statement meets on a schema older than this release's.
fn schema_behind(error: &StoreError) -> bool {
    use spin_sdk::pg4::{PgError, QueryError};
    const UNDEFINED_TABLE: &str = "42P01";
    const UNDEFINED_COLUMN: &str = "42703";
    matches!(error, StoreError::Postgres(e) if matches!(&**e,
        PgError::QueryFailed(QueryError::DbError(db))
            if db.code == UNDEFINED_TABLE || db.code == UNDEFINED_COLUMN))
}

/// Notes the intent to reserve: `(user, request id, items JSON, lease
/// seconds, latest version)`. It inserts only when the schema is at the
/// latest version or newer (an instance of a later release migrated it,
/// which `migrate` accepts too), so a create needs no separate check. It
/// answers exactly one row (the id, or NULL when nothing was inserted), so
/// this hot statement needs no [`Db::query_as_is`] wrapper, which costs
/// the server about 0.2 ms a statement (bench/README, issue 18).
const OPEN_INTENT: &str = "WITH i AS (INSERT INTO stock_intents (user_id, request_id, items, \
     reservation_key, created_at, lease_until) SELECT $1, $2, $3, $6, now(), \
     now() + $4::bigint * interval '1 second' \
     WHERE (SELECT max(version) FROM schema_migrations) >= $5::bigint RETURNING id) \
     SELECT (SELECT id FROM i)";

/// Key of the advisory lock that serialises migrations across instances.
const MIGRATION_LOCK: i64 = 0x6f72_6465_7273; // "orders"

/// One pooled connection for this request; the schema is brought up to
/// date before its first statement.
pub struct Db {
    url: String,
    /// Replaced once by a fresh connection when the pooled one turns out
    /// to be closed (the server restarted since it was pooled).
    conn: std::cell::RefCell<Connection>,
    /// Inside `BEGIN … COMMIT`: a lost connection lost the transaction, so
    /// a statement is not tried again on another.
    in_transaction: std::cell::Cell<bool>,
    /// Whether this request has seen the schema current (or made it so).
    schema_checked: std::cell::Cell<bool>,
    migrated_to: std::cell::Cell<Option<i64>>,
    /// Whether reconciliation is due, when a write already answered it
    /// (a new order's statement does): the follow-up's check then costs
    /// no round trip.
    reconciliation_due_known: std::cell::Cell<Option<bool>>,
}

type Row = Vec<DbValue>;

impl Db {
    /// Connects; the schema is checked (and brought up to date) by the
    /// first statement.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Ok(Db {
            url: url.to_owned(),
            conn: std::cell::RefCell::new(
                Connection::open(url).map_err(|e| store_error(Box::new(e)))?,
            ),
            in_transaction: Default::default(),
            schema_checked: Default::default(),
            migrated_to: Default::default(),
            reconciliation_due_known: Default::default(),
        })
    }

    pub fn take_migrated_to(&self) -> Option<i64> {
        self.migrated_to.take()
    }

    /// Every statement but `open_intent`'s guarded one goes through here.
    fn query(&self, sql: &str, params: &[P]) -> Result<Vec<Row>, StoreError> {
        self.ensure_schema()?;
        self.query_as_is(sql, params)
    }

    fn execute(&self, sql: &str, params: &[P]) -> Result<u64, StoreError> {
        self.ensure_schema()?;
        self.call(|conn| conn.execute(sql, params).map_err(Box::new))
    }

    /// Runs `statement` on this request's connection. A connection found
    /// closed outside a transaction (a pooled one, from before the server
    /// restarted) is replaced by a fresh one and the statement run once
    /// more; an outage is [`StoreError::Unavailable`].
    fn call<T>(
        &self,
        statement: impl Fn(&Connection) -> Result<T, Box<PgError>>,
    ) -> Result<T, StoreError> {
        let first = statement(&self.conn.borrow());
        match first {
            Err(error) if connection_lost(&error) && !self.in_transaction.get() => {
                let fresh = Connection::open(&self.url).map_err(|e| store_error(Box::new(e)))?;
                *self.conn.borrow_mut() = fresh;
                statement(&self.conn.borrow()).map_err(store_error)
            }
            other => other.map_err(store_error),
        }
    }

    /// Runs `sql` so that it answers at least one row, and gives back the
    /// statement's own rows (none, possibly). Spin 4.1's `query` never
    /// returns when a statement yields no rows: the request hangs, holding
    /// its connection (and, inside a transaction, its locks). So the
    /// statement runs as a CTE, numbered in its own order, outer-joined to
    /// a single row; that row alone (no number) means "no rows".
    /// Statements that are themselves `WITH …` with data-modifying parts
    /// cannot be nested; they are written to answer one row and go through
    /// [`Db::query_one_row`].
    fn query_as_is(&self, sql: &str, params: &[P]) -> Result<Vec<Row>, StoreError> {
        let wrapped = format!(
            "WITH q AS MATERIALIZED ({sql}), \
             n AS (SELECT row_number() OVER () AS row_number_, q.* FROM q) \
             SELECT n.* FROM (SELECT 1) AS one LEFT JOIN n ON true ORDER BY n.row_number_"
        );
        let rows = self.send_query(&wrapped, params)?;
        Ok(rows
            .into_iter()
            .filter(|row| !matches!(row.first(), None | Some(DbValue::DbNull)))
            .map(|mut row| {
                row.remove(0);
                row
            })
            .collect())
    }

    /// A statement written to answer exactly one row whatever happens
    /// (see [`Db::query_as_is`] for why that matters).
    fn query_one_row(&self, sql: &str, params: &[P]) -> Result<Row, StoreError> {
        self.ensure_schema()?;
        self.send_query(sql, params)?
            .pop()
            .ok_or(StoreError::Malformed("a one-row statement answered none"))
    }

    /// Runs PostgreSQL's text of a shared statement (through
    /// [`Db::query`]: the schema checked, an empty answer possible).
    pub(super) fn run(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, StoreError> {
        let values: Vec<P> = params.iter().map(value).collect();
        self.query(sql, &values)
    }

    /// [`Db::run`] for a statement that answers exactly one row itself.
    pub(super) fn run_one_row(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, StoreError> {
        let values: Vec<P> = params.iter().map(value).collect();
        self.query_one_row(sql, &values)
    }

    fn send_query(&self, sql: &str, params: &[P]) -> Result<Vec<Row>, StoreError> {
        let RowSet { rows, .. } = self.call(|conn| conn.query(sql, params).map_err(Box::new))?;
        Ok(rows)
    }

    /// Migrates once per request, before the first statement that needs
    /// the schema (the migration's own statements pass straight through).
    fn ensure_schema(&self) -> Result<(), StoreError> {
        if self.schema_checked.replace(true) {
            return Ok(());
        }
        match self.migrate() {
            Ok(migrated_to) => {
                self.migrated_to.set(migrated_to);
                Ok(())
            }
            Err(error) => {
                self.schema_checked.set(false);
                Err(error)
            }
        }
    }

    /// Runs `work` inside `BEGIN … COMMIT` on this connection, rolling back
    /// on error.
    pub(super) fn transaction<T>(
        &self,
        work: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.execute("BEGIN", &[])?;
        self.in_transaction.set(true);
        let done = work(self).and_then(|value| self.execute("COMMIT", &[]).map(|_| value));
        if done.is_err() {
            let _ = self.execute("ROLLBACK", &[]);
        }
        self.in_transaction.set(false);
        done
    }

    /// One read when the schema is current; else, under the advisory lock
    /// and in one transaction, every missing file.
    fn migrate(&self) -> Result<Option<i64>, StoreError> {
        let latest = latest_version();
        if self.schema_version().ok() == Some(latest) {
            return Ok(None);
        }
        self.transaction(|db| {
            db.query(
                "SELECT pg_advisory_xact_lock($1)",
                &[P::Int64(MIGRATION_LOCK)],
            )?;
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, \
                 applied_at timestamptz NOT NULL DEFAULT now())",
                &[],
            )?;
            let current = db.schema_version()?;
            if current >= latest {
                return Ok(None); // another instance migrated while we waited
            }
            for (_, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
                for statement in super::sqlite::migrations::statements(sql) {
                    db.execute(statement, &[])?;
                }
            }
            if db.schema_version()? != latest {
                return Err(StoreError::Malformed(
                    "a migration file did not record its version",
                ));
            }
            Ok(Some(latest))
        })
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        let rows = self.query(
            "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
            &[],
        )?;
        rows.first()
            .and_then(|row| row.int(0))
            .ok_or(StoreError::Malformed("schema_migrations"))
    }

    // --- reservation intents -------------------------------------------

    pub async fn open_intent(
        &self,
        user: UserId,
        request_id: &str,
        items: &str,
        reservation_key: &str,
        lease_seconds: u64,
    ) -> Result<IntentId, StoreError> {
        let params = [
            P::Int64(user.get()),
            P::Str(request_id.to_owned()),
            P::Str(items.to_owned()),
            seconds(lease_seconds),
            P::Int64(latest_version()),
            P::Str(reservation_key.to_owned()),
        ];
        if !self.schema_checked.get() {
            // The schema check rides on the write, which inserts only on a
            // current (or newer) schema. No row, or no such table or column
            // yet: migrate, then write again; any other error is the
            // request's.
            match self.send_query(OPEN_INTENT, &params) {
                Ok(rows) => {
                    if let Some(id) = rows.first().and_then(|row| row.int(0)) {
                        self.schema_checked.set(true);
                        return Ok(IntentId(id));
                    }
                }
                Err(error) if schema_behind(&error) => {}
                Err(error) => return Err(error),
            }
        }
        let row = self.query_one_row(OPEN_INTENT, &params)?;
        int(&row[0])
            .map(IntentId)
            .ok_or(StoreError::Malformed("INSERT … RETURNING gave no row"))
    }

    // --- orders --------------------------------------------------------

    /// One statement (data-modifying CTEs), so one round trip and one
    /// commit: close the intent (nothing else happens when it is gone:
    /// the lease was lost), write the order and its items, complete the
    /// Idempotency-Key and record `order.created`.
    pub async fn insert_order(&self, new: &NewOrder<'_>) -> Result<(i64, String), StoreError> {
        let items: Vec<serde_json::Value> = new
            .order
            .lines
            .iter()
            .map(|line| {
                serde_json::json!({
                    "product_id": line.product_id.get(),
                    "quantity": line.quantity.get(),
                    "price": line.unit_price.to_string(),
                })
            })
            .collect();
        let sql = format!(
            "WITH intent AS (DELETE FROM stock_intents WHERE id = $1::bigint RETURNING id, reservation_key), \
             o AS (INSERT INTO orders (user_id, total_amount, status, reservation_key, created_at, updated_at) \
                   SELECT $2::bigint, $3::numeric, $10::text, intent.reservation_key, date_trunc('second', now()), now() FROM intent \
                   RETURNING id, created_at, \
                   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS shown), \
             items AS (INSERT INTO order_items (order_id, product_id, quantity, price) \
                   SELECT o.id, i.product_id, i.quantity, i.price FROM o, \
                   jsonb_to_recordset($4::text::jsonb) AS i(product_id bigint, quantity integer, price numeric)), \
             k AS (UPDATE idempotency_keys SET state = 'done', body = NULL, order_id = o.id FROM o \
                   WHERE user_id = $2 AND key = $5::text AND state = 'in_flight'), \
             e AS (INSERT INTO events (event_id, order_id, seq, type, payload, traceparent, created_at) \
                   SELECT $6::text, o.id, 1, $11::text, \
                   jsonb_set(jsonb_set($7::text::jsonb, '{{id}}', to_jsonb(o.id)), '{{created_at}}', to_jsonb(o.shown))::text, \
                   $12::text, o.created_at FROM o) \
             SELECT o.id, o.created_at AT TIME ZONE 'UTC', {due} \
             FROM (SELECT 1) AS one LEFT JOIN o ON true",
            due = reconciliation_due_expression(8),
        );
        let row = self.query_one_row(
            &sql,
            &[
                P::Int64(new.intent.0),
                P::Int64(new.user.get()),
                P::Decimal(new.order.total.to_string()),
                P::Str(serde_json::Value::Array(items).to_string()),
                new.key
                    .map_or(P::DbNull, |key| P::Str(key.key.as_str().to_owned())),
                P::Str(new.created.event_id.clone()),
                P::Str(new.created.payload.clone()),
                P::Int64(RETENTION_SECONDS),
                seconds(EVENT_RETENTION),
                P::Str(new.status.as_str().to_owned()),
                P::Str(new.created.kind.to_owned()),
                P::Str(new.created.traceparent.clone()),
            ],
        )?;
        // No order row: the intent was gone (the lease was lost).
        let Some(id) = int(&row[0]) else {
            return Err(StoreError::LeaseLost);
        };
        let Some(created_at) = time(&row[1]) else {
            return Err(StoreError::Malformed("orders.created_at"));
        };
        // The follow-up's "anything due?" answered by the same statement.
        self.reconciliation_due_known
            .set(Some(row.get(2).and_then(boolean) == Some(true)));
        Ok((id, created_at))
    }

    // --- Idempotency-Keys ----------------------------------------------

    // --- stock owed to the Catalog -------------------------------------

    /// Whether any reconciliation work is due: one indexed read; nothing
    /// at all when this request's write already answered it.
    pub fn reconciliation_due(&self) -> Result<bool, StoreError> {
        if let Some(due) = self.reconciliation_due_known.take() {
            return Ok(due);
        }
        let rows = self.query(
            &format!("SELECT {}", reconciliation_due_expression(1)),
            &[P::Int64(RETENTION_SECONDS), seconds(EVENT_RETENTION)],
        )?;
        Ok(rows.first().and_then(|r| boolean(&r[0])) == Some(true))
    }
}

/// True when reconciliation work is due: a release whose retry time has
/// come, an intent whose lease ran out, an Idempotency-Key or a published
/// event past its retention (their lengths in seconds are parameters
/// `$first` and `$first + 1`). Every part is an indexed `EXISTS`.
fn reconciliation_due_expression(first: usize) -> String {
    let (keys, events) = (first, first + 1);
    format!(
        "(EXISTS (SELECT 1 FROM pending_releases WHERE next_attempt_at <= now() \
         AND claimed_until < now()) \
         OR EXISTS (SELECT 1 FROM stock_intents WHERE lease_until < now()) \
         OR EXISTS (SELECT 1 FROM idempotency_keys \
         WHERE created_at < now() - ${keys}::bigint * interval '1 second') \
         OR EXISTS (SELECT 1 FROM events \
         WHERE published_at < now() - ${events}::bigint * interval '1 second'))"
    )
}

/// A failure of the database rather than of the statement: it is not
/// reachable, starting up or shutting down, or the connection broke. The
/// service answers 503 with `Retry-After`, as for an unreachable Catalog.
fn store_error(error: Box<PgError>) -> StoreError {
    // A concurrent transaction got there first (e.g. the same refund id
    // for another payment): 503, and the retry answers from its row.
    if matches!(sqlstate(&error), Some("23505" | "40001" | "40P01")) {
        return StoreError::Raced(error);
    }
    let outage = match error.as_ref() {
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
        PgError::QueryFailed(_) if sqlstate(&error).is_some() => {
            let code = sqlstate(&error).unwrap_or_default();
            ["08", "53", "57", "58"]
                .iter()
                .any(|class| code.starts_with(class))
        }
        _ => connection_lost(&error) || driver_failed(&error),
    };
    if outage {
        StoreError::Unavailable(error)
    } else {
        StoreError::Postgres(error)
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
/// passes on as text).
fn connection_lost(error: &PgError) -> bool {
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

/// A shared statement's value as PostgreSQL binds it.
fn value(param: &Param<'_>) -> P {
    match param {
        Param::Int(value) => P::Int64(*value),
        Param::Int32(value) => P::Int32(*value),
        Param::Text(text) => P::Str((*text).to_owned()),
        Param::OptInt(value) => value.map_or(P::DbNull, P::Int64),
        Param::OptText(text) => text.map_or(P::DbNull, |t| P::Str(t.to_owned())),
        Param::Money(money) => P::Decimal(money.to_string()),
        Param::Seconds(seconds) => P::Int64(*seconds),
    }
}

fn seconds(value: u64) -> P {
    P::Int64(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Columns for Row {
    fn int(&self, index: usize) -> Option<i64> {
        self.get(index).and_then(int)
    }

    fn text(&self, index: usize) -> Option<&str> {
        self.get(index).and_then(text)
    }

    fn flag(&self, index: usize) -> Option<bool> {
        self.get(index).and_then(boolean)
    }

    fn money(&self, index: usize) -> Option<Money> {
        self.get(index).and_then(money)
    }

    fn time(&self, index: usize) -> Option<String> {
        self.get(index).and_then(time)
    }
}

fn int(value: &DbValue) -> Option<i64> {
    match value {
        DbValue::Int64(v) => Some(*v),
        DbValue::Int32(v) => Some(i64::from(*v)),
        DbValue::Int16(v) => Some(i64::from(*v)),
        DbValue::Int8(v) => Some(i64::from(*v)),
        _ => None,
    }
}

fn text(value: &DbValue) -> Option<&str> {
    match value {
        DbValue::Str(v) => Some(v),
        _ => None,
    }
}

fn boolean(value: &DbValue) -> Option<bool> {
    match value {
        DbValue::Boolean(v) => Some(*v),
        _ => None,
    }
}

fn money(value: &DbValue) -> Option<Money> {
    match value {
        DbValue::Decimal(v) => Money::parse(v).ok(),
        _ => None,
    }
}

/// A time as the API shows it: RFC 3339 UTC to the second. Statements
/// read `timestamptz` columns `AT TIME ZONE 'UTC'` (a `timestamp`): Spin's
/// PostgreSQL API converts a `timestamp` column but refuses a `timestamptz`
/// one (see docs/decisions.md, "PostgreSQL values through Spin").
fn time(value: &DbValue) -> Option<String> {
    match value {
        DbValue::Datetime((year, month, day, hour, minute, second, _)) => Some(format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"
        )),
        _ => None,
    }
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

    fn is_outage(error: PgError) -> bool {
        matches!(store_error(Box::new(error)), StoreError::Unavailable(_))
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
            let raced = store_error(Box::new(db_error(code)));
            assert!(matches!(raced, StoreError::Raced(_)), "{code}");
        }
        let text = |t: &str| PgError::QueryFailed(QueryError::Text(t.into()));
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
        assert!(!is_outage(PgError::ConnectionFailed(
            "address postgres://db:5432 is not permitted".into()
        )));
    }
}
