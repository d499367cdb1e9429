-- 0009: no id is ever reused (issue 19; the schema comparison test in
-- tests/api/storage_parity.rs found these two). order_items.id and
-- stock_intents.id were plain INTEGER PRIMARY KEYs, which SQLite reuses
-- once the highest row is deleted. For intents that was a defect: an
-- intent whose lease ran out is deleted by the reconciler (its units given
-- back); the next create could get the same id, and the first request's
-- late order would then close the second's intent instead of failing with
-- its lease lost. PostgreSQL's identity columns never reuse an id. Both
-- tables are rebuilt with AUTOINCREMENT, ids kept, the counter past them.
-- The create's trigger (0007) names both tables, and SQLite refuses to
-- rename a table while a trigger names a missing one: it is dropped first
-- and created again, now writing the status and the event type the
-- component decided (two new columns of order_submissions) instead of its
-- own literals: the rules live in the workflows, once for both backends,
-- and the PostgreSQL create takes both as values too. The defaults keep a
-- submission without them what it was (there are none between
-- statements: the table is always empty).
-- Runnable by hand after 0008: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0009_item_and_intent_ids.sql

DROP TRIGGER order_submitted;

CREATE TABLE order_items_0009 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL CHECK (product_id >= 1),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    price      TEXT    NOT NULL                     -- unit price snapshot
);
INSERT INTO order_items_0009 (id, order_id, product_id, quantity, price)
SELECT id, order_id, product_id, quantity, price FROM order_items;
DROP TABLE order_items;
ALTER TABLE order_items_0009 RENAME TO order_items;
CREATE INDEX order_items_by_order ON order_items (order_id);

CREATE TABLE stock_intents_0009 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL,
    request_id  TEXT    NOT NULL,
    items       TEXT    NOT NULL,                   -- JSON [[product_id, quantity], ...]
    created_at  TEXT    NOT NULL,
    lease_until TEXT    NOT NULL                    -- RFC 3339 UTC
);
INSERT INTO stock_intents_0009 (id, user_id, request_id, items, created_at, lease_until)
SELECT id, user_id, request_id, items, created_at, lease_until FROM stock_intents;
DROP TABLE stock_intents;
ALTER TABLE stock_intents_0009 RENAME TO stock_intents;
CREATE INDEX stock_intents_by_lease ON stock_intents (lease_until);

-- The counters (sqlite_sequence rows follow the renamed tables).
DELETE FROM sqlite_sequence WHERE name IN ('order_items', 'stock_intents');
INSERT INTO sqlite_sequence (name, seq)
VALUES ('order_items', coalesce((SELECT max(id) FROM order_items), 0)),
       ('stock_intents', coalesce((SELECT max(id) FROM stock_intents), 0));

ALTER TABLE order_submissions ADD COLUMN status TEXT NOT NULL DEFAULT 'CREATED';
ALTER TABLE order_submissions ADD COLUMN event_type TEXT NOT NULL DEFAULT 'order.created';

CREATE TRIGGER order_submitted AFTER INSERT ON order_submissions
BEGIN
    SELECT RAISE(ABORT, 'stock intent lease lost')
    WHERE NOT EXISTS (SELECT 1 FROM stock_intents WHERE id = NEW.intent_id);
    DELETE FROM stock_intents WHERE id = NEW.intent_id;
    INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at)
    VALUES (NEW.id, NEW.user_id, NEW.total_amount, NEW.status, NEW.created_at, NEW.created_at);
    INSERT INTO order_items (order_id, product_id, quantity, price)
    SELECT NEW.id, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
    FROM json_each(NEW.items);
    UPDATE idempotency_keys SET state = 'done', body = NULL, order_id = NEW.id
    WHERE NEW.key IS NOT NULL AND user_id = NEW.user_id AND key = NEW.key AND state = 'in_flight';
    INSERT INTO events (event_id, order_id, seq, type, payload, created_at)
    VALUES (NEW.event_id, NEW.id, 1, NEW.event_type,
            json_set(NEW.event_payload, '$.id', NEW.id, '$.created_at', NEW.created_at),
            NEW.created_at);
    DELETE FROM order_submissions WHERE id = NEW.id;
END;

PRAGMA user_version = 9;
