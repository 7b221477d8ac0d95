-- Small facts the bot learns at run time (e.g. the wallet currency from the panel's balance).
CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The panel's catalogue as last fetched; menus are built from it.
CREATE TABLE services (
    service_id   TEXT PRIMARY KEY,
    position     INTEGER NOT NULL,           -- the panel's order, kept for the menus
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,              -- as the panel spells it
    category     TEXT NOT NULL,
    rate         TEXT NOT NULL,              -- Decimal as text, per 1000 (per package for packages)
    min_quantity INTEGER NOT NULL,
    max_quantity INTEGER NOT NULL,
    refill       INTEGER NOT NULL,
    cancel       INTEGER NOT NULL,
    dripfeed     INTEGER NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    fetched_at   TEXT NOT NULL
);

-- Every order a customer confirmed. Money in integer micro-units (10^-6 of the currency).
CREATE TABLE orders (
    order_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES users (user_id),
    draft_key        TEXT NOT NULL UNIQUE,   -- one order per confirmed draft, whatever the taps
    service_id       TEXT NOT NULL,
    service_name     TEXT NOT NULL,
    service_type     TEXT NOT NULL,
    link             TEXT,
    quantity         INTEGER,
    request_json     TEXT NOT NULL,          -- every field sent with `add` (never the key)
    price_micros     INTEGER NOT NULL CHECK (price_micros >= 0),
    cost_micros      INTEGER NOT NULL CHECK (cost_micros >= 0),
    currency         TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('placing', 'placed', 'unverified', 'rejected')),
    panel_order_id   TEXT,
    panel_status     TEXT,
    panel_raw_status TEXT,
    start_count      INTEGER,
    remains          INTEGER,
    error            TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX orders_by_user ON orders (user_id, order_id);
CREATE INDEX orders_by_state ON orders (state);

-- What happened to each order, in order: placed, rejected, every status learned.
CREATE TABLE order_events (
    event_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id   INTEGER NOT NULL REFERENCES orders (order_id),
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX order_events_by_order ON order_events (order_id);

-- The wallet ledger: a balance is the sum of its entries. An order is charged once and
-- refunded at most once (the unique key), whatever the taps, polls or restarts.
CREATE TABLE ledger (
    entry_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (user_id),
    amount_micros INTEGER NOT NULL CHECK (amount_micros <> 0),
    currency      TEXT NOT NULL,
    reason        TEXT NOT NULL CHECK (reason IN ('credit', 'debit', 'order', 'refund')),
    order_id      INTEGER REFERENCES orders (order_id),
    admin_id      INTEGER,
    note          TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (order_id, reason)
);
CREATE INDEX ledger_by_user ON ledger (user_id);
