-- Refunds settle the undelivered share by differences: an order may be refunded more than once
-- (Partial, then Canceled), never beyond its charge in total. The ledger loses its one-refund-
-- per-order key: each refund of an order is named by `ref` ("order:<id>:refund:<n>", unique by
-- (reason, ref)), the charge keeps its one-per-order index, and a trigger refuses any refund that
-- would take an order's refunds past its charge, whoever writes it.
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
    UNIQUE (reason, ref),
    CHECK (reason NOT IN ('order', 'refund') OR order_id IS NOT NULL),
    CHECK (reason <> 'refund' OR amount_micros > 0)
);
INSERT INTO ledger_new (entry_id, user_id, amount_micros, currency, reason, order_id, admin_id, note, ref, created_at)
    SELECT entry_id, user_id, amount_micros, currency, reason, order_id, admin_id, note,
           CASE WHEN reason = 'refund' THEN 'order:' || order_id || ':refund:1' ELSE ref END, created_at
    FROM ledger;
DROP TABLE ledger;
ALTER TABLE ledger_new RENAME TO ledger;
CREATE INDEX ledger_by_user ON ledger (user_id);
CREATE INDEX ledger_by_order ON ledger (order_id, reason) WHERE order_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_one_charge_per_order ON ledger (order_id) WHERE reason = 'order';

CREATE TRIGGER ledger_refunds_within_charge BEFORE INSERT ON ledger
WHEN NEW.reason = 'refund'
BEGIN
    SELECT RAISE(ABORT, 'an order''s refunds would exceed its charge')
    WHERE NEW.amount_micros + COALESCE((SELECT SUM(amount_micros) FROM ledger
                                        WHERE order_id = NEW.order_id AND reason = 'refund'), 0)
          > COALESCE((SELECT -amount_micros FROM ledger WHERE order_id = NEW.order_id AND reason = 'order'), 0);
END;

-- An order whose undelivered share cannot be known (a Partial package, a Partial without
-- `remains`): why its refund waits for an admin. NULL: nothing waits.
ALTER TABLE orders ADD COLUMN refund_hold TEXT;
CREATE INDEX orders_held ON orders (order_id) WHERE refund_hold IS NOT NULL;
