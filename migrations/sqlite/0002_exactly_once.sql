-- 0002: exactly-once bookkeeping — reservation intents, idempotency keys,
-- and claims on pending releases so two drains never release one row twice.
-- Runnable by hand after 0001: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0002_exactly_once.sql

-- Written durably just before the first reservation of a create; deleted in
-- the transaction that writes the order, or turned into pending_releases
-- when the create fails. A row older than its lease is a create that died
-- (crash, kill) between reserving and persisting: the reconciler releases it.
CREATE TABLE stock_intents (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    items       TEXT    NOT NULL,                   -- JSON [[product_id, quantity], ...]
    created_at  TEXT    NOT NULL,
    lease_until TEXT    NOT NULL                    -- RFC 3339 UTC
);

CREATE INDEX stock_intents_by_lease ON stock_intents (lease_until);

-- Idempotency-Key per user (SPEC §3). `in_flight` while the first request
-- runs (until lease_until); `done` with the stored response afterwards.
CREATE TABLE idempotency_keys (
    user_id      INTEGER NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,                  -- SHA-256 of the canonical JSON body
    state        TEXT    NOT NULL CHECK (state IN ('in_flight', 'done')),
    status       INTEGER,                           -- stored response, when done
    body         TEXT,
    order_id     INTEGER,
    created_at   TEXT    NOT NULL,
    lease_until  TEXT    NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- A row is being released by some request until claimed_until; the order a
-- cancel released stock for, when that is the reason.
ALTER TABLE pending_releases ADD COLUMN claimed_until TEXT NOT NULL DEFAULT '';
ALTER TABLE pending_releases ADD COLUMN order_id INTEGER;

PRAGMA user_version = 2;
