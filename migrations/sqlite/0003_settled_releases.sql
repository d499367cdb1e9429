-- 0003: releases an operator settled by hand (e.g. against a Catalog with
-- no /release/ endpoint): the audit trail of who, when, why and how.
-- Runnable by hand after 0002: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0003_settled_releases.sql

CREATE TABLE settled_releases (
    id          INTEGER PRIMARY KEY,                -- the pending release's id
    user_id     INTEGER NOT NULL,
    product_id  INTEGER NOT NULL,
    quantity    INTEGER NOT NULL,
    order_id    INTEGER,
    reason      TEXT    NOT NULL,                   -- why the units were owed
    request_id  TEXT    NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,                   -- when they became owed
    outcome     TEXT    NOT NULL CHECK (outcome IN ('released_manually', 'written_off')),
    settled_by  TEXT    NOT NULL,
    note        TEXT    NOT NULL,
    settled_at  TEXT    NOT NULL
);

CREATE INDEX pending_releases_by_order ON pending_releases (order_id);

PRAGMA user_version = 3;
