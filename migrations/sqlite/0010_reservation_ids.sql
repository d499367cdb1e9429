-- 0010: reservation ids (issue 20, SPEC §4's extension for exact stock).
-- Each create draws a random reservation key, kept with its intent and
-- then its order; line by line, `<key>-<product id>` is the reservation id
-- sent to the Catalog (Idempotency-Key on the reserve, "reservation" in
-- the release's body). A release remembers the id it must send, so a
-- retried release is the same release. Rows from before carry NULL: they
-- are released without an id, as before.
-- The create's trigger copies the intent's key onto the order before the
-- intent is deleted (SQLite cannot alter a trigger: dropped and created).
-- Runnable by hand after 0009: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0010_reservation_ids.sql

ALTER TABLE stock_intents ADD COLUMN reservation_key TEXT;
ALTER TABLE orders ADD COLUMN reservation_key TEXT;
ALTER TABLE pending_releases ADD COLUMN reservation TEXT;
ALTER TABLE settled_releases ADD COLUMN reservation TEXT;

DROP TRIGGER order_submitted;
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
    INSERT INTO events (event_id, order_id, seq, type, payload, created_at)
    VALUES (NEW.event_id, NEW.id, 1, NEW.event_type,
            json_set(NEW.event_payload, '$.id', NEW.id, '$.created_at', NEW.created_at),
            NEW.created_at);
    DELETE FROM order_submissions WHERE id = NEW.id;
END;

PRAGMA user_version = 10;
