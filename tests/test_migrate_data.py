"""`python -m bot migrate-data`: a real shop, built on SQLite by the real bot (credits, orders
completed, partly delivered and cancelled with their refunds, a Stars payment, a manual top-up,
an unfinished order dialogue, notifications), copied to an empty PostgreSQL database (and back):
every row equal, the ledger equal, the bot carrying on on the copy. PostgreSQL at 127.0.0.1:5432
(or TEST_POSTGRES_URL's server) is used for fresh databases of these tests' own; without it they
are skipped."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.panel.sandbox import SandboxClock, SandboxPanel, SandboxServer
from bot.panel.sandbox.engine import PENDING_SECONDS, RUN_SECONDS
from storage.database import Database, Target, open_database
from storage.transfer import (
    SKIPPED,
    TargetNotEmpty,
    TransferError,
    compare_ledgers,
    copy_shop,
    read_schema,
    run_migration,
)
from tests.support.databases import TEST_POSTGRES_URL
from tests.support.fake_telegram import FakeTelegram
from tests.support.ledger_check import assert_ledger_consistent
from tests.support.shop import ADMIN_ID, PANEL_KEY, Shop, run_shop
from tests.test_ordering_e2e import confirm, funded
from tests.test_topup_e2e import paid, topup_menu
from tests.test_tracking_e2e import place

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = TEST_POSTGRES_URL or "postgresql://postgres@127.0.0.1:5432/postgres"
SETTINGS = {"stars_per_unit": "50", "manual_topup_text": "Bank transfer to IBAN DE00 1234",
            "poll_interval_seconds": 1}
ANN, BOB, CAROL = 5001, 5002, 5003
MONEY_COLUMNS = ("amount_micros", "price_micros", "cost_micros")


# --------------------------------------------------------------------------- fresh PostgreSQL databases

def _postgres_url(name: str) -> str:
    parts = urlsplit(POSTGRES)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"no PostgreSQL answers at {Target.parse(POSTGRES).shown()} ({type(exc).__name__})")


@pytest.fixture(scope="module")
def postgres_answers() -> None:
    """Skips the module's PostgreSQL tests at once (before a shop is built for them) without it."""
    async def probe() -> None:
        await (await _admin()).close()

    asyncio.run(probe())


@pytest.fixture
async def fresh_postgres(postgres_answers: None) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Makes empty PostgreSQL databases (whatever TEST_POSTGRES_URL says), dropped afterwards."""
    admin = await _admin()
    made: list[str] = []

    async def fresh(label: str) -> str:
        name = f"smmbot_md{os.getpid()}_{label}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return _postgres_url(name)

    try:
        yield fresh
    finally:
        for name in made:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# --------------------------------------------------------------------------- a real shop on SQLite

@dataclass(frozen=True)
class Facts:
    """What the shop was left holding."""

    orders: tuple[int, ...]  # Ann's: completed, partial, cancelled
    balances: dict[int, Decimal]


async def fill_shop(shop: Shop) -> Facts:
    ann = await funded(shop, ANN, "100")  # an admin's credit (and its audit entry)
    done = await place(shop, ann, "https://instagram.com/done")
    partial = await place(shop, ann, "https://instagram.com/half#partial", service="102")
    cancelled = await place(shop, ann, "https://instagram.com/stop#cancel", service="102")
    shop.panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)
    ends = (f"✅ Order #{done}", f"⚠️ Order #{partial}", f"❌ Order #{cancelled}")
    await shop.telegram.wait_for(
        lambda: True if all(any(m.text.startswith(e) for m in ann.user.messages()) for e in ends) else None,
        timeout=15, what="the three orders to end (notifications)")
    ann.user.skip_pending()

    carol = shop.customer(CAROL, "Carol")  # a manual top-up an admin approves
    menu = await topup_menu(carol)
    await carol.tap(menu, "t:m")
    await carol.say("25")
    await carol.user.send_photo("wire ref 7781")
    assert "Request #1 for 25.00 USD was sent" in (await carol.user.next_message()).text
    admin = shop.customer(ADMIN_ID, "Admin")
    copy = await shop.telegram.wait_for(lambda: next(
        (m for m in admin.user.messages() if "Top-up request #1" in m.text), None), what="the request")
    await admin.user.wait_answer(await admin.user.press(copy, "a:tu:1:ok"))
    assert "was approved" in (await carol.user.next_message()).text

    await paid(shop, BOB)  # 10.00 USD in Stars

    ann.user.skip_pending()
    await ann.open_service("101")  # an order left at its quantity: the dialogue is kept
    await ann.say("https://instagram.com/later")
    [(step,)] = await shop.state.db.fetchall("SELECT name FROM dialogues WHERE user_id = ?", (ANN,))
    assert step is not None
    return Facts((done, partial, cancelled), {u: await shop.balance(u) for u in (ANN, BOB, CAROL)})


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, postgres_answers: None) -> tuple[Path, Facts]:
    """One shop for the tests that only read it (each copies the file first)."""
    folder = tmp_path_factory.mktemp("built")

    async def build() -> Facts:
        panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
        async with FakeTelegram() as telegram, SandboxServer(panel, hang_seconds=5) as server, \
                run_shop(folder, telegram, server, database_url=_sqlite_url(folder / "shop.db"), **SETTINGS) as shop:
            return await fill_shop(shop)

    return folder / "shop.db", asyncio.run(build())


def copy_of(built: tuple[Path, Facts], folder: Path) -> Path:
    original, _ = built
    for suffix in ("", "-wal"):
        if Path(f"{original}{suffix}").exists():
            shutil.copyfile(f"{original}{suffix}", f"{folder / 'shop.db'}{suffix}")
    return folder / "shop.db"


# --------------------------------------------------------------------------- comparing two databases

async def rows_of(db: Database, table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Every row, as full tuples in primary-key order (sorted here: the engines collate text apart)."""
    listed = ", ".join(f'"{c}"' for c in columns)
    rows = [tuple(r) for r in await db.fetchall(f'SELECT {listed} FROM "{table}"')]  # noqa: S608 - names from the schema
    positions = [columns.index(c) for c in key] or list(range(len(columns)))
    return sorted(rows, key=lambda row: tuple(row[i] for i in positions))


async def assert_same_rows(a: Database, b: Database) -> dict[str, int]:
    """Every table of the shop holds the same rows on both sides, value for value and type for
    type (money an int on both, a unix time a float on both, a timestamp the same text)."""
    schema_a, schema_b = await read_schema(a), await read_schema(b)
    tables = sorted(set(schema_a) - SKIPPED)
    assert tables == sorted(set(schema_b) - SKIPPED)
    counts = {}
    for name in tables:
        columns = schema_a[name].columns
        assert set(columns) == set(schema_b[name].columns), name
        rows_a = await rows_of(a, name, columns, schema_a[name].primary_key)
        rows_b = await rows_of(b, name, columns, schema_a[name].primary_key)
        assert rows_a == rows_b, name
        assert [tuple(map(type, r)) for r in rows_a] == [tuple(map(type, r)) for r in rows_b], name
        for column in set(columns) & set(MONEY_COLUMNS):
            at = columns.index(column)
            assert all(type(r[at]) is int for r in rows_a + rows_b), f"{name}.{column}"
        counts[name] = len(rows_a)
    return counts


async def counts_of(db: Database) -> dict[str, int]:
    found = {}
    for name in sorted(set(await read_schema(db)) - SKIPPED):
        row = await db.fetchone(f'SELECT COUNT(*) FROM "{name}"')  # noqa: S608 - names from the schema
        found[name] = int(row[0]) if row else 0
    return found


async def migrate_data(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot migrate-data …` in a process of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "PANEL_"))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "migrate-data", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=45)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, out.decode(), err.decode())


# --------------------------------------------------------------------------- the command, end to end

async def test_the_command_copies_a_real_shop_to_postgresql_and_the_bot_carries_on_there(
        tmp_path: Path, fresh_postgres: Callable[[str], Awaitable[str]]) -> None:
    target = await fresh_postgres("command")
    source = _sqlite_url(tmp_path / "shop.db")
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
    async with FakeTelegram() as telegram, SandboxServer(panel, hang_seconds=5) as server:
        async with run_shop(tmp_path, telegram, server, database_url=source, **SETTINGS) as shop:
            facts = await fill_shop(shop)

        done = await migrate_data(tmp_path, "--from", source, "--to", target)
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert "Ledger: " in done.stdout and "equal" in done.stdout and "Done: the shop is on" in done.stdout
        original, copied = await open_database(source), await open_database(target)
        try:
            counts = await assert_same_rows(original, copied)
            assert counts["orders"] == 3 and counts["star_payments"] == 1 and counts["topups"] == 2
            assert counts["dialogues"] >= 1 and counts["notifications"] >= 3 and counts["audit"] >= 2
            assert (await compare_ledgers(original, copied)).equal
            assert_listed = [line for line in done.stdout.splitlines() if line.strip().startswith("orders ")]
            assert assert_listed and assert_listed[0].split()[1:] == ["3", "3"]
        finally:
            await original.close()
            await copied.close()

        again = await migrate_data(tmp_path, "--from", source, "--to", target)
        assert again.returncode == 2
        assert again.stderr.count("\n") == 1 and "already holds shop data" in again.stderr

        async with run_shop(tmp_path, telegram, server, database_url=target, **SETTINGS) as moved:
            for user, amount in facts.balances.items():
                assert await moved.balance(user) == amount
            ann = moved.customer(ANN, "Ann")
            summary = await ann.say("1000")  # the order Ann left at its quantity carries on here
            assert summary.text.startswith("🧾 Check your order"), summary.text
            assert (await confirm(ann, summary)).startswith("✅ Order placed")
            [(newest,)] = await moved.state.db.fetchall("SELECT MAX(order_id) FROM orders")
            assert newest == max(facts.orders) + 1  # a fresh id, after the copied ones
            listing = await ann.say("/orders")
            data = [b.get("callback_data", "") for row in listing.buttons() for b in row]
            for order_id in (*facts.orders, newest):
                assert any(d.endswith(f"ord:{order_id}") for d in data), (order_id, data)


# --------------------------------------------------------------------------- the function, in detail

async def test_copy_shop_copies_every_table_in_order_and_compares_the_ledgers(
        tmp_path: Path, built: tuple[Path, Facts], fresh_postgres: Callable[[str], Awaitable[str]]) -> None:
    source = await open_database(copy_of(built, tmp_path))
    target = await open_database(await fresh_postgres("direct"))
    try:
        report = await copy_shop(source, target, batch=2)  # small batches: many of them per table
        names = [t.name for t in report.tables]
        assert set(names) == set(await read_schema(source)) - SKIPPED
        for before, after in (("users", "orders"), ("orders", "ledger"), ("orders", "notifications"),
                              ("topups", "star_payments"), ("topups", "topup_notices"),
                              ("broadcasts", "broadcast_recipients"), ("orders", "order_events")):
            assert names.index(before) < names.index(after)
        assert report.equal and all(t.source == t.target for t in report.tables)
        assert await assert_same_rows(source, target) == {t.name: t.source for t in report.tables}
        entries = int((await source.fetchone("SELECT COUNT(*) FROM ledger"))[0])  # type: ignore[index]
        assert report.ledger.equal and report.ledger.entries == (entries, entries) and report.ledger.users >= 4
        assert {"orders.order_id", "ledger.entry_id", "notifications.notification_id", "topups.topup_id",
                "changes.change_id", "audit.audit_id"} <= set(report.sequences)
        await assert_ledger_consistent(target)

        with pytest.raises(TargetNotEmpty, match="already holds shop data"):
            await copy_shop(source, target)
        assert await assert_same_rows(source, target)  # nothing added by the refused copy

        # New rows get ids after the copied ones.
        [(last,)] = await target.fetchall("SELECT MAX(entry_id) FROM ledger")
        async with target.transaction() as conn:
            row = await conn.fetchone("INSERT INTO ledger (user_id, amount_micros, currency, reason, admin_id)"
                                      " VALUES (?, ?, 'USD', 'credit', ?) RETURNING entry_id", (ANN, 1, ADMIN_ID))
        assert row is not None and row[0] == last + 1
    finally:
        await source.close()
        await target.close()


async def test_postgresql_back_to_sqlite_gives_the_same_shop(
        tmp_path: Path, built: tuple[Path, Facts], fresh_postgres: Callable[[str], Awaitable[str]]) -> None:
    original = await open_database(copy_of(built, tmp_path))
    middle = await open_database(await fresh_postgres("round"))
    back = await open_database(tmp_path / "back.db")
    try:
        assert (await copy_shop(original, middle)).equal
        report = await copy_shop(middle, back, batch=3)
        assert report.equal and report.sequences == ()
        await assert_same_rows(original, back)
        await assert_ledger_consistent(back)
        [(last,)] = await back.fetchall("SELECT MAX(order_id) FROM order_events")
        async with back.transaction() as conn:  # AUTOINCREMENT goes on after the copied ids
            row = await conn.fetchone("INSERT INTO order_events (order_id, kind) VALUES (?, 'test')"
                                      " RETURNING event_id", (last,))
        [(events,)] = await original.fetchall("SELECT MAX(event_id) FROM order_events")
        assert row is not None and row[0] == events + 1
    finally:
        for db in (original, middle, back):
            await db.close()


async def test_a_source_column_the_target_lacks_is_refused_and_nothing_is_written(
        tmp_path: Path, built: tuple[Path, Facts], fresh_postgres: Callable[[str], Awaitable[str]]) -> None:
    path = copy_of(built, tmp_path)
    source = await open_database(path)
    async with source.transaction() as conn:
        await conn.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
    await source.close()
    target_url = await fresh_postgres("lacking")
    said: list[str] = []
    warned: list[str] = []
    assert await run_migration(_sqlite_url(path), target_url, say=said.append, warn=warned.append) == 2
    assert len(warned) == 1 and "users.nickname" in warned[0] and "nothing was written" in warned[0]
    source, target = await open_database(path), await open_database(target_url)
    try:
        with pytest.raises(TransferError, match=r"no column users\.nickname"):
            await copy_shop(source, target)
        assert set((await counts_of(target)).values()) == {0}
    finally:
        await source.close()
        await target.close()


async def test_a_copy_that_fails_halfway_leaves_the_target_empty(
        tmp_path: Path, built: tuple[Path, Facts], fresh_postgres: Callable[[str], Awaitable[str]]) -> None:
    path = copy_of(built, tmp_path)
    target_url = await fresh_postgres("halfway")
    target = await open_database(target_url)
    async with target.transaction() as conn:  # the ledger, copied after most tables, is refused
        await conn.execute("CREATE FUNCTION refuse_ledger() RETURNS trigger LANGUAGE plpgsql AS"
                           " $$ BEGIN RAISE EXCEPTION 'no room left (test)'; END $$")
        await conn.execute("CREATE TRIGGER refuse_ledger BEFORE INSERT ON ledger FOR EACH ROW"
                           " EXECUTE FUNCTION refuse_ledger()")
    await target.close()
    said: list[str] = []
    warned: list[str] = []
    assert await run_migration(_sqlite_url(path), target_url, say=said.append, warn=warned.append) == 1
    assert len(warned) == 1 and "was undone" in warned[0] and "no room left (test)" in warned[0], warned
    assert "[SQL:" not in warned[0]  # the statement and the customers' data are not echoed
    target = await open_database(target_url)
    try:
        assert set((await counts_of(target)).values()) == {0}
    finally:
        await target.close()


async def test_compare_ledgers_names_what_differs(
        tmp_path: Path, built: tuple[Path, Facts], fresh_postgres: Callable[[str], Awaitable[str]]) -> None:
    source = await open_database(copy_of(built, tmp_path))
    target = await open_database(await fresh_postgres("differs"))
    try:
        assert (await copy_shop(source, target)).ledger.equal
        async with target.transaction() as conn:
            await conn.execute("INSERT INTO ledger (user_id, amount_micros, currency, reason, admin_id)"
                               " VALUES (?, 1, 'USD', 'credit', ?)", (BOB, ADMIN_ID))
        report = await compare_ledgers(source, target)
        assert not report.equal
        assert report.entries[1] == report.entries[0] + 1
        assert any(d.startswith(f"ledger of user {BOB} in USD") for d in report.differences)
        assert any(d.startswith(f"balance of user {BOB}:") for d in report.differences)
        assert not any(str(ANN) in d for d in report.differences)
    finally:
        await source.close()
        await target.close()


# --------------------------------------------------------------------------- refusals (no PostgreSQL needed)

def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_wrong_addresses_are_refused_in_one_line_and_a_password_is_never_shown(tmp_path: Path) -> None:
    existing = tmp_path / "shop.db"
    await (await open_database(existing)).close()
    secret_url = f"postgresql://shop:hunter2-secret@127.0.0.1:{_closed_port()}/shop"
    cases = [
        (_sqlite_url(tmp_path / "none.db"), secret_url, "there is no SQLite database at"),
        ("mysql://shop@localhost/shop", secret_url, "must start with sqlite:/// or postgresql://"),
        (_sqlite_url(existing), _sqlite_url(existing), "the same database"),
        (_sqlite_url(existing), secret_url, "cannot open postgresql://shop:***@127.0.0.1:"),
        (secret_url, _sqlite_url(tmp_path / "other.db"), "cannot open postgresql://shop:***@"),
    ]
    for source, target, expected in cases:
        said: list[str] = []
        warned: list[str] = []
        assert await run_migration(source, target, say=said.append, warn=warned.append) == 2, (source, target)
        assert len(warned) == 1 and expected in warned[0], warned
        assert "hunter2" not in " ".join(said + warned)
    assert not (tmp_path / "none.db").exists()  # a mistyped source is not created empty

    usage = await migrate_data(tmp_path, "--from", _sqlite_url(existing))
    assert usage.returncode == 2 and "--to" in usage.stderr
