-- 0015: the rest of an order's life (SPEC §3 "Fulfilment and refunds",
-- issue 24): SHIPPED and DELIVERED, the order's timeline, fulfilment
-- updates and confirmed refunds. Same on PostgreSQL:
-- migrations/postgres/0012_fulfilment_and_refunds.sql.
--
-- SQLite cannot change a CHECK constraint in place: orders is rebuilt
-- (ids kept, its AUTOINCREMENT counter carried over, its index and the
-- triggers that name it created again; 0009 did the same for two other
-- tables), and order_items with it (its foreign key). Timeline rows are kept for every status change after CREATED
-- (the order's own created_at is its first entry); changes made before
-- this migration are filled in from what was recorded: the payment that
-- paid an order, and a cancellation at the order's last update.
-- Runnable by hand after 0014: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0015_fulfilment_and_refunds.sql

DROP TRIGGER order_submitted;
DROP TRIGGER orders_counted;
DROP TRIGGER order_status_counted;

CREATE TABLE orders_0015 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- ids are never reused
    user_id         INTEGER NOT NULL CHECK (user_id >= 1),
    total_amount    TEXT    NOT NULL,                  -- exact decimal, two places
    status          TEXT    NOT NULL
                    CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED')),
    created_at      TEXT    NOT NULL,                  -- RFC 3339 UTC
    updated_at      TEXT    NOT NULL,
    reservation_key TEXT
);
INSERT INTO orders_0015 (id, user_id, total_amount, status, created_at, updated_at, reservation_key)
SELECT id, user_id, total_amount, status, created_at, updated_at, reservation_key FROM orders;

-- Spin's SQLite enforces foreign keys, and a migration runs in a
-- transaction, where they cannot be turned off: order_items is rebuilt
-- too, its rows pointing at the new orders table before the old one goes
-- (renaming orders_0015 then renames the reference).
CREATE TABLE order_items_0015 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders_0015 (id),
    product_id INTEGER NOT NULL CHECK (product_id >= 1),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    price      TEXT    NOT NULL                     -- unit price snapshot
);
INSERT INTO order_items_0015 (id, order_id, product_id, quantity, price)
SELECT id, order_id, product_id, quantity, price FROM order_items;

-- The old counters go with the rows (they may be past the highest ids).
DELETE FROM sqlite_sequence WHERE name IN ('orders_0015', 'order_items_0015');
UPDATE sqlite_sequence SET name = name || '_0015' WHERE name IN ('orders', 'order_items');

DROP TABLE order_items;
DROP TABLE orders;
ALTER TABLE orders_0015 RENAME TO orders;
ALTER TABLE order_items_0015 RENAME TO order_items;
CREATE INDEX orders_by_user ON orders (user_id, id);
CREATE INDEX order_items_by_order ON order_items (order_id);

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

CREATE TRIGGER order_submitted AFTER INSERT ON order_submissions
BEGIN
    SELECT RAISE(ABORT, 'stock intent lease lost')
    WHERE NOT EXISTS (SELECT 1 FROM stock_intents WHERE id = NEW.intent_id);
    INSERT INTO orders (id, user_id, total_amount, status, reservation_key, created_at, updated_at)
    SELECT NEW.id, NEW.user_id, NEW.total_amount, NEW.status, reservation_key, NEW.created_at, NEW.created_at
    FROM stock_intents WHERE id = NEW.intent_id;
    DELETE FROM stock_intents WHERE id = NEW.intent_id;
    INSERT INTO order_items (order_id, product_id, quantity, price)
    SELECT NEW.id, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
    FROM json_each(NEW.items);
    UPDATE idempotency_keys SET state = 'done', body = NULL, order_id = NEW.id
    WHERE NEW.key IS NOT NULL AND user_id = NEW.user_id AND key = NEW.key AND state = 'in_flight';
    INSERT INTO events (event_id, order_id, seq, type, payload, traceparent, created_at)
    VALUES (NEW.event_id, NEW.id, 1, NEW.event_type,
            json_set(NEW.event_payload, '$.id', NEW.id, '$.created_at', NEW.created_at),
            NEW.traceparent, NEW.created_at);
    DELETE FROM order_submissions WHERE id = NEW.id;
END;

-- Each status change after CREATED: when, who, and what made it (the
-- payment id, or the fulfilment event id).
CREATE TABLE order_status_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL,
    status     TEXT    NOT NULL
               CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED')),
    source     TEXT    NOT NULL CHECK (source IN ('customer', 'payment', 'fulfilment', 'operator')),
    reference  TEXT,
    changed_at TEXT    NOT NULL
);
CREATE INDEX order_status_changes_by_order ON order_status_changes (order_id, id);

INSERT INTO order_status_changes (order_id, status, source, reference, changed_at)
SELECT order_id, 'PAID', 'payment', payment_id, created_at FROM payments
WHERE outcome = 'paid' ORDER BY created_at;
INSERT INTO order_status_changes (order_id, status, source, reference, changed_at)
SELECT id, 'CANCELLED', 'customer', NULL, updated_at FROM orders
WHERE status = 'CANCELLED' ORDER BY updated_at;

-- Fulfilment updates, one row per event id: a repeat answers from it.
CREATE TABLE fulfilment_events (
    event_id           TEXT    PRIMARY KEY,
    order_id           INTEGER NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('SHIPPED', 'DELIVERED')),
    carrier            TEXT,
    tracking_reference TEXT,
    created_at         TEXT    NOT NULL
);

-- A refund the Payment Service confirmed: its id (a repeat answers from
-- the row) and time. Refunds owed are those not yet refunded: the partial
-- indexes say so, and the metrics' counts read them.
ALTER TABLE payments ADD COLUMN refund_id TEXT;
ALTER TABLE payments ADD COLUMN refunded_at TEXT;
CREATE UNIQUE INDEX payments_by_refund ON payments (refund_id) WHERE refund_id IS NOT NULL;
DROP INDEX payments_refund_required;
CREATE INDEX payments_refund_required ON payments (created_at)
WHERE outcome = 'refund_required' AND refunded_at IS NULL;
DROP INDEX payments_refund_after_cancel;
CREATE INDEX payments_refund_after_cancel ON payments (refund_required_at)
WHERE refund_required_at IS NOT NULL AND refunded_at IS NULL;

-- Finding orders (SPEC §3): by status across users (the operator's
-- listing), newest first. A user's own list keeps orders_by_user; a
-- created-at range filters the walk of whichever index orders the page.
CREATE INDEX orders_by_status ON orders (status, id);

PRAGMA user_version = 15;
