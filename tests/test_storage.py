"""The database: created on first start, migrated once, WAL mode."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from storage.database import migrate, migrations, open_database
from storage.ledger import add_entry, balance_micros
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


async def test_a_database_at_version_2_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    """An existing shop's database (here stopped after 002) gets only the newer migrations, and
    its users and ledger survive them (005 rebuilds the ledger table)."""
    path = tmp_path / "old.db"
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                           " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
        for version, name, sql in migrations()[:2]:
            await conn.executescript(sql)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
        await conn.execute("INSERT INTO users (user_id, first_name, username) VALUES (42, 'Ann', 'ann')")
        await conn.execute("INSERT INTO ledger (user_id, amount_micros, currency, reason, admin_id, note)"
                           " VALUES (42, 12500000, 'USD', 'credit', 900, 'before the upgrade')")
        later = [version for version, _, _ in migrations() if version > 2]
        assert later  # there is something to upgrade to
        assert await migrate(conn) == later
        assert await migrate(conn) == []
    finally:
        await conn.close()
    db = await open_database(path)
    try:
        versions = [row[0] for row in await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [version for version, _, _ in migrations()]
        user = await get_user(db, 42)
        assert user is not None and (user.first_name, user.username) == ("Ann", "ann")
        rows = await db.fetchall("SELECT user_id, amount_micros, currency, reason, admin_id, note FROM ledger")
        assert [tuple(row) for row in rows] == [(42, 12500000, "USD", "credit", 900, "before the upgrade")]
        assert await balance_micros(db, 42) == 12500000
        async with db.transaction() as conn:  # the upgraded ledger takes the newer kinds of entry
            assert await add_entry(conn, 42, 1000000, "USD", "topup", ref="manual:1")
        assert await balance_micros(db, 42) == 13500000
    finally:
        await db.close()
