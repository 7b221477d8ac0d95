"""Refunds an admin decides by hand: an order the panel lost, or one whose undelivered share
could not be known (its refund held). Each lands with its audit entry and the customer's message,
and only if nothing moved since the admin looked (two admins pressing at once refund once)."""

from __future__ import annotations

from storage.audit import record
from storage.database import NOW, Database
from storage.ledger import Refunded, add_refund, refunds_by_order
from storage.orders import ORDER_COLUMNS, OrderRecord
from storage.tracking import Notice, queue_notice


async def refunded_so_far(db: Database, order_id: int) -> Refunded:
    return (await refunds_by_order(db, [order_id])).get(order_id, Refunded())


async def held_orders(db: Database, limit: int) -> list[OrderRecord]:
    rows = await db.fetchall(f"SELECT {ORDER_COLUMNS} FROM orders WHERE refund_hold IS NOT NULL"
                             " ORDER BY order_id LIMIT ?", (limit,))
    return [OrderRecord(*row) for row in rows]


async def count_held(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM orders WHERE refund_hold IS NOT NULL")
    return int(row[0]) if row else 0


async def refund_by_hand(db: Database, order: OrderRecord, amount_micros: int, *, seen: Refunded, admin_id: int,
                         notice: Notice, now: float) -> bool:
    """Refund `amount_micros` of a placed order, if its refunds are still `seen` (what the admin
    was shown) and the amount fits in what is left of the price. Clears a held refund."""
    async with db.transaction() as conn:
        row = await conn.fetchone(f"SELECT state FROM orders WHERE order_id = ?{conn.for_update}", (order.order_id,))
        now_refunded = (await refunds_by_order(conn, [order.order_id])).get(order.order_id, Refunded())
        if row is None or row[0] != "placed" or now_refunded != seen:
            return False
        if not 0 < amount_micros <= order.price_micros - seen.micros:
            return False
        await add_refund(conn, user_id=order.user_id, order_id=order.order_id, amount_micros=amount_micros,
                         currency=order.currency, before=seen, note="by an admin", admin_id=admin_id)
        await conn.execute(f"UPDATE orders SET refund_hold = NULL, updated_at = {NOW} WHERE order_id = ?",
                           (order.order_id,))
        await conn.execute("INSERT INTO order_events (order_id, kind, detail) VALUES (?, 'refund by hand', ?)",
                           (order.order_id, str(amount_micros)))
        await record(conn, admin_id, "refund by hand", f"order #{order.order_id}",
                     before=f"refunded {seen.micros} micros", after=f"refunded {seen.micros + amount_micros} micros")
        await queue_notice(conn, notice, now)
    return True


async def release_hold(db: Database, order_id: int, *, admin_id: int, notice: Notice, now: float) -> bool:
    """An admin decided nothing more is due on a held refund. False when nothing was held."""
    async with db.transaction() as conn:
        cursor = await conn.execute(f"UPDATE orders SET refund_hold = NULL, updated_at = {NOW}"
                                    " WHERE order_id = ? AND refund_hold IS NOT NULL", (order_id,))
        if cursor.rowcount != 1:
            return False
        await conn.execute("INSERT INTO order_events (order_id, kind, detail) VALUES (?, 'refund by hand', '0')",
                           (order_id,))
        await record(conn, admin_id, "refund by hand", f"order #{order_id}", before="held", after="nothing due")
        await queue_notice(conn, notice, now)
    return True

