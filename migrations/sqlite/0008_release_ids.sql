-- 0008: pending release ids are never reused. 0001 made pending_releases.id
-- a plain INTEGER PRIMARY KEY, which SQLite reuses once the highest row is
-- deleted: after release 1 was settled, the next owed release was id 1
-- again, and settling it collided with settled_releases forever (a 500),
-- while log lines' release_id named another row. PostgreSQL's identity
-- column never reuses one. The table is rebuilt with AUTOINCREMENT; its
-- counter starts past every id either table holds, and a pending release
-- whose id a settled one already has gets a new id.
-- Runnable by hand after 0007: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0008_release_ids.sql

CREATE TABLE pending_releases_0008 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL,               -- whose token the retry mints
    product_id      INTEGER NOT NULL,
    quantity        INTEGER NOT NULL CHECK (quantity >= 1),
    reason          TEXT    NOT NULL,               -- why the units go back
    request_id      TEXT    NOT NULL,               -- the request that reserved them
    attempts        INTEGER NOT NULL DEFAULT 1,
    last_error      TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL,
    claimed_until   TEXT    NOT NULL DEFAULT '',
    order_id        INTEGER
);

INSERT INTO pending_releases_0008 (id, user_id, product_id, quantity, reason, request_id,
    attempts, last_error, created_at, next_attempt_at, claimed_until, order_id)
SELECT id, user_id, product_id, quantity, reason, request_id, attempts, last_error,
    created_at, next_attempt_at, claimed_until, order_id
FROM pending_releases WHERE id NOT IN (SELECT id FROM settled_releases);

DELETE FROM sqlite_sequence WHERE name = 'pending_releases_0008';
INSERT INTO sqlite_sequence (name, seq) VALUES ('pending_releases_0008', max(
    coalesce((SELECT max(id) FROM pending_releases), 0),
    coalesce((SELECT max(id) FROM settled_releases), 0)));

-- The releases whose id was reused: new ids, past every old one.
INSERT INTO pending_releases_0008 (user_id, product_id, quantity, reason, request_id,
    attempts, last_error, created_at, next_attempt_at, claimed_until, order_id)
SELECT user_id, product_id, quantity, reason, request_id, attempts, last_error,
    created_at, next_attempt_at, claimed_until, order_id
FROM pending_releases WHERE id IN (SELECT id FROM settled_releases) ORDER BY id;

DROP TABLE pending_releases;
ALTER TABLE pending_releases_0008 RENAME TO pending_releases;
CREATE INDEX pending_releases_due ON pending_releases (next_attempt_at);
CREATE INDEX pending_releases_by_order ON pending_releases (order_id);

PRAGMA user_version = 8;
