"""Top-ups (Stars invoices and manual requests), Stars payments, and the admins' copies of
manual requests. Functions taking a connection run inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.database import NOW, Connection, Database

TOPUP_COLUMNS = ("topup_id, user_id, method, amount_micros, currency, stars, state, reference, photo_file_id,"
                 " decided_by, decided_at, created_at")
PAYMENT_COLUMNS = ("payment_id, charge_id, topup_id, user_id, stars, amount_micros, currency, state, refund_attempt,"
                   " refunded_by, refunded_at, created_at")


@dataclass(frozen=True)
class Topup:
    topup_id: int
    user_id: int
    method: str  # stars / manual
    amount_micros: int
    currency: str
    stars: int | None
    state: str  # pending / paid / approved / rejected
    reference: str
    photo_file_id: str | None
    decided_by: int | None
    decided_at: str | None
    created_at: str


@dataclass(frozen=True)
class StarPayment:
    payment_id: int
    charge_id: str
    topup_id: int | None
    user_id: int
    stars: int
    amount_micros: int
    currency: str
    state: str  # paid / refunding / refunded
    refund_attempt: int
    refunded_by: int | None
    refunded_at: str | None
    created_at: str


@dataclass(frozen=True)
class TopupNotice:
    admin_id: int
    message_id: int
    is_photo: bool


async def _one(conn: Connection | Database, sql: str, params: tuple[object, ...]) -> Sequence[Any] | None:
    """One row; inside a transaction it is held until the end (PostgreSQL: FOR UPDATE), so that a
    decision read here is not another admin's, taken at the same moment, half-seen."""
    if isinstance(conn, Connection):
        sql += conn.for_update
    return await conn.fetchone(sql, params)


# --------------------------------------------------------------------------- top-ups

async def insert_topup(conn: Connection, user_id: int, method: str, amount_micros: int, currency: str, *,
                       stars: int | None = None, reference: str = "", photo_file_id: str | None = None) -> int:
    row = await conn.fetchone(
        "INSERT INTO topups (user_id, method, amount_micros, currency, stars, state, reference, photo_file_id)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING topup_id",
        (user_id, method, amount_micros, currency, stars, reference, photo_file_id))
    assert row is not None
    return int(row[0])


async def get_topup(conn: Connection | Database, topup_id: int) -> Topup | None:
    row = await _one(conn, f"SELECT {TOPUP_COLUMNS} FROM topups WHERE topup_id = ?", (topup_id,))
    return Topup(*row) if row else None


async def count_pending_manual(conn: Connection, user_id: int) -> int:
    """(The caller holds the user: `Connection.lock_user`.)"""
    row = await conn.fetchone("SELECT COUNT(*) FROM topups WHERE user_id = ? AND method = 'manual'"
                              " AND state = 'pending'", (user_id,))
    return int(row[0]) if row else 0


async def settle_topup(conn: Connection, topup_id: int, new_state: str, *,
                       admin_id: int | None = None) -> bool:
    """pending → `new_state`, once: False when the top-up was no longer pending (decided by
    someone else a moment earlier, or paid already)."""
    cursor = await conn.execute(
        "UPDATE topups SET state = ?, decided_by = ?,"
        f" decided_at = CASE WHEN CAST(? AS BIGINT) IS NULL THEN NULL ELSE {NOW} END,"
        f" updated_at = {NOW} WHERE topup_id = ? AND state = 'pending'",
        (new_state, admin_id, admin_id, topup_id))
    return cursor.rowcount == 1


async def pending_manual(db: Database, limit: int = 20) -> list[Topup]:
    rows = await db.fetchall(f"SELECT {TOPUP_COLUMNS} FROM topups WHERE method = 'manual' AND state = 'pending'"
                             " ORDER BY topup_id LIMIT ?", (limit,))
    return [Topup(*row) for row in rows]


async def count_pending_manual_all(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) FROM topups WHERE method = 'manual' AND state = 'pending'")
    return int(row[0]) if row else 0


async def topups_of_user(db: Database, user_id: int, limit: int = 5) -> list[Topup]:
    """The user's latest top-ups that came to something (paid, or a manual request), newest first."""
    rows = await db.fetchall(f"SELECT {TOPUP_COLUMNS} FROM topups WHERE user_id = ?"
                             " AND (method = 'manual' OR state = 'paid') ORDER BY topup_id DESC LIMIT ?",
                             (user_id, limit))
    return [Topup(*row) for row in rows]


# --------------------------------------------------------------------------- admins' copies of a request

async def add_topup_notice(db: Database, topup_id: int, admin_id: int, message_id: int, *, is_photo: bool) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO topup_notices (topup_id, admin_id, message_id, is_photo) VALUES (?, ?, ?, ?)"
                           " ON CONFLICT (topup_id, admin_id) DO UPDATE SET message_id = excluded.message_id,"
                           " is_photo = excluded.is_photo", (topup_id, admin_id, message_id, int(is_photo)))


async def topup_notices(db: Database, topup_id: int) -> list[TopupNotice]:
    rows = await db.fetchall("SELECT admin_id, message_id, is_photo FROM topup_notices WHERE topup_id = ?",
                             (topup_id,))
    return [TopupNotice(int(a), int(m), bool(p)) for a, m, p in rows]


# --------------------------------------------------------------------------- Stars payments

async def insert_star_payment(conn: Connection, charge_id: str, topup_id: int | None, user_id: int,
                              stars: int, amount_micros: int, currency: str) -> int | None:
    """Record a payment Telegram confirmed; None when this charge id is already recorded."""
    row = await conn.fetchone(
        "INSERT INTO star_payments (charge_id, topup_id, user_id, stars, amount_micros, currency)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (charge_id) DO NOTHING RETURNING payment_id",
        (charge_id, topup_id, user_id, stars, amount_micros, currency))
    return int(row[0]) if row is not None else None


async def get_star_payment(conn: Connection | Database, payment_id: int) -> StarPayment | None:
    row = await _one(conn, f"SELECT {PAYMENT_COLUMNS} FROM star_payments WHERE payment_id = ?", (payment_id,))
    return StarPayment(*row) if row else None


async def star_payment_by_charge(conn: Connection | Database, charge_id: str) -> StarPayment | None:
    row = await _one(conn, f"SELECT {PAYMENT_COLUMNS} FROM star_payments WHERE charge_id = ?", (charge_id,))
    return StarPayment(*row) if row else None


async def star_payments_of_user(db: Database, user_id: int, limit: int = 5) -> list[StarPayment]:
    rows = await db.fetchall(f"SELECT {PAYMENT_COLUMNS} FROM star_payments WHERE user_id = ?"
                             " ORDER BY payment_id DESC LIMIT ?", (user_id, limit))
    return [StarPayment(*row) for row in rows]


async def begin_refund(conn: Connection, payment_id: int) -> int | None:
    """paid → refunding; returns the attempt number, None when the payment was not 'paid'."""
    cursor = await conn.execute("UPDATE star_payments SET state = 'refunding', refund_attempt = refund_attempt + 1"
                                " WHERE payment_id = ? AND state = 'paid'", (payment_id,))
    if cursor.rowcount != 1:
        return None
    row = await _one(conn, "SELECT refund_attempt FROM star_payments WHERE payment_id = ?", (payment_id,))
    assert row is not None
    return int(row[0])


async def finish_refund(conn: Connection, payment_id: int, admin_id: int | None) -> bool:
    """refunding → refunded, once (admin None: settled on Telegram's refunded_payment message)."""
    cursor = await conn.execute(f"UPDATE star_payments SET state = 'refunded', refunded_by = ?, refunded_at = {NOW}"
                                " WHERE payment_id = ? AND state = 'refunding'", (admin_id, payment_id))
    return cursor.rowcount == 1


async def undo_refund(conn: Connection, payment_id: int, attempt: int) -> bool:
    """refunding → paid (Telegram refused the refund), once per attempt."""
    cursor = await conn.execute("UPDATE star_payments SET state = 'paid'"
                                " WHERE payment_id = ? AND state = 'refunding' AND refund_attempt = ?",
                                (payment_id, attempt))
    return cursor.rowcount == 1
