-- 0012 (PostgreSQL): the rest of an order's life (SPEC §3 "Fulfilment and
-- refunds", issue 24): SHIPPED and DELIVERED, the order's timeline,
-- fulfilment updates and confirmed refunds. Same on SQLite:
-- migrations/sqlite/0015_fulfilment_and_refunds.sql (which rebuilds
-- orders: SQLite cannot change a CHECK constraint in place).
-- Timeline rows are kept for every status change after CREATED (the
-- order's own created_at is its first entry); changes made before this
-- migration are filled in from what was recorded: the payment that paid
-- an order, and a cancellation at the order's last update.
-- Runnable by hand after 0011: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0012_fulfilment_and_refunds.sql

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED'));

-- Each status change after CREATED: when, who, and what made it (the
-- payment id, or the fulfilment event id).
CREATE TABLE order_status_changes (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint      NOT NULL,
    status     text        NOT NULL
               CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED')),
    source     text        NOT NULL CHECK (source IN ('customer', 'payment', 'fulfilment', 'operator')),
    reference  text,
    changed_at timestamptz NOT NULL
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
    event_id           text        PRIMARY KEY,
    order_id           bigint      NOT NULL,
    status             text        NOT NULL CHECK (status IN ('SHIPPED', 'DELIVERED')),
    carrier            text,
    tracking_reference text,
    created_at         timestamptz NOT NULL
);

-- A refund the Payment Service confirmed: its id (a repeat answers from
-- the row) and time. Refunds owed are those not yet refunded: the partial
-- indexes say so, and the metrics' counts read them.
ALTER TABLE payments ADD COLUMN refund_id text;
ALTER TABLE payments ADD COLUMN refunded_at timestamptz;
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

INSERT INTO schema_migrations (version) VALUES (12);
