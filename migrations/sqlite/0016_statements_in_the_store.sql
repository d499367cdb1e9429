-- 0016: the store writes a new order with its own statements, in one
-- transaction (issue 33): the order_submitted trigger (0007, written out
-- again by 0009, 0010, 0011 and 0015) and its table go. The triggers that
-- keep the metrics' counts (0012, 0015) stay.
--
-- And the planner's estimates for orders, which SQLite has no statistics
-- of until someone runs ANALYZE: without them it may walk orders_by_status
-- for one user's orders of one status (every order of that status) rather
-- than orders_by_user (that user's few). The rows below say a user has
-- about 10 orders and a status about 200,000 of a million, as SQLite's
-- documentation allows (sqlite_stat1 may be written by hand); ANALYZE
-- sqlite_master makes the table without analysing any other.
-- PostgreSQL's planner keeps its own statistics (autovacuum's ANALYZE).
-- Runnable by hand after 0015: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0016_statements_in_the_store.sql

DROP TRIGGER order_submitted;
DROP TABLE order_submissions;

ANALYZE sqlite_master;
DELETE FROM sqlite_stat1 WHERE tbl = 'orders';
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('orders', 'orders_by_user', '1000000 10 1'),
    ('orders', 'orders_by_status', '1000000 200000 1');

PRAGMA user_version = 16;
