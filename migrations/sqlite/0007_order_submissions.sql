-- 0007: a new order is written by ONE statement, so the write lock is
-- held for no host round trip (issue 12): the component inserts one row
-- here and this trigger, inside that statement, closes the reservation
-- intent (or aborts when its lease was lost), writes the order and its
-- items, completes the Idempotency-Key and records the order.created
-- event, then removes the row. The table is always empty between
-- statements. PostgreSQL does the same steps in ONE statement too (data-
-- modifying CTEs in src/orders/store/postgres.rs, `insert_order`).
-- Runnable by hand after 0006: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0007_order_submissions.sql

CREATE TABLE order_submissions (
    id            INTEGER PRIMARY KEY,  -- the new order's id (next of orders' sequence)
    intent_id     INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    total_amount  TEXT    NOT NULL,
    items         TEXT    NOT NULL,     -- JSON [[product_id, quantity, "price"], ...]
    key           TEXT,                 -- the Idempotency-Key to complete, if any
    event_id      TEXT    NOT NULL,
    event_payload TEXT    NOT NULL,     -- the order's JSON; id and created_at set here
    created_at    TEXT    NOT NULL
);

CREATE TRIGGER order_submitted AFTER INSERT ON order_submissions
BEGIN
    SELECT RAISE(ABORT, 'stock intent lease lost')
    WHERE NOT EXISTS (SELECT 1 FROM stock_intents WHERE id = NEW.intent_id);
    DELETE FROM stock_intents WHERE id = NEW.intent_id;
    INSERT INTO orders (id, user_id, total_amount, status, created_at, updated_at)
    VALUES (NEW.id, NEW.user_id, NEW.total_amount, 'CREATED', NEW.created_at, NEW.created_at);
    INSERT INTO order_items (order_id, product_id, quantity, price)
    SELECT NEW.id, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
    FROM json_each(NEW.items);
    UPDATE idempotency_keys SET state = 'done', body = NULL, order_id = NEW.id
    WHERE NEW.key IS NOT NULL AND user_id = NEW.user_id AND key = NEW.key AND state = 'in_flight';
    INSERT INTO events (event_id, order_id, seq, type, payload, created_at)
    VALUES (NEW.event_id, NEW.id, 1, 'order.created',
            json_set(NEW.event_payload, '$.id', NEW.id, '$.created_at', NEW.created_at),
            NEW.created_at);
    DELETE FROM order_submissions WHERE id = NEW.id;
END;

PRAGMA user_version = 7;
