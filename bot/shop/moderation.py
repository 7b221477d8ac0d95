"""Banning and unbanning customers (admins only, audited)."""

from __future__ import annotations

from storage.audit import record
from storage.database import Database
from storage.users import set_banned, user_exists


class CannotBan(Exception):
    pass


async def set_ban(db: Database, admin_id: int, user_id: int, banned: bool, *, admins: frozenset[int]) -> bool:
    """Ban or unban; returns whether anything changed. Admins cannot be banned, unknown users
    neither (they have never written to the bot)."""
    if banned and user_id in admins:
        raise CannotBan("an admin")
    if not await user_exists(db, user_id):
        raise CannotBan("unknown")
    async with db.transaction() as conn:
        changed = await set_banned(conn, user_id, banned)
        if changed:
            await record(conn, admin_id, "ban" if banned else "unban", f"user {user_id}",
                         before="active" if banned else "banned", after="banned" if banned else "active")
        return changed
