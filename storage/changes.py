"""The log of changes other instances must reload: a ban, a language chosen, the catalogue.

An instance keeps some of the database in memory (who is banned, each user's language, the
catalogue with its rules). Whatever changes one of them writes a row here in the same
transaction; every instance reads the rows of the last minute every couple of seconds and
reloads what they name. (Rows are read by time, not by id: on PostgreSQL an id taken earlier
may commit later.)
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Connection, Database

USER, CATALOGUE = "user", "catalogue"


@dataclass(frozen=True)
class Change:
    change_id: int
    kind: str
    subject: str


async def note_change(conn: Connection, kind: str, subject: object = "", *, now: float) -> None:
    """Inside the transaction that makes the change."""
    await conn.execute("INSERT INTO changes (kind, subject, created_at) VALUES (?, ?, ?)", (kind, str(subject), now))


async def changes_since(db: Database, since: float) -> list[Change]:
    rows = await db.fetchall("SELECT change_id, kind, subject FROM changes WHERE created_at >= ?"
                             " ORDER BY change_id", (since,))
    return [Change(int(r[0]), str(r[1]), str(r[2])) for r in rows]


async def prune_changes(db: Database, *, before: float) -> int:
    return await db.write_one("DELETE FROM changes WHERE created_at < ?", (before,))
