-- 0004 (PostgreSQL): a publisher claims the events it is sending to Redis
-- until claimed_until. Same as migrations/sqlite/0006_event_claims.sql.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 --single-transaction -f migrations/postgres/0004_event_claims.sql

ALTER TABLE events ADD COLUMN claimed_until timestamptz NOT NULL DEFAULT '-infinity';

INSERT INTO schema_migrations (version) VALUES (4);
