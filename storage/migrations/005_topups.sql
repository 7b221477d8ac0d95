-- Wallet top-ups: Telegram Stars invoices and payments, manual top-up requests.

-- A top-up a customer asked for. 'stars': an invoice of `stars` Stars, paid at most once by
-- pre-checkout's rule. 'manual': a request an admin approves or rejects, once.
CREATE TABLE topups (
    topup_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (user_id),
    method        TEXT NOT NULL CHECK (method IN ('stars', 'manual')),
    amount_micros INTEGER NOT NULL CHECK (amount_micros > 0),
    currency      TEXT NOT NULL,
    stars         INTEGER CHECK (stars > 0),
    state         TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'approved', 'rejected')),
    reference     TEXT NOT NULL DEFAULT '',   -- manual: what the customer typed
    photo_file_id TEXT,                       -- manual: the receipt photo
    decided_by    INTEGER,                    -- manual: the admin who approved or rejected
    decided_at    TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX topups_by_user ON topups (user_id, topup_id);
CREATE INDEX topups_by_state ON topups (method, state);

-- The copies of a manual request sent to each admin, edited once the request is decided.
CREATE TABLE topup_notices (
    topup_id   INTEGER NOT NULL REFERENCES topups (topup_id),
    admin_id   INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    is_photo   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topup_id, admin_id)
);

-- Every Stars payment Telegram confirmed, once per telegram_payment_charge_id.
-- state: 'paid' → 'refunding' (wallet debited, Telegram asked) → 'refunded'; a refusal by
-- Telegram puts it back to 'paid' with the debit reversed.
CREATE TABLE star_payments (
    payment_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    charge_id      TEXT NOT NULL UNIQUE,
    topup_id       INTEGER REFERENCES topups (topup_id),
    user_id        INTEGER NOT NULL REFERENCES users (user_id),
    stars          INTEGER NOT NULL CHECK (stars > 0),
    amount_micros  INTEGER NOT NULL CHECK (amount_micros >= 0),
    currency       TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'paid' CHECK (state IN ('paid', 'refunding', 'refunded')),
    refund_attempt INTEGER NOT NULL DEFAULT 0,
    refunded_by    INTEGER,
    refunded_at    TEXT,
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX star_payments_by_user ON star_payments (user_id, payment_id);

-- The ledger learns top-ups. SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt with the same rows. `ref` names what a non-order entry settles ("stars:<charge id>",
-- "manual:<topup id>"…): written once per (reason, ref), like an order's charge and refund.
CREATE TABLE ledger_new (
    entry_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (user_id),
    amount_micros INTEGER NOT NULL CHECK (amount_micros <> 0),
    currency      TEXT NOT NULL,
    reason        TEXT NOT NULL CHECK (reason IN ('credit', 'debit', 'order', 'refund',
                                                  'topup', 'topup_refund', 'topup_refund_undone')),
    order_id      INTEGER REFERENCES orders (order_id),
    admin_id      INTEGER,
    note          TEXT NOT NULL DEFAULT '',
    ref           TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (order_id, reason),
    UNIQUE (reason, ref)
);
INSERT INTO ledger_new (entry_id, user_id, amount_micros, currency, reason, order_id, admin_id, note, created_at)
    SELECT entry_id, user_id, amount_micros, currency, reason, order_id, admin_id, note, created_at FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_new RENAME TO ledger;
CREATE INDEX ledger_by_user ON ledger (user_id);
