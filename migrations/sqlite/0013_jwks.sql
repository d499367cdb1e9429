-- 0013: the Auth Service's JWKS document, cached for every instance
-- (issue 23). A row per JWKS URL (one in use): the document last fetched
-- from it (NULL until a fetch succeeds), when, and when a fetch was tried:
-- a refresh is claimed by moving `attempted_at`, so the instances fetch
-- at most once per cool-down between them (src/orders/jwks.rs). Same
-- table on PostgreSQL: migrations/postgres/0010_jwks.sql.
-- Runnable by hand after 0012: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0013_jwks.sql

CREATE TABLE jwks_cache (
    url          TEXT PRIMARY KEY,
    document     TEXT,
    fetched_at   TEXT,
    attempted_at TEXT NOT NULL
);

PRAGMA user_version = 13;
