-- 0013 (PostgreSQL): times as `timestamp` in UTC, to the second (issue
-- 33), as SQLite stores them (RFC 3339 text to the second): the same
-- statements compare and show the same instants on both backends, and
-- every time column reads through Spin's PostgreSQL API as it is (Spin
-- refuses `timestamptz` columns; statements used to convert each one).
-- The service writes `date_trunc('second', now() AT TIME ZONE 'UTC')`,
-- whatever the session's time zone. schema_migrations.applied_at, which
-- the service never reads, stays as it is.
-- Runnable by hand after 0012: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0013_utc_timestamps.sql

ALTER TABLE orders
    ALTER COLUMN created_at TYPE timestamp USING date_trunc('second', created_at AT TIME ZONE 'UTC'),
    ALTER COLUMN updated_at TYPE timestamp USING date_trunc('second', updated_at AT TIME ZONE 'UTC');
ALTER TABLE pending_releases
    ALTER COLUMN created_at TYPE timestamp USING date_trunc('second', created_at AT TIME ZONE 'UTC'),
    ALTER COLUMN next_attempt_at TYPE timestamp USING date_trunc('second', next_attempt_at AT TIME ZONE 'UTC'),
    ALTER COLUMN claimed_until DROP DEFAULT,
    ALTER COLUMN claimed_until TYPE timestamp USING claimed_until AT TIME ZONE 'UTC',
    ALTER COLUMN claimed_until SET DEFAULT '-infinity';
ALTER TABLE stock_intents
    ALTER COLUMN created_at TYPE timestamp USING date_trunc('second', created_at AT TIME ZONE 'UTC'),
    ALTER COLUMN lease_until TYPE timestamp USING date_trunc('second', lease_until AT TIME ZONE 'UTC');
ALTER TABLE idempotency_keys
    ALTER COLUMN created_at TYPE timestamp USING date_trunc('second', created_at AT TIME ZONE 'UTC'),
    ALTER COLUMN lease_until TYPE timestamp USING date_trunc('second', lease_until AT TIME ZONE 'UTC');
ALTER TABLE settled_releases
    ALTER COLUMN created_at TYPE timestamp USING date_trunc('second', created_at AT TIME ZONE 'UTC'),
    ALTER COLUMN settled_at TYPE timestamp USING date_trunc('second', settled_at AT TIME ZONE 'UTC');
ALTER TABLE payments
    ALTER COLUMN created_at TYPE timestamp USING date_trunc('second', created_at AT TIME ZONE 'UTC'),
    ALTER COLUMN refund_required_at TYPE timestamp USING date_trunc('second', refund_required_at AT TIME ZONE 'UTC'),
    ALTER COLUMN refunded_at TYPE timestamp USING date_trunc('second', refunded_at AT TIME ZONE 'UTC');
ALTER TABLE events
    ALTER COLUMN created_at TYPE timestamp USING date_trunc('second', created_at AT TIME ZONE 'UTC'),
    ALTER COLUMN published_at TYPE timestamp USING date_trunc('second', published_at AT TIME ZONE 'UTC'),
    ALTER COLUMN claimed_until DROP DEFAULT,
    ALTER COLUMN claimed_until TYPE timestamp USING claimed_until AT TIME ZONE 'UTC',
    ALTER COLUMN claimed_until SET DEFAULT '-infinity';
ALTER TABLE jwks_cache
    ALTER COLUMN fetched_at TYPE timestamp USING date_trunc('second', fetched_at AT TIME ZONE 'UTC'),
    ALTER COLUMN attempted_at TYPE timestamp USING date_trunc('second', attempted_at AT TIME ZONE 'UTC');
ALTER TABLE order_status_changes
    ALTER COLUMN changed_at TYPE timestamp USING date_trunc('second', changed_at AT TIME ZONE 'UTC');
ALTER TABLE fulfilment_events
    ALTER COLUMN created_at TYPE timestamp USING date_trunc('second', created_at AT TIME ZONE 'UTC');

INSERT INTO schema_migrations (version) VALUES (13);
