-- 0019 (issue 35, SPEC §3 "Stock nobody pays for"): EXPIRED, the terminal
-- status of an order not paid within payment_deadline_seconds, which the
-- service itself moves it to: timeline source 'system'. Same on
-- PostgreSQL: migrations/postgres/0016_expired_orders.sql.
--
-- SQLite cannot widen a CHECK constraint in place: as 0015 did, orders is
-- rebuilt (ids kept, its AUTOINCREMENT counter carried over), order_items
-- with it (its foreign key is enforced inside this transaction), and
-- order_status_changes; their indexes and the triggers that name orders
-- are created again as they were (0015, 0017, 0018).
-- Runnable by hand after 0018: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0019_expired_orders.sql

DROP TRIGGER order_submitted;
DROP TRIGGER orders_counted;
DROP TRIGGER order_status_counted;

CREATE TABLE orders_0019 (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- ids are never reused
    user_id         INTEGER NOT NULL CHECK (user_id >= 1),
    total_amount    TEXT    NOT NULL,                  -- exact decimal, two places
    status          TEXT    NOT NULL
                    CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'EXPIRED')),
    created_at      TEXT    NOT NULL,                  -- RFC 3339 UTC
    updated_at      TEXT    NOT NULL,
    reservation_key TEXT,
    request_id      TEXT
);
INSERT INTO orders_0019 (id, user_id, total_amount, status, created_at, updated_at, reservation_key, request_id)
SELECT id, user_id, total_amount, status, created_at, updated_at, reservation_key, request_id FROM orders;

CREATE TABLE order_items_0019 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders_0019 (id),
    product_id INTEGER NOT NULL CHECK (product_id >= 1),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    price      TEXT    NOT NULL                     -- unit price snapshot
);
INSERT INTO order_items_0019 (id, order_id, product_id, quantity, price)
SELECT id, order_id, product_id, quantity, price FROM order_items;

CREATE TABLE order_status_changes_0019 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL,
    status     TEXT    NOT NULL
               CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'EXPIRED')),
    source     TEXT    NOT NULL
               CHECK (source IN ('customer', 'payment', 'fulfilment', 'operator', 'system')),
    reference  TEXT,
    changed_at TEXT    NOT NULL
);
INSERT INTO order_status_changes_0019 (id, order_id, status, source, reference, changed_at)
SELECT id, order_id, status, source, reference, changed_at FROM order_status_changes;

-- The old counters go with the rows (they may be past the highest ids).
DELETE FROM sqlite_sequence
WHERE name IN ('orders_0019', 'order_items_0019', 'order_status_changes_0019');
UPDATE sqlite_sequence SET name = name || '_0019'
WHERE name IN ('orders', 'order_items', 'order_status_changes');

DROP TABLE order_items;
DROP TABLE orders;
DROP TABLE order_status_changes;
ALTER TABLE orders_0019 RENAME TO orders;
ALTER TABLE order_items_0019 RENAME TO order_items;
ALTER TABLE order_status_changes_0019 RENAME TO order_status_changes;
CREATE INDEX orders_by_user ON orders (user_id, id);
CREATE INDEX orders_by_status ON orders (status, id);
CREATE INDEX orders_by_user_status ON orders (user_id, status);
CREATE INDEX order_items_by_order ON order_items (order_id);
CREATE INDEX order_status_changes_by_order ON order_status_changes (order_id, id);

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
    INSERT INTO orders (id, user_id, total_amount, status, reservation_key, request_id, created_at, updated_at)
    SELECT NEW.id, NEW.user_id, NEW.total_amount, NEW.status, reservation_key, request_id, NEW.created_at, NEW.created_at
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

PRAGMA user_version = 19;
