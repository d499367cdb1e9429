-- 0008: an order event carries the W3C traceparent of the request that
-- caused it (issue 22), published with it so a consumer continues the
-- trace. Events recorded before carry NULL (published without it).
-- Runnable by hand after 0007: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0008_event_traceparent.sql

ALTER TABLE events ADD COLUMN traceparent text;

INSERT INTO schema_migrations (version) VALUES (8);
