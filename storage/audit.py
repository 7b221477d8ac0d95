"""The audit trail of admin actions: who did what to what, the value before and after."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Connection, Database


@dataclass(frozen=True)
class AuditEntry:
    audit_id: int
    admin_id: int
    action: str
    target: str
    before: str
    after: str
    created_at: str


async def record(conn: Connection, admin_id: int, action: str, target: object = "", *,
                 before: object = "", after: object = "") -> None:
    """Write one entry inside the caller's transaction, so it lands with the change it records."""
    await conn.execute("INSERT INTO audit (admin_id, action, target, before, after) VALUES (?, ?, ?, ?, ?)",
                       (admin_id, action, str(target)[:300], str(before)[:300], str(after)[:300]))


async def record_now(db: Database, admin_id: int, action: str, target: object = "", *,
                     before: object = "", after: object = "") -> None:
    """An entry of its own, for actions that change nothing in the database (a refresh, a send)."""
    async with db.transaction() as conn:
        await record(conn, admin_id, action, target, before=before, after=after)


async def recent_entries(db: Database, limit: int = 15) -> list[AuditEntry]:
    rows = await db.fetchall("SELECT audit_id, admin_id, action, target, before, after, created_at FROM audit"
                             " ORDER BY audit_id DESC LIMIT ?", (limit,))
    return [AuditEntry(*row) for row in rows]
