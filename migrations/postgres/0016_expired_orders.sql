-- 0016 (issue 35, SPEC §3 "Stock nobody pays for"): EXPIRED, the terminal
-- status of an order not paid within payment_deadline_seconds, which the
-- service itself moves it to: timeline source 'system'. Same on SQLite:
-- migrations/sqlite/0019_expired_orders.sql (which rebuilds the tables:
-- SQLite cannot change a CHECK constraint in place).
-- Runnable by hand after 0015: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0016_expired_orders.sql

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'EXPIRED'));
ALTER TABLE order_status_changes DROP CONSTRAINT order_status_changes_status_check;
ALTER TABLE order_status_changes ADD CONSTRAINT order_status_changes_status_check
    CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'EXPIRED'));
ALTER TABLE order_status_changes DROP CONSTRAINT order_status_changes_source_check;
ALTER TABLE order_status_changes ADD CONSTRAINT order_status_changes_source_check
    CHECK (source IN ('customer', 'payment', 'fulfilment', 'operator', 'system'));

INSERT INTO schema_migrations (version) VALUES (16);
