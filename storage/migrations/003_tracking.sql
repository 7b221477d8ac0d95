-- Order tracking: each order's poll schedule lives here, so polling resumes after a restart.
ALTER TABLE orders ADD COLUMN next_poll_at REAL;            -- unix time; NULL: not polled
ALTER TABLE orders ADD COLUMN poll_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN placed_at REAL;               -- unix time the panel took it
CREATE INDEX orders_due ON orders (next_poll_at) WHERE next_poll_at IS NOT NULL;

-- A customer who blocked the bot is skipped until they write again.
ALTER TABLE users ADD COLUMN blocked_at TEXT;

-- Refills customers asked for. Some panels give no refill id: then the refill is followed
-- through its order and never polled.
CREATE TABLE refills (
    refill_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        INTEGER NOT NULL REFERENCES orders (order_id),
    panel_refill_id TEXT,
    status          TEXT NOT NULL DEFAULT 'pending',
    raw_status      TEXT,
    next_poll_at    REAL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX refills_due ON refills (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX refills_by_order ON refills (order_id);

-- The outbox: a message is written in the same transaction as the change it announces, and
-- sent (and marked sent) by the notifier, so no change is lost or announced twice on restart.
CREATE TABLE notifications (
    notification_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (user_id),
    order_id        INTEGER REFERENCES orders (order_id),
    text            TEXT NOT NULL,
    button_text     TEXT,
    button_data     TEXT,
    due_at          REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'dropped')),
    error           TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    sent_at         TEXT
);
CREATE INDEX notifications_due ON notifications (due_at) WHERE state = 'pending';
