"""Opening the database and bringing its schema up to date.

Migrations are the numbered `.sql` files in storage/migrations/ (001_users.sql, 002_…); each is
applied once, in order, inside a transaction, and recorded in `schema_migrations`. Their names
are checked against a strict pattern, so putting one into the script is safe.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")
_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


class Database:
    """One aiosqlite connection shared by the whole bot.

    Every write goes through `transaction()`, every other read through `fetchone`/`fetchall`:
    one asyncio lock keeps coroutines from interleaving statements on the shared connection.
    Inside a transaction, use the connection it yields (the lock is not re-entrant).
    """

    def __init__(self, conn: aiosqlite.Connection, point_reader: sqlite3.Connection | None = None) -> None:
        self.conn = conn
        self.closed = False
        self._lock = asyncio.Lock()
        self._point_reader = point_reader

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    await self.conn.execute("ROLLBACK")
                raise

    async def write_one(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One statement that is a transaction by itself (SQLite runs it atomically, committed at
        once), in one trip to aiosqlite's thread instead of three; returns the rows it changed."""
        async with self._lock:
            cursor = await self.conn.execute(sql, tuple(params))
            return cursor.rowcount

    async def read_point(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        """A read of one row by its key, run on the event loop itself: a WAL reader never waits
        for a writer, and such a read takes less time than the trip to aiosqlite's thread (it is
        made for every update: the user's dialogue). Falls back to `fetchone` if the database is
        busy (a checkpoint) for more than a moment."""
        if self._point_reader is not None:
            try:
                return self._point_reader.execute(sql, tuple(params)).fetchone()
            except sqlite3.OperationalError:
                log.debug("point read busy; reading through the writer's thread", exc_info=True)
        return await self.fetchone(sql, params)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        """A read outside any transaction: it waits for a running one, so it never sees another
        coroutine's half-done writes on the shared connection."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        # One trip to aiosqlite's thread (execute, fetch and close there), not three: under a
        # burst every trip waits for the event loop to come round again.
        async with self._lock:
            return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def close(self) -> None:
        self.closed = True
        if self._point_reader is not None:
            self._point_reader.close()
        await self.conn.close()


@asynccontextmanager
async def savepoint(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """A unit inside the caller's transaction: on an error only its own statements are undone.
    (One name serves nested units too: SQLite rolls back to the innermost of that name.)"""
    await conn.execute("SAVEPOINT unit")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # SQLite undoes the whole transaction itself on some errors (disk full)
            await conn.execute("ROLLBACK TO unit")
            await conn.execute("RELEASE unit")
        raise
    await conn.execute("RELEASE unit")


async def write_each(conn: aiosqlite.Connection, items: Sequence[T],
                     write: Callable[[Sequence[T]], Awaitable[None]]) -> dict[int, Exception]:
    """Write `items` inside the caller's transaction, each one its own unit: all at once in a
    savepoint (the fast path) and, if that fails, one per savepoint, so one item's failed write
    never undoes or stops another's. Returns the failures by position in `items`."""
    if not items:
        return {}
    try:
        async with savepoint(conn):
            await write(items)
        return {}
    except Exception:
        if not conn.in_transaction:  # the database undid the whole transaction (disk full, I/O): so do we
            raise
        log.warning("writing %d items at once failed; writing them one by one", len(items), exc_info=True)
    failures: dict[int, Exception] = {}
    for position, item in enumerate(items):
        try:
            async with savepoint(conn):
                await write([item])
        except Exception as exc:
            if not conn.in_transaction:
                raise
            failures[position] = exc
    return failures


async def open_database(path: Path) -> Database:
    """Open (creating the folder and file if needed) and migrate the database at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)  # we open transactions ourselves
    conn.row_factory = aiosqlite.Row
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA foreign_keys=ON")
    await conn.execute("PRAGMA busy_timeout=5000")
    await migrate(conn)
    uri = f"{path.resolve().as_uri()}?mode=ro"  # noqa: ASYNC240 - once, at start-up
    point_reader = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=0.05)
    point_reader.row_factory = sqlite3.Row
    return Database(conn, point_reader)


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
        # One script, one transaction: the migration and its record land together or not at all.
        record = f"INSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}')"
        script = f"BEGIN IMMEDIATE;\n{sql}\n;{record};\nCOMMIT;"
        try:
            await db.executescript(script)
        except BaseException:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            raise
        log.info("database migrated to %s", name)
        applied.append(version)
    return applied
