-- 0007: reservation ids (issue 20, SPEC §4's extension for exact stock).
-- Each create draws a random reservation key, kept with its intent and
-- then its order (the create's statement copies it from the intent it
-- closes); line by line, `<key>-<product id>` is the reservation id sent to
-- the Catalog. A release remembers the id it must send, so a retried
-- release is the same release. Rows from before carry NULL: they are
-- released without an id, as before.
-- Runnable by hand after 0006: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0007_reservation_ids.sql

ALTER TABLE stock_intents ADD COLUMN reservation_key text;
ALTER TABLE orders ADD COLUMN reservation_key text;
ALTER TABLE pending_releases ADD COLUMN reservation text;
ALTER TABLE settled_releases ADD COLUMN reservation text;

INSERT INTO schema_migrations (version) VALUES (7);
