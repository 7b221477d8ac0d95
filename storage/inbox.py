"""The webhook inbox: every update Telegram posted, stored before it is acknowledged.

Any instance may take an update, but only a user's earliest unfinished one, and only while no
other instance holds it (its lease): so each user's updates are handled one at a time and in
update_id order across all instances, and one an instance was killed in the middle of is taken
again by another once its lease runs out.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from storage.database import Database

# The webhook update being handled in this task, if any: its dialogue is saved together with its
# being marked done (storage/dialogues.py `save_dialogue`).
handling_update: ContextVar[int | None] = ContextVar("handling_update", default=None)


@dataclass(frozen=True)
class InboxUpdate:
    update_id: int
    user_id: int
    payload: str


async def store_update(db: Database, update_id: int, user_id: int, payload: str, *, now: float) -> bool:
    """False when this update is stored already (Telegram posts it again when unsure it arrived)."""
    changed = await db.write_one(
        "INSERT INTO inbox (update_id, user_id, payload, received_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (update_id) DO NOTHING", (update_id, user_id, payload, now))
    return changed == 1


async def claim_updates(db: Database, owner: str, *, now: float, lease: float, user_id: int | None = None,
                        limit: int = 1) -> list[InboxUpdate]:
    """Take the next update of up to `limit` users (of `user_id` only, if given): each user's
    earliest unfinished update, if nobody holds it nor any other update of theirs (one that
    Telegram posted later may have been taken before an earlier one was stored)."""
    only_user = " AND i.user_id = ?" if user_id is not None else ""
    async with db.transaction() as conn:
        rows = await conn.fetchall(
            "SELECT i.update_id FROM inbox i WHERE i.done_at IS NULL"
            " AND (i.leased_until IS NULL OR i.leased_until <= ?)" + only_user +
            " AND NOT EXISTS (SELECT 1 FROM inbox e WHERE e.user_id = i.user_id AND e.done_at IS NULL"
            "                 AND (e.update_id < i.update_id OR e.leased_until > ?))"
            f" ORDER BY i.update_id LIMIT ?{conn.skip_locked}",
            (now, *(() if user_id is None else (user_id,)), now, limit))
        ids = [int(row[0]) for row in rows]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        claimed = await conn.fetchall(
            f"UPDATE inbox SET leased_until = ?, owner = ? WHERE update_id IN ({marks})"
            " RETURNING update_id, user_id, payload", (now + lease, owner, *ids))
    return sorted((InboxUpdate(int(r[0]), int(r[1]), str(r[2])) for r in claimed), key=lambda u: u.update_id)


async def finish_update(db: Database, update_id: int, *, now: float) -> None:
    await db.write_one("UPDATE inbox SET done_at = ?, leased_until = NULL WHERE update_id = ?", (now, update_id))


async def renew_leases(db: Database, owner: str, update_ids: Sequence[int], *, now: float, lease: float) -> int:
    """Keep the updates this instance is handling: a slow panel call must not let another take them."""
    if not update_ids:
        return 0
    marks = ",".join("?" * len(update_ids))
    return await db.write_one(f"UPDATE inbox SET leased_until = ? WHERE owner = ? AND done_at IS NULL"
                              f" AND update_id IN ({marks})", (now + lease, owner, *update_ids))


async def prune_inbox(db: Database, *, before: float) -> int:
    """Forget updates finished before `before` (kept a while: a late duplicate is still recognised)."""
    return await db.write_one("DELETE FROM inbox WHERE done_at IS NOT NULL AND done_at < ?", (before,))
