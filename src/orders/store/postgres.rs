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

use super::rows::{self, Columns};
use super::{
    ClaimedRelease, ExpiredIntent, IntentId, NewReleases, OutboxEvent, OwnedKey, PaymentRecord,
    PendingRelease, SettledRelease, StoreError,
};
use crate::domain::events::EventRecord;
use crate::domain::events::RETENTION_SECONDS as EVENT_RETENTION;
use crate::domain::idempotency::{StoredKey, RETENTION_SECONDS};
use crate::domain::money::Money;
use crate::domain::order::{Order, OrderStatus, PricedOrder};
use crate::domain::order_request::OrderLine;
use crate::domain::payment::{PaymentConfirmation, PaymentRefusal};
use crate::domain::release::Settlement;
use crate::domain::UserId;
use spin_sdk::pg4::{Connection, DbValue, ParameterValue as P, RowSet};

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
     created_at, lease_until) SELECT $1, $2, $3, now(), now() + $4::bigint * interval '1 second' \
     WHERE (SELECT max(version) FROM schema_migrations) >= $5::bigint RETURNING id) \
     SELECT (SELECT id FROM i)";

/// Key of the advisory lock that serialises migrations across instances.
const MIGRATION_LOCK: i64 = 0x6f72_6465_7273; // "orders"

/// One pooled connection for this request; the schema is brought up to
/// date before its first statement.
pub struct Db {
    conn: Connection,
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
            conn: Connection::open(url).map_err(|e| StoreError::Postgres(Box::new(e)))?,
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
        self.conn
            .execute(sql, params)
            .map_err(|e| StoreError::Postgres(Box::new(e)))
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

    fn send_query(&self, sql: &str, params: &[P]) -> Result<Vec<Row>, StoreError> {
        let RowSet { rows, .. } = self
            .conn
            .query(sql, params)
            .map_err(|e| StoreError::Postgres(Box::new(e)))?;
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
        match work(self).and_then(|value| self.execute("COMMIT", &[]).map(|_| value)) {
            Ok(value) => Ok(value),
            Err(error) => {
                let _ = self.execute("ROLLBACK", &[]);
                Err(error)
            }
        }
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
        first_int(&rows, 0).ok_or(StoreError::Malformed("schema_migrations"))
    }

    // --- reservation intents -------------------------------------------

    pub async fn open_intent(
        &self,
        user: UserId,
        request_id: &str,
        lines: &[OrderLine],
        lease_seconds: u64,
    ) -> Result<IntentId, StoreError> {
        let items: Vec<[i64; 2]> = lines
            .iter()
            .map(|l| [l.product_id.get(), i64::from(l.quantity.get())])
            .collect();
        let params = [
            P::Int64(user.get()),
            P::Str(request_id.to_owned()),
            P::Str(serde_json::to_string(&items)?),
            seconds(lease_seconds),
            P::Int64(latest_version()),
        ];
        if !self.schema_checked.get() {
            // The schema check rides on the write, which inserts only on a
            // current (or newer) schema. No row, or no such table or column
            // yet: migrate, then write again; any other error is the
            // request's.
            match self.send_query(OPEN_INTENT, &params) {
                Ok(rows) => {
                    if let Some(id) = first_int(&rows, 0) {
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

    pub(super) fn take_intent(
        &self,
        intent: IntentId,
    ) -> Result<Option<(UserId, String)>, StoreError> {
        let rows = self.query(
            "DELETE FROM stock_intents WHERE id = $1 RETURNING user_id, request_id",
            &[P::Int64(intent.0)],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let malformed = || StoreError::Malformed("stock_intents row");
        let user = int(&row[0]).and_then(UserId::new).ok_or_else(malformed)?;
        let request_id = text(&row[1]).ok_or_else(malformed)?;
        Ok(Some((user, request_id.to_owned())))
    }

    pub(super) fn take_expired_intents(
        &self,
        limit: u32,
    ) -> Result<Vec<ExpiredIntent>, StoreError> {
        let expired = self.query(
            "DELETE FROM stock_intents WHERE id IN (SELECT id FROM stock_intents \
             WHERE lease_until < now() ORDER BY lease_until LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING user_id, request_id, items",
            &[P::Int64(i64::from(limit))],
        )?;
        expired
            .iter()
            .map(|row| ExpiredIntent::from_row(int(&row[0]), text(&row[1]), text(&row[2])))
            .collect()
    }

    // --- orders --------------------------------------------------------

    /// One statement (data-modifying CTEs), so one round trip and one
    /// commit: close the intent (nothing else happens when it is gone:
    /// the lease was lost), write the order and its items, complete the
    /// Idempotency-Key and record `order.created`.
    pub async fn insert_order(
        &self,
        user: UserId,
        order: &PricedOrder,
        intent: IntentId,
        key: Option<OwnedKey<'_>>,
        created: &EventRecord,
    ) -> Result<(i64, String), StoreError> {
        let items: Vec<serde_json::Value> = order
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
            "WITH intent AS (DELETE FROM stock_intents WHERE id = $1::bigint RETURNING id), \
             o AS (INSERT INTO orders (user_id, total_amount, status, created_at, updated_at) \
                   SELECT $2::bigint, $3::numeric, 'CREATED', date_trunc('second', now()), now() FROM intent \
                   RETURNING id, created_at, \
                   to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS shown), \
             items AS (INSERT INTO order_items (order_id, product_id, quantity, price) \
                   SELECT o.id, i.product_id, i.quantity, i.price FROM o, \
                   jsonb_to_recordset($4::text::jsonb) AS i(product_id bigint, quantity integer, price numeric)), \
             k AS (UPDATE idempotency_keys SET state = 'done', body = NULL, order_id = o.id FROM o \
                   WHERE user_id = $2 AND key = $5::text AND state = 'in_flight'), \
             e AS (INSERT INTO events (event_id, order_id, seq, type, payload, created_at) \
                   SELECT $6::text, o.id, 1, 'order.created', \
                   jsonb_set(jsonb_set($7::text::jsonb, '{{id}}', to_jsonb(o.id)), '{{created_at}}', to_jsonb(o.shown))::text, \
                   o.created_at FROM o) \
             SELECT o.id, o.created_at AT TIME ZONE 'UTC', {due} \
             FROM (SELECT 1) AS one LEFT JOIN o ON true",
            due = reconciliation_due_expression(8),
        );
        let row = self.query_one_row(
            &sql,
            &[
                P::Int64(intent.0),
                P::Int64(user.get()),
                P::Decimal(order.total.to_string()),
                P::Str(serde_json::Value::Array(items).to_string()),
                key.map_or(P::DbNull, |key| P::Str(key.key.as_str().to_owned())),
                P::Str(created.event_id.clone()),
                P::Str(created.payload.clone()),
                P::Int64(RETENTION_SECONDS),
                seconds(EVENT_RETENTION),
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

    pub fn order(&self, user: UserId, id: i64) -> Result<Option<Order>, StoreError> {
        let rows = self.query(
            "SELECT id, user_id, total_amount, status, created_at AT TIME ZONE 'UTC' FROM orders \
             WHERE id = $1 AND user_id = $2",
            &[P::Int64(id), P::Int64(user.get())],
        )?;
        Ok(self.with_items(&rows)?.pop())
    }

    pub fn list_orders(
        &self,
        user: UserId,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<(Vec<Order>, bool), StoreError> {
        let rows = self.query(
            "SELECT id, user_id, total_amount, status, created_at AT TIME ZONE 'UTC' FROM orders \
             WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            &[
                P::Int64(user.get()),
                P::Int64(before_id.unwrap_or(i64::MAX)),
                P::Int64(i64::from(limit) + 1),
            ],
        )?;
        let mut orders = self.with_items(&rows)?;
        let more = orders.len() > limit as usize;
        orders.truncate(limit as usize);
        Ok((orders, more))
    }

    pub(super) fn lock_order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        let rows = self.query(
            "SELECT id, user_id, total_amount, status, created_at AT TIME ZONE 'UTC' \
             FROM orders WHERE id = $1 FOR UPDATE",
            &[P::Int64(id)],
        )?;
        Ok(self.with_items(&rows)?.pop())
    }

    pub(super) fn set_status(
        &self,
        id: i64,
        from: OrderStatus,
        to: OrderStatus,
    ) -> Result<(), StoreError> {
        let changed = self.execute(
            "UPDATE orders SET status = $1, updated_at = now() WHERE id = $2 AND status = $3",
            &[
                P::Str(to.as_str().into()),
                P::Int64(id),
                P::Str(from.as_str().into()),
            ],
        )?;
        if changed != 1 {
            return Err(StoreError::Malformed("order changed under its lock"));
        }
        Ok(())
    }

    /// Orders from `(id, user_id, total_amount, status, created_at)` rows,
    /// with their items read in one query.
    fn with_items(&self, rows: &[Row]) -> Result<Vec<Order>, StoreError> {
        let mut orders = rows
            .iter()
            .map(rows::order)
            .collect::<Result<Vec<_>, _>>()?;
        if orders.is_empty() {
            return Ok(orders);
        }
        let placeholders: Vec<String> = (1..=orders.len()).map(|n| format!("${n}")).collect();
        let ids: Vec<P> = orders.iter().map(|o| P::Int64(o.id)).collect();
        let items = self.query(
            &format!(
                "SELECT order_id, product_id, quantity, price FROM order_items \
                 WHERE order_id IN ({}) ORDER BY id",
                placeholders.join(", ")
            ),
            &ids,
        )?;
        rows::attach_items(&mut orders, &items)?;
        Ok(orders)
    }

    // --- Idempotency-Keys ----------------------------------------------

    pub(super) fn insert_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<bool, StoreError> {
        let inserted = self.execute(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, created_at, \
             lease_until) VALUES ($1, $2, $3, 'in_flight', now(), \
             now() + $4::bigint * interval '1 second') ON CONFLICT DO NOTHING",
            &claim_params(owned, fingerprint, lease_seconds),
        )?;
        Ok(inserted == 1)
    }

    pub(super) fn lock_key(&self, owned: OwnedKey<'_>) -> Result<Option<StoredKey>, StoreError> {
        let found = self.query(
            "SELECT fingerprint, state = 'done', order_id, body, lease_until < now(), \
             created_at < now() - $3::bigint * interval '1 second' \
             FROM idempotency_keys WHERE user_id = $1 AND key = $2 FOR UPDATE",
            &[
                P::Int64(owned.user.get()),
                P::Str(owned.key.as_str().to_owned()),
                P::Int64(RETENTION_SECONDS),
            ],
        )?;
        found.first().map(rows::stored_key).transpose()
    }

    pub(super) fn take_over_key(
        &self,
        owned: OwnedKey<'_>,
        fingerprint: &str,
        lease_seconds: u64,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE idempotency_keys SET fingerprint = $3, state = 'in_flight', body = NULL, \
             order_id = NULL, status = NULL, created_at = now(), \
             lease_until = now() + $4::bigint * interval '1 second' \
             WHERE user_id = $1 AND key = $2",
            &claim_params(owned, fingerprint, lease_seconds),
        )?;
        Ok(())
    }

    pub async fn complete_key(&self, owned: OwnedKey<'_>, body: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE idempotency_keys SET state = 'done', body = $1, order_id = NULL \
             WHERE user_id = $2 AND key = $3 AND state = 'in_flight'",
            &[
                P::Str(body.to_owned()),
                P::Int64(owned.user.get()),
                P::Str(owned.key.as_str().to_owned()),
            ],
        )?;
        Ok(())
    }

    pub async fn release_key(&self, owned: OwnedKey<'_>) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND state = 'in_flight'",
            &[
                P::Int64(owned.user.get()),
                P::Str(owned.key.as_str().to_owned()),
            ],
        )?;
        Ok(())
    }

    pub async fn purge_expired_keys(&self, limit: u32) -> Result<usize, StoreError> {
        let deleted = self.execute(
            "DELETE FROM idempotency_keys WHERE (user_id, key) IN (SELECT user_id, key \
             FROM idempotency_keys WHERE created_at < now() - $1::bigint * interval '1 second' \
             LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[P::Int64(RETENTION_SECONDS), P::Int64(i64::from(limit))],
        )?;
        Ok(deleted as usize)
    }

    // --- stock owed to the Catalog -------------------------------------

    pub(super) fn insert_releases(
        &self,
        new: &NewReleases<'_>,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        let mut claimed = Vec::with_capacity(new.lines.len());
        for (product, quantity) in new.lines {
            let rows = self.query(
                "INSERT INTO pending_releases (user_id, product_id, quantity, reason, request_id, \
                 order_id, attempts, last_error, created_at, next_attempt_at, claimed_until) \
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, now(), now(), \
                 now() + $8::bigint * interval '1 second') \
                 RETURNING id, user_id, product_id, quantity, attempts",
                &[
                    P::Int64(new.user.get()),
                    P::Int64(product.get()),
                    P::Int32(quantity_param(*quantity)),
                    P::Str(new.reason.to_owned()),
                    P::Str(new.request_id.to_owned()),
                    new.order_id.map_or(P::DbNull, P::Int64),
                    P::Str(new.claim.last_error()),
                    P::Int64(new.claim.offset_seconds()),
                ],
            )?;
            for row in &rows {
                claimed.push(rows::claimed_release(row)?);
            }
        }
        Ok(new.claim.keeps(claimed))
    }

    pub async fn claim_releases(
        &self,
        limit: u32,
        ignore_backoff: bool,
        claim_seconds: u64,
    ) -> Result<Vec<ClaimedRelease>, StoreError> {
        let due = if ignore_backoff {
            ""
        } else {
            "AND next_attempt_at <= now()"
        };
        let rows = self.query(
            &format!(
                "UPDATE pending_releases SET claimed_until = now() + $1::bigint * interval '1 second', \
                 attempts = attempts + 1 WHERE id IN (SELECT id FROM pending_releases \
                 WHERE claimed_until < now() {due} ORDER BY next_attempt_at LIMIT $2 \
                 FOR UPDATE SKIP LOCKED) RETURNING id, user_id, product_id, quantity, attempts"
            ),
            &[seconds(claim_seconds), P::Int64(i64::from(limit))],
        )?;
        rows.iter().map(rows::claimed_release).collect()
    }

    pub(super) fn delete_release(&self, id: i64) -> Result<(), StoreError> {
        self.execute(
            "DELETE FROM pending_releases WHERE id = $1",
            &[P::Int64(id)],
        )?;
        Ok(())
    }

    pub(super) fn reschedule_release(
        &self,
        id: i64,
        error: &str,
        retry_in_seconds: u64,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE pending_releases SET last_error = $1, claimed_until = '-infinity', \
             next_attempt_at = now() + $2::bigint * interval '1 second' WHERE id = $3",
            &[
                P::Str(error.to_owned()),
                seconds(retry_in_seconds),
                P::Int64(id),
            ],
        )?;
        Ok(())
    }

    pub fn pending_releases(&self, limit: u32) -> Result<(i64, Vec<PendingRelease>), StoreError> {
        let total = self.query("SELECT count(*) FROM pending_releases", &[])?;
        let rows = self.query(
            "SELECT id, user_id, product_id, quantity, order_id, reason, request_id, attempts, \
             last_error, created_at AT TIME ZONE 'UTC', next_attempt_at AT TIME ZONE 'UTC' \
             FROM pending_releases ORDER BY id LIMIT $1",
            &[P::Int64(i64::from(limit))],
        )?;
        let pending = rows
            .iter()
            .map(rows::pending_release)
            .collect::<Result<_, _>>()?;
        Ok((first_int(&total, 0).unwrap_or(0), pending))
    }

    /// One statement: a data-modifying CTE moves the row.
    pub(super) fn move_to_settled(
        &self,
        id: i64,
        settlement: Settlement,
        settled_by: &str,
        note: &str,
    ) -> Result<Option<SettledRelease>, StoreError> {
        let row = self.query_one_row(
            "WITH moved AS (DELETE FROM pending_releases WHERE id = $4 \
             AND claimed_until < now() RETURNING *), \
             settled AS (INSERT INTO settled_releases (id, user_id, product_id, quantity, \
             order_id, reason, request_id, attempts, last_error, created_at, outcome, \
             settled_by, note, settled_at) SELECT id, user_id, product_id, quantity, \
             order_id, reason, request_id, attempts, last_error, created_at, $1, $2, $3, \
             now() FROM moved RETURNING id, user_id, product_id, quantity, order_id, reason, \
             outcome, settled_by, note, settled_at AT TIME ZONE 'UTC' AS settled_at) \
             SELECT settled.* FROM (SELECT 1) AS one LEFT JOIN settled ON true",
            &[
                P::Str(settlement.as_str().into()),
                P::Str(settled_by.into()),
                P::Str(note.into()),
                P::Int64(id),
            ],
        )?;
        if matches!(row[0], DbValue::DbNull) {
            return Ok(None);
        }
        rows::settled_release(&row).map(Some)
    }

    pub(super) fn release_exists(&self, id: i64) -> Result<bool, StoreError> {
        let found = self.query(
            "SELECT 1 FROM pending_releases WHERE id = $1",
            &[P::Int64(id)],
        )?;
        Ok(!found.is_empty())
    }

    pub(super) fn insert_payment(
        &self,
        payment: &PaymentConfirmation,
        outcome: Result<(), PaymentRefusal>,
    ) -> Result<Option<String>, StoreError> {
        let inserted = self.query(
            "INSERT INTO payments (payment_id, order_id, amount, currency, outcome, reason, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, now()) \
             ON CONFLICT (payment_id) DO NOTHING RETURNING created_at AT TIME ZONE 'UTC'",
            &[
                P::Str(payment.payment_id.clone()),
                P::Int64(payment.order_id),
                P::Decimal(payment.amount.to_string()),
                P::Str(payment.currency.clone()),
                P::Str(PaymentRecord::outcome_text(outcome).into()),
                outcome
                    .err()
                    .map_or(P::DbNull, |r| P::Str(r.as_str().into())),
            ],
        )?;
        Ok(inserted.first().and_then(|row| time(&row[0])))
    }

    pub(super) fn stored_payment(
        &self,
        payment_id: &str,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        let rows = self.query(
            "SELECT payment_id, order_id, amount, currency, reason, \
             created_at AT TIME ZONE 'UTC' FROM payments \
             WHERE payment_id = $1",
            &[P::Str(payment_id.to_owned())],
        )?;
        rows.first().map(rows::payment).transpose()
    }

    /// Inside the caller's transaction: records `event` as the order's
    /// next one (the order's row lock, or the payment's, orders the
    /// sequence; a clash on `(order_id, seq)` fails the transaction).
    pub(super) fn append_event(&self, event: &EventRecord) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO events (event_id, order_id, seq, type, payload, created_at) \
             SELECT $1, $2, coalesce(max(seq), 0) + 1, $3, $4, now() \
             FROM events WHERE order_id = $2",
            &[
                P::Str(event.event_id.clone()),
                P::Int64(event.order_id),
                P::Str(event.kind.into()),
                P::Str(event.payload.clone()),
            ],
        )?;
        Ok(())
    }

    /// One statement; `SKIP LOCKED` keeps two instances' claims apart,
    /// and an event claimed by one is not claimable by the other until
    /// its claim runs out.
    pub async fn claim_events(
        &self,
        limit: u32,
        claim_seconds: u64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let rows = self.query(
            "UPDATE events SET claimed_until = now() + $1::bigint * interval '1 second' \
             WHERE id IN (SELECT e.id FROM events e WHERE e.published_at IS NULL \
             AND e.claimed_until < now() \
             AND NOT EXISTS (SELECT 1 FROM events p WHERE p.order_id = e.order_id \
             AND p.seq < e.seq AND p.published_at IS NULL) \
             ORDER BY e.id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING id, event_id, order_id, seq, type, payload, created_at AT TIME ZONE 'UTC'",
            &[seconds(claim_seconds), P::Int64(i64::from(limit))],
        )?;
        rows.iter().map(rows::outbox_event).collect()
    }

    pub async fn mark_events_published(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.update_events("published_at = now(), claimed_until = '-infinity'", ids)
    }

    pub async fn unclaim_events(&self, ids: &[i64]) -> Result<(), StoreError> {
        self.update_events("claimed_until = '-infinity'", ids)
    }

    fn update_events(&self, set: &str, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let params: Vec<P> = ids.iter().map(|id| P::Int64(*id)).collect();
        self.execute(
            &format!(
                "UPDATE events SET {set} WHERE published_at IS NULL AND id IN ({})",
                placeholders.join(", ")
            ),
            &params,
        )?;
        Ok(())
    }

    pub async fn purge_published_events(
        &self,
        limit: u32,
        retention_seconds: u64,
    ) -> Result<usize, StoreError> {
        let deleted = self.execute(
            "DELETE FROM events WHERE id IN (SELECT id FROM events \
             WHERE published_at < now() - $1::bigint * interval '1 second' \
             ORDER BY published_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[seconds(retention_seconds), P::Int64(i64::from(limit))],
        )?;
        Ok(usize::try_from(deleted).unwrap_or(0))
    }

    pub fn unpublished_events(&self) -> Result<i64, StoreError> {
        let rows = self.query(
            "SELECT count(*) FROM events WHERE published_at IS NULL",
            &[],
        )?;
        Ok(first_int(&rows, 0).unwrap_or(0))
    }

    pub fn order_release_pending(&self, order_id: i64) -> Result<bool, StoreError> {
        let rows = self.query(
            "SELECT EXISTS (SELECT 1 FROM pending_releases WHERE order_id = $1)",
            &[P::Int64(order_id)],
        )?;
        Ok(rows.first().and_then(|r| boolean(&r[0])) == Some(true))
    }

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

/// `user_id, key, fingerprint, lease seconds` of a claim.
fn claim_params(owned: OwnedKey<'_>, fingerprint: &str, lease_seconds: u64) -> [P; 4] {
    [
        P::Int64(owned.user.get()),
        P::Str(owned.key.as_str().to_owned()),
        P::Str(fingerprint.to_owned()),
        seconds(lease_seconds),
    ]
}

fn seconds(value: u64) -> P {
    P::Int64(i64::try_from(value).unwrap_or(i64::MAX))
}

/// Quantities are at most 100000 (the domain's bound); the column is
/// `integer`.
fn quantity_param(quantity: u32) -> i32 {
    i32::try_from(quantity).unwrap_or(i32::MAX)
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

fn first_int(rows: &[Row], column: usize) -> Option<i64> {
    rows.first().and_then(|row| int(&row[column]))
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
