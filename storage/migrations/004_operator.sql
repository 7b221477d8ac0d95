-- Operator tools: the audit trail, bans, catalogue rules and broadcasts.

-- Every admin action: who, what, on what, the value before and after.
CREATE TABLE audit (
    audit_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_id   INTEGER NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    before     TEXT NOT NULL DEFAULT '',
    after      TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- A banned user is told once (ban_told) and ignored afterwards.
ALTER TABLE users ADD COLUMN banned_at TEXT;
ALTER TABLE users ADD COLUMN ban_told INTEGER NOT NULL DEFAULT 0;
CREATE INDEX users_by_last_seen ON users (last_seen_at);

-- Hidden categories and services, and markups per category, by the operator. A category is
-- named as the panel names it; a service by its panel id. Rules outlive catalogue refreshes.
CREATE TABLE catalogue_rules (
    kind           TEXT NOT NULL CHECK (kind IN ('category', 'service')),
    name           TEXT NOT NULL,
    hidden         INTEGER NOT NULL DEFAULT 0,
    markup_percent TEXT,                      -- Decimal as text; NULL: PRICE_MARKUP_PERCENT
    PRIMARY KEY (kind, name)
);

-- A broadcast and its recipients. A recipient is marked 'sending' before the message goes out,
-- so that after a crash nobody gets it twice: 'sending' rows left by a crash count as failed.
CREATE TABLE broadcasts (
    broadcast_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_id            INTEGER NOT NULL,
    text                TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('draft', 'sending', 'done', 'cancelled')),
    progress_message_id INTEGER,
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at         TEXT
);
CREATE TABLE broadcast_recipients (
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (broadcast_id),
    user_id      INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'sending', 'sent', 'blocked', 'failed')),
    error        TEXT,
    PRIMARY KEY (broadcast_id, user_id)
);
CREATE INDEX broadcast_pending ON broadcast_recipients (broadcast_id, state);
