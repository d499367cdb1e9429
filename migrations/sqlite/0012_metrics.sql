-- 0012: what GET /orders/admin/metrics reads, each without a table scan
-- (issue 22). Orders grow for ever, so their number by status is kept as
-- it changes: a count per (status, shard), moved by triggers in the same
-- transaction as the order's insert or status change (shard = id % 16,
-- so PostgreSQL's concurrent creates do not queue on one row; same rule
-- there, migrations/postgres/0009_metrics.sql). Refunds owed are found by
-- a partial index; the other backlogs already have theirs.
-- Runnable by hand after 0011: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0012_metrics.sql

CREATE TABLE order_status_counts (
    status TEXT    NOT NULL,
    shard  INTEGER NOT NULL CHECK (shard BETWEEN 0 AND 15),
    orders INTEGER NOT NULL,
    PRIMARY KEY (status, shard)
);

INSERT INTO order_status_counts (status, shard, orders)
SELECT status, id % 16, count(*) FROM orders GROUP BY status, id % 16;

CREATE TRIGGER orders_counted AFTER INSERT ON orders
BEGIN
    INSERT INTO order_status_counts (status, shard, orders) VALUES (NEW.status, NEW.id % 16, 1)
    ON CONFLICT (status, shard) DO UPDATE SET orders = orders + 1;
END;

CREATE TRIGGER order_status_counted AFTER UPDATE OF status ON orders
WHEN OLD.status <> NEW.status
BEGIN
    UPDATE order_status_counts SET orders = orders - 1
    WHERE status = OLD.status AND shard = OLD.id % 16;
    INSERT INTO order_status_counts (status, shard, orders) VALUES (NEW.status, NEW.id % 16, 1)
    ON CONFLICT (status, shard) DO UPDATE SET orders = orders + 1;
END;

CREATE INDEX payments_refund_required ON payments (created_at)
WHERE outcome = 'refund_required';

PRAGMA user_version = 12;
