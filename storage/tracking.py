"""Polling schedules, status changes with their refunds and notifications, refills, the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from storage.database import NOW, SQLITE, Connection, Database, write_each
from storage.ledger import Refunded, refund_ref, refunds_by_order
from storage.orders import ORDER_COLUMNS, OrderRecord

log = logging.getLogger(__name__)

# How long a claimed poll or send is this instance's before another may take it (seconds).
POLL_LEASE = 300.0
CLAIMING_POLLS = 7256003  # the advisory lock of a poll claiming its orders
SEND_LEASE = 60.0



@dataclass(frozen=True)
class Notice:
    """A message for a customer, sent later by the notifier (the outbox)."""

    user_id: int
    text: str
    button_text: str | None = None
    button_data: str | None = None
    order_id: int | None = None
    template: str | None = None  # JSON: rendered for the recipient when sent (bot/shop/outbox.py)


@dataclass(frozen=True)
class StatusChange:
    """What one answer of the panel means for one order, decided on the order as it is stored
    inside the transaction that writes it (see `apply_decisions`)."""

    order_id: int
    panel_status: str | None  # None: keep the current one (the panel said something unreadable)
    raw_status: str | None
    start_count: int | None
    remains: int | None
    next_poll_at: float | None  # None: final, never polled again
    refund_micros: int = 0  # to refund now: the difference to what the status makes due
    refund_note: str = ""
    hold: str | None = None  # why the refund waits for an admin; "" clears a hold
    notice: Notice | None = None
    alert: object | None = None  # for the admins (a text rendered per admin), sent by the caller once stored


Decide = Callable[[OrderRecord, Refunded], StatusChange | None]


async def queue_notice(conn: Connection, notice: Notice, due_at: float) -> int:
    """Put a message in the outbox inside the caller's transaction: it goes out with the change.
    Returns its id."""
    row = await conn.fetchone(
        "INSERT INTO notifications (user_id, order_id, text, button_text, button_data, due_at, template)"
        " VALUES (?,?,?,?,?,?,?) RETURNING notification_id",
        (notice.user_id, notice.order_id, str(notice.text),
         None if notice.button_text is None else str(notice.button_text), notice.button_data, due_at,
         notice.template))
    assert row is not None
    return int(row[0])


async def enqueue(db: Database, notice: Notice, due_at: float) -> None:
    async with db.transaction() as conn:
        await queue_notice(conn, notice, due_at)


async def due_orders(db: Database, now: float, *, horizon: float = 0.0, batch: int = 1,
                     lease: float = POLL_LEASE) -> dict[str, list[OrderRecord]]:
    """Each panel's orders due by `now`, then, to fill that panel's last batch of `batch` ids,
    its orders due soonest within `horizon` seconds after it: N open orders at a panel cost
    ceil(N / batch) requests there however their schedules drifted apart.

    They are claimed for this poll: their next poll is moved `lease` seconds on, so no other
    instance polls them meanwhile; the poll writes their real next time. If this instance dies
    first, they fall due again when the lease runs out."""
    # (COALESCE: an order with no panel, written by hand, is asked about at none, not skipped for ever)
    counts = await db.fetchall("SELECT COALESCE(panel, ''), COUNT(*) FROM orders WHERE next_poll_at <= ?"
                               " AND state = 'placed' GROUP BY COALESCE(panel, '')", (now,))
    if not counts:  # (most ticks: no write transaction for nothing)
        return {}
    select = (f"SELECT {ORDER_COLUMNS} FROM orders WHERE COALESCE(panel, '') = ? AND next_poll_at <= ?"
              " AND state = 'placed' ORDER BY next_poll_at, order_id LIMIT ?")
    wanted = [(str(panel), now + horizon, -(-int(due) // batch) * batch) for panel, due in counts]
    if db.dialect == SQLITE:  # one instance (and one poll at a time): nobody to claim them from, no fsync'd write
        return {params[0]: [OrderRecord(*row) for row in await db.fetchall(select, params)] for params in wanted}
    async with db.transaction() as conn:
        # One instance claims the whole due set at a time (so N orders still cost ceil(N / batch)
        # requests in all); the next finds them claimed: pushed past its own horizon.
        await conn.one_at_a_time(CLAIMING_POLLS)
        found = {params[0]: [OrderRecord(*row) for row in await conn.fetchall(select + conn.skip_locked, params)]
                 for params in wanted}

        async def claim(part: Sequence[OrderRecord]) -> None:
            for start in range(0, len(part), 500):
                ids = [order.order_id for order in part[start:start + 500]]
                await conn.execute(f"UPDATE orders SET next_poll_at = ? WHERE order_id IN ({','.join('?' * len(ids))})",
                                   (now + horizon + lease, *ids))

        # A row the database will not write is polled all the same (its answer is then reported
        # as not stored, as before): the claim only keeps other instances off it.
        await write_each(conn, [order for orders in found.values() for order in orders], claim)
    return {panel: orders for panel, orders in found.items() if orders}


async def apply_decisions(db: Database, decisions: Mapping[int, Decide],
                          now: float) -> dict[int, StatusChange | Exception]:
    """Decide and store what the panel said, each order on its own row as stored now (so a poll
    and a Refresh at the same moment never announce or refund one change twice).

    Each order is its own unit: the whole set is written at once in a savepoint and, if that
    fails, again one order per savepoint, so one order's bad answer or failed write never rolls
    back or stops another's. Returns, per order, the change stored (None: nothing to store, e.g.
    the order is no longer placed) or the exception that kept it from being stored."""
    results: dict[int, StatusChange | Exception] = {}
    if not decisions:
        return results
    async with db.transaction() as conn:
        ids = list(decisions)
        orders = await _orders_by_id(conn, ids)
        refunded = await refunds_by_order(conn, ids)
        changes: list[tuple[OrderRecord, StatusChange]] = []
        for order_id, decide in decisions.items():
            order = orders.get(order_id)
            if order is None or order.state != "placed":
                continue
            try:
                change = decide(order, refunded.get(order_id, Refunded()))
            except Exception as exc:  # a bug or an absurd value in one answer: that order only
                log.exception("order %s: could not decide on the panel's answer", order_id)
                results[order_id] = exc
                continue
            if change is not None:
                changes.append((order, change))
        async def write(part: Sequence[tuple[OrderRecord, StatusChange]]) -> None:
            await _write_changes(conn, part, refunded, now)

        failures = await write_each(conn, changes, write)
        for position, (order, change) in enumerate(changes):
            if position in failures:
                log.error("order %s: could not store the panel's answer: %s", order.order_id, failures[position])
            results[order.order_id] = failures.get(position, change)
    return results


async def _orders_by_id(conn: Connection, ids: list[int]) -> dict[int, OrderRecord]:
    found: dict[int, OrderRecord] = {}
    for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit is far above this
        part = ids[start:start + 500]
        marks = ",".join("?" * len(part))
        # FOR UPDATE: a poll and a Refresh on another instance decide on the row one after the other
        rows = await conn.fetchall(f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id IN ({marks})"
                                   f" ORDER BY order_id{conn.for_update}", part)
        found.update((row[0], OrderRecord(*row)) for row in rows)
    return found


async def _write_changes(conn: Connection, changes: Sequence[tuple[OrderRecord, StatusChange]],
                         refunded: Mapping[int, Refunded], now: float) -> None:
    """Batched statements, so a cycle of 10,000 orders is a handful of round trips."""
    if not changes:
        return
    await conn.executemany(
        "UPDATE orders SET panel_status = COALESCE(:status, panel_status),"
        " panel_raw_status = COALESCE(:raw, panel_raw_status), start_count = COALESCE(:start, start_count),"
        " remains = COALESCE(:remains, remains), next_poll_at = :next,"
        " refund_hold = CASE WHEN CAST(:hold AS TEXT) IS NULL THEN refund_hold ELSE NULLIF(:hold, '') END,"
        f" poll_failures = 0, updated_at = {NOW} WHERE order_id = :order",
        [{"status": c.panel_status, "raw": c.raw_status, "start": c.start_count, "remains": c.remains,
          "next": c.next_poll_at, "hold": c.hold, "order": c.order_id} for _, c in changes])
    await conn.executemany(
        "INSERT INTO order_events (order_id, kind, detail) VALUES (?, 'status', ?)",
        [(c.order_id, c.raw_status or c.panel_status or "") for o, c in changes
         if c.panel_status is not None and c.panel_status != o.panel_status])
    await conn.executemany(
        "INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id, note, ref)"
        " VALUES (?, ?, ?, 'refund', ?, ?, ?)",
        [(o.user_id, c.refund_micros, o.currency, o.order_id, c.refund_note,
          refund_ref(o.order_id, refunded.get(o.order_id, Refunded()).count + 1))
         for o, c in changes if c.refund_micros > 0])
    await conn.executemany(
        "INSERT INTO notifications (user_id, order_id, text, button_text, button_data, due_at, template)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(n.user_id, n.order_id, n.text, n.button_text, n.button_data, now, n.template) for _, c in changes
         if (n := c.notice) is not None])


async def poll_failed(db: Database, next_poll_at: Mapping[int, float]) -> None:
    """No status for these orders this time: ask again at their next time (each its own unit)."""
    async with db.transaction() as conn:
        async def write(part: Sequence[tuple[int, float]]) -> None:
            await conn.executemany(
                "UPDATE orders SET poll_failures = poll_failures + 1, next_poll_at = ? WHERE order_id = ?",
                [(when, order_id) for order_id, when in part])

        failures = await write_each(conn, list(next_poll_at.items()), write)
    if failures:
        log.error("could not reschedule %d orders after a failed poll; they are asked again next tick", len(failures))


async def stop_polling(db: Database, order_id: int, reason: str) -> None:
    """The panel does not know the order: stop asking (admins are told once, by the caller)."""
    async with db.transaction() as conn:
        await conn.execute(f"UPDATE orders SET next_poll_at = NULL, error = ?, updated_at = {NOW} WHERE order_id = ?",
                           (reason, order_id))
        await conn.execute("INSERT INTO order_events (order_id, kind, detail) VALUES (?, 'missing', ?)",
                           (order_id, reason))


async def mark_cancel_requested(db: Database, order_id: int, when: float) -> None:
    """The panel took the customer's cancel request: noted, and the order asked about next cycle."""
    async with db.transaction() as conn:
        await conn.execute("UPDATE orders SET cancel_requested_at = " + NOW + " WHERE order_id = ?", (order_id,))
        await conn.execute("UPDATE orders SET next_poll_at = ? WHERE order_id = ? AND state = 'placed'"
                           " AND next_poll_at IS NOT NULL", (when, order_id))


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
    panel: str = ""  # the order's panel, which is asked about the refill


_REFILL_COLUMNS = ("r.refill_id, r.order_id, r.panel_refill_id, r.status, r.raw_status, r.next_poll_at, o.user_id,"
                   " o.service_name, o.panel")


async def add_refill(db: Database, order_id: int, panel_refill_id: str | None, next_poll_at: float | None) -> int:
    async with db.transaction() as conn:
        row = await conn.fetchone("INSERT INTO refills (order_id, panel_refill_id, next_poll_at) VALUES (?, ?, ?)"
                                  " RETURNING refill_id",
                                  (order_id, panel_refill_id, next_poll_at if panel_refill_id else None))
        await conn.execute("INSERT INTO order_events (order_id, kind, detail) VALUES (?, 'refill', ?)",
                           (order_id, panel_refill_id or ""))
        assert row is not None
        return int(row[0])


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
    """(refill_id, status, raw status, next poll or None when final, notice) for each refill; each
    refill is its own unit (a failed write leaves it to the next poll, and the others stored)."""
    async with db.transaction() as conn:
        async def write(part: Sequence[tuple[int, str, str, float | None, Notice | None]]) -> None:
            for refill_id, status, raw_status, next_poll_at, notice in part:
                await conn.execute(f"UPDATE refills SET status = ?, raw_status = ?, next_poll_at = ?,"
                                   f" updated_at = {NOW} WHERE refill_id = ?", (status, raw_status, next_poll_at,
                                                                                refill_id))
                if notice is not None:
                    await queue_notice(conn, notice, now)

        failures = await write_each(conn, changes, write)
    for position in failures:
        log.error("refill %s: could not store the panel's answer: %s", changes[position][0], failures[position])


# --------------------------------------------------------------------------- the outbox

@dataclass(frozen=True)
class PendingNotice:
    notification_id: int
    user_id: int
    text: str
    button_text: str | None
    button_data: str | None
    attempts: int
    template: str | None = None
    language: str | None = None  # the recipient's choice
    language_code: str | None = None  # the recipient's Telegram language


async def due_notices(db: Database, now: float, limit: int, *, hold: float = 0,
                      lease: float = SEND_LEASE) -> list[PendingNotice]:
    """Notices due now, claimed for `lease` seconds (no other instance sends them meanwhile; if
    this one dies before marking them, another sends them after that). An order's notice for a
    user who is in the middle of a dialogue (an order's questions, a top-up) waits until the
    dialogue ends, or `hold` seconds at most, so that it does not land between a question and its
    answer; receipts and the like never wait."""
    due = ("SELECT n.notification_id FROM notifications n"
           " WHERE n.state = 'pending' AND n.due_at <= ? AND (n.leased_until IS NULL OR n.leased_until <= ?)"
           " AND (n.order_id IS NULL OR n.due_at <= ? OR NOT EXISTS ("
           "   SELECT 1 FROM dialogues d WHERE d.user_id = n.user_id AND d.name IS NOT NULL AND d.expires_at > ?))"
           " ORDER BY n.notification_id LIMIT ?")
    params = (now, now, now - hold, now, limit)
    if not await db.fetchone(due, (*params[:-1], 1)):  # (most rounds: no write transaction for nothing)
        return []
    async with db.transaction() as conn:
        ids = [int(row[0]) for row in await conn.fetchall(due + conn.skip_locked, params)]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        await conn.execute(f"UPDATE notifications SET leased_until = ? WHERE notification_id IN ({marks})",
                           (now + lease, *ids))
        rows = await conn.fetchall(
            "SELECT n.notification_id, n.user_id, n.text, n.button_text, n.button_data, n.attempts, n.template,"
            " u.language, u.language_code FROM notifications n LEFT JOIN users u ON u.user_id = n.user_id"
            f" WHERE n.notification_id IN ({marks}) ORDER BY n.notification_id", ids)
    return [PendingNotice(*row) for row in rows]


async def count_pending(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM notifications WHERE state = 'pending'")
    return int(row[0]) if row else 0


async def mark_sent(db: Database, notification_ids: list[int]) -> None:
    async with db.transaction() as conn:
        await conn.executemany(f"UPDATE notifications SET state = 'sent', sent_at = {NOW} WHERE notification_id = ?",
                               [(i,) for i in notification_ids])


async def renew_notices(db: Database, notification_ids: list[int], *, until: float) -> None:
    """Still being sent by this instance: nobody else's until `until`."""
    for start in range(0, len(notification_ids), 500):
        part = notification_ids[start:start + 500]
        await db.write_one(f"UPDATE notifications SET leased_until = ? WHERE state = 'pending'"
                           f" AND notification_id IN ({','.join('?' * len(part))})", (until, *part))


async def release_notices(db: Database, notification_ids: list[int]) -> None:
    """Claimed but not sent this round (one message a second per chat): free for the next."""
    if notification_ids:
        marks = ",".join("?" * len(notification_ids))
        await db.write_one(f"UPDATE notifications SET leased_until = NULL WHERE notification_id IN ({marks})",
                           notification_ids)


async def retry_later(db: Database, notification_id: int, due_at: float, error: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE notifications SET attempts = attempts + 1, due_at = ?, error = ?,"
                           " leased_until = NULL WHERE notification_id = ?", (due_at, error[:300], notification_id))


async def drop(db: Database, notification_id: int, error: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE notifications SET state = 'dropped', error = ? WHERE notification_id = ?",
                           (error[:300], notification_id))


async def mark_blocked(db: Database, user_id: int) -> None:
    """The customer blocked the bot: skip their messages (kept, not sent) until they return."""
    async with db.transaction() as conn:
        await conn.execute(f"UPDATE users SET blocked_at = {NOW} WHERE user_id = ?", (user_id,))
        await conn.execute("UPDATE notifications SET state = 'dropped', error = 'blocked by the user'"
                           " WHERE user_id = ? AND state = 'pending'", (user_id,))


async def mark_unblocked(db: Database, user_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET blocked_at = NULL WHERE user_id = ? AND blocked_at IS NOT NULL",
                           (user_id,))
