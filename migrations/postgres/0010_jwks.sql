-- 0010: the Auth Service's JWKS document, cached for every instance
-- (issue 23). A row per JWKS URL (one in use): the document last fetched
-- from it (NULL until a fetch succeeds), when, and when a fetch was tried:
-- a refresh is claimed by moving `attempted_at`, so the instances fetch
-- at most once per cool-down between them (src/orders/jwks.rs). Same
-- table on SQLite: migrations/sqlite/0013_jwks.sql.
-- Runnable by hand after 0009: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0010_jwks.sql

CREATE TABLE jwks_cache (
    url          text PRIMARY KEY,
    document     text,
    fetched_at   timestamptz,
    attempted_at timestamptz NOT NULL
);

INSERT INTO schema_migrations (version) VALUES (10);
