"""The database a test runs on: a SQLite file in its tmp_path, or, with TEST_POSTGRES_URL set
(e.g. postgresql://postgres@127.0.0.1:5432/postgres), a PostgreSQL database of its own.

Each path a test uses gets a database of its own, the same one each time, so a test that reopens
its file (a restart) reopens the same database. Databases are copied from one template migrated
once per run; when the test ends (tests/conftest.py) they are emptied (TRUNCATE, identities
restarted) and kept for the next test, since creating one costs a tenth of a second.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from storage.database import Database

TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "").strip()
ENGINE = "postgresql" if TEST_POSTGRES_URL else "sqlite"
_PREFIX = f"smmbot_t{os.getpid()}_"
_created: set[str] = set()  # every database this run made
_in_use: dict[str, str] = {}  # path → database, this test's
_free: list[str] = []  # emptied, ready for the next test
_template: str | None = None


def postgres_url(name: str) -> str:
    """TEST_POSTGRES_URL pointing at database `name`."""
    parts = urlsplit(TEST_POSTGRES_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def database_url(path: Path) -> str:
    """The DATABASE_URL for a test that would keep its database at `path`."""
    if not TEST_POSTGRES_URL:
        return f"sqlite:///{path}"
    key = str(path)
    if key not in _in_use:
        if _free:
            _in_use[key] = _free.pop()
        else:
            name = _PREFIX + hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()[:16]
            template = await _migrated_template()
            await admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            _created.add(name)
            _in_use[key] = name
    return postgres_url(_in_use[key])


async def database_at(path: Path) -> str | Path:
    """What `open_database` takes: the path itself on SQLite, else the test's PostgreSQL URL."""
    return path if not TEST_POSTGRES_URL else await database_url(path)


async def admin(sql: str) -> None:
    conn = await asyncpg.connect(TEST_POSTGRES_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _migrated_template() -> str:
    global _template
    if _template is None:
        from storage.database import open_database

        name = _PREFIX + "template"
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin(f'CREATE DATABASE "{name}"')
        db = await open_database(postgres_url(name))
        await db.close()
        _template = name
    return _template


async def release_used() -> None:
    """The test is over: empty its databases for the next test (ending connections it left open);
    one whose schema the test changed is dropped instead."""
    while _in_use:
        _, name = _in_use.popitem()
        if not await _empty(name):
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _created.discard(name)
        else:
            _free.append(name)


async def _empty(name: str) -> bool:
    conn = await asyncpg.connect(postgres_url(name))
    try:
        await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                           " WHERE datname = current_database() AND pid <> pg_backend_pid()")
        tables = [r[0] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                                                 " AND tablename <> 'alembic_version'")]
        if sorted(tables) != await _template_tables():
            return False
        await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        return True
    finally:
        await conn.close()


_tables: list[str] = []


async def _template_tables() -> list[str]:
    if not _tables:
        conn = await asyncpg.connect(postgres_url(await _migrated_template()))
        try:
            _tables.extend(sorted(r[0] for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")))
        finally:
            await conn.close()
    return _tables


async def drop_all() -> None:
    """The run is over: drop every database it made, the template last."""
    global _template
    for name in sorted(_created):
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _created.clear()
    if _template is not None:
        await admin(f'DROP DATABASE IF EXISTS "{_template}" WITH (FORCE)')
        _template = None


async def refuse_updates(db: Database, name: str, *, when: str, message: str, columns: str = "") -> None:
    """Make the database refuse some updates of `orders` (a full disk, a broken row), on either
    engine: `when` is the condition on OLD/NEW, `columns` e.g. "state" for `UPDATE OF state`."""
    of = f" OF {columns}" if columns else ""
    async with db.transaction() as conn:
        if db.dialect == "sqlite":
            await conn.execute(f"CREATE TRIGGER {name} BEFORE UPDATE{of} ON orders WHEN {when}"
                               f" BEGIN SELECT RAISE(ABORT, '{message}'); END")
            return
        await conn.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS"
                           f" $$ BEGIN RAISE EXCEPTION '{message}'; END $$")
        await conn.execute(f"CREATE TRIGGER {name} BEFORE UPDATE{of} ON orders FOR EACH ROW WHEN ({when})"
                           f" EXECUTE FUNCTION {name}()")


async def allow_updates(db: Database, name: str) -> None:
    async with db.transaction() as conn:
        if db.dialect == "sqlite":
            await conn.execute(f"DROP TRIGGER {name}")
            return
        await conn.execute(f"DROP TRIGGER {name} ON orders")
        await conn.execute(f"DROP FUNCTION {name}()")
