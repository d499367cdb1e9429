-- 0004: payment confirmations from the Payment Service, one row per
-- payment id (confirmations are deduplicated by it): whether it paid the
-- order or must be refunded, and why.
-- Runnable by hand after 0003: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0004_payments.sql

CREATE TABLE payments (
    payment_id TEXT    PRIMARY KEY,
    order_id   INTEGER NOT NULL,
    amount     TEXT    NOT NULL,                    -- exact decimal, as confirmed
    currency   TEXT    NOT NULL,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('paid', 'refund_required')),
    reason     TEXT,                                -- why a refund is required
    created_at TEXT    NOT NULL
);

CREATE INDEX payments_by_order ON payments (order_id);

PRAGMA user_version = 4;
