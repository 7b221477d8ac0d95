-- One row per user who has started a dialogue (an order, a top-up, an admin's question): which
-- dialogue is open (NULL: none), at which step, the draft so far as JSON, the nonce its buttons
-- carry and when it expires (Unix seconds). `version` grows with every write, so a write based
-- on a row that changed meanwhile (the expiry sweep took it) is refused instead of reviving it.
-- `finished` keeps the nonces of the user's last confirmed orders, so a late second tap on
-- Confirm is told "already confirmed" rather than "expired".
CREATE TABLE dialogues (
    user_id    INTEGER PRIMARY KEY,
    name       TEXT,
    step       TEXT NOT NULL DEFAULT '',
    nonce      TEXT NOT NULL DEFAULT '',
    draft      TEXT NOT NULL DEFAULT '{}',
    expires_at REAL NOT NULL DEFAULT 0,
    finished   TEXT NOT NULL DEFAULT '',
    version    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX dialogues_open_by_expiry ON dialogues (expires_at) WHERE name IS NOT NULL;
