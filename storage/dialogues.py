"""Dialogue state, one row per user (see handlers/dialogues.py for what a dialogue is).

The row is read when an update of the user arrives and written when its handlers are done, under
the per-user serialisation of bot/update_processor.py; a write names the version it read, so a
row changed in between (the expiry sweep closed the dialogue) is not written over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from storage.database import Database


@dataclass
class DialogueRow:
    user_id: int
    name: str | None = None  # None: no dialogue open
    step: str = ""
    nonce: str = ""
    draft: dict[str, Any] = field(default_factory=dict)
    expires_at: float = 0.0
    finished: tuple[str, ...] = ()
    version: int = 0  # 0: not in the database yet


async def load_dialogue(db: Database, user_id: int) -> DialogueRow:
    row = await db.read_point("SELECT name, step, nonce, draft, expires_at, finished, version FROM dialogues"
                              " WHERE user_id = ?", (user_id,))
    if row is None:
        return DialogueRow(user_id)
    name, step, nonce, draft, expires_at, finished, version = row
    return DialogueRow(user_id, name, step, nonce, json.loads(draft), expires_at, tuple(finished.split()), version)


async def save_dialogue(db: Database, row: DialogueRow, *, finishing: int | None = None, now: float = 0.0) -> bool:
    """Write `row` if the stored one is still the version it was read as; False if it is not.
    `finishing`: the webhook update (storage/inbox.py) whose handling this ends, marked done in
    the same transaction, so that an instance killed in between never leaves the dialogue moved
    on and its update to be handled again on top of it."""
    values = (row.name, row.step, row.nonce, json.dumps(row.draft, separators=(",", ":")), row.expires_at,
              " ".join(row.finished))
    if row.version == 0:
        sql = ("INSERT INTO dialogues (user_id, name, step, nonce, draft, expires_at, finished, version)"
               " VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (user_id) DO NOTHING")
        params: tuple[Any, ...] = (row.user_id, *values)
    else:
        sql = ("UPDATE dialogues SET name = ?, step = ?, nonce = ?, draft = ?, expires_at = ?, finished = ?,"
               " version = version + 1 WHERE user_id = ? AND version = ?")
        params = (*values, row.user_id, row.version)
    if finishing is None:  # one statement: written on every step of every dialogue, so one trip, not three
        return await db.write_one(sql, params) == 1
    async with db.transaction() as conn:
        changed = (await conn.execute(sql, params)).rowcount
        await conn.execute("UPDATE inbox SET done_at = ?, leased_until = NULL WHERE update_id = ?", (now, finishing))
    return changed == 1


async def expired_users(db: Database, now: float, limit: int = 100) -> list[int]:
    """Users whose open dialogue's time is up (to be closed in each one's turn: `close_expired`)."""
    rows = await db.fetchall("SELECT user_id FROM dialogues WHERE name IS NOT NULL AND expires_at <= ?"
                             " ORDER BY expires_at LIMIT ?", (now, limit))
    return [row[0] for row in rows]


async def close_expired(db: Database, user_id: int, now: float) -> DialogueRow | None:
    """Close the user's dialogue if its time is up; returns it as it was (to one caller only: the
    closing write, in the same transaction, is what claims it)."""
    async with db.transaction() as conn:
        row = await conn.fetchone("SELECT name, step, nonce, expires_at, version FROM dialogues"
                                  " WHERE user_id = ? AND name IS NOT NULL AND expires_at <= ?", (user_id, now))
        if row is None:
            return None
        await conn.execute("UPDATE dialogues SET name = NULL, step = '', draft = '{}', version = version + 1"
                           " WHERE user_id = ? AND version = ?", (user_id, row[4]))
    return DialogueRow(user_id, row[0], row[1], row[2], {}, row[3], (), row[4])
