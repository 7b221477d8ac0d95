"""Issue #17, the orders part, end to end (and the relative-time formatting it uses, by unit):

- item 9: the list is a short title and one button per order, each with its state's own mark; the
  card shows what was refunded, offers no Refresh once the order is finished, and says how long
  ago things happened ("just now", "3 hours ago");
- item 6: the card, the cancel and refill answers and the status notices say nothing of the
  provider's order id or its raw English messages (those go to the log, for the admins);
- item 11: a notice's Open order sends the card as a new message, so the notice keeps its facts,
  while the card's own buttons still edit the card.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import texts
from bot.domain.timestamps import shown_ago
from bot.panel import OrderStatus
from bot.panel.sandbox.engine import PENDING_SECONDS, REFILL_DAYS, RUN_SECONDS
from bot.shop.tracking import STATUS_MARKS
from handlers.buttons import CardAction, OrderCard, parse_any
from storage.orders import get_order
from tests.support.customer import Customer
from tests.support.fake_telegram import SentMessage
from tests.support.shop import Shop, open_shop
from tests.test_ordering_e2e import confirm, funded, order_until_summary
from tests.test_tracking_e2e import FAST, place

DONE = PENDING_SECONDS + RUN_SECONDS + 1  # sandbox seconds until an order is finished
PARTIAL_NAME = "Instagram Followers – Cheapest_Bots *No Refill*"  # service 102


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    """Polled every second: notices come as soon as the sandbox clock is moved."""
    async with open_shop(tmp_path, **FAST) as running:
        yield running


@pytest.fixture
async def still_shop(tmp_path: Path) -> AsyncIterator[Shop]:
    """Polled once a minute: what the panel does meanwhile is unknown to the shop (the card is
    drawn from the order as stored)."""
    async with open_shop(tmp_path) as running:
        yield running


async def arrived(customer: Customer, starts: str) -> SentMessage:
    """The first message to the customer, now or later, that starts with `starts`."""
    return await customer.shop.telegram.wait_for(
        lambda: next((m for m in customer.user.messages() if m.text.startswith(starts)), None),
        timeout=10, what=f"a message starting {starts!r}")


async def panel_id(shop: Shop, order_id: int) -> str:
    order = await get_order(shop.state.db, order_id)
    assert order is not None and order.panel_order_id is not None
    return order.panel_order_id


async def open_card(customer: Customer, order_id: int) -> SentMessage:
    customer.user.skip_pending()  # notices that came meanwhile are not the answer to /orders
    card, _ = await customer.tap(await customer.say("/orders"), f"ord:{order_id}")
    assert card.text.startswith(f"📦 Order #{order_id}"), card.text
    return card


# --------------------------------------------------------------------------- item 9: the list

async def test_the_list_is_one_button_per_order_with_a_mark_per_state(shop: Shop) -> None:
    """The list showed each order twice (a text line and a button), every one marked 🟢."""
    customer = await funded(shop, 5300)
    done = await place(shop, customer, "https://instagram.com/done", service="102")
    canceled = await place(shop, customer, "https://instagram.com/gone#cancel", service="102")
    shop.panel.clock.advance(DONE)
    await arrived(customer, f"✅ Order #{done}")
    await arrived(customer, f"❌ Order #{canceled}")
    customer.user.skip_pending()  # the notices are read
    waiting = await place(shop, customer, "https://instagram.com/twice", service="102")
    # The same link again while the first runs: the provider refuses it, the shop refunds it.
    refused = await confirm(customer, await order_until_summary(customer, "102", ["https://instagram.com/twice",
                                                                                 "1000"]))
    assert refused.startswith("❌"), refused
    rejected = waiting + 1

    customer.user.skip_pending()
    listing = await customer.say("/orders")
    assert listing.raw_text == texts.MY_ORDERS.format(count=4)  # a title, no line per order
    rows = listing.button_texts()
    marks = {rejected: STATUS_MARKS["rejected"], waiting: STATUS_MARKS["pending"],
             canceled: STATUS_MARKS["canceled"], done: STATUS_MARKS["completed"]}
    assert rows[:4] == [[f"{mark} #{order_id} · {PARTIAL_NAME[:27].rstrip()}…"] for order_id, mark in marks.items()]
    assert len(set(marks.values())) == 4 and rows[4:] == [[texts.BUTTON_MAIN_MENU]]


# --------------------------------------------------------------------------- item 9 and 6: the card

async def test_a_finished_card_shows_the_refund_and_no_refresh_nor_the_providers_id(shop: Shop) -> None:
    customer = await funded(shop, 5310)
    order_id = await place(shop, customer, "https://instagram.com/half#partial", service="102")
    running = await open_card(customer, order_id)
    assert "Ordered: just now · Updated: just now" in running.text and "UTC" not in running.text
    assert "Refresh" in str(running.button_texts())  # still going: worth a look
    shop.panel.clock.advance(DONE)
    await arrived(customer, f"⚠️ Order #{order_id}")

    card = await open_card(customer, order_id)
    assert f"{STATUS_MARKS['partial']} Status: <b>partially delivered</b>" in card.raw_text
    assert "↩️ Returned to your wallet: 0.03 USD" in card.text  # 250 of 1000 undelivered, from the ledger
    assert card.button_texts() == [[texts.BUTTON_MY_ORDERS_BACK]]  # finished: nothing to refresh
    pid = await panel_id(shop, order_id)
    assert pid not in card.text and "Provider" not in card.text


async def test_the_card_says_how_long_ago(shop: Shop) -> None:
    customer = await funded(shop, 5320)
    order_id = await place(shop, customer, "https://instagram.com/earlier", service="102")
    async with shop.state.db.transaction() as conn:  # as if it had been ordered three hours ago
        earlier = datetime.now(UTC) - timedelta(hours=3, minutes=5)
        await conn.execute("UPDATE orders SET created_at = ? WHERE order_id = ?",
                           (earlier.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", order_id))
    card = await open_card(customer, order_id)
    assert "📅 Ordered: 3 hours ago · Updated: just now" in card.text, card.text


async def test_a_completed_refillable_card_offers_refill_but_no_refresh(shop: Shop) -> None:
    customer = await funded(shop, 5330)
    order_id = await place(shop, customer, "https://instagram.com/refillable")
    shop.panel.clock.advance(DONE)
    await arrived(customer, f"✅ Order #{order_id}")
    card = await open_card(customer, order_id)
    assert card.button_texts() == [[texts.BUTTON_REFILL], [texts.BUTTON_MY_ORDERS_BACK]]


# --------------------------------------------------------------------------- item 6: the provider's words

@pytest.mark.parametrize("meanwhile", ["completed", "canceled"])
async def test_a_refused_cancel_is_told_in_the_shops_words(still_shop: Shop, meanwhile: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """The customer read "The provider said: Cancel request already in progress please wait"."""
    shop = still_shop
    customer = await funded(shop, 5340)
    order_id = await place(shop, customer, "https://instagram.com/late")
    pid = await panel_id(shop, order_id)
    if meanwhile == "completed":  # finished at the panel before the shop polled it
        shop.panel.force_status(pid, OrderStatus.COMPLETED, remains=0)
        raw = "Order already completed"
    else:  # cancelled at the panel already
        shop.panel.orders[pid].canceled_at = shop.panel.clock.now()
        raw = "Cancel request already in progress please wait"
    card = await open_card(customer, order_id)
    caplog.set_level(logging.INFO, logger="bot.shop.tracking")
    await customer.tap(card, f"ord:{order_id}:c")
    await customer.tap(card, f"ord:{order_id}:cy")
    answer = await customer.user.next_message()
    assert answer.text == texts.CANCEL_REFUSED.format(order_id=order_id)
    assert raw in caplog.text and pid in caplog.text  # the panel's words, for the admins


async def test_a_refused_refill_is_told_in_the_shops_words(shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    customer = await funded(shop, 5350)
    order_id = await place(shop, customer, "https://instagram.com/old")
    shop.panel.clock.advance(DONE)
    await arrived(customer, f"✅ Order #{order_id}")
    shop.panel.clock.advance(REFILL_DAYS * 86400)  # the provider's refill period is over
    card = await open_card(customer, order_id)
    caplog.set_level(logging.INFO, logger="bot.shop.tracking")
    await customer.tap_answer(card, f"ord:{order_id}:f")
    answer = await customer.user.next_message()
    assert answer.text == texts.REFILL_REFUSED.format(order_id=order_id)
    assert "Refill days are over" not in answer.text and "Refill days are over" in caplog.text


# --------------------------------------------------------------------------- item 11: from a notice

async def test_opening_an_order_from_a_notice_keeps_the_notice(shop: Shop) -> None:
    """Open order replaced the partial-delivery notice, and its refund line, with the card."""
    customer = await funded(shop, 5360)
    order_id = await place(shop, customer, "https://instagram.com/kept#partial", service="102")
    shop.panel.clock.advance(DONE)
    partial = await arrived(customer, f"⚠️ Order #{order_id}")
    facts, keyboard = partial.text, partial.button_texts()
    assert "0.03 USD was returned to your wallet" in facts
    assert parse_any(partial.button("Open order")["callback_data"]) == OrderCard(order_id, CardAction.NOTICE)

    customer.user.skip_pending()
    await customer.tap_answer(partial, "Open order")
    card = await customer.user.next_message()  # a new message, below the notice
    assert card.text.startswith(f"📦 Order #{order_id}") and "Returned to your wallet: 0.03 USD" in card.text
    assert (partial.text, partial.button_texts(), partial.edits) == (facts, keyboard, 0)

    listing, _ = await customer.tap(card, texts.BUTTON_MY_ORDERS_BACK)  # the card's own buttons edit the card
    assert listing.raw_text == texts.MY_ORDERS.format(count=1) and partial.text == facts


async def test_a_notice_sent_before_still_opens_its_order() -> None:
    """Notices already in chats carry "ord:{id}": it still opens the card (in place, as then)."""
    assert parse_any("ord:7") == OrderCard(7)
    assert parse_any("ord:7:n") == OrderCard(7, CardAction.NOTICE)


# --------------------------------------------------------------------------- relative times (unit)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ago", "shown"), [
    (timedelta(0), "just now"), (timedelta(seconds=59), "just now"), (timedelta(seconds=-30), "just now"),
    (timedelta(minutes=1), "1 minute ago"), (timedelta(minutes=59, seconds=59), "59 minutes ago"),
    (timedelta(hours=1), "1 hour ago"), (timedelta(hours=2, minutes=59), "2 hours ago"),
    (timedelta(hours=23), "23 hours ago"),
    (timedelta(days=1), "yesterday"), (timedelta(days=6, hours=23), "6 days ago"),
    (timedelta(days=7), "2026-11-15"), (timedelta(days=400), "2025-10-18"),
    (timedelta(minutes=-5), "2026-11-22 12:05 UTC"),  # ahead of now (a clock off): the moment, zone named
])
def test_how_long_ago_a_moment_is_shown(ago: timedelta, shown: str) -> None:
    assert shown_ago(NOW - ago, NOW) == shown
    assert shown_ago((NOW - ago).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), NOW) == shown  # as the database stores it


def test_an_unreadable_moment_is_a_dash() -> None:
    assert shown_ago("yesterday", NOW) == "-"
