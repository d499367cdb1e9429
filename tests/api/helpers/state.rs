//! Typed views of the state a test app stored, whichever the backend: what
//! tests assert on instead of SQL of their own.

use super::*;

/// A pending release as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRelease {
    pub id: i64,
    pub user_id: i64,
    pub product_id: i64,
    pub quantity: i64,
    pub reason: String,
    pub last_error: String,
}

/// The rows of `sql` in PostgreSQL at `database_url`, or else in the
/// SQLite file `sqlite_file`: each column as text, NULL as "" (psql's
/// unaligned output, so no column may hold a `|`).
pub fn sql_rows(database_url: Option<&str>, sqlite_file: &Path, sql: &str) -> Vec<Vec<String>> {
    match database_url {
        Some(url) => psql(url, sql)
            .unwrap()
            .lines()
            .map(|line| line.split('|').map(str::to_owned).collect())
            .collect(),
        None => {
            let db = rusqlite::Connection::open(sqlite_file).unwrap();
            let mut statement = db.prepare(sql).unwrap();
            let columns = statement.column_count();
            statement
                .query_map([], |row| {
                    (0..columns)
                        .map(|i| {
                            Ok(match row.get_ref(i)? {
                                rusqlite::types::ValueRef::Null => String::new(),
                                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                                rusqlite::types::ValueRef::Real(v) => v.to_string(),
                                rusqlite::types::ValueRef::Text(t) => {
                                    String::from_utf8_lossy(t).into_owned()
                                }
                                rusqlite::types::ValueRef::Blob(_) => "<blob>".into(),
                            })
                        })
                        .collect()
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        }
    }
}

impl TestApp {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.path().join("db.sqlite3")
    }

    /// A direct connection to the service's database file.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.db_path()).unwrap()
    }

    /// Rows in `table` (0 when the schema does not exist yet), whichever
    /// the backend.
    pub fn count(&self, table: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {table}");
        match &self.database_url {
            Some(url) => psql(url, &sql).map_or(0, |n| n.parse().unwrap()),
            None => self.db().query_row(&sql, [], |r| r.get(0)).unwrap_or(0),
        }
    }

    /// The rows of `sql`, each as its columns joined by `|`, whichever the
    /// backend.
    pub fn rows(&self, sql: &str) -> Vec<String> {
        sql_rows(self.database_url.as_deref(), &self.db_path(), sql)
            .into_iter()
            .map(|columns| columns.join("|"))
            .collect()
    }

    /// The releases still owed to the Catalog, oldest first.
    pub fn pending_releases(&self) -> Vec<StoredRelease> {
        self.rows(
            "SELECT id, user_id, product_id, quantity, reason, last_error \
             FROM pending_releases ORDER BY id",
        )
        .iter()
        .map(|row| {
            let c: Vec<&str> = row.splitn(6, '|').collect();
            StoredRelease {
                id: c[0].parse().unwrap(),
                user_id: c[1].parse().unwrap(),
                product_id: c[2].parse().unwrap(),
                quantity: c[3].parse().unwrap(),
                reason: c[4].to_owned(),
                last_error: c[5].to_owned(),
            }
        })
        .collect()
    }

    /// Order `id` as stored: `(user_id, total_amount, status)`.
    pub fn stored_order(&self, id: i64) -> Option<(i64, String, String)> {
        let rows = self.rows(&format!(
            "SELECT user_id, total_amount, status FROM orders WHERE id = {id}"
        ));
        rows.first().map(|row| {
            let c: Vec<&str> = row.split('|').collect();
            (c[0].parse().unwrap(), c[1].to_owned(), c[2].to_owned())
        })
    }

    /// Order `id`'s items as stored: `(product_id, quantity, price)`.
    pub fn stored_items(&self, id: i64) -> Vec<(i64, i64, String)> {
        self.rows(&format!(
            "SELECT product_id, quantity, price FROM order_items WHERE order_id = {id} ORDER BY id"
        ))
        .iter()
        .map(|row| {
            let c: Vec<&str> = row.split('|').collect();
            (
                c[0].parse().unwrap(),
                c[1].parse().unwrap(),
                c[2].to_owned(),
            )
        })
        .collect()
    }

    /// Moves every stored Idempotency-Key's creation `hours` back.
    pub fn age_idempotency_keys(&self, hours: u32) {
        self.execute(&match self.database_url {
            Some(_) => format!(
                "UPDATE idempotency_keys SET created_at = created_at - interval '{hours} hours'"
            ),
            None => format!(
                "UPDATE idempotency_keys SET created_at = \
                 strftime('%Y-%m-%dT%H:%M:%SZ', created_at, '-{hours} hours')"
            ),
        });
    }

    /// Runs `sql` on the app's database, whichever the backend (for a test
    /// that changes state behind the service's back).
    pub fn execute(&self, sql: &str) {
        match &self.database_url {
            Some(url) => {
                psql(url, sql).unwrap();
            }
            None => self.db().execute_batch(sql).unwrap(),
        }
    }
}

/// An order event as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event_id: String,
    pub kind: String,
    pub seq: i64,
    pub published: bool,
    /// Claimed by a publisher right now.
    pub claimed: bool,
    pub payload: Value,
}

/// A settled release's audit row: `outcome|settled_by|note|quantity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledAudit {
    pub outcome: String,
    pub settled_by: String,
    pub note: String,
    pub quantity: i64,
}

impl TestApp {
    fn single_int(&self, sql: &str) -> i64 {
        self.rows(sql)[0].parse().unwrap()
    }

    /// `order_id`'s events, in sequence.
    pub fn stored_events(&self, order_id: i64) -> Vec<StoredEvent> {
        self.rows(&format!(
            "SELECT event_id, type, seq, \
             CASE WHEN published_at IS NULL THEN 0 ELSE 1 END, \
             CASE WHEN claimed_until > '2000-01-01' THEN 1 ELSE 0 END, payload \
             FROM events WHERE order_id = {order_id} ORDER BY seq"
        ))
        .iter()
        .map(|row| {
            let c: Vec<&str> = row.splitn(6, '|').collect();
            StoredEvent {
                event_id: c[0].to_owned(),
                kind: c[1].to_owned(),
                seq: c[2].parse().unwrap(),
                published: c[3] == "1",
                claimed: c[4] == "1",
                payload: serde_json::from_str(c[5]).unwrap(),
            }
        })
        .collect()
    }

    /// The orders that have events recorded, one entry per event.
    pub fn event_order_ids(&self) -> Vec<i64> {
        self.rows("SELECT order_id FROM events ORDER BY order_id")
            .iter()
            .map(|id| id.parse().unwrap())
            .collect()
    }

    /// Events recorded and not published yet.
    pub fn unpublished_events(&self) -> i64 {
        self.single_int("SELECT count(*) FROM events WHERE published_at IS NULL")
    }

    /// Unpublished events some publisher holds a claim on.
    pub fn claimed_unpublished_events(&self) -> i64 {
        self.single_int(
            "SELECT count(*) FROM events WHERE published_at IS NULL \
             AND claimed_until > '2000-01-01'",
        )
    }

    /// Ends every publisher's claim (as if it ran out).
    pub fn expire_event_claims(&self) {
        self.execute("UPDATE events SET claimed_until = '2000-01-01T00:00:00Z'");
    }

    /// Moves `order_id`'s events back to 2000: recorded then, and
    /// published then (`published`) or never, held by a claim that lasts.
    pub fn backdate_events(&self, order_id: i64, published: bool) {
        self.execute(&if published {
            format!(
                "UPDATE events SET created_at = '2000-01-01T00:00:00Z', \
                 published_at = '2000-01-01T00:00:00Z' WHERE order_id = {order_id}"
            )
        } else {
            format!(
                "UPDATE events SET created_at = '2000-01-01T00:00:00Z', published_at = NULL, \
                 claimed_until = '2099-01-01T00:00:00Z' WHERE order_id = {order_id}"
            )
        });
    }

    /// Sets order `id`'s status behind the service's back.
    pub fn force_status(&self, id: i64, status: &str) {
        self.execute(&format!(
            "UPDATE orders SET status = '{status}' WHERE id = {id}"
        ));
    }

    /// Forgets every open reservation intent (as if reconciled by hand).
    pub fn delete_intents(&self) {
        self.execute("DELETE FROM stock_intents");
    }

    /// Makes every pending release due now, whatever its back-off.
    pub fn make_releases_due(&self) {
        self.execute("UPDATE pending_releases SET next_attempt_at = '2000-01-01T00:00:00Z'");
    }

    /// Marks pending release `id` as being tried by some request.
    pub fn hold_release_claim(&self, id: i64) {
        self.execute(&format!(
            "UPDATE pending_releases SET claimed_until = '9999-01-01T00:00:00Z' WHERE id = {id}"
        ));
    }

    /// The audit row of settled release `id`.
    pub fn settled_release(&self, id: i64) -> Option<SettledAudit> {
        self.rows(&format!(
            "SELECT outcome, settled_by, quantity, note FROM settled_releases WHERE id = {id}"
        ))
        .first()
        .map(|row| {
            let c: Vec<&str> = row.splitn(4, '|').collect();
            SettledAudit {
                outcome: c[0].to_owned(),
                settled_by: c[1].to_owned(),
                quantity: c[2].parse().unwrap(),
                note: c[3].to_owned(),
            }
        })
    }

    /// Stores a finished Idempotency-Key of `user`, created in 2000.
    pub fn insert_old_key(&self, user: i64, key: &str) {
        self.execute(&format!(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, state, status, body, \
             created_at, lease_until) VALUES ({user}, '{key}', 'f', 'done', 400, '{{}}', \
             '2000-01-01T00:00:00Z', '2000-01-01T00:02:00Z')"
        ));
    }

    /// Whether Idempotency-Key `key` is stored (any user).
    pub fn key_stored(&self, key: &str) -> bool {
        self.single_int(&format!(
            "SELECT count(*) FROM idempotency_keys WHERE key = '{key}'"
        )) > 0
    }

    /// Drops `table` (storage broken behind the service's back).
    pub fn drop_table(&self, table: &str) {
        self.execute(&format!("DROP TABLE {table}"));
    }
}
