-- 0003 (PostgreSQL): order events, written in the same transaction as the
-- change each describes. Same as migrations/sqlite/0005_events.sql.
-- By hand: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 --single-transaction -f migrations/postgres/0003_events.sql

CREATE TABLE events (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    order_id     bigint      NOT NULL,
    seq          integer     NOT NULL,
    type         text        NOT NULL,
    payload      text        NOT NULL,
    created_at   timestamptz NOT NULL,
    published_at timestamptz,
    UNIQUE (order_id, seq)
);

CREATE INDEX events_unpublished ON events (published_at, id);

INSERT INTO schema_migrations (version) VALUES (3);
