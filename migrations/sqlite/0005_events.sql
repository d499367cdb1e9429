-- 0005: order events, written in the same transaction as the change each
-- describes (a transactional outbox); published_at stays NULL until a
-- publisher has delivered the event.
-- Runnable by hand after 0004: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0005_events.sql

CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- delivery order
    event_id     TEXT    NOT NULL UNIQUE,           -- for consumers to deduplicate
    order_id     INTEGER NOT NULL,
    seq          INTEGER NOT NULL,                  -- 1, 2, … per order
    type         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,                  -- JSON
    created_at   TEXT    NOT NULL,
    published_at TEXT,
    UNIQUE (order_id, seq)
);

CREATE INDEX events_unpublished ON events (published_at, id);

PRAGMA user_version = 5;
