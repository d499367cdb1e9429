-- 0009: what GET /orders/admin/metrics reads, each without a table scan
-- (issue 22). Orders grow for ever, so their number by status is kept as
-- it changes: a count per (status, shard), moved by a trigger in the same
-- transaction as the order's insert or status change. shard = id % 16:
-- concurrent creates update different rows instead of queueing on one
-- (same rule on SQLite, migrations/sqlite/0012_metrics.sql). Refunds owed
-- are found by a partial index; the other backlogs already have theirs.
-- Runnable by hand after 0008: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0009_metrics.sql

CREATE TABLE order_status_counts (
    status text   NOT NULL,
    shard  bigint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    orders bigint NOT NULL,
    PRIMARY KEY (status, shard)
);

INSERT INTO order_status_counts (status, shard, orders)
SELECT status, id % 16, count(*) FROM orders GROUP BY status, id % 16;

CREATE FUNCTION order_status_counted() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.status = NEW.status THEN
            RETURN NULL;
        END IF;
        UPDATE order_status_counts SET orders = orders - 1
        WHERE status = OLD.status AND shard = OLD.id % 16;
    END IF;
    INSERT INTO order_status_counts (status, shard, orders) VALUES (NEW.status, NEW.id % 16, 1)
    ON CONFLICT (status, shard) DO UPDATE SET orders = order_status_counts.orders + 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER orders_counted AFTER INSERT OR UPDATE OF status ON orders
FOR EACH ROW EXECUTE FUNCTION order_status_counted();

CREATE INDEX payments_refund_required ON payments (created_at)
WHERE outcome = 'refund_required';

INSERT INTO schema_migrations (version) VALUES (9);
