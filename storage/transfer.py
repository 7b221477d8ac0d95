"""Moving a shop from one database to another (SQLite → PostgreSQL, or back): `python -m bot
migrate-data --from X --to Y`.

Both databases are opened with `open_database`, so both are at Alembic's head. The tables and
their columns are read from the databases themselves (SQLite: `sqlite_master`, `PRAGMA`;
PostgreSQL: `information_schema`), copied in foreign-key order with their ids as they are, in
batches, inside one transaction on the target (a failure leaves it as empty as it was), from one
consistent snapshot of the source. The target's identity sequences are then moved past the
copied ids, and the two ledgers are compared: money is integers (micro-units) on both sides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from storage.database import POSTGRESQL, SQLITE, Connection, Database, Target, open_database

# Not the shop's data: each database keeps its own schema version (and SQLite its legacy record
# and AUTOINCREMENT counters, which follow the copied ids by themselves).
SKIPPED = frozenset({"alembic_version", "schema_migrations"})


class TransferError(Exception):
    """The copy cannot be made (nothing was written to the target)."""


class TargetNotEmpty(TransferError):
    """The target already holds shop data."""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    types: dict[str, str]
    primary_key: tuple[str, ...]
    references: frozenset[str]  # the tables its foreign keys point at


@dataclass(frozen=True)
class TableCount:
    name: str
    source: int
    target: int

    @property
    def equal(self) -> bool:
        return self.source == self.target


@dataclass(frozen=True)
class LedgerReport:
    entries: tuple[int, int]  # (source, target)
    users: int  # users whose balance was compared
    differences: tuple[str, ...] = ()

    @property
    def equal(self) -> bool:
        return not self.differences


@dataclass(frozen=True)
class TransferReport:
    tables: tuple[TableCount, ...]
    ledger: LedgerReport
    sequences: tuple[str, ...] = field(default=())  # "table.column" reset on PostgreSQL

    @property
    def equal(self) -> bool:
        return all(t.equal for t in self.tables) and self.ledger.equal

    def differences(self) -> list[str]:
        found = [f"{t.name}: {t.source} rows in the source, {t.target} in the target"
                 for t in self.tables if not t.equal]
        return found + list(self.ledger.differences)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- the schema, as found

async def read_schema(db: Database) -> dict[str, Table]:
    """Every table of the database (but SQLite's own), with its columns in order."""
    if db.dialect == SQLITE:
        return await _sqlite_schema(db)
    if db.dialect == POSTGRESQL:
        return await _postgresql_schema(db)
    raise TransferError(f"unknown database engine {db.dialect}")


async def _sqlite_schema(db: Database) -> dict[str, Table]:
    names = [r[0] for r in await db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        " ORDER BY name")]
    tables = {}
    for name in names:
        info = await db.fetchall(f"PRAGMA table_info({_quoted(name)})")  # cid, name, type, notnull, dflt, pk
        keys = await db.fetchall(f"PRAGMA foreign_key_list({_quoted(name)})")  # id, seq, table, from, to…
        tables[name] = Table(
            name=name, columns=tuple(r[1] for r in info), types={r[1]: str(r[2]).upper() for r in info},
            primary_key=tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])),
            references=frozenset(r[2] for r in keys))
    return tables


async def _postgresql_schema(db: Database) -> dict[str, Table]:
    columns: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for table, column, data_type in await db.fetchall(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
            " JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
            " ORDER BY c.table_name, c.ordinal_position"):
        columns[table].append((column, str(data_type).upper()))
    keys: dict[str, list[str]] = defaultdict(list)
    for table, column in await db.fetchall(
            "SELECT k.table_name, k.column_name FROM information_schema.table_constraints c"
            " JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema"
            " AND k.constraint_name = c.constraint_name AND k.table_name = c.table_name"
            " WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()"
            " ORDER BY k.table_name, k.ordinal_position"):
        keys[table].append(column)
    references: dict[str, set[str]] = defaultdict(set)
    for table, referenced in await db.fetchall(
            "SELECT c.relname, r.relname FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
            " JOIN pg_class r ON r.oid = k.confrelid"
            " WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace"):
        references[table].add(referenced)
    return {name: Table(name=name, columns=tuple(c for c, _ in cols), types=dict(cols),
                        primary_key=tuple(keys.get(name, ())), references=frozenset(references.get(name, ())))
            for name, cols in sorted(columns.items())}


def plan(source: dict[str, Table], target: dict[str, Table]) -> list[tuple[Table, tuple[str, ...]]]:
    """The tables to copy, in foreign-key order, each with the columns to copy (those both
    sides have). Refuses a source table or column the target lacks: its data would be lost."""
    copied = {name: table for name, table in source.items() if name not in SKIPPED}
    missing = sorted(name for name in copied if name not in target)
    if missing:
        raise TransferError(f"the target has no table {', '.join(missing)}: is it the same version of the bot?")
    lacking = [f"{name}.{column}" for name, table in copied.items() for column in table.columns
               if column not in target[name].columns]
    if lacking:
        raise TransferError(f"the target has no column {', '.join(lacking)} (the source has): "
                            "is it the same version of the bot?")
    ordered = _in_foreign_key_order({name: (copied[name].references | target[name].references) & copied.keys()
                                     for name in copied})
    return [(copied[name], tuple(c for c in copied[name].columns if c in target[name].columns)) for name in ordered]


def _in_foreign_key_order(references: dict[str, frozenset[str] | set[str]]) -> list[str]:
    """Every table after the tables it references (by name where the order is free)."""
    waiting = {name: set(refs) - {name} for name, refs in references.items()}
    ordered: list[str] = []
    while waiting:
        ready = sorted(name for name, refs in waiting.items() if not refs)
        if not ready:
            raise TransferError(f"the foreign keys of {', '.join(sorted(waiting))} form a cycle")
        for name in ready:
            del waiting[name]
            ordered.append(name)
        for refs in waiting.values():
            refs.difference_update(ready)
    return ordered


# --------------------------------------------------------------------------- the copy

@asynccontextmanager
async def _snapshot(db: Database) -> AsyncIterator[Connection]:
    """A transaction whose reads all see the database at one moment. (SQLite's BEGIN IMMEDIATE
    also keeps writers out until the copy is done.)"""
    async with db.transaction() as conn:
        if db.dialect == POSTGRESQL:
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield conn


async def _count(conn: Connection | Database, table: str) -> int:
    row = await conn.fetchone(f"SELECT COUNT(*) FROM {_quoted(table)}")
    return int(row[0]) if row else 0


async def _batches(conn: Connection, table: Table, columns: Sequence[str], batch: int
                   ) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The table's rows in primary-key order (so that an order's refunds come after its charge,
    as the ledger's rule wants), `batch` at a time, read with a server-side cursor."""
    order = table.primary_key or tuple(columns)
    sql = (f"SELECT {', '.join(map(_quoted, columns))} FROM {_quoted(table.name)}"
           f" ORDER BY {', '.join(map(_quoted, order))}")
    async for part in conn.stream(sql, batch):
        yield part


_INTEGER, _REAL = ("INT",), ("REAL", "FLOA", "DOUB")


def _converter(target_type: str) -> Any:
    """A value as the target column takes it: SQLite may hand back a whole REAL as an integer
    (or PostgreSQL's driver insist on a float); money columns are integers on both engines."""
    if any(word in target_type for word in _REAL):
        return lambda value: float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if any(word in target_type for word in _INTEGER):
        return lambda value: int(value) if isinstance(value, float) and value.is_integer() else value
    return None


async def copy_shop(source: Database, target: Database, *, batch: int = 1000) -> TransferReport:
    """Copy every table of `source` into the empty `target` (see the module's docstring), then
    compare them. Raises TargetNotEmpty or TransferError before anything is written."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    source_schema, target_schema = await read_schema(source), await read_schema(target)
    tables = plan(source_schema, target_schema)
    sequences: list[str] = []
    async with _snapshot(source) as reader, target.transaction() as writer:
        occupied = [f"{table.name} ({n})" for table, _ in tables if (n := await _count(writer, table.name))]
        if occupied:
            raise TargetNotEmpty(f"the target already holds shop data: {', '.join(occupied)}")
        for table, columns in tables:
            converters = [_converter(target_schema[table.name].types.get(c, "")) for c in columns]
            insert = (f"INSERT INTO {_quoted(table.name)} ({', '.join(map(_quoted, columns))})"
                      f" VALUES ({', '.join('?' * len(columns))})")
            async for rows in _batches(reader, table, columns, batch):
                if any(converters):
                    rows = [tuple(v if f is None or v is None else f(v) for f, v in zip(converters, row, strict=True))
                            for row in rows]
                await writer.executemany(insert, rows)
        if target.dialect == POSTGRESQL:
            sequences = await _reset_sequences(writer)
    counts = tuple([TableCount(table.name, await _count(source, table.name), await _count(target, table.name))
                    for table, _ in tables])
    return TransferReport(counts, await compare_ledgers(source, target), tuple(sequences))


async def _reset_sequences(conn: Connection) -> list[str]:
    """Every identity or serial column's sequence continues after the largest id copied (or
    starts at 1 on an empty table), so new rows get fresh ids."""
    found = await conn.fetchall(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND (is_identity = 'YES' OR column_default LIKE 'nextval(%') ORDER BY table_name, column_name")
    reset = []
    for table, column in found:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({_quoted(column)}), 1),"
            f" MAX({_quoted(column)}) IS NOT NULL) FROM {_quoted(table)}", (_quoted(table), column))
        reset.append(f"{table}.{column}")
    return reset


# --------------------------------------------------------------------------- the check

async def _ledger_figures(db: Database) -> tuple[int, dict[tuple[int, str], tuple[int, int]], dict[int, int]]:
    """(entries, {(user, currency): (sum, entries)}, {user: balance}) — integers on both engines
    (PostgreSQL's SUM of BIGINT is NUMERIC: exact, converted with int())."""
    total = await _count(db, "ledger")
    sums = {(int(user), str(currency)): (int(amount), int(n)) for user, currency, amount, n in await db.fetchall(
        "SELECT user_id, currency, SUM(amount_micros), COUNT(*) FROM ledger GROUP BY user_id, currency")}
    balances = {int(user): int(amount) for user, amount in await db.fetchall(
        "SELECT u.user_id, COALESCE(SUM(l.amount_micros), 0) FROM users u"
        " LEFT JOIN ledger l ON l.user_id = u.user_id GROUP BY u.user_id")}
    return total, sums, balances


async def compare_ledgers(source: Database, target: Database, *, limit: int = 20) -> LedgerReport:
    """The two ledgers hold the same money: as many entries, the same sum and number of entries
    per user and currency, and every user's balance the same. At most `limit` differences are
    listed (and how many more there were)."""
    entries_a, sums_a, balances_a = await _ledger_figures(source)
    entries_b, sums_b, balances_b = await _ledger_figures(target)
    differences = []
    if entries_a != entries_b:
        differences.append(f"ledger: {entries_a} entries in the source, {entries_b} in the target")
    for key in sorted(sums_a.keys() | sums_b.keys()):
        a, b = sums_a.get(key, (0, 0)), sums_b.get(key, (0, 0))
        if a != b:
            differences.append(f"ledger of user {key[0]} in {key[1]}: {a[0]} micros in {a[1]} entries in the source,"
                               f" {b[0]} micros in {b[1]} entries in the target")
    for user in sorted(balances_a.keys() | balances_b.keys()):
        a_balance, b_balance = balances_a.get(user), balances_b.get(user)
        if a_balance != b_balance:
            differences.append(f"balance of user {user}: {_shown(a_balance)} in the source,"
                               f" {_shown(b_balance)} in the target")
    if len(differences) > limit:
        differences[limit:] = [f"… and {len(differences) - limit} more"]
    return LedgerReport((entries_a, entries_b), len(balances_a), tuple(differences))


def _shown(micros: int | None) -> str:
    return "no such user" if micros is None else f"{micros} micros"


# --------------------------------------------------------------------------- `python -m bot migrate-data`

async def run_migration(source_url: str, target_url: str, *, batch: int = 1000,
                        say: Callable[[str], None] = print, warn: Callable[[str], None] = print) -> int:
    """Open both databases (migrating each to Alembic's head), copy, check, and tell `say` what
    was done (`warn` what went wrong, in one line). Returns the exit status: 0 copied and found
    equal, 1 the copy failed (the target is left as it was) or a difference was found after it,
    2 refused before anything was written (a wrong URL, no such file, a target that is not empty,
    a schema that does not match). A password in a URL is never shown."""
    hide = _Secrets(source_url, target_url)
    try:
        source_at, target_at = Target.parse(source_url), Target.parse(target_url)
    except ValueError:
        warn("migrate-data: --from and --to must start with sqlite:/// or postgresql://")
        return 2
    if source_at.path is not None and not source_at.path.is_file():
        warn(f"migrate-data: there is no SQLite database at {source_at.shown()}")
        return 2
    if _same(source_at, target_at):
        warn("migrate-data: --from and --to are the same database")
        return 2
    opened: list[Database] = []
    try:
        for where in (source_at, target_at):
            try:
                opened.append(await open_database(source_url if where is source_at else target_url, pool_size=2))
            except Exception as exc:  # any failure to reach or to migrate it, said in one line
                warn(f"migrate-data: cannot open {where.shown()}: {hide(_one_line(exc))}")
                return 2
        source, target = opened
        say(f"Copying {source_at.shown()} ({source_at.dialect}) to {target_at.shown()} ({target_at.dialect})")
        try:
            report = await copy_shop(source, target, batch=batch)
        except TransferError as exc:
            warn(f"migrate-data: refused, nothing was written: {hide(str(exc))}")
            return 2
        except (SQLAlchemyError, OSError) as exc:
            warn(f"migrate-data: the copy failed and was undone, {target_at.shown()} is as it was:"
                 f" {hide(_one_line(exc))}")
            return 1
    finally:
        for db in opened:
            await db.close()
    width = max((len(t.name) for t in report.tables), default=5)
    say(f"  {'table'.ljust(width)}  {'source':>9}  {'target':>9}")
    for table in report.tables:
        mark = "" if table.equal else "  DIFFERENT"
        say(f"  {table.name.ljust(width)}  {table.source:>9}  {table.target:>9}{mark}")
    if report.sequences:
        say(f"Identity sequences moved past the copied ids: {len(report.sequences)}")
    if not report.equal:
        for difference in report.differences():
            warn(f"migrate-data: MISMATCH: {difference}")
        return 1
    entries = report.ledger.entries[0]
    say(f"Rows: {sum(t.source for t in report.tables)} in {len(report.tables)} tables, every count equal.")
    say(f"Ledger: {entries} entries on both sides; the sum and count per user and currency, and the balance"
        f" of each of the {report.ledger.users} users, equal.")
    say(f"Done: the shop is on {target_at.shown()}; set DATABASE_URL to it.")
    return 0


def _same(a: Target, b: Target) -> bool:
    if a.path is not None and b.path is not None:
        return a.path.resolve() == b.path.resolve()
    return bool(a.url) and a.url == b.url


def _one_line(exc: BaseException) -> str:
    """The error without the statement and parameters SQLAlchemy adds (a customer's data)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


class _Secrets:
    """Passwords of the URLs given, blanked out of any message."""

    def __init__(self, *urls: str) -> None:
        self.passwords: set[str] = set()
        for url in urls:
            try:
                password = urlsplit(url).password
            except ValueError:
                continue
            if password:
                self.passwords |= {password, unquote(password)}

    def __call__(self, message: str) -> str:
        for password in sorted(self.passwords, key=len, reverse=True):
            message = message.replace(password, "***")
        return message
