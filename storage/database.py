"""Opening the database (SQLite or PostgreSQL) and bringing its schema up to date.

Both engines run the same repositories. Repositories write plain SQL in the subset both engines
share, with `?` (or `:name`) for every value; the one spelling with no common form, the current
time as ISO text (`NOW`), is rewritten for PostgreSQL here.

- PostgreSQL goes through SQLAlchemy 2 Core (async, asyncpg): each statement becomes one cached
  `text()` clause, run on a pooled connection.
- SQLite (the embedded default) is migrated through SQLAlchemy too (Alembic), but its statements go
  straight to aiosqlite: one trip to aiosqlite's thread each, where SQLAlchemy's adapter makes
  four (cursor, execute, fetch, close), which under a burst of customers made replies a third
  slower (bench/conversation_load.py). One connection for the whole process, one asyncio lock
  serialising statements on it, `BEGIN IMMEDIATE` for every transaction, and reads by key on the
  event loop itself (`read_point`, a WAL reader never waits for a writer).
- PostgreSQL (several instances): a pool; transactions run side by side (READ COMMITTED), so a
  repository that checks and then writes locks what it checks (`lock_user`, `FOR UPDATE`).

Schema changes are Alembic revisions (storage/alembic/); see `migrate`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.elements import TextClause

log = logging.getLogger(__name__)

T = TypeVar("T")
Params = Sequence[Any] | Mapping[str, Any]

# The current time as ISO-8601 text in UTC with milliseconds, as every timestamp column holds it.
NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
_PG_NOW = "iso_now()"  # defined by the PostgreSQL schema (storage/migrations/postgresql.sql)

SQLITE, POSTGRESQL = "sqlite", "postgresql"


class DatabaseError(Exception):
    """The database refused or failed a statement (either engine's error, wrapped by SQLAlchemy)."""


@dataclass(frozen=True)
class Target:
    """Where the database is: a SQLite file or a PostgreSQL URL."""

    dialect: str
    path: Path | None = None  # SQLite
    url: str = ""  # PostgreSQL, as given (a secret may be in it: never log it)

    @classmethod
    def parse(cls, where: str | Path) -> Target:
        if isinstance(where, Path):
            return cls(SQLITE, path=where)
        if where.startswith("sqlite:///"):
            return cls(SQLITE, path=Path(where.removeprefix("sqlite:///")))
        for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
            if where.startswith(prefix):
                return cls(POSTGRESQL, url="postgresql+asyncpg://" + where.removeprefix(prefix))
        raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")

    def shown(self) -> str:
        """For messages: the file, or the URL without its password."""
        if self.path is not None:
            return str(self.path)
        parts = urlsplit(self.url.replace("+asyncpg", "", 1))
        netloc = parts.netloc
        if "@" in netloc:  # the host follows the last @ (a password may hold one, unencoded)
            userinfo, host = netloc.rsplit("@", 1)
            netloc = (userinfo.split(":", 1)[0] + (":***" if ":" in userinfo else "")) + "@" + host
        query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


@functools.lru_cache(maxsize=2048)
def _clause(sql: str, dialect: str) -> TextClause:
    """`?` marks become named binds (`:_0`, `:_1`, …) outside string literals; the rest is kept."""
    if dialect == POSTGRESQL:
        sql = sql.replace(NOW, _PG_NOW)
    out, position, quoted = [], 0, False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "?" and not quoted:
            out.append(f":_{position}")
            position += 1
        else:
            out.append(char)
    return text("".join(out))


def _bound(params: Params) -> dict[str, Any]:
    if isinstance(params, Mapping):
        return dict(params)
    return {f"_{i}": value for i, value in enumerate(params)}


@contextmanager
def _as_sqlalchemy_errors(sql: str, params: object) -> Iterator[None]:
    """SQLite's errors as SQLAlchemy raises PostgreSQL's (IntegrityError, OperationalError…), so
    that callers see one family of errors whichever the engine."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc


def _sqlite_params(params: Params) -> tuple[Any, ...] | dict[str, Any]:
    return dict(params) if isinstance(params, Mapping) else tuple(params)


@dataclass(frozen=True)
class Result:
    rows: list[Sequence[Any]]  # rows by position (SQLAlchemy rows, or tuples)
    rowcount: int

    def first(self) -> Sequence[Any] | None:
        return self.rows[0] if self.rows else None


class Connection:
    """A connection inside a transaction (from `Database.transaction`), or outside one: a
    SQLAlchemy connection (PostgreSQL) or the aiosqlite one (SQLite)."""

    def __init__(self, conn: AsyncConnection | aiosqlite.Connection, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect

    async def execute(self, sql: str, params: Params = ()) -> Result:
        if isinstance(self._conn, aiosqlite.Connection):
            before = self._conn.total_changes  # rows changed by this statement, without a cursor trip
            with _as_sqlalchemy_errors(sql, params):
                rows = await self._conn.execute_fetchall(sql, _sqlite_params(params))
            return Result(list(rows), self._conn.total_changes - before)
        result = await self._conn.execute(_clause(sql, self.dialect), _bound(params))
        return Result(list(result.fetchall()) if result.returns_rows else [], result.rowcount)

    async def executemany(self, sql: str, params: Iterable[Params]) -> None:
        if isinstance(self._conn, aiosqlite.Connection):
            batch = [_sqlite_params(p) for p in params]
            with _as_sqlalchemy_errors(sql, batch):
                await self._conn.executemany(sql, batch)
            return
        batch = [_bound(p) for p in params]
        if batch:
            await self._conn.execute(_clause(sql, self.dialect), batch)

    async def fetchone(self, sql: str, params: Params = ()) -> Sequence[Any] | None:
        return (await self.execute(sql, params)).first()

    async def fetchall(self, sql: str, params: Params = ()) -> list[Sequence[Any]]:
        return (await self.execute(sql, params)).rows

    async def stream(self, sql: str, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        """A large read, `batch` rows at a time (a server-side cursor on PostgreSQL)."""
        if isinstance(self._conn, aiosqlite.Connection):
            async with self._conn.execute(sql) as cursor:
                while rows := await cursor.fetchmany(batch):
                    yield [tuple(row) for row in rows]
            return
        result = await self._conn.stream(_clause(sql, self.dialect))
        try:
            async for part in result.partitions(batch):
                yield [tuple(row) for row in part]
        finally:
            await result.close()

    async def lock_user(self, user_id: int) -> None:
        """Hold the user's row until the transaction ends, so that a check of their balance and
        the write that depends on it are not interleaved with another instance's. (SQLite needs
        nothing: `BEGIN IMMEDIATE` already holds the whole database.)"""
        if self.dialect == POSTGRESQL:
            # NO KEY: inserts that reference the user (ledger, notifications) still pass; only
            # another such decision waits.
            await self.execute("SELECT 1 FROM users WHERE user_id = ? FOR NO KEY UPDATE", (user_id,))

    async def one_at_a_time(self, key: int) -> None:
        """Until this transaction ends, another instance's transaction asking for the same `key`
        waits (a PostgreSQL advisory lock; SQLite's `BEGIN IMMEDIATE` already holds everything)."""
        if self.dialect == POSTGRESQL:
            await self.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    @property
    def in_transaction(self) -> bool:
        """False when SQLite undid the whole transaction by itself (a full disk, an I/O error, a
        RAISE(ROLLBACK)); PostgreSQL never ends one on its own."""
        return self._conn.in_transaction if isinstance(self._conn, aiosqlite.Connection) else True

    @property
    def for_update(self) -> str:
        """`FOR UPDATE` on PostgreSQL: the row read is held until the transaction ends (SQLite's
        `BEGIN IMMEDIATE` already holds the whole database, and it has no such clause)."""
        return " FOR UPDATE" if self.dialect == POSTGRESQL else ""

    @property
    def skip_locked(self) -> str:
        """`FOR UPDATE SKIP LOCKED` where rows are claimed by one instance of several; SQLite has
        one writer at a time and no such clause."""
        return " FOR UPDATE SKIP LOCKED" if self.dialect == POSTGRESQL else ""


class Database:
    """The shop's database, whichever engine; see the module's docstring."""

    def __init__(self, engine: AsyncEngine, target: Target, held: aiosqlite.Connection | None = None,
                 point_reader: sqlite3.Connection | None = None, owner: str = "") -> None:
        self.engine = engine
        self.owner = owner  # this process's name in claims (an order being placed), "" if none
        self.target = target
        self.dialect = target.dialect
        self.closed = False
        self._held = held  # SQLite: the one connection
        self._lock = asyncio.Lock()
        self._point_reader = point_reader
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def _check_open(self) -> None:
        if self.closed:  # (a pool would quietly open new connections)
            raise DatabaseError("the database is closed")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        self._check_open()
        if self._held is not None:
            async with self._lock:
                await self._held.execute("BEGIN IMMEDIATE")
                try:
                    yield Connection(self._held, SQLITE)
                    await self._held.execute("COMMIT")
                except BaseException:
                    if self._held.in_transaction:  # SQLite undoes some failures itself (disk full)
                        await self._held.execute("ROLLBACK")
                    raise
            return
        async with self.engine.begin() as sa_conn:
            yield Connection(sa_conn, self.dialect)

    @asynccontextmanager
    async def _outside(self) -> AsyncIterator[Connection]:
        """A statement that is its own transaction: on SQLite the shared connection (it is in
        autocommit mode between transactions), on PostgreSQL a pooled one in autocommit."""
        self._check_open()
        if self._held is not None:
            async with self._lock:
                yield Connection(self._held, SQLITE)
            return
        async with self._autocommit.connect() as sa_conn:
            yield Connection(sa_conn, self.dialect)

    async def write_one(self, sql: str, params: Params = ()) -> int:
        """One statement that is a transaction by itself, in one trip; returns the rows it changed."""
        async with self._outside() as conn:
            return (await conn.execute(sql, params)).rowcount

    async def read_point(self, sql: str, params: Sequence[Any] = ()) -> Sequence[Any] | None:
        """A read of one row by its key. On SQLite it runs on the event loop itself: a WAL reader
        never waits for a writer, and such a read takes less time than the trip to aiosqlite's
        thread (it is made for every update: the user's dialogue). Falls back to `fetchone` if
        the database is busy (a checkpoint) for more than a moment."""
        if self._point_reader is not None:
            try:
                return self._point_reader.execute(sql, tuple(params)).fetchone()  # type: ignore[no-any-return]
            except sqlite3.OperationalError:
                log.debug("point read busy; reading through the writer's thread", exc_info=True)
        return await self.fetchone(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Sequence[Any] | None:
        """A read outside any transaction (on SQLite it waits for a running one, so it never
        sees another coroutine's half-done writes on the shared connection)."""
        async with self._outside() as conn:
            return await conn.fetchone(sql, params)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Sequence[Any]]:
        async with self._outside() as conn:
            return await conn.fetchall(sql, params)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._point_reader is not None:
            self._point_reader.close()
        if self._held is not None:
            await self._held.close()
        await self.engine.dispose()


@asynccontextmanager
async def savepoint(conn: Connection) -> AsyncIterator[None]:
    """A unit inside the caller's transaction: on an error only its own statements are undone.
    (One name serves nested units too: both engines roll back to the innermost of that name.)"""
    await conn.execute("SAVEPOINT unit")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK TO SAVEPOINT unit")
            await conn.execute("RELEASE SAVEPOINT unit")
        raise
    await conn.execute("RELEASE SAVEPOINT unit")


async def write_each(conn: Connection, items: Sequence[T],
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


async def open_database(where: str | Path, *, pool_size: int = 10, owner: str = "") -> Database:
    """Open and migrate the database at `where` (a SQLite path or URL, or a PostgreSQL URL);
    a SQLite file and its folder are created if needed. `owner`: the name this process (an
    instance of the bot) goes by in what it claims."""
    target = Target.parse(where)
    if target.dialect == POSTGRESQL:
        engine = create_async_engine(target.url, pool_size=pool_size, max_overflow=pool_size,
                                     pool_pre_ping=True, pool_recycle=1800)
        try:
            await migrate(engine)
        except BaseException:
            await engine.dispose()
            raise
        return Database(engine, target, owner=owner)
    assert target.path is not None
    target.path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: the driver never opens transactions behind our back; we do.
    engine = create_async_engine(f"sqlite+aiosqlite:///{target.path}", connect_args={"isolation_level": None})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()  # (kept for `migrate`; statements use the connection below)
    held = await aiosqlite.connect(target.path, isolation_level=None)  # we open transactions ourselves
    for pragma in _SQLITE_PRAGMAS:
        await held.execute(f"PRAGMA {pragma}")
    uri = f"{target.path.resolve().as_uri()}?mode=ro"
    point_reader = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=0.05)
    return Database(engine, target, held, point_reader, owner=owner)


_SQLITE_PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


async def migrate(engine: AsyncEngine) -> list[str]:
    """Bring the schema to Alembic's head; returns the revisions applied (see storage/alembic/)."""
    from storage.alembic.runner import upgrade

    if engine.dialect.name == SQLITE:
        async with engine.connect() as conn:  # one script at a time, as the legacy runner did
            return await conn.run_sync(upgrade)
    async with engine.begin() as conn:
        # Instances starting together: one migrates, the others wait for it and find nothing to do.
        await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7256001)")
        return await conn.run_sync(upgrade)
