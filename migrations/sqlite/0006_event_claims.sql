-- 0006: a publisher claims the events it is sending to Redis until
-- claimed_until, so two instances never send the same event at once; ''
-- is "not claimed" (text order is time order, and '' sorts first).
-- Runnable by hand after 0005: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0006_event_claims.sql

ALTER TABLE events ADD COLUMN claimed_until TEXT NOT NULL DEFAULT '';

PRAGMA user_version = 6;
