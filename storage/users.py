"""The users repository."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database


@dataclass(frozen=True)
class User:
    user_id: int
    first_name: str
    username: str | None
    language_code: str | None
    first_seen_at: str
    last_seen_at: str


async def touch_user(db: Database, user_id: int, first_name: str, username: str | None,
                     language_code: str | None) -> None:
    """Record that the user has been seen now (creating them on first sight)."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO users (user_id, first_name, username, language_code) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET first_name = excluded.first_name,"
            " username = excluded.username, language_code = excluded.language_code, blocked_at = NULL,"
            " last_seen_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            (user_id, first_name, username, language_code),
        )


async def get_user(db: Database, user_id: int) -> User | None:
    row = await db.fetchone(
        "SELECT user_id, first_name, username, language_code, first_seen_at, last_seen_at"
        " FROM users WHERE user_id = ?", (user_id,),
    )
    return User(*row) if row else None


async def user_exists(db: Database, user_id: int) -> bool:
    return await db.fetchone("SELECT 1 FROM users WHERE user_id = ?", (user_id,)) is not None
