-- 0015 (issue 35, the cap per customer): a create counts the customer's
-- CREATED orders (store/intents.rs `unpaid_orders`) when
-- max_unpaid_orders_per_user is set. Through orders_by_user that read
-- every order the customer ever placed; this index reads only the unpaid
-- ones. Same on SQLite: migrations/sqlite/0018_unpaid_orders_by_user.sql.
-- Runnable by hand after 0014: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0015_unpaid_orders_by_user.sql

CREATE INDEX orders_by_user_status ON orders (user_id, status);

INSERT INTO schema_migrations (version) VALUES (15);
