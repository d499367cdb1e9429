-- 0014: a PAID order cancelled by its owner owes its payment back (SPEC §3
-- "Fulfilment and refunds", issue 24). The payment's row keeps its outcome
-- (`paid`: a repeated confirmation still answers as the first time) and
-- records when its refund became owed; the partial index finds the
-- refunds owed without a scan (metrics, as payments_refund_required does
-- for refused payments). Same on PostgreSQL: migrations/postgres/0011_refund_on_cancel.sql.
-- Runnable by hand after 0013: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0014_refund_on_cancel.sql

ALTER TABLE payments ADD COLUMN refund_required_at TEXT;

CREATE INDEX payments_refund_after_cancel ON payments (refund_required_at)
WHERE refund_required_at IS NOT NULL;

PRAGMA user_version = 14;
