"""Broadcasts and their recipients: each recipient is sent the message at most once.

A batch of recipients is marked 'sending' (committed) before its messages go out and marked
with the result afterwards. Rows a crash leaves in 'sending' may or may not have been
delivered; they are counted as failed and never sent again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from storage.audit import record
from storage.database import NOW, Database

INTERRUPTED = "interrupted by a restart: delivery unknown, not sent again"


@dataclass(frozen=True)
class Broadcast:
    broadcast_id: int
    admin_id: int
    text: str
    state: str
    progress_message_id: int | None


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    blocked: int
    failed: int

    @property
    def done(self) -> int:
        return self.sent + self.blocked + self.failed


async def create_draft(db: Database, admin_id: int, text: str) -> int:
    async with db.transaction() as conn:
        row = await conn.fetchone("INSERT INTO broadcasts (admin_id, text, state) VALUES (?, ?, 'draft')"
                                  " RETURNING broadcast_id", (admin_id, text))
        assert row is not None
        return int(row[0])


async def get_broadcast(db: Database, broadcast_id: int) -> Broadcast | None:
    row = await db.fetchone("SELECT broadcast_id, admin_id, text, state, progress_message_id FROM broadcasts"
                            " WHERE broadcast_id = ?", (broadcast_id,))
    return Broadcast(*row) if row else None


async def audience(db: Database, leave_out: Collection[int]) -> list[int]:
    """Everyone who may receive a broadcast: not blocked the bot, not banned, not in `leave_out`."""
    rows = await db.fetchall("SELECT user_id FROM users WHERE blocked_at IS NULL AND banned_at IS NULL"
                             " ORDER BY user_id")
    return [int(row[0]) for row in rows if int(row[0]) not in leave_out]


async def start_sending(db: Database, broadcast_id: int, admin_id: int, recipients: list[int],
                        progress_message_id: int | None) -> bool:
    """Draft → sending with its recipient list, once: a second tap on Send changes nothing."""
    async with db.transaction() as conn:
        cursor = await conn.execute("UPDATE broadcasts SET state = 'sending', progress_message_id = ?"
                                    " WHERE broadcast_id = ? AND state = 'draft'", (progress_message_id, broadcast_id))
        if cursor.rowcount != 1:
            return False
        await conn.executemany("INSERT INTO broadcast_recipients (broadcast_id, user_id) VALUES (?, ?)",
                               [(broadcast_id, user_id) for user_id in recipients])
        await record(conn, admin_id, "broadcast", f"broadcast #{broadcast_id}", after=f"{len(recipients)} recipients")
        return True


async def cancel_draft(db: Database, broadcast_id: int) -> bool:
    async with db.transaction() as conn:
        cursor = await conn.execute("UPDATE broadcasts SET state = 'cancelled', finished_at = " + NOW +
                                    " WHERE broadcast_id = ? AND state = 'draft'", (broadcast_id,))
        return cursor.rowcount == 1


async def sending_broadcasts(db: Database) -> list[Broadcast]:
    rows = await db.fetchall("SELECT broadcast_id, admin_id, text, state, progress_message_id FROM broadcasts"
                             " WHERE state = 'sending' ORDER BY broadcast_id")
    return [Broadcast(*row) for row in rows]


async def fail_interrupted(db: Database, broadcast_id: int, *, now: float) -> int:
    """Rows left in 'sending' by an instance that stopped (its claim ran out): failed, never sent
    again. Returns how many."""
    async with db.transaction() as conn:
        cursor = await conn.execute("UPDATE broadcast_recipients SET state = 'failed', error = ?"
                                    " WHERE broadcast_id = ? AND state = 'sending'"
                                    " AND (leased_until IS NULL OR leased_until <= ?)",
                                    (INTERRUPTED, broadcast_id, now))
        return cursor.rowcount


async def claim_batch(db: Database, broadcast_id: int, size: int, *, now: float, lease: float) -> list[int]:
    """The next pending recipients, marked 'sending' (and committed) before anything is sent, for
    `lease` seconds: an instance that is still sending after that is taken for stopped."""
    async with db.transaction() as conn:
        rows = await conn.fetchall("SELECT user_id FROM broadcast_recipients WHERE broadcast_id = ?"
                                   f" AND state = 'pending' ORDER BY user_id LIMIT ?{conn.skip_locked}",
                                   (broadcast_id, size))
        users = [int(row[0]) for row in rows]
        await conn.executemany("UPDATE broadcast_recipients SET state = 'sending', leased_until = ?"
                               " WHERE broadcast_id = ? AND user_id = ?",
                               [(now + lease, broadcast_id, user_id) for user_id in users])
        return users


async def renew_batch(db: Database, broadcast_id: int, users: list[int], *, until: float) -> None:
    """Still being sent by this instance (a 429 can hold a batch up): nobody's to fail before `until`."""
    if users:
        marks = ",".join("?" * len(users))
        await db.write_one(f"UPDATE broadcast_recipients SET leased_until = ? WHERE broadcast_id = ?"
                           f" AND state = 'sending' AND user_id IN ({marks})", (until, broadcast_id, *users))


async def settle(db: Database, broadcast_id: int, results: dict[int, tuple[str, str | None]]) -> None:
    """Record each recipient's result: (state, error) with state sent / blocked / failed, or
    pending for one that Telegram refused with "retry after" (it was certainly not delivered)."""
    async with db.transaction() as conn:
        await conn.executemany(
            "UPDATE broadcast_recipients SET state = ?, error = ? WHERE broadcast_id = ? AND user_id = ?"
            " AND state = 'sending'",
            [(state, error, broadcast_id, user_id) for user_id, (state, error) in results.items()])


async def progress(db: Database, broadcast_id: int) -> Progress:
    rows = await db.fetchall("SELECT state, COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ?"
                             " GROUP BY state", (broadcast_id,))
    counts = {state: int(count) for state, count in rows}
    return Progress(total=sum(counts.values()), sent=counts.get("sent", 0), blocked=counts.get("blocked", 0),
                    failed=counts.get("failed", 0))


async def finish(db: Database, broadcast_id: int) -> bool:
    """Done once nobody is left to send to (another instance may still be sending a batch): True
    for the one caller that finished it, who reports."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            f"UPDATE broadcasts SET state = 'done', finished_at = {NOW} WHERE broadcast_id = ? AND state = 'sending'"
            " AND NOT EXISTS (SELECT 1 FROM broadcast_recipients WHERE broadcast_id = ?"
            "                 AND state IN ('pending', 'sending'))", (broadcast_id, broadcast_id))
        return cursor.rowcount == 1
