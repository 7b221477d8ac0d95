"""The users repository."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storage.changes import USER, note_change
from storage.database import NOW, Connection, Database


@dataclass(frozen=True)
class User:
    user_id: int
    first_name: str
    username: str | None
    language_code: str | None
    first_seen_at: str
    last_seen_at: str
    blocked_at: str | None = None
    banned_at: str | None = None


async def touch_user(db: Database, user_id: int, first_name: str, username: str | None,
                     language_code: str | None) -> None:
    """Record that the user has been seen now (creating them on first sight)."""
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO users (user_id, first_name, username, language_code) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id) DO UPDATE SET first_name = excluded.first_name,"
            " username = excluded.username, language_code = excluded.language_code, blocked_at = NULL,"
            f" last_seen_at = {NOW}",
            (user_id, first_name, username, language_code),
        )


async def get_user(db: Database, user_id: int) -> User | None:
    row = await db.fetchone(
        "SELECT user_id, first_name, username, language_code, first_seen_at, last_seen_at, blocked_at, banned_at"
        " FROM users WHERE user_id = ?", (user_id,),
    )
    return User(*row) if row else None


async def user_exists(db: Database, user_id: int) -> bool:
    return await db.fetchone("SELECT 1 FROM users WHERE user_id = ?", (user_id,)) is not None


async def set_banned(conn: Connection, user_id: int, banned: bool) -> bool:
    """Ban or unban inside the caller's transaction; returns whether anything changed. An unbanned
    user is told again if banned once more."""
    if banned:
        cursor = await conn.execute(f"UPDATE users SET banned_at = {NOW}, ban_told = 0"
                                    " WHERE user_id = ? AND banned_at IS NULL", (user_id,))
    else:
        cursor = await conn.execute("UPDATE users SET banned_at = NULL WHERE user_id = ? AND banned_at IS NOT NULL",
                                    (user_id,))
    if cursor.rowcount == 1:
        await note_change(conn, USER, user_id, now=time.time())  # other instances reload the user
    return cursor.rowcount == 1


async def banned_ids(db: Database) -> set[int]:
    return {int(row[0]) for row in await db.fetchall("SELECT user_id FROM users WHERE banned_at IS NOT NULL")}


async def claim_ban_notice(db: Database, user_id: int) -> bool:
    """True exactly once per ban: the caller tells the user that access is closed."""
    async with db.transaction() as conn:
        cursor = await conn.execute("UPDATE users SET ban_told = 1 WHERE user_id = ? AND banned_at IS NOT NULL"
                                    " AND ban_told = 0", (user_id,))
        return cursor.rowcount == 1


async def mark_seen(db: Database, user_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(f"UPDATE users SET last_seen_at = {NOW} WHERE user_id = ?", (user_id,))


async def recent_users(db: Database, limit: int, leave_out: frozenset[int] = frozenset()) -> list[User]:
    """The users seen most recently (admins left out)."""
    rows = await db.fetchall(
        "SELECT user_id, first_name, username, language_code, first_seen_at, last_seen_at, blocked_at, banned_at"
        " FROM users ORDER BY last_seen_at DESC LIMIT ?", (limit + len(leave_out),))
    return [User(*row) for row in rows if row[0] not in leave_out][:limit]


async def chosen_languages(db: Database) -> dict[int, str]:
    """Every user's chosen language (users who chose none are not listed)."""
    rows = await db.fetchall("SELECT user_id, language FROM users WHERE language IS NOT NULL")
    return {int(user_id): str(language) for user_id, language in rows}


async def set_language(db: Database, user_id: int, language: str | None) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE users SET language = ? WHERE user_id = ?", (language, user_id))
        await note_change(conn, USER, user_id, now=time.time())


async def access_of(db: Database, user_id: int) -> tuple[bool, str | None]:
    """(banned, chosen language) as stored now: what an instance keeps of a user in memory."""
    row = await db.fetchone("SELECT banned_at, language FROM users WHERE user_id = ?", (user_id,))
    return (row[0] is not None, row[1]) if row is not None else (False, None)


async def reader_of(db: Database, user_id: int) -> tuple[str | None, str | None]:
    """The user's chosen language and Telegram language code (what `i18n.resolve` reads)."""
    row = await db.fetchone("SELECT language, language_code FROM users WHERE user_id = ?", (user_id,))
    return (row[0], row[1]) if row is not None else (None, None)
