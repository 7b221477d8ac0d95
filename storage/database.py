"""Opening the database and bringing its schema up to date.

Migrations are the numbered `.sql` files in storage/migrations/ (001_users.sql, 002_…); each is
applied once, in order, inside a transaction, and recorded in `schema_migrations`.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def open_database(path: Path) -> aiosqlite.Connection:
    """Open (creating the folder and file if needed) and migrate the database at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = await aiosqlite.connect(path, isolation_level=None)  # we open transactions ourselves
    db.row_factory = aiosqlite.Row
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA foreign_keys=ON")
    await db.execute("PRAGMA busy_timeout=5000")
    await migrate(db)
    return db


async def migrate(db: aiosqlite.Connection) -> list[int]:
    """Apply the migrations this database has not seen; returns the versions applied."""
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
    )
    async with db.execute("SELECT version FROM schema_migrations") as cursor:
        done = {row[0] async for row in cursor}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                await db.execute(statement)
            await db.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        log.info("database migrated to %s", name)
        applied.append(version)
    return applied


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (migrations hold no semicolons inside literals)."""
    return [part.strip() for part in sql.split(";") if part.strip()]
