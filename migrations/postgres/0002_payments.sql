-- 0002 (PostgreSQL): payment confirmations from the Payment Service, one
-- row per payment id: whether it paid the order or must be refunded, and
-- why. Same as migrations/sqlite/0004_payments.sql.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 --single-transaction -f migrations/postgres/0002_payments.sql

CREATE TABLE payments (
    payment_id text          PRIMARY KEY,
    order_id   bigint        NOT NULL,
    amount     numeric(12,2) NOT NULL,
    currency   text          NOT NULL,
    outcome    text          NOT NULL CHECK (outcome IN ('paid', 'refund_required')),
    reason     text,
    created_at timestamptz   NOT NULL
);

CREATE INDEX payments_by_order ON payments (order_id);

INSERT INTO schema_migrations (version) VALUES (2);
