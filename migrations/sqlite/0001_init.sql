-- 0001: orders, their items, and stock releases still owed to the Catalog.
-- Applied automatically by the service (src/store/sqlite/migrations.rs); also
-- runnable by hand: sqlite3 .spin/sqlite_db.db < migrations/sqlite/0001_init.sql
-- One statement per `;`-terminated line group; no triggers (the runner
-- splits on `;` at line ends).

CREATE TABLE orders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- ids are never reused
    user_id      INTEGER NOT NULL CHECK (user_id >= 1),
    total_amount TEXT    NOT NULL,                  -- exact decimal, two places
    status       TEXT    NOT NULL CHECK (status IN ('CREATED', 'PAID', 'CANCELLED')),
    created_at   TEXT    NOT NULL,                  -- RFC 3339 UTC
    updated_at   TEXT    NOT NULL
);

-- Every read of orders filters by owner and pages by id.
CREATE INDEX orders_by_user ON orders (user_id, id);

CREATE TABLE order_items (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders (id),
    product_id INTEGER NOT NULL CHECK (product_id >= 1),
    quantity   INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    price      TEXT    NOT NULL                     -- unit price snapshot
);

CREATE INDEX order_items_by_order ON order_items (order_id);

-- Units reserved at the Catalog that must be given back and could not be
-- yet. Rows stay until the release succeeds; nothing here is ever dropped.
CREATE TABLE pending_releases (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL,               -- whose token the retry mints
    product_id      INTEGER NOT NULL,
    quantity        INTEGER NOT NULL CHECK (quantity >= 1),
    reason          TEXT    NOT NULL,               -- why the units go back
    request_id      TEXT    NOT NULL,               -- the request that reserved them
    attempts        INTEGER NOT NULL DEFAULT 1,
    last_error      TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    next_attempt_at TEXT    NOT NULL
);

CREATE INDEX pending_releases_due ON pending_releases (next_attempt_at);

PRAGMA user_version = 1;
