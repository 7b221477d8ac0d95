"""Order tracking end to end: the real poll job (every second here) against the sandbox, whose
clock the tests move by hand, and the notifications as the fake Bot API receives them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot import texts
from bot.panel.sandbox import Dialect, FaultKind, SandboxClock, SandboxPanel, SandboxServer
from bot.panel.sandbox.engine import PENDING_SECONDS, REFILL_PENDING_SECONDS, REFILL_RUN_SECONDS, RUN_SECONDS
from storage.orders import get_order, orders_in_state
from tests.support.customer import Customer
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.shop import ADMIN_ID, PANEL_KEY, Shop, open_shop, run_shop
from tests.test_ordering_e2e import confirm, funded, order_until_summary

FAST = {"poll_interval_seconds": 1}


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, **FAST) as running:
        yield running


async def place(shop: Shop, customer: Customer, link: str, quantity: str = "1000", service: str = "101") -> int:
    answers = [link, quantity]
    text = await confirm(customer, await order_until_summary(customer, service, answers))
    assert text.startswith("✅ Order placed"), text
    return (await orders_in_state(shop.state.db, "placed"))[-1].order_id


async def notice(customer: Customer, starts: str) -> SentMessage:
    message = await customer.user.next_message(timeout=10)
    assert message.text.startswith(starts), message.text
    return message


LEDGER_REFUNDS = "SELECT order_id, amount_micros FROM ledger WHERE reason = 'refund' ORDER BY entry_id"


async def test_every_change_is_pushed_once_and_final_orders_are_not_polled(shop: Shop) -> None:
    customer = await funded(shop, 3001)
    order_id = await place(shop, customer, "https://instagram.com/life")
    shop.panel.clock.advance(PENDING_SECONDS + 1)
    started = await notice(customer, f"🚀 Order #{order_id}")
    assert "Start count:" in started.text
    assert started.button(f"Open order #{order_id}")["callback_data"] == f"ord:{order_id}:n"  # a new message
    shop.panel.clock.advance(RUN_SECONDS)
    await notice(customer, f"✅ Order #{order_id}")
    order = await get_order(shop.state.db, order_id)
    assert order is not None and order.panel_status == "completed" and order.next_poll_at is None
    # Another order keeps the poller busy; the finished one is never asked about again.
    second = await place(shop, customer, "https://instagram.com/next")
    panel_id = (await get_order(shop.state.db, second)).panel_order_id  # type: ignore[union-attr]
    asked = await shop.telegram.wait_for(
        lambda: next((r for r in shop.server.requests
                      if r.action == "status" and panel_id in r.fields.get("orders", "")), None),
        timeout=10, what="a poll of the second order")
    assert order.panel_order_id not in asked.fields["orders"].split(",")
    assert [m.text[:1] for m in customer.user.messages() if m.text.startswith(("🚀", "✅ Order #"))] == ["🚀", "✅"]


async def test_partial_refund_is_exact_and_once(shop: Shop) -> None:
    customer = await funded(shop, 3002)
    order_id = await place(shop, customer, "https://instagram.com/half#partial", "1000", service="102")
    shop.panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)
    message = await customer.user.next_message(timeout=10)
    if message.text.startswith("🚀"):  # the poll may have caught it running first
        message = await customer.user.next_message(timeout=10)
    # 1000 ordered, 250 not delivered: 0.12 × 250 / 1000 = 0.03 back
    assert message.text == (f"⚠️ Order #{order_id} (Instagram Followers – Cheapest_Bots *No Refill*) was partially "
                            "delivered: 250 of 1,000 were not delivered. 0.03 USD was returned to your wallet.")
    assert await shop.balance(3002) == Decimal(100) - Decimal("0.12") + Decimal("0.03")
    rows = await shop.state.db.fetchall(LEDGER_REFUNDS)
    assert [tuple(r) for r in rows] == [(order_id, 30000)]


async def test_cancel_from_the_order_card_refunds_once(shop: Shop) -> None:
    customer = await funded(shop, 3003)
    order_id = await place(shop, customer, "https://instagram.com/stop")
    listing = await customer.say("/orders")
    card, _ = await customer.tap(listing, f"ord:{order_id}")
    assert card.text.startswith(f"📦 Order #{order_id}") and "Status: pending" in card.text
    await customer.tap(card, f"ord:{order_id}:c")
    assert card.text.startswith(f"Cancel order #{order_id}")
    await customer.tap(card, f"ord:{order_id}:cy")
    assert (await customer.user.next_message()).text.startswith(f"✖ Cancel request for order #{order_id} received")
    await notice(customer, f"❌ Order #{order_id}")
    assert await shop.balance(3003) == Decimal(100)
    rows = await shop.state.db.fetchall(LEDGER_REFUNDS)
    assert [tuple(r) for r in rows] == [(order_id, 900000)]


@pytest.mark.parametrize("dialect", [Dialect.V2, Dialect.V3])
async def test_refill_with_and_without_refill_ids(tmp_path: Path, dialect: Dialect) -> None:
    async with open_shop(tmp_path, dialect=dialect, **FAST) as shop:
        customer = await funded(shop, 3004)
        order_id = await place(shop, customer, "https://instagram.com/refill")
        shop.panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)
        done = await customer.user.next_message(timeout=10)
        if done.text.startswith("🚀"):
            done = await customer.user.next_message(timeout=10)
        assert done.text.startswith(f"✅ Order #{order_id}")
        await customer.tap_answer(done, f"ord:{order_id}:n")
        card = await customer.user.next_message()  # the card, below the notice
        await customer.tap_answer(card, f"ord:{order_id}:f")
        requested = await customer.user.next_message()
        if dialect is Dialect.V3:
            assert requested.text.startswith(f"♻️ Refill of order #{order_id} requested.")
            assert "not reported on its own" in requested.text and "Your order will be refill" not in requested.text
            return
        assert requested.text == f"♻️ Refill of order #{order_id} requested. You will get a message when it changes."
        shop.panel.clock.advance(REFILL_PENDING_SECONDS)
        assert (await notice(customer, "♻️ Refill of order")).text.endswith(": in progress.")
        shop.panel.clock.advance(REFILL_RUN_SECONDS)
        assert (await notice(customer, "♻️ Refill of order")).text.endswith(": completed.")


async def test_restart_announces_each_change_once(tmp_path: Path) -> None:
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
    async with FakeTelegram() as telegram, SandboxServer(panel, hang_seconds=5) as server:
        async with run_shop(tmp_path, telegram, server, **FAST) as shop:
            customer = await funded(shop, 3005)
            first = await place(shop, customer, "https://instagram.com/r1", service="102")
            second = await place(shop, customer, "https://instagram.com/r2#cancel", service="102")
        panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)  # both finish while the bot is down
        async with run_shop(tmp_path, telegram, server, **FAST) as shop:
            texts_seen = {(await customer.user.next_message(timeout=10)).text.split(" (")[0] for _ in range(2)}
            assert texts_seen == {f"✅ Order #{first}", f"❌ Order #{second}"}
            assert await shop.balance(3005) == Decimal(100) - Decimal("0.12")
        async with run_shop(tmp_path, telegram, server, **FAST) as shop:
            # Nothing new: the next message this customer gets answers /balance.
            assert (await customer.say("/balance")).text.startswith("💰 Your balance: 99.88 USD")


async def test_a_panel_outage_delays_polling_without_losing_the_change(shop: Shop) -> None:
    customer = await funded(shop, 3006)
    order_id = await place(shop, customer, "https://instagram.com/outage", service="102")
    shop.server.inject(FaultKind.HTML_502, action="status", times=6)  # two cycles of 3 attempts
    shop.panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)
    await shop.telegram.wait_for(
        lambda: True if sum(1 for r in shop.server.requests if r.action == "status") >= 6 else None,
        timeout=15, what="six failed status requests")
    await notice(customer, f"✅ Order #{order_id}")
    order = await get_order(shop.state.db, order_id)
    assert order is not None and order.poll_failures == 0  # reset by the successful poll


async def test_an_order_the_panel_forgot_is_reported_once(shop: Shop) -> None:
    customer = await funded(shop, 3007)
    order_id = await place(shop, customer, "https://instagram.com/forgotten", service="102")
    order = await get_order(shop.state.db, order_id)
    assert order is not None and order.panel_order_id is not None
    del shop.panel.orders[order.panel_order_id]
    alert = await shop.telegram.wait_for(
        lambda: next((m for m in shop.telegram.messages(ADMIN_ID) if "does not know order" in m.text), None),
        timeout=10, what="the admin alert")
    assert f"#{order_id}" in alert.text and "Incorrect order ID" in alert.text
    order = await get_order(shop.state.db, order_id)
    assert order is not None and order.next_poll_at is None  # not retried forever


async def test_a_429_storm_still_delivers_every_notification(shop: Shop) -> None:
    customers = [await funded(shop, 3010 + i, name=f"C{i}") for i in range(3)]
    for i, customer in enumerate(customers):
        await place(shop, customer, f"https://instagram.com/storm{i}", service="102")
    shop.telegram.inject_flood(8, retry_after=1, method="sendMessage")
    shop.panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)
    for customer in customers:
        await notice(customer, "✅ Order #")
    assert sum(1 for c in shop.telegram.calls if c.method == "sendMessage" and c.status == 429) == 8


async def test_a_customer_who_blocked_the_bot_is_skipped(shop: Shop) -> None:
    customer = await funded(shop, 3008)
    order_id = await place(shop, customer, "https://instagram.com/blocked", service="102")
    shop.telegram.blocked.add(3008)
    shop.panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)
    assert await _wait_db(shop, "SELECT blocked_at FROM users WHERE user_id = 3008 AND blocked_at IS NOT NULL")
    state = await _wait_db(shop, "SELECT state FROM notifications WHERE order_id = ?", order_id)
    assert state == "dropped"


async def _wait_db(shop: Shop, sql: str, *params: object) -> object:
    """The first column of the first row, once the query returns one (checked as calls arrive)."""
    found: list[object] = []

    async def probe_db() -> None:
        row = await shop.state.db.fetchone(sql, params)
        if row is not None:
            found.append(row[0])

    for _ in range(200):
        await probe_db()
        if found:
            return found[0]
        await shop.telegram.wait_call("getUpdates", timeout=5)  # the bot's next poll: time has passed
    raise AssertionError(f"no row for {sql}")


async def test_a_forged_order_id_shows_and_does_nothing(shop: Shop) -> None:
    ann = await funded(shop, 3020, name="Ann")
    order_id = await place(shop, ann, "https://instagram.com/mine", service="101")
    eve = shop.customer(3021, "Eve")
    menu = await eve.say("/start")
    for data in (f"ord:{order_id}", f"ord:{order_id}:cy", f"ord:{order_id}:f", "ord:x", "ord:99999:r"):
        await shop.telegram.push_update({"callback_query": {
            "id": f"forge-{data}", "from": eve.user.as_dict(), "chat_instance": "1", "data": data,
            "message": {"message_id": menu.message_id, "date": 0, "chat": eve.user.chat_dict(), "text": menu.text},
        }})
        answered = await shop.telegram.wait_call("answerCallbackQuery",
                                                 lambda c, d=data: c.params.get("callback_query_id") == f"forge-{d}")
        assert answered.params.get("text") in (texts.NOT_YOUR_ORDER, texts.MENU_EXPIRED)
    assert not [r for r in shop.server.requests if r.action == "cancel"]
