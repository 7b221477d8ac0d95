"""What several instances share through the database, two of them on one database (on SQLite and,
with TEST_POSTGRES_URL, on PostgreSQL): leases, the webhook inbox, outbox claims, the change log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.panel import PanelClient
from bot.shop.alerts import AdminAlerts
from bot.shop.catalogue import ShopCatalogue
from bot.shop.customers import Customers
from bot.shop.moderation import set_ban
from bot.shop.panels import Panel, Panels
from bot.shop.sync import ChangeWatcher
from bot.texts import Text
from storage.catalogue import load_services
from storage.database import Database, open_database
from storage.inbox import claim_updates, finish_update, renew_leases, store_update
from storage.leases import lease_holder, release_lease, take_lease
from storage.tracking import Notice, due_notices, enqueue, mark_sent
from storage.users import touch_user
from tests.support.databases import database_at


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """Two instances' connections to one database."""
    where = await database_at(tmp_path / "shared.db")
    first = await open_database(where, owner="one")
    second = await open_database(where, owner="two")
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_a_lease_is_one_instances_until_it_runs_out_or_is_released(two: tuple[Database, Database]) -> None:
    one, other = two
    results = await asyncio.gather(take_lease(one, "refresh", "one", now=100.0, seconds=60),
                                   take_lease(other, "refresh", "two", now=100.0, seconds=60))
    assert sorted(results) == [False, True]  # asked at the same moment: one of them
    holder = await lease_holder(one, "refresh", now=100.0)
    loser = "two" if holder == "one" else "one"
    assert not await take_lease(other, "refresh", loser, now=159.0, seconds=60)
    assert await take_lease(one, "refresh", holder or "", now=150.0, seconds=60)  # the holder renews
    assert not await take_lease(other, "refresh", loser, now=209.0, seconds=60)
    assert await take_lease(other, "refresh", loser, now=210.0, seconds=60)  # ran out: anyone's
    await release_lease(one, "refresh", loser)
    assert await lease_holder(one, "refresh", now=211.0) is None


async def test_a_users_updates_are_claimed_one_at_a_time_in_order_and_taken_over_when_a_claim_runs_out(
        two: tuple[Database, Database]) -> None:
    one, other = two
    for update_id, user in ((11, 7), (12, 7), (13, 8), (14, 7)):
        assert await store_update(one, update_id, user, f'{{"update_id": {update_id}}}', now=1.0)
    assert not await store_update(other, 11, 7, "{}", now=1.0)  # Telegram's repeat: stored once

    first = await claim_updates(one, "one", now=2.0, lease=10.0, limit=10)
    assert [(u.update_id, u.user_id) for u in first] == [(11, 7), (13, 8)]  # each user's earliest only
    assert await claim_updates(other, "two", now=2.0, lease=10.0, limit=10) == []  # held, and 12 waits for 11
    await finish_update(one, 11, now=3.0)
    assert [u.update_id for u in await claim_updates(other, "two", now=3.0, lease=10.0, user_id=7)] == [12]
    assert await claim_updates(one, "one", now=3.0, lease=10.0, user_id=7) == []  # 14 waits for 12

    # "two" dies with 12 in hand; "one" renews what it holds (13) while it works on it
    assert await renew_leases(one, "one", [13], now=12.0, lease=10.0) == 1
    taken = await claim_updates(one, "one", now=13.0, lease=10.0, limit=10)
    assert [u.update_id for u in taken] == [12]  # 12's claim ran out at 13; 13 is still "one"'s own
    await finish_update(one, 12, now=14.0)
    assert [u.update_id for u in await claim_updates(other, "two", now=14.0, lease=10.0, user_id=7)] == [14]


async def test_an_earlier_update_stored_late_waits_while_a_later_one_of_the_user_is_in_hand(
        two: tuple[Database, Database]) -> None:
    """Telegram posts on several connections: update 21 may be stored and taken before 20 arrives."""
    one, other = two
    await store_update(one, 21, 7, "{}", now=1.0)
    assert [u.update_id for u in await claim_updates(one, "one", now=1.0, lease=10.0, limit=5)] == [21]
    await store_update(other, 20, 7, "{}", now=1.5)
    assert await claim_updates(other, "two", now=2.0, lease=10.0, limit=5) == []  # one at a time
    await finish_update(one, 21, now=3.0)
    assert [u.update_id for u in await claim_updates(other, "two", now=3.0, lease=10.0, limit=5)] == [20]


async def test_an_outbox_message_is_claimed_by_one_instance_and_sent_once(two: tuple[Database, Database]) -> None:
    one, other = two
    await touch_user(one, 5, "Ann", None, "en")
    for number in range(3):
        await enqueue(one, Notice(5, f"message {number}"), due_at=1.0)
    claimed = await asyncio.gather(due_notices(one, 2.0, 10, lease=30.0), due_notices(other, 2.0, 10, lease=30.0))
    ids = [n.notification_id for batch in claimed for n in batch]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 3  # nobody's message twice
    await mark_sent(one, ids[:1])
    # the instance that had the other two died: they are free once their claim has run out, the sent one never
    assert await due_notices(other, 31.0, 10, lease=30.0) == []
    assert sorted(n.notification_id for n in await due_notices(other, 32.5, 10, lease=30.0)) == sorted(ids[1:])


async def test_a_ban_and_a_markup_made_on_one_instance_hold_on_the_other_within_a_check(
        two: tuple[Database, Database]) -> None:
    one, other = two
    await touch_user(one, 42, "Bob", None, "en")
    here = await Customers.load(one, frozenset({1}), frozenset())
    there = await Customers.load(other, frozenset({1}), frozenset())
    panels = Panels([Panel("main", None, configured_currency="USD")])  # type: ignore[arg-type]  # (never asked)
    catalogue_there = await ShopCatalogue.load(other, panels, Decimal(0), "USD")
    watcher = ChangeWatcher(other, there, catalogue_there, await ChangeWatcher.logged(other, 1000.0))

    await here.set_ban(1, 42, True)
    assert here.is_banned(42) and not there.is_banned(42)  # (before the other instance looks)
    assert await watcher.check(1001.0) == 1
    assert there.is_banned(42)
    await set_ban(one, 1, 42, False, admins=frozenset({1}))
    await here.choose_language(42, "ru")
    assert await watcher.check(1002.0) == 2
    assert not there.is_banned(42) and there.chosen_language(42) == "ru"
    assert await watcher.check(1003.0) == 0  # each change once

    catalogue_here = await ShopCatalogue.load(one, panels, Decimal(0), "USD")
    await catalogue_here.set_markup(1, "📸 Instagram Followers", Decimal(25))
    assert catalogue_there.rules.category_markups == {}
    await watcher.check(1004.0)
    assert catalogue_there.rules.category_markups == {"📸 Instagram Followers": Decimal(25)}


async def test_a_throttled_alert_goes_out_once_for_all_instances(two: tuple[Database, Database]) -> None:
    sent: list[tuple[str, int]] = []

    def alerts_of(db: Database, name: str) -> AdminAlerts:
        async def send(admin_id: int, text: object) -> None:
            sent.append((name, admin_id))

        async def claim(key: str, seconds: float) -> bool:
            return await take_lease(db, f"alert:{key}", name, now=asyncio.get_running_loop().time(), seconds=seconds)

        return AdminAlerts([900], send, claim=claim)

    one, other = two
    first, second = alerts_of(one, "one"), alerts_of(other, "two")
    text = Text("the panel is out of funds")
    results = [await first.alert(text, throttle_key="panel-funds", every_seconds=900),
               await second.alert(text, throttle_key="panel-funds", every_seconds=900)]
    assert results == [True, False] and sent == [("one", 900)]


async def test_two_instances_starting_on_an_empty_catalogue_both_refresh_it(
        two: tuple[Database, Database], client: PanelClient) -> None:
    one, other = two
    panels = Panels([Panel("main", client, configured_currency="USD")])
    first = await ShopCatalogue.load(one, panels, Decimal(0), "USD")
    second = await ShopCatalogue.load(other, panels, Decimal(0), "USD")
    await asyncio.gather(first.refresh(), second.refresh())  # neither fails on the other's rows
    assert len(first.full) == len(second.full) > 0
    assert len((await load_services(one))["main"]) == len(first.full)
