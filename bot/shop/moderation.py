"""Banning and unbanning customers (admins only, audited)."""

from __future__ import annotations

from enum import Enum

from storage.audit import record
from storage.database import Database
from storage.users import set_banned, user_exists


class Unbannable(Enum):
    ADMIN = "an admin"
    UNKNOWN = "never wrote to the bot"


class CannotBan(Exception):
    def __init__(self, why: Unbannable) -> None:
        super().__init__(why.value)
        self.why = why


async def set_ban(db: Database, admin_id: int, user_id: int, banned: bool, *, admins: frozenset[int]) -> bool:
    """Ban or unban; returns whether anything changed. Admins cannot be banned, unknown users
    neither (they have never written to the bot)."""
    if banned and user_id in admins:
        raise CannotBan(Unbannable.ADMIN)
    if not await user_exists(db, user_id):
        raise CannotBan(Unbannable.UNKNOWN)
    async with db.transaction() as conn:
        changed = await set_banned(conn, user_id, banned)
        if changed:
            await record(conn, admin_id, "ban" if banned else "unban", f"user {user_id}",
                         before="active" if banned else "banned", after="banned" if banned else "active")
        return changed
