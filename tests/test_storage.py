"""The database: created on first start, migrated once, WAL mode."""

from __future__ import annotations

from pathlib import Path

from storage.database import migrate, migrations, open_database
from storage.users import get_user, touch_user


async def test_database_is_created_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.db"
    db = await open_database(path)
    try:
        assert path.exists()
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
        versions = [row[0] for row in await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [version for version, _, _ in migrations()] and versions[:2] == [1, 2]
        assert await migrate(db.conn) == []  # a second run applies nothing
    finally:
        await db.close()


async def test_users_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await open_database(path)
    await touch_user(db, 42, "Ann", "ann", "en")
    await touch_user(db, 42, "Ann B.", None, "de")
    await db.close()
    db = await open_database(path)
    try:
        user = await get_user(db, 42)
        assert user is not None and (user.first_name, user.username, user.language_code) == ("Ann B.", None, "de")
        assert await get_user(db, 43) is None
    finally:
        await db.close()
