-- 0006: counters as wide as SQLite's (issue 19; the schema comparison test
-- in tests/api/storage_parity.rs found them): an order's event sequence
-- and a release's attempts were `integer`, SQLite's INTEGER is 64-bit, so
-- the two backends did not take the same values. Nothing bounds either
-- (every refused payment of an order records one more event).
-- Runnable by hand after 0005: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0006_wide_counters.sql

ALTER TABLE events ALTER COLUMN seq TYPE bigint;
ALTER TABLE pending_releases ALTER COLUMN attempts TYPE bigint;
ALTER TABLE settled_releases ALTER COLUMN attempts TYPE bigint;

INSERT INTO schema_migrations (version) VALUES (6);
