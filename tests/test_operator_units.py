"""Operator tools' rules and storage, tested directly: catalogue rules, figures, broadcasts, bans."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.catalogue import Catalogue, CatalogueRules, diff_catalogues, visible
from bot.domain.money import parse_percent
from bot.domain.progress import progress_bar
from bot.shop.moderation import CannotBan, set_ban
from bot.shop.stats import iso, period_starts
from storage.audit import recent_entries
from storage.broadcasts import (
    INTERRUPTED,
    claim_batch,
    create_draft,
    fail_interrupted,
    progress,
    settle,
    start_sending,
)
from storage.database import Database, open_database
from storage.ledger import add_entry, balance_micros
from storage.orders import NewOrder, charge_and_record
from storage.stats import period_figures
from storage.users import banned_ids, claim_ban_notice, touch_user
from tests.support.databases import database_at
from tests.test_domain import service


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = await open_database(await database_at(tmp_path / "ops.db"))
    yield database  # type: ignore[misc]
    await database.close()


def test_progress_bar() -> None:
    assert progress_bar(0, 500) == "░░░░░░░░░░░░ 0%"
    assert progress_bar(249, 500) == "▓▓▓▓▓░░░░░░░ 49%"
    assert progress_bar(499, 500) == "▓▓▓▓▓▓▓▓▓▓▓░ 99%"  # full only when everything is done
    assert progress_bar(500, 500) == "▓▓▓▓▓▓▓▓▓▓▓▓ 100%"
    assert progress_bar(0, 0) == "░░░░░░░░░░░░ 100%"


@pytest.mark.parametrize(("text", "expected"), [
    ("25", Decimal(25)), ("12,5%", Decimal("12.5")), (" 0 ", Decimal(0)), ("10000", Decimal(10000)),
    ("100", Decimal(100)), ("10000.5", None), ("-1", None), ("abc", None), ("NaN", None), ("0.0000001", None),
])
def test_parse_percent(text: str, expected: Decimal | None) -> None:
    assert parse_percent(text) == expected
    if expected is not None:
        assert "E" not in str(parse_percent(text))  # shown as typed, never 1E+2


def test_rules_hide_categories_and_services_and_override_the_markup() -> None:
    full = Catalogue([service("1", category="A"), service("2", category="A"), service("3", category="B")])
    rules = CatalogueRules(hidden_categories=frozenset({"B"}), hidden_services=frozenset({"1"}),
                           category_markups={"A": Decimal(40)})
    shown = visible(full, rules)
    assert [s.service_id for s in shown.services()] == ["2"]
    assert shown.service("1") is None and shown.search("Followers") == [shown.service("2")]
    assert [c.name for c in shown.categories] == ["A"]
    assert rules.markup_for(full.service("2"), Decimal(10)) == Decimal(40)  # type: ignore[arg-type]
    assert rules.markup_for(full.service("3"), Decimal(10)) == Decimal(10)  # type: ignore[arg-type]


def test_catalogue_diff_counts_added_removed_and_repriced() -> None:
    old = Catalogue([service("1"), service("2", rate="1.00"), service("3")])
    new = Catalogue([service("2", rate="1.10"), service("3"), service("4"), service("5")])
    diff = diff_catalogues(old, new)
    assert (diff.added, diff.removed, diff.repriced) == (2, 1, 1)


def test_periods_start_at_utc_midnight_and_compare_as_database_times() -> None:
    now = datetime(2026, 11, 22, 15, 30, 19, 123456, tzinfo=UTC)
    starts = period_starts(now)
    assert starts == {"today": "2026-11-22T00:00:00.000Z", "7d": "2026-11-15T15:30:19.123Z",
                      "30d": "2026-10-23T15:30:19.123Z", "all": None}
    assert iso(now) == "2026-11-22T15:30:19.123Z"


def _order(user_id: int, key: str, price: int, cost: int) -> NewOrder:
    return NewOrder(user_id, key, "1", "Followers", "Default", "https://x.com/a", 1000, {}, price, cost, "USD")


async def test_figures_net_of_refunds_with_cost_reduced_in_proportion(db: Database) -> None:
    await touch_user(db, 1, "Ann", None, None)
    async with db.transaction() as conn:
        await add_entry(conn, 1, 100_000_000, "USD", "credit")
    charged = [await charge_and_record(db, _order(1, f"k{i}", 3_000_000, 2_000_000)) for i in range(3)]
    ids = [c.order.order_id for c in charged]  # type: ignore[union-attr]
    async with db.transaction() as conn:
        await conn.execute("UPDATE orders SET state = 'placed', panel_status = 'Completed' WHERE order_id = ?",
                           (ids[0],))
        await conn.execute("UPDATE orders SET state = 'placed', panel_status = 'Partial' WHERE order_id = ?",
                           (ids[1],))
        await add_entry(conn, 1, 1_000_000, "USD", "refund", order_id=ids[1])  # a third back
        await conn.execute("UPDATE orders SET state = 'rejected' WHERE order_id = ?", (ids[2],))
        await add_entry(conn, 1, 3_000_000, "USD", "refund", order_id=ids[2])  # all back
    figures = await period_figures(db, None)
    assert figures.orders == 3 and dict(figures.by_status) == {"Completed": 1, "Partial": 1, "rejected": 1}
    assert figures.turnover_micros == 3_000_000 + 2_000_000 + 0
    assert figures.cost_micros == 2_000_000 + 2_000_000 * 2_000_000 // 3_000_000 + 0
    assert figures.margin_micros == 5_000_000 - 3_333_333
    assert (await period_figures(db, "2999-01-01T00:00:00.000Z")).orders == 0
    assert await balance_micros(db, 1) == 100_000_000 - 9_000_000 + 4_000_000


async def test_a_crash_mid_batch_never_sends_twice(db: Database) -> None:
    for user_id in (1, 2, 3, 4, 5):
        await touch_user(db, user_id, "U", None, None)
    broadcast_id = await create_draft(db, 99, "hello")
    assert await start_sending(db, broadcast_id, 99, [1, 2, 3, 4, 5], None)
    assert not await start_sending(db, broadcast_id, 99, [1, 2, 3, 4, 5], None)  # a second tap: nothing
    first = await claim_batch(db, broadcast_id, 2, now=100.0, lease=60.0)
    await settle(db, broadcast_id, {first[0]: ("sent", None), first[1]: ("pending", None)})  # a 429: again later
    second = await claim_batch(db, broadcast_id, 2, now=100.0, lease=60.0)
    assert second == [first[1], 3]
    # the instance dies here, after the claim and before the result: while its claim runs, nobody
    # takes those two; once it has run out they are counted as failed and never claimed again
    assert await fail_interrupted(db, broadcast_id, now=159.0) == 0
    assert await fail_interrupted(db, broadcast_id, now=160.0) == 2
    assert await claim_batch(db, broadcast_id, 10, now=160.0, lease=60.0) == [4, 5]
    await settle(db, broadcast_id, {4: ("sent", None), 5: ("blocked", "blocked by the user")})
    figures = await progress(db, broadcast_id)
    assert (figures.total, figures.sent, figures.blocked, figures.failed) == (5, 2, 1, 2)
    row = await db.fetchone("SELECT error FROM broadcast_recipients WHERE broadcast_id = ? AND user_id = 3",
                            (broadcast_id,))
    assert row is not None and row[0] == INTERRUPTED
    assert [e.action for e in await recent_entries(db)] == ["broadcast"]


async def test_bans_are_audited_told_once_and_never_hit_admins(db: Database) -> None:
    await touch_user(db, 7, "Bob", None, None)
    admins = frozenset({1})
    with pytest.raises(CannotBan):
        await set_ban(db, 1, 1, True, admins=admins)
    with pytest.raises(CannotBan):
        await set_ban(db, 1, 8, True, admins=admins)  # never wrote to the bot
    assert await set_ban(db, 1, 7, True, admins=admins)
    assert not await set_ban(db, 1, 7, True, admins=admins)  # already banned: nothing to record
    assert await banned_ids(db) == {7}
    assert await claim_ban_notice(db, 7) and not await claim_ban_notice(db, 7)
    assert await set_ban(db, 1, 7, False, admins=admins) and await banned_ids(db) == set()
    assert not await claim_ban_notice(db, 7)  # not banned: nothing to tell
    await set_ban(db, 1, 7, True, admins=admins)
    assert await claim_ban_notice(db, 7)  # a new ban is told again
    assert [(e.action, e.before, e.after) for e in await recent_entries(db)] == [
        ("ban", "active", "banned"), ("unban", "banned", "active"), ("ban", "active", "banned")]
