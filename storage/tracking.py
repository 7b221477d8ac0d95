"""Polling schedules, status changes with their refunds and notifications, refills, the outbox."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from storage.database import Database
from storage.orders import ORDER_COLUMNS, OrderRecord

_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


@dataclass(frozen=True)
class Notice:
    """A message for a customer, sent later by the notifier (the outbox)."""

    user_id: int
    text: str
    button_text: str | None = None
    button_data: str | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class StatusChange:
    """What one poll learned about one order, and what follows from it."""

    order_id: int
    user_id: int
    currency: str
    old_status: str | None
    panel_status: str | None  # None: keep the current one (the panel said something unreadable)
    raw_status: str | None
    start_count: int | None
    remains: int | None
    next_poll_at: float | None  # None: final, never polled again
    refund_micros: int = 0
    refund_note: str = ""
    notice: Notice | None = None


async def queue_notice(conn: aiosqlite.Connection, notice: Notice, due_at: float) -> None:
    """Put a message in the outbox inside the caller's transaction: it goes out with the change."""
    await conn.execute(
        "INSERT INTO notifications (user_id, order_id, text, button_text, button_data, due_at) VALUES (?,?,?,?,?,?)",
        (notice.user_id, notice.order_id, notice.text, notice.button_text, notice.button_data, due_at))


async def enqueue(db: Database, notice: Notice, due_at: float) -> None:
    async with db.transaction() as conn:
        await queue_notice(conn, notice, due_at)


async def due_orders(db: Database, now: float) -> list[OrderRecord]:
    rows = await db.fetchall(f"SELECT {ORDER_COLUMNS} FROM orders WHERE next_poll_at <= ? AND state = 'placed'"
                             " ORDER BY next_poll_at", (now,))
    return [OrderRecord(*row) for row in rows]


async def apply_changes(db: Database, changes: list[StatusChange], now: float) -> int:
    """Store what polls learned, in one transaction: status, schedule, the refund (once per order,
    by the ledger's unique key) and the customer's notification. Returns the refunds written.
    Batched statements, so a cycle of 10,000 orders is a handful of round trips."""
    if not changes:
        return 0
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE orders SET panel_status = COALESCE(?, panel_status),"
            " panel_raw_status = COALESCE(?, panel_raw_status), start_count = COALESCE(?, start_count),"
            " remains = COALESCE(?, remains), next_poll_at = ?,"
            f" poll_failures = 0, updated_at = {_NOW} WHERE order_id = ?",
            [(c.panel_status, c.raw_status, c.start_count, c.remains, c.next_poll_at, c.order_id) for c in changes])
        await conn.executemany(
            "INSERT INTO order_events (order_id, kind, detail) VALUES (?, 'status', ?)",
            [(c.order_id, c.raw_status or c.panel_status or "") for c in changes
             if c.panel_status is not None and c.panel_status != c.old_status])
        before = conn.total_changes
        await conn.executemany(
            "INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id, note)"
            " VALUES (?, ?, ?, 'refund', ?, ?) ON CONFLICT (order_id, reason) DO NOTHING",
            [(c.user_id, c.refund_micros, c.currency, c.order_id, c.refund_note)
             for c in changes if c.refund_micros > 0])
        refunds = conn.total_changes - before
        await conn.executemany(
            "INSERT INTO notifications (user_id, order_id, text, button_text, button_data, due_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(n.user_id, n.order_id, n.text, n.button_text, n.button_data, now) for c in changes
             if (n := c.notice) is not None])
    return refunds


async def poll_failed(db: Database, order_ids: list[int], next_poll_at: dict[int, float]) -> None:
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE orders SET poll_failures = poll_failures + 1, next_poll_at = ? WHERE order_id = ?",
            [(next_poll_at[order_id], order_id) for order_id in order_ids])


async def stop_polling(db: Database, order_id: int, reason: str) -> None:
    """The panel does not know the order: stop asking (admins are told once, by the caller)."""
    async with db.transaction() as conn:
        await conn.execute(f"UPDATE orders SET next_poll_at = NULL, error = ?, updated_at = {_NOW} WHERE order_id = ?",
                           (reason, order_id))
        await conn.execute("INSERT INTO order_events (order_id, kind, detail) VALUES (?, 'missing', ?)",
                           (order_id, reason))


async def poll_now(db: Database, order_id: int, when: float) -> None:
    """Ask about this order at the next cycle (after a cancel or refill request)."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE orders SET next_poll_at = ? WHERE order_id = ? AND state = 'placed'"
                           " AND next_poll_at IS NOT NULL", (when, order_id))


# --------------------------------------------------------------------------- refills

@dataclass(frozen=True)
class RefillRecord:
    refill_id: int
    order_id: int
    panel_refill_id: str | None
    status: str
    raw_status: str | None
    next_poll_at: float | None
    user_id: int
    service_name: str


_REFILL_COLUMNS = ("r.refill_id, r.order_id, r.panel_refill_id, r.status, r.raw_status, r.next_poll_at, o.user_id,"
                   " o.service_name")


async def add_refill(db: Database, order_id: int, panel_refill_id: str | None, next_poll_at: float | None) -> int:
    async with db.transaction() as conn:
        cursor = await conn.execute("INSERT INTO refills (order_id, panel_refill_id, next_poll_at) VALUES (?, ?, ?)",
                                    (order_id, panel_refill_id, next_poll_at if panel_refill_id else None))
        await conn.execute("INSERT INTO order_events (order_id, kind, detail) VALUES (?, 'refill', ?)",
                           (order_id, panel_refill_id or ""))
        assert cursor.lastrowid is not None
        return cursor.lastrowid


async def due_refills(db: Database, now: float) -> list[RefillRecord]:
    rows = await db.fetchall(f"SELECT {_REFILL_COLUMNS} FROM refills r JOIN orders o USING (order_id)"
                             " WHERE r.next_poll_at <= ? ORDER BY r.next_poll_at", (now,))
    return [RefillRecord(*row) for row in rows]


async def refills_of_order(db: Database, order_id: int) -> list[RefillRecord]:
    rows = await db.fetchall(f"SELECT {_REFILL_COLUMNS} FROM refills r JOIN orders o USING (order_id)"
                             " WHERE r.order_id = ? ORDER BY r.refill_id", (order_id,))
    return [RefillRecord(*row) for row in rows]


async def apply_refill_changes(db: Database, changes: list[tuple[int, str, str, float | None, Notice | None]],
                               now: float) -> None:
    """(refill_id, status, raw status, next poll or None when final, notice) for each refill."""
    async with db.transaction() as conn:
        for refill_id, status, raw_status, next_poll_at, notice in changes:
            await conn.execute(f"UPDATE refills SET status = ?, raw_status = ?, next_poll_at = ?, updated_at = {_NOW}"
                               " WHERE refill_id = ?", (status, raw_status, next_poll_at, refill_id))
            if notice is not None:
                await queue_notice(conn, notice, now)


# --------------------------------------------------------------------------- the outbox

@dataclass(frozen=True)
class PendingNotice:
    notification_id: int
    user_id: int
    text: str
    button_text: str | None
    button_data: str | None
    attempts: int


async def due_notices(db: Database, now: float, limit: int) -> list[PendingNotice]:
    rows = await db.fetchall(
        "SELECT notification_id, user_id, text, button_text, button_data, attempts FROM notifications"
        " WHERE state = 'pending' AND due_at <= ? ORDER BY notification_id LIMIT ?", (now, limit))
    return [PendingNotice(*row) for row in rows]


async def count_pending(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM notifications WHERE state = 'pending'")
    return int(row[0]) if row else 0


async def mark_sent(db: Database, notification_ids: list[int]) -> None:
    async with db.transaction() as conn:
        await conn.executemany(f"UPDATE notifications SET state = 'sent', sent_at = {_NOW} WHERE notification_id = ?",
                               [(i,) for i in notification_ids])


async def retry_later(db: Database, notification_id: int, due_at: float, error: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE notifications SET attempts = attempts + 1, due_at = ?, error = ?"
                           " WHERE notification_id = ?", (due_at, error[:300], notification_id))


async def drop(db: Database, notification_id: int, error: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE notifications SET state = 'dropped', error = ? WHERE notification_id = ?",
                           (error[:300], notification_id))


async def mark_blocked(db: Database, user_id: int) -> None:
    """The customer blocked the bot: skip their messages (kept, not sent) until they return."""
    async with db.transaction() as conn:
        await conn.execute(f"UPDATE users SET blocked_at = {_NOW} WHERE user_id = ?", (user_id,))
        await conn.execute("UPDATE notifications SET state = 'dropped', error = 'blocked by the user'"
                           " WHERE user_id = ? AND state = 'pending'", (user_id,))


async def mark_unblocked(db: Database, user_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET blocked_at = NULL WHERE user_id = ? AND blocked_at IS NOT NULL",
                           (user_id,))
