"""The users repository."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True)
class User:
    user_id: int
    first_name: str
    username: str | None
    language_code: str | None
    first_seen_at: str
    last_seen_at: str


async def touch_user(db: aiosqlite.Connection, user_id: int, first_name: str, username: str | None,
                     language_code: str | None) -> None:
    """Record that the user has been seen now (creating them on first sight)."""
    await db.execute(
        "INSERT INTO users (user_id, first_name, username, language_code) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET first_name = excluded.first_name,"
        " username = excluded.username, language_code = excluded.language_code,"
        " last_seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        (user_id, first_name, username, language_code),
    )


async def get_user(db: aiosqlite.Connection, user_id: int) -> User | None:
    async with db.execute(
        "SELECT user_id, first_name, username, language_code, first_seen_at, last_seen_at"
        " FROM users WHERE user_id = ?", (user_id,),
    ) as cursor:
        row = await cursor.fetchone()
    return User(*row) if row else None
