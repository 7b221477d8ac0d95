"""The orders repository: every order confirmed, what we sent, and what we learned."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.audit import record
from storage.database import NOW, Connection, Database
from storage.ledger import Refunded, add_entry, add_refund, balance_micros

ORDER_COLUMNS = ("order_id, user_id, draft_key, service_id, service_name, service_type, link, quantity, request_json,"
            " price_micros, cost_micros, currency, state, panel_order_id, panel_status, panel_raw_status,"
            " start_count, remains, error, created_at, updated_at, next_poll_at, poll_failures, placed_at, refund_hold,"
            " cancel_requested_at, panel, panel_service_id, panel_currency, fx_rate, panel_cost_micros")


@dataclass(frozen=True)
class OrderRecord:
    order_id: int
    user_id: int
    draft_key: str
    service_id: str
    service_name: str
    service_type: str
    link: str | None
    quantity: int | None
    request_json: str
    price_micros: int
    cost_micros: int
    currency: str
    state: str  # placing / placed / unverified / rejected
    panel_order_id: str | None
    panel_status: str | None
    panel_raw_status: str | None
    start_count: int | None
    remains: int | None
    error: str | None
    created_at: str
    updated_at: str
    next_poll_at: float | None = None
    poll_failures: int = 0
    placed_at: float | None = None
    refund_hold: str | None = None  # why the refund waits for an admin (the share cannot be known)
    cancel_requested_at: str | None = None  # the customer asked the panel to cancel it
    # The panel that took it (or is being asked), its service there, and its cost there in its
    # own currency; cost_micros is that cost × fx_rate, in the shop's currency.
    panel: str = ""
    panel_service_id: str | None = None
    panel_currency: str | None = None
    fx_rate: str | None = None  # Decimal as text: shop units per one unit of panel_currency
    panel_cost_micros: int | None = None

    @property
    def request(self) -> dict[str, str]:
        return json.loads(self.request_json)


@dataclass(frozen=True)
class NewOrder:
    user_id: int
    draft_key: str
    service_id: str
    service_name: str
    service_type: str
    link: str | None
    quantity: int | None
    request: dict[str, str]
    price_micros: int
    cost_micros: int
    currency: str
    panel: str = ""
    panel_service_id: str | None = None
    panel_currency: str | None = None
    fx_rate: str | None = None
    panel_cost_micros: int | None = None


@dataclass(frozen=True)
class Source:
    """Where an order is being placed: the panel, its service there, the fields sent, and the
    cost there (its currency, and the rate that makes it `cost_micros` in the shop's)."""

    panel: str
    panel_service_id: str
    request: dict[str, str]
    panel_cost_micros: int
    panel_currency: str
    fx_rate: str
    cost_micros: int


@dataclass(frozen=True)
class Charged:
    order: OrderRecord
    balance_after_micros: int


@dataclass(frozen=True)
class AlreadyConfirmed:
    order: OrderRecord


@dataclass(frozen=True)
class NotEnoughMoney:
    balance_micros: int


async def _event(conn: Connection, order_id: int, kind: str, detail: str = "") -> None:
    await conn.execute("INSERT INTO order_events (order_id, kind, detail) VALUES (?, ?, ?)",
                       (order_id, kind, detail))


async def _get(conn: Connection, where: str, params: tuple[Any, ...]) -> OrderRecord | None:
    row = await conn.fetchone(f"SELECT {ORDER_COLUMNS} FROM orders WHERE {where}{conn.for_update}", params)
    return OrderRecord(*row) if row else None


async def charge_and_record(db: Database, new: NewOrder) -> Charged | AlreadyConfirmed | NotEnoughMoney:
    """Check the wallet, debit it and record the order, all in one transaction, before the
    panel is called. A draft confirmed again returns the order it already made."""
    async with db.transaction() as conn:
        await conn.lock_user(new.user_id)  # the balance checked is the balance debited
        existing = await _get(conn, "draft_key = ?", (new.draft_key,))
        if existing is not None:
            return AlreadyConfirmed(existing)
        balance = await balance_micros(conn, new.user_id)
        if balance < new.price_micros:
            return NotEnoughMoney(balance)
        row = await conn.fetchone(
            "INSERT INTO orders (user_id, draft_key, service_id, service_name, service_type, link, quantity,"
            " request_json, price_micros, cost_micros, currency, state, placing_by, panel, panel_service_id,"
            " panel_currency, fx_rate, panel_cost_micros)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?, 'placing', ?,?,?,?,?,?) RETURNING order_id",
            (new.user_id, new.draft_key, new.service_id, new.service_name, new.service_type, new.link,
             new.quantity, json.dumps(new.request, ensure_ascii=False), new.price_micros, new.cost_micros,
             new.currency, db.owner or None, new.panel, new.panel_service_id, new.panel_currency, new.fx_rate,
             new.panel_cost_micros),
        )
        assert row is not None
        order_id = int(row[0])
        if new.price_micros:
            await add_entry(conn, new.user_id, -new.price_micros, new.currency, "order", order_id=order_id)
        await _event(conn, order_id, "charged", str(new.price_micros))
        order = await _get(conn, "order_id = ?", (order_id,))
    assert order is not None
    return Charged(order, balance - new.price_micros)


async def mark_placed(db: Database, order_id: int, panel_order_id: str, *, now: float, first_poll_at: float,
                      admin_id: int | None = None) -> bool:
    """The panel has the order (its answer, or an admin who checked an unverified one); it is
    polled from `first_poll_at` on."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            f"UPDATE orders SET state = 'placed', panel_order_id = ?, error = NULL, updated_at = {NOW},"
            " placed_at = ?, next_poll_at = ? WHERE order_id = ? AND state IN ('placing', 'unverified')",
            (panel_order_id, now, first_poll_at, order_id))
        if cursor.rowcount == 1:
            await _event(conn, order_id, "placed", panel_order_id)
            if admin_id is not None:
                await record(conn, admin_id, "resolve placed", f"order #{order_id}", before="unverified",
                             after=f"placed, panel id {panel_order_id}")
    return cursor.rowcount == 1


async def move_to_source(db: Database, order_id: int, source: Source, why: str) -> bool:
    """The order goes to its next source: the previous one refused it in a way that proves
    nothing was placed (`why`). Written before the next `add` is sent, so that an unknown
    outcome there names the panel to check. False if it is no longer being placed."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            f"UPDATE orders SET panel = ?, panel_service_id = ?, request_json = ?, panel_cost_micros = ?,"
            f" panel_currency = ?, fx_rate = ?, cost_micros = ?, updated_at = {NOW}"
            " WHERE order_id = ? AND state = 'placing'",
            (source.panel, source.panel_service_id, json.dumps(source.request, ensure_ascii=False),
             source.panel_cost_micros, source.panel_currency, source.fx_rate, source.cost_micros, order_id))
        if cursor.rowcount == 1:
            await _event(conn, order_id, "rerouted", f"to {source.panel} after: {why}")
    return cursor.rowcount == 1


async def mark_unverified(db: Database, order_id: int, error: str) -> bool:
    """The panel may or may not have the order: keep the money held until a person checks.
    False if it was no longer being placed (placed meanwhile, or marked by another instance)."""
    async with db.transaction() as conn:
        cursor = await conn.execute(f"UPDATE orders SET state = 'unverified', error = ?, updated_at = {NOW}"
                                    " WHERE order_id = ? AND state = 'placing'", (error, order_id))
        if cursor.rowcount == 1:
            await _event(conn, order_id, "unverified", error)
        return cursor.rowcount == 1


async def reject_and_refund(db: Database, order_id: int, error: str, *, admin_id: int | None = None) -> bool:
    """The panel refused the order (or an admin found it was never placed): refund the full
    charge (once) and record why. Returns True when this call made the change (False: the order
    was not waiting for an answer, e.g. another admin settled it a moment before)."""
    async with db.transaction() as conn:
        order = await _get(conn, "order_id = ?", (order_id,))
        if order is None or order.state not in ("placing", "unverified"):
            return False
        await conn.execute(f"UPDATE orders SET state = 'rejected', error = ?, updated_at = {NOW}"
                           " WHERE order_id = ?", (error, order_id))
        if order.price_micros:  # never placed, so never refunded before
            await add_refund(conn, user_id=order.user_id, order_id=order_id, amount_micros=order.price_micros,
                             currency=order.currency, before=Refunded(), note=error, admin_id=admin_id)
        await _event(conn, order_id, "rejected", error)
        if admin_id is not None:
            await record(conn, admin_id, "resolve failed", f"order #{order_id}", before="unverified",
                         after=f"rejected, refunded {order.price_micros} micros")
    return True


async def get_order(db: Database, order_id: int) -> OrderRecord | None:
    row = await db.fetchone(f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ?", (order_id,))
    return OrderRecord(*row) if row else None


async def orders_of_user(db: Database, user_id: int, *, limit: int, offset: int = 0) -> list[OrderRecord]:
    rows = await db.fetchall(f"SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = ?"
                             " ORDER BY order_id DESC LIMIT ? OFFSET ?", (user_id, limit, offset))
    return [OrderRecord(*row) for row in rows]


async def count_orders_of_user(db: Database, user_id: int) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM orders WHERE user_id = ?", (user_id,))
    return int(row[0]) if row else 0


async def orders_in_state(db: Database, state: str) -> list[OrderRecord]:
    rows = await db.fetchall(f"SELECT {ORDER_COLUMNS} FROM orders WHERE state = ? ORDER BY order_id", (state,))
    return [OrderRecord(*row) for row in rows]


async def abandoned_placings(db: Database, *, now: float) -> list[OrderRecord]:
    """Orders being placed by an instance that is gone: its "instance:<name>" lease (renewed
    every few seconds while it runs, released when it stops) is not held."""
    rows = await db.fetchall(
        f"SELECT {ORDER_COLUMNS} FROM orders o WHERE o.state = 'placing' AND NOT EXISTS ("
        "  SELECT 1 FROM leases l WHERE l.name = 'instance:' || o.placing_by AND l.expires_at > ?)"
        " ORDER BY o.order_id", (now,))
    return [OrderRecord(*row) for row in rows]
