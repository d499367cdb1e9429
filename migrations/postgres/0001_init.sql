-- 0001 (PostgreSQL): orders, their items, and the exactly-once bookkeeping
-- (reservation intents, idempotency keys, stock owed to the Catalog and
-- what operators settled by hand): the same schema as migrations/sqlite/
-- 0001-0003, with PostgreSQL's types.
-- Applied automatically by the service (src/store/postgres.rs) in one
-- transaction under an advisory lock; also runnable by hand:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 --single-transaction -f migrations/postgres/0001_init.sql
-- One statement per `;`-terminated line group (the runner splits there).

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id           bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused
    user_id      bigint        NOT NULL CHECK (user_id >= 1),
    total_amount numeric(12,2) NOT NULL CHECK (total_amount >= 0),
    status       text          NOT NULL CHECK (status IN ('CREATED', 'PAID', 'CANCELLED')),
    created_at   timestamptz   NOT NULL,
    updated_at   timestamptz   NOT NULL
);

-- Every read of orders filters by owner and pages by id.
CREATE INDEX orders_by_user ON orders (user_id, id);

CREATE TABLE order_items (
    id         bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id   bigint        NOT NULL REFERENCES orders (id),
    product_id bigint        NOT NULL CHECK (product_id >= 1),
    quantity   integer       NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    price      numeric(12,2) NOT NULL CHECK (price >= 0)   -- unit price snapshot
);

CREATE INDEX order_items_by_order ON order_items (order_id);

-- Units reserved at the Catalog that must be given back and could not be
-- yet. Rows stay until the release succeeds or an operator settles them.
CREATE TABLE pending_releases (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint      NOT NULL,                -- whose token the retry mints
    product_id      bigint      NOT NULL,
    quantity        integer     NOT NULL CHECK (quantity >= 1),
    reason          text        NOT NULL,
    request_id      text        NOT NULL,
    attempts        integer     NOT NULL DEFAULT 1,
    last_error      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    claimed_until   timestamptz NOT NULL DEFAULT '-infinity', -- tried by some request until then
    order_id        bigint
);

CREATE INDEX pending_releases_due ON pending_releases (next_attempt_at);
CREATE INDEX pending_releases_by_order ON pending_releases (order_id);

-- Written just before the first reservation of a create; deleted in the
-- order's transaction, or turned into pending_releases when it fails. One
-- older than its lease is a create that died: the reconciler releases it.
CREATE TABLE stock_intents (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL,
    request_id  text        NOT NULL,
    items       text        NOT NULL,                    -- JSON [[product_id, quantity], ...]
    created_at  timestamptz NOT NULL,
    lease_until timestamptz NOT NULL
);

CREATE INDEX stock_intents_by_lease ON stock_intents (lease_until);

-- Idempotency-Key per user (SPEC §3): `in_flight` while the first request
-- runs (until lease_until), `done` with its outcome afterwards (the order's
-- id, or the refusal as {"code", "product_id"} in body).
CREATE TABLE idempotency_keys (
    user_id     bigint      NOT NULL,
    key         text        NOT NULL,
    fingerprint text        NOT NULL,                    -- SHA-256 of the canonical JSON body
    state       text        NOT NULL CHECK (state IN ('in_flight', 'done')),
    status      integer,
    body        text,
    order_id    bigint,
    created_at  timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Releases an operator settled by hand: who, when, why and how.
CREATE TABLE settled_releases (
    id          bigint      PRIMARY KEY,                 -- the pending release's id
    user_id     bigint      NOT NULL,
    product_id  bigint      NOT NULL,
    quantity    integer     NOT NULL,
    order_id    bigint,
    reason      text        NOT NULL,
    request_id  text        NOT NULL,
    attempts    integer     NOT NULL,
    last_error  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    outcome     text        NOT NULL CHECK (outcome IN ('released_manually', 'written_off')),
    settled_by  text        NOT NULL,
    note        text        NOT NULL,
    settled_at  timestamptz NOT NULL
);

INSERT INTO schema_migrations (version) VALUES (1);
