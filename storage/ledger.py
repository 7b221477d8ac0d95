"""The wallet ledger. A balance is the sum of a user's entries; nothing else stores it."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Connection, Database


async def balance_micros(conn: Connection | Database, user_id: int) -> int:
    """The sum of the user's entries (integers, so SQL's SUM is exact). Inside a transaction the
    user is held until it ends, so that what is decided on this balance is not interleaved with
    another instance's decision on the same wallet."""
    sql = "SELECT COALESCE(SUM(amount_micros), 0) FROM ledger WHERE user_id = ?"
    if isinstance(conn, Connection):
        await conn.lock_user(user_id)
    row = await conn.fetchone(sql, (user_id,))
    return int(row[0]) if row else 0


async def add_entry(conn: Connection, user_id: int, amount_micros: int, currency: str, reason: str, *,
                    order_id: int | None = None, admin_id: int | None = None, note: str = "",
                    ref: str | None = None) -> bool:
    """Append an entry inside the caller's transaction. Returns False when the entry already
    exists: an order's charge or refund, and a payment's credit (by `ref`), are written once,
    whoever asks twice."""
    cursor = await conn.execute(
        "INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id, admin_id, note, ref)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (user_id, amount_micros, currency, reason, order_id, admin_id, note, ref),
    )
    return cursor.rowcount == 1


@dataclass(frozen=True)
class Refunded:
    """An order's refunds so far."""

    micros: int = 0
    count: int = 0


def refund_ref(order_id: int, number: int) -> str:
    """The ledger's name for an order's n-th refund: written once, whoever writes it."""
    return f"order:{order_id}:refund:{number}"


async def refunds_by_order(conn: Connection | Database, order_ids: list[int]) -> dict[int, Refunded]:
    """Refunds so far of each of these orders (those with none are left out)."""
    found: dict[int, Refunded] = {}
    for start in range(0, len(order_ids), 500):
        part = order_ids[start:start + 500]
        sql = (f"SELECT order_id, SUM(amount_micros), COUNT(*) FROM ledger WHERE reason = 'refund'"
               f" AND order_id IN ({','.join('?' * len(part))}) GROUP BY order_id")
        rows = await conn.fetchall(sql, part)
        found.update((row[0], Refunded(int(row[1]), int(row[2]))) for row in rows)
    return found


async def add_refund(conn: Connection, *, user_id: int, order_id: int, amount_micros: int, currency: str,
                     before: Refunded, note: str = "", admin_id: int | None = None) -> None:
    """The order's next refund, inside the caller's transaction (which read `before` in it). The
    database refuses a refund that would take the order's refunds past its charge."""
    await conn.execute(
        "INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id, admin_id, note, ref)"
        " VALUES (?, ?, ?, 'refund', ?, ?, ?, ?)",
        (user_id, amount_micros, currency, order_id, admin_id, note[:200], refund_ref(order_id, before.count + 1)))


@dataclass(frozen=True)
class LedgerEntry:
    created_at: str
    amount_micros: int
    currency: str
    reason: str  # credit / debit / order / refund / topup / topup_refund / topup_refund_undone
    order_id: int | None
    note: str


async def recent_entries(db: Database, user_id: int, limit: int = 8) -> list[LedgerEntry]:
    """The user's latest entries, newest first."""
    rows = await db.fetchall("SELECT created_at, amount_micros, currency, reason, order_id, note FROM ledger"
                             " WHERE user_id = ? ORDER BY entry_id DESC LIMIT ?", (user_id, limit))
    return [LedgerEntry(*row) for row in rows]


async def ledger_is_empty(db: Database) -> bool:
    """No wallet has ever moved (the shop's currency may still be chosen)."""
    return await db.fetchone("SELECT 1 FROM ledger LIMIT 1") is None
