-- 0005: money columns wide enough for the largest total SPEC's limits allow
-- (100 lines x 100,000 units at the largest price the service accepts:
-- Money's ceiling, 2^64 - 1 cents, 18 integer digits), as SQLite's TEXT
-- money already holds. numeric(12,2) stopped at 9,999,999,999.99, so such
-- an order failed on PostgreSQL only.
-- Runnable by hand after 0004: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0005_money_precision.sql

ALTER TABLE orders ALTER COLUMN total_amount TYPE numeric(20,2);
ALTER TABLE order_items ALTER COLUMN price TYPE numeric(20,2);
ALTER TABLE payments ALTER COLUMN amount TYPE numeric(20,2);

INSERT INTO schema_migrations (version) VALUES (5);
