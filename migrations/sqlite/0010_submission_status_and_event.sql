-- 0010: the create's trigger (0007, 0009) writes the status and the event
-- type the component decided, instead of its own literals: the rules live
-- in the workflows, once for both backends (issue 19), and the PostgreSQL
-- create takes both as values too. Defaults keep a submission written
-- without them (there are none between statements: the table is empty)
-- what it was.
-- Runnable by hand after 0009: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0010_submission_status_and_event.sql

ALTER TABLE order_submissions ADD COLUMN status TEXT NOT NULL DEFAULT 'CREATED';
ALTER TABLE order_submissions ADD COLUMN event_type TEXT NOT NULL DEFAULT 'order.created';

DROP TRIGGER order_submitted;
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

PRAGMA user_version = 10;
