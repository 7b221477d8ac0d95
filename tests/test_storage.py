"""The database: created on first start, migrated once, WAL mode."""

from __future__ import annotations

from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy.exc import DBAPIError

from storage.alembic.legacy import migrations
from storage.alembic.runner import head
from storage.database import migrate, open_database
from storage.ledger import Refunded, add_entry, add_refund, balance_micros, refunds_by_order
from storage.users import get_user, touch_user


async def test_database_is_created_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.db"
    db = await open_database(path)
    try:
        assert path.exists()
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
        versions = [row[0] for row in await db.fetchall("SELECT version FROM schema_migrations ORDER BY version")]
        assert versions == [version for version, _, _ in migrations()] and versions[:2] == [1, 2]
        assert [tuple(r) for r in await db.fetchall("SELECT version_num FROM alembic_version")] == [(head(),)]
        assert await migrate(db.engine) == []  # a second run applies nothing
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
        assert [version for version, _, _ in migrations() if version > 2]  # there is something to upgrade to
    finally:
        await conn.close()
    db = await open_database(path)
    try:
        assert await migrate(db.engine) == []  # done once, on opening
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


async def test_a_shop_at_version_5_keeps_its_refunds_and_may_refund_again_within_the_charge(tmp_path: Path) -> None:
    """006 rebuilds the ledger once more: an order refunded once before the upgrade (by the old
    one-refund-per-order key) gets its reference, may be refunded the rest, and never more."""
    path = tmp_path / "v5.db"
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                           " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
        for version, name, sql in migrations()[:5]:
            await conn.executescript(sql)
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
        await conn.execute("INSERT INTO users (user_id, first_name) VALUES (42, 'Ann')")
        await conn.execute("INSERT INTO orders (order_id, user_id, draft_key, service_id, service_name, service_type,"
                           " request_json, price_micros, cost_micros, currency, state) VALUES"
                           " (7, 42, 'k', '1', 's', 'Default', '{}', 120000, 100000, 'USD', 'placed')")
        await conn.executescript(
            "INSERT INTO ledger (user_id, amount_micros, currency, reason, admin_id) VALUES (42, 120000, 'USD',"
            " 'credit', 1);"
            "INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id) VALUES (42, -120000, 'USD',"
            " 'order', 7);"
            "INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id, note) VALUES (42, 30000, 'USD',"
            " 'refund', 7, 'panel status Partial');")
    finally:
        await conn.close()
    db = await open_database(path)
    try:
        rows = await db.fetchall("SELECT reason, amount_micros, ref FROM ledger WHERE order_id = 7 ORDER BY entry_id")
        assert [tuple(r) for r in rows] == [("order", -120000, None), ("refund", 30000, "order:7:refund:1")]
        before = (await refunds_by_order(db, [7]))[7]
        assert before == Refunded(30000, 1)
        async with db.transaction() as conn:
            await add_refund(conn, user_id=42, order_id=7, amount_micros=90000, currency="USD", before=before)
        with pytest.raises(DBAPIError, match="exceed its charge"):
            async with db.transaction() as conn:
                await add_refund(conn, user_id=42, order_id=7, amount_micros=1, currency="USD",
                                 before=Refunded(120000, 2))
        with pytest.raises(DBAPIError):  # the charge stays one per order
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id)"
                                   " VALUES (42, -1, 'USD', 'order', 7)")
        assert await balance_micros(db, 42) == 120000
    finally:
        await db.close()


def test_statements_take_question_marks_outside_quotes_and_the_time_per_engine() -> None:
    from storage.database import NOW, POSTGRESQL, SQLITE, _clause

    sql = f"UPDATE t SET a = ?, b = 'what?', c = ?, d = {NOW} WHERE e = :name"  # noqa: S608
    expected = f"UPDATE t SET a = :_0, b = 'what?', c = :_1, d = {NOW} WHERE e = :name"  # noqa: S608
    assert _clause(sql, SQLITE).text == expected
    assert _clause(sql, POSTGRESQL).text == "UPDATE t SET a = :_0, b = 'what?', c = :_1, d = iso_now() WHERE e = :name"


@pytest.mark.parametrize(("url", "dialect", "shown"), [
    ("sqlite:///data/bot.db", "sqlite", "data/bot.db"),
    ("postgresql://shop:s3cret@db:5432/shop", "postgresql", "postgresql://shop:***@db:5432/shop"),
    ("postgres://shop@db/shop", "postgresql", "postgresql://shop@db/shop"),
    ("postgresql://shop:s3cret@pw@db/shop", "postgresql", "postgresql://shop:***@db/shop"),
    ("postgresql://shop@db/shop?password=s3cret", "postgresql", "postgresql://shop@db/shop?password=***"),
])
def test_a_database_url_names_its_engine_and_is_shown_without_its_password(url: str, dialect: str, shown: str) -> None:
    from storage.database import Target

    target = Target.parse(url)
    assert (target.dialect, target.shown()) == (dialect, shown)
    assert "s3cret" not in target.shown()
