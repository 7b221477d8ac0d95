"""Small named facts the bot learns at run time."""

from __future__ import annotations

from storage.database import Connection, Database


async def get_value(db: Database, key: str) -> str | None:
    row = await db.fetchone("SELECT value FROM kv WHERE key = ?", (key,))
    return row[0] if row else None


async def set_value(db: Database, key: str, value: str) -> None:
    async with db.transaction() as conn:
        await put_value(conn, key, value)


async def put_value(conn: Connection, key: str, value: str) -> None:
    """`set_value` inside the caller's transaction."""
    await conn.execute("INSERT INTO kv (key, value) VALUES (?, ?)"
                       " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))
