-- Everyone who has talked to the bot. Telegram user ids are 64-bit integers.
CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY,
    first_name    TEXT NOT NULL DEFAULT '',
    username      TEXT,
    language_code TEXT,
    first_seen_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
