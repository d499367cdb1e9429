-- 0011: a PAID order cancelled by its owner owes its payment back (SPEC §3
-- "Fulfilment and refunds", issue 24). The payment's row keeps its outcome
-- (`paid`: a repeated confirmation still answers as the first time) and
-- records when its refund became owed; the partial index finds the
-- refunds owed without a scan (metrics, as payments_refund_required does
-- for refused payments). Same on SQLite: migrations/sqlite/0014_refund_on_cancel.sql.
-- Runnable by hand after 0010: psql "$DATABASE_URL" --single-transaction -f migrations/postgres/0011_refund_on_cancel.sql

ALTER TABLE payments ADD COLUMN refund_required_at timestamptz;

CREATE INDEX payments_refund_after_cancel ON payments (refund_required_at)
WHERE refund_required_at IS NOT NULL;

INSERT INTO schema_migrations (version) VALUES (11);
