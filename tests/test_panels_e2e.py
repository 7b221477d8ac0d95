"""Several panels, one shop, end to end: three sandbox panels of different dialects and
currencies (alpha V2 USD, beta V3 EUR, gamma RESELLER USD) behind one bot, customers who type
and tap, and what each panel received."""

from __future__ import annotations

import asyncio
import math
import time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.domain.money import to_micros
from bot.panel import OrderStatus
from bot.panel.sandbox import FaultKind
from bot.panel.sandbox.engine import PENDING_SECONDS, RUN_SECONDS
from bot.shop.tracking import RUNNING, poll_orders
from storage.orders import get_order, orders_in_state
from storage.stats import period_figures
from tests.support.databases import allow_updates, refuse_updates
from tests.support.fake_telegram import FakeTelegram
from tests.support.orders import placed_order
from tests.support.panels import MultiShop, merge, open_multi_shop, run_multi_shop, sandbox_panels, set_rate
from tests.support.shop import ADMIN_ID
from tests.test_ordering_e2e import confirm, funded, order_until_summary, quoted

FOLLOWERS = "101"  # alpha's Instagram Followers [Real]; beta sells it as 1101 (EUR), gamma as 7
LEDGER_REFUNDS = "SELECT order_id, amount_micros FROM ledger WHERE reason = 'refund' ORDER BY entry_id"


async def merge_followers(multi: MultiShop) -> None:
    """The operator's shaping: beta's and gamma's followers are alpha's, bought at alpha first,
    then beta (1 EUR = 1.10 USD), then gamma."""
    await set_rate(multi, "EUR", "1.10")
    await merge(multi, FOLLOWERS, "beta-1101")
    card = await merge(multi, FOLLOWERS, "gamma-7")
    assert card.text.index("alpha") < card.text.index("beta") < card.text.index("gamma"), card.text
    state = multi.shop.state
    assert [s.label for s in state.catalogues.sources(FOLLOWERS)] == ["alpha:101", "beta:1101", "gamma:7"]
    assert state.full_catalogue.service("beta-1101") is None and state.full_catalogue.service("gamma-7") is None


async def place_followers(multi: MultiShop, user_id: int, link: str) -> tuple[str, Decimal]:
    """A customer orders 1000 of the merged followers: (what the bot answered Confirm with, the price)."""
    customer = multi.shop.customer(user_id)
    summary = await order_until_summary(customer, FOLLOWERS, [link, "1000"])
    price = quoted(summary)
    return await confirm(customer, summary), price


def funds_alerts(multi: MultiShop) -> list[str]:
    return [m.text for m in multi.shop.telegram.messages(ADMIN_ID) if "panel balance is too low" in m.text]


async def test_a_merged_service_fails_over_from_a_panel_out_of_funds_to_the_next(tmp_path: Path) -> None:
    # A 50% markup: every source's cost (beta 0.85 EUR × 1.10, gamma 0.95 USD) stays below the price.
    async with open_multi_shop(tmp_path, price_markup_percent="50") as multi:
        shop = multi.shop
        await merge_followers(multi)
        await funded(shop, 5001)
        multi.panel("alpha").funds = Decimal(0)

        text, price = await place_followers(multi, 5001, "https://instagram.com/failover")
        assert price == Decimal("1.35")  # alpha's rate, 0.90 per 1000, + 50%
        assert text.startswith("✅ Order placed"), text
        assert [a["service"] for a in multi.adds("alpha")] == ["101"]  # refused: out of funds
        [at_beta] = multi.adds("beta")
        assert (at_beta["service"], at_beta["link"], at_beta["quantity"]) == (
            "1101", "https://instagram.com/failover", "1000")
        assert multi.adds("gamma") == []
        [first] = await orders_in_state(shop.state.db, "placed")
        assert f"Order #{first.order_id}" in text
        assert (first.panel, first.panel_service_id, first.panel_order_id) == ("beta", "1101", "7000001")
        assert (first.panel_currency, Decimal(first.fx_rate or "0")) == ("EUR", Decimal("1.10"))
        assert (first.price_micros, first.panel_cost_micros, first.cost_micros) == (1_350_000, 850_000, 935_000)
        assert await shop.balance(5001) == Decimal(100) - price
        [alert] = funds_alerts(multi)
        assert "alpha: Not enough funds on balance" in alert

        # Beta runs dry too: the next order goes on to gamma (the reseller, its own service id).
        multi.panel("beta").funds = Decimal(0)
        text, _ = await place_followers(multi, 5001, "https://instagram.com/failover-2")
        assert text.startswith("✅ Order placed"), text
        assert [a["service"] for a in multi.adds("alpha")] == ["101", "101"]
        assert [a["service"] for a in multi.adds("beta")] == ["1101", "1101"]
        assert [(a["service"], a["link"]) for a in multi.adds("gamma")] == [("7", "https://instagram.com/failover-2")]
        [_, second] = await orders_in_state(shop.state.db, "placed")
        assert (second.panel, second.panel_service_id, second.panel_order_id) == ("gamma", "7", "1")
        assert (second.panel_currency, Decimal(second.fx_rate or "0"), second.cost_micros) == ("USD", 1, 950_000)
        assert await shop.balance(5001) == Decimal(100) - 2 * price
        alerts = funds_alerts(multi)
        assert len(alerts) == 2 and "beta: Your balance is insufficient." in alerts[1]

        # Each order is followed at the panel that took it, and nowhere else.
        for server in multi.servers.values():
            server.reset_counters()
        await poll_orders(shop.state.db, shop.state.panels, shop.state.alerts, now=time.time() + 3600, interval=60,
                          quantum=shop.state.refund_quantum)
        assert [r["orders"] for r in multi.status_requests("beta")] == ["7000001"]
        assert [r["orders"] for r in multi.status_requests("gamma")] == ["1"]
        assert multi.status_requests("alpha") == []


async def test_an_order_the_database_will_not_move_to_its_next_source_is_refunded(tmp_path: Path) -> None:
    """Alpha proved it placed nothing (out of funds); the move to beta cannot be written: nothing
    is sent to beta, and the charge goes back rather than waiting as 'placing' for a restart."""
    async with open_multi_shop(tmp_path, price_markup_percent="50") as multi:
        shop = multi.shop
        await merge_followers(multi)
        await funded(shop, 5011)
        multi.panel("alpha").funds = Decimal(0)
        await refuse_updates(shop.state.db, "no_moving", when="NEW.panel <> OLD.panel", message="disk I/O error")
        text, _ = await place_followers(multi, 5011, "https://instagram.com/stuck")
        assert text.startswith("❌ This service is temporarily unavailable"), text
        assert multi.adds("beta") == [] and multi.adds("gamma") == []
        [order] = await orders_in_state(shop.state.db, "rejected")
        assert order.panel == "alpha" and await shop.balance(5011) == Decimal(100)
        await allow_updates(shop.state.db, "no_moving")


@pytest.mark.parametrize("fault", [FaultKind.TIMEOUT, FaultKind.DROP])
async def test_a_merged_service_never_fails_over_after_a_timeout(tmp_path: Path, fault: FaultKind) -> None:
    async with open_multi_shop(tmp_path, price_markup_percent="50") as multi:
        shop = multi.shop
        await merge_followers(multi)
        await funded(shop, 5002)
        # Alpha takes the order, and its answer is lost: it may exist, so no other panel is asked.
        multi.servers["alpha"].inject(fault, action="add", after_processing=True)

        text, price = await place_followers(multi, 5002, "https://instagram.com/lost")
        assert text.startswith("⏳ The provider did not answer in time"), text
        assert len(multi.adds("alpha")) == 1 and len(multi.panel("alpha").orders) == 1  # it did exist
        assert multi.adds("beta") == [] and multi.adds("gamma") == []
        assert multi.panel("beta").orders == {} and multi.panel("gamma").orders == {}
        [order] = await orders_in_state(shop.state.db, "unverified")
        assert (order.panel, order.panel_service_id) == ("alpha", "101")
        assert await shop.balance(5002) == Decimal(100) - price  # held for a person to settle
        alert = await shop.telegram.wait_for(
            lambda: next((m for m in shop.telegram.messages(ADMIN_ID) if "outcome unknown" in m.text), None),
            what="the admins' alert")
        assert f"Order #{order.order_id} of user 5002" in alert.text and "alpha · 101" in alert.text
        assert funds_alerts(multi) == []


async def _placed_at(multi: MultiShop, panel: str, service_id: str, count: int, *, user_id: int,
                     price_micros: int = 100_000) -> list[int]:
    """`count` orders the panel holds (pending), recorded as placed there and due now; their ids."""
    ids = multi.panel(panel).create_orders(count, service_id=service_id, quantity=1000)
    db = multi.shop.state.db
    return [(await placed_order(db, user_id=user_id, panel_order_id=panel_order_id, price_micros=price_micros,
                                panel=panel, key=f"{panel}-{panel_order_id}")).order_id for panel_order_id in ids]


async def test_orders_of_two_panels_are_polled_in_one_cycle_in_batches_of_100(tmp_path: Path) -> None:
    async with open_multi_shop(tmp_path) as multi:
        shop = multi.shop
        counts = {"alpha": 150, "beta": 99}
        ours = {"alpha": await _placed_at(multi, "alpha", "101", counts["alpha"], user_id=5100),
                "beta": await _placed_at(multi, "beta", "1101", counts["beta"], user_id=5100)}
        # The last order of each panel has started: its customer is told (the others stay pending).
        watchers = {"alpha": shop.customer(5101), "beta": shop.customer(5102)}
        started_ids: set[int] = set()
        for panel, watcher in watchers.items():
            [started] = await _placed_at(multi, panel, "101" if panel == "alpha" else "1101", 1, user_id=watcher.id)
            ours[panel].append(started)
            started_ids.add(started)
            counts[panel] += 1
            order = await get_order(shop.state.db, started)
            assert order is not None and order.panel_order_id is not None
            multi.panel(panel).force_status(order.panel_order_id, OrderStatus.IN_PROGRESS, remains=400)
        for server in multi.servers.values():
            server.reset_counters()

        now = time.time()
        report = await poll_orders(shop.state.db, shop.state.panels, shop.state.alerts, now=now, interval=60,
                                   quantum=shop.state.refund_quantum)

        assert report.due == counts["alpha"] + counts["beta"] and report.failed == report.missing == 0
        for panel, count in counts.items():
            asked = [r["orders"].split(",") for r in multi.status_requests(panel)]
            assert len(asked) == math.ceil(count / 100)  # alpha's 151 → 2 requests, beta's 100 → 1
            assert all(len(ids) <= 100 for ids in asked)
            everyone = [panel_id for ids in asked for panel_id in ids]
            assert sorted(everyone) == sorted(multi.panel(panel).orders)  # each of its orders, once
            for order_id in ours[panel]:
                order = await get_order(shop.state.db, order_id)
                assert order is not None and order.panel == panel
                running = "in progress" if panel == "alpha" else "processing"  # (as beta's V3 says it)
                assert order.panel_status == (running if order_id in started_ids else "pending")
                assert (order.next_poll_at or 0) > now
        assert multi.status_requests("gamma") == []  # no orders there: not asked
        for watcher in watchers.values():
            notice = await watcher.user.next_message(timeout=10)
            assert notice.text.startswith("🚀 Order #"), notice.text


async def test_a_panel_down_for_a_whole_cycle_does_not_delay_the_others(tmp_path: Path) -> None:
    # Alpha, the first panel, answers no status until the test lets it (a long timeout: it does
    # not give up first); beta's and gamma's changes reach their customers meanwhile.
    async with open_multi_shop(tmp_path, panel_options={"alpha": {"timeout": 60}}, hang_seconds=60) as multi:
        shop = multi.shop
        customers = {name: shop.customer(5200 + i) for i, name in enumerate(multi.servers)}
        orders = {name: (await _placed_at(multi, name, service, 1, user_id=customers[name].id))[0]
                  for name, service in (("alpha", "101"), ("beta", "1101"), ("gamma", "7"))}
        for name in multi.servers:
            multi.panel(name).clock.advance(PENDING_SECONDS + 1)  # every order has started
        down = multi.servers["alpha"]
        down.inject(FaultKind.TIMEOUT, action="status", times=10)

        cycle = asyncio.create_task(poll_orders(shop.state.db, shop.state.panels, shop.state.alerts, now=time.time(),
                                                interval=60, quantum=shop.state.refund_quantum))
        try:
            for name in ("beta", "gamma"):  # told while alpha's request is still out
                notice = await customers[name].user.next_message(timeout=10)
                assert notice.text.startswith(f"🚀 Order #{orders[name]}"), notice.text
                order = await get_order(shop.state.db, orders[name])
                assert order is not None and order.panel_status in RUNNING  # (beta and gamma say "processing")
            assert not cycle.done() and down.in_flight == 1
            assert len(multi.status_requests("alpha")) == 1
            held = await get_order(shop.state.db, orders["alpha"])
            assert held is not None and held.panel_status is None
        finally:
            await down.stop()  # alpha's hung request ends (its panel goes away)
            report = await asyncio.wait_for(cycle, timeout=15)
        assert report.due == 3 and report.failed == 1
        order = await get_order(shop.state.db, orders["alpha"])
        assert order is not None and order.panel_status is None and order.poll_failures == 1
        assert order.next_poll_at is not None  # asked again later
        assert customers["alpha"].user.messages() == []


@pytest.mark.parametrize(("link", "refund"), [("https://instagram.com/half#partial", "0.56"),
                                              ("https://instagram.com/all#cancel", "2.26")],
                         ids=["partial", "canceled"])
async def test_a_refund_of_an_order_in_another_currency_keeps_the_orders_rate(tmp_path: Path, link: str,
                                                                              refund: str) -> None:
    async with open_multi_shop(tmp_path, price_markup_percent="20", poll_interval_seconds=1) as multi:
        shop = multi.shop
        state = shop.state
        assert state.full_catalogue.service("beta-1101") is None  # EUR has no rate yet: not on sale
        await set_rate(multi, "EUR", "1.10")
        customer = await funded(shop, 5301)
        summary = await order_until_summary(customer, "beta-1101", [link, "2000"])
        price = quoted(summary)
        # 0.85 EUR × 1.10 = 0.935 USD per 1000, + 20% = 1.122, rounded up to 1.13; × 2
        assert price == Decimal("2.26")
        text = await confirm(customer, summary)
        assert text.startswith("✅ Order placed"), text
        [order] = await orders_in_state(state.db, "placed")
        assert (order.panel, order.panel_service_id, order.panel_currency, order.fx_rate) == (
            "beta", "1101", "EUR", "1.10")
        assert (order.price_micros, order.panel_cost_micros, order.cost_micros) == (2_260_000, 1_700_000, 1_870_000)

        await set_rate(multi, "EUR", "2.0")  # the euro doubles
        repriced = state.full_catalogue.service("beta-1101")
        assert repriced is not None and repriced.rate == Decimal("1.70")  # new orders pay the new rate

        multi.panel("beta").clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)
        notice = await customer.user.next_message(timeout=10)  # the poll job's (every second here)
        assert notice.text.startswith(f"{'⚠️' if 'partial' in link else '❌'} Order #{order.order_id}"), notice.text
        assert f"{refund} USD was returned to your wallet" in notice.text
        assert await shop.balance(5301) == Decimal(100) - price + Decimal(refund)
        rows = await state.db.fetchall(LEDGER_REFUNDS)
        assert [tuple(r) for r in rows] == [(order.order_id, to_micros(Decimal(refund)))]
        after = await get_order(state.db, order.order_id)
        assert after is not None
        assert (after.fx_rate, after.panel_cost_micros, after.cost_micros) == ("1.10", 1_700_000, 1_870_000)

        # The margin is the kept share of the price less the same share of the recorded cost.
        kept = 2_260_000 - to_micros(Decimal(refund))
        figures = (await period_figures(state.db, None)).by_panel["beta"]
        assert (figures.orders, figures.turnover_micros) == (1, kept)
        assert figures.cost_micros == 1_870_000 * kept // 2_260_000
        assert set((await period_figures(state.db, None)).by_panel) == {"beta"}


async def test_a_panel_added_to_panels_is_on_sale_after_the_restart(tmp_path: Path) -> None:
    async with FakeTelegram() as telegram, sandbox_panels() as servers:
        async with run_multi_shop(tmp_path, telegram, {"alpha": servers["alpha"]}) as multi:
            await funded(multi.shop, 5401)
            assert multi.shop.state.full_catalogue.service("gamma-8") is None
        # The operator adds gamma to PANELS and restarts: its services go on sale, alpha's keep their ids.
        async with run_multi_shop(tmp_path, telegram, {"alpha": servers["alpha"], "gamma": servers["gamma"]}) as multi:
            state = multi.shop.state
            await multi.shop.telegram.wait_for(lambda: state.full_catalogue.service("gamma-8"), timeout=5,
                                               what="gamma's services on sale")
            assert state.full_catalogue.service("102") is not None
            customer = multi.shop.customer(5401)
            summary = await order_until_summary(customer, "gamma-8", ["https://instagram.com/new-panel", "1000"])
            assert quoted(summary) == Decimal("0.10")
            assert (await confirm(customer, summary)).startswith("✅ Order placed")
            assert [(a["service"], a["quantity"]) for a in multi.adds("gamma")] == [("8", "1000")]
            assert multi.adds("alpha") == []
