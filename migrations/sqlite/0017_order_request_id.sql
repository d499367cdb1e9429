-- 0017 (issue 33, the add-a-column recipe followed once): each order keeps
-- the X-Request-ID of the request that created it, shown as `request_id`
-- in its answers, so a customer's complaint leads to the log lines of its
-- creation. Copied from the order's reservation intent, which holds it
-- already; orders created before this migration have none (NULL).
-- The create's trigger writes the column, so it is written out again.
-- Runnable by hand after 0016: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0017_order_request_id.sql

ALTER TABLE orders ADD COLUMN request_id TEXT;

DROP TRIGGER order_submitted;
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

PRAGMA user_version = 17;
