"""Operator tools end to end: the real bot, the fake Bot API and the sandbox panel over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot import texts
from bot.domain.catalogue import category_key
from bot.panel.sandbox import FaultKind
from storage.audit import recent_entries
from storage.orders import get_order, orders_in_state
from tests.support.customer import Customer
from tests.support.shop import ADMIN_ID, Shop, open_shop
from tests.test_ordering_e2e import confirm, funded, order_until_summary

SECOND_ADMIN = 901
FOLLOWERS = "📸 Instagram Followers"  # the category of services 101 and 102


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, admin_ids=f"{ADMIN_ID},{SECOND_ADMIN}", price_markup_percent="50",
                         panel_low_balance="900") as running:
        yield running


def buttons(message: object) -> list[str]:
    return [b["callback_data"] for row in message.buttons() for b in row]  # type: ignore[attr-defined]


async def admin_home(shop: Shop, user_id: int = ADMIN_ID) -> tuple[Customer, object]:
    admin = shop.customer(user_id, "Admin")
    await admin.user.send("/admin")
    menu = await admin.user.next_message()
    while not menu.text.startswith("🛠 Admin"):  # alerts the admin has not read yet come first
        menu = await admin.user.next_message()
    return admin, menu


async def test_admin_menu_panel_and_stats(shop: Shop) -> None:
    customer = await funded(shop, 3001)
    assert (await confirm(customer, await order_until_summary(
        customer, "102", ["https://instagram.com/a", "1000"]))).startswith("✅ Order placed")
    admin, menu = await admin_home(shop)
    assert set(buttons(menu)) >= {"a:panel", "a:stats", "a:users", "a:unv", "a:bc", "a:cat:0", "a:audit"}
    await admin.tap(menu, "a:panel")
    # the sandbox holds 1000 USD and charged 0.12 for the order; the alert level is 900
    assert "Balance: 999.88 USD" in menu.text and "below the alert level" not in menu.text
    full = len(shop.state.full_catalogue)
    assert f"Catalogue: {full} services" in menu.text and f"({full} shown to customers, 0 hidden)" in menu.text
    assert "Last refresh: 20" in menu.text  # a date, not "never": the start-up refresh
    await admin.tap(menu, "a:home")
    await admin.tap(menu, "a:stats")
    # 1000 × 0.12 / 1000 = 0.12 at the panel, 0.18 with the 50% markup: margin 0.06
    assert "Customers: 1 · active in the last 7 days: 1" in menu.text  # the admins are not customers
    # one block for the four periods, all of them today's (#17 item 11)
    assert "Today = All time: 1 order · turnover 0.18 USD · cost 0.12 USD · margin 0.06 USD" in menu.text


async def test_low_balance_alerts_once_per_crossing(shop: Shop) -> None:
    admin, menu = await admin_home(shop)
    shop.panel.funds = Decimal("850")  # below the 900 alert level
    await admin.tap(menu, "a:panel")
    assert "Balance: 850.00 USD ⚠️ below the alert level of 900.00 USD" in menu.text
    alerts = [m for m in admin.user.messages() if "balance at panel main is low" in m.text]
    assert len(alerts) == 1 and "850.00 USD" in alerts[0].text
    for _ in range(2):  # still low: no second alert, however often it is read (the same text: no edit)
        await admin.tap_answer(menu, "a:panel")
    shop.panel.funds = Decimal("950")
    await admin.tap(menu, "a:panel")
    assert "below the alert level" not in menu.text
    shop.panel.funds = Decimal("800")  # a second crossing: a second alert
    await admin.tap(menu, "a:panel")
    alerts = [m for m in admin.user.messages() if "balance at panel main is low" in m.text]
    assert len(alerts) == 2 and "800.00 USD" in alerts[1].text


async def test_user_card_credit_debit_ban_and_unban(shop: Shop) -> None:
    customer = await funded(shop, 3002, amount="10", name="Bob")
    admin = shop.customer(ADMIN_ID, "Admin")
    card = await admin.say("/user 3002")
    assert "Bob" in card.text and "Wallet: 10.00 USD" in card.text and "credit" in card.text  # the ledger entry
    await admin.tap(card, ":cr")
    assert card.text.startswith("➕ How much to credit")
    assert (await admin.say("ten")).text.startswith("ten is not an amount")  # and the prompt stays
    assert (await admin.say("5")).text == "✅ Credited 5.00 USD to user 3002. New balance: 15.00 USD"
    assert "credited with 5.00 USD" in (await customer.user.next_message()).text
    assert (await admin.say("7")).text == texts.UNKNOWN_INPUT  # the prompt was answered: 7 is just text now
    card = await admin.say("/user 3002")
    await admin.tap(card, ":db")
    assert (await admin.say("/cancel")).text == texts.PROMPT_CANCELLED
    assert await shop.balance(3002) == Decimal(15)
    assert (await admin.say("/user abc")).raw_text == texts.USER_USAGE
    assert (await admin.say("/user 77")).text == texts.UNKNOWN_USER.format(user_id=77)

    summary = await order_until_summary(customer, "102", ["https://instagram.com/b", "1000"])
    card = await admin.say("/user 3002")
    await admin.tap(card, ":ban")
    assert "is banned" in card.text and "⛔ banned" in card.text
    # Told once that access is closed…
    assert (await customer.say("/start")).text == texts.BANNED
    # …then ignored: no reply to text, a button answered silently, no order from an old summary.
    await customer.user.send("/balance")
    query = await customer.user.press(summary, summary.buttons()[0][0]["callback_data"])  # type: ignore[attr-defined]
    answered = await customer.user.wait_answer(query)  # handled after /balance: one user's updates in order
    assert not answered.params.get("text")
    assert customer.user.messages()[-1].text == texts.BANNED  # nothing after the notice
    assert not shop.adds()
    await admin.tap(card, ":unban")
    assert "no longer banned" in card.text
    assert (await customer.say("/balance")).text.startswith("💰 Your balance: 15.00 USD")
    entries = await recent_entries(shop.state.db)
    assert [e.action for e in entries] == ["unban", "ban", "credit", "credit"]
    assert {e.admin_id for e in entries} == {ADMIN_ID}
    assert (entries[2].target, entries[2].before, entries[2].after) == ("user 3002", "10.00 USD", "15.00 USD")


async def test_an_admin_cannot_be_banned_and_a_ban_survives_a_restart(tmp_path: Path) -> None:
    async with open_shop(tmp_path, admin_ids=f"{ADMIN_ID},{SECOND_ADMIN}") as shop:
        customer = await funded(shop, 3003)
        admin = shop.customer(ADMIN_ID, "Admin")
        await shop.customer(SECOND_ADMIN, "Eve").say("/start")
        card = await admin.say(f"/user {SECOND_ADMIN}")
        assert not any(data.endswith(":ban") for data in buttons(card))
        card = await admin.say("/user 3003")
        await admin.tap(card, ":ban")
        assert (await customer.say("/start")).text == texts.BANNED
    async with open_shop(tmp_path) as shop:  # the same database, a new process
        customer = shop.customer(3003)
        menu = await shop.customer(ADMIN_ID, "Admin").say("/start")  # a message to press a button on
        await customer.user.send("/start")
        query = await _forge(shop, customer, menu, "m:bal")
        assert not (await customer.user.wait_answer(query)).params.get("text")  # after /start: in order
        assert customer.user.messages() == []  # told once per ban: not again after the restart
        card = await shop.customer(ADMIN_ID, "Admin").say("/user 3003")
        assert "⛔ banned" in card.text


async def test_a_customer_gets_nothing_from_admin_commands_and_forged_admin_buttons(shop: Shop) -> None:
    customer = await funded(shop, 3004)
    victim = await funded(shop, 3005, name="Vic")
    for command in ("/admin", "/user 3005", "/credit 3004 100", "/debit 3005 1", "/broadcast", "/refresh",
                    "/unverified", "/resolve 1 failed", "/catalogue"):
        assert (await customer.say(command)).text == texts.UNKNOWN_INPUT, command
    menu = await customer.say("/start")
    key = category_key(FOLLOWERS)
    for data in ("a:home", "a:panel", "a:stats", "a:audit", "a:users", f"a:u:{victim.id}", f"a:u:{victim.id}:ban",
                 f"a:u:{victim.id}:cr", "a:unv", "a:o:1:fy", "a:bc", "a:bc:1:go", "a:cat:0", f"a:c:{key}:h",
                 "a:s:102:h", "a:refresh"):
        query = await _forge(shop, customer, menu, data)
        answered = await customer.user.wait_answer(query)
        assert answered.params.get("text") == texts.MENU_EXPIRED, data  # what any unknown button gets
    assert menu.edits == 0  # type: ignore[attr-defined]
    assert await shop.balance(3004) == Decimal(100) and await shop.balance(3005) == Decimal(100)
    assert not shop.state.customers.banned
    assert not shop.state.rules.hidden_categories and not shop.state.rules.hidden_services
    assert [e.action for e in await recent_entries(shop.state.db)] == ["credit", "credit"]  # the admin's two
    # a forged prompt answer does nothing either: customers have no prompts
    assert (await customer.say("5")).text == texts.UNKNOWN_INPUT


async def _forge(shop: Shop, customer: Customer, message: object, data: str) -> str:
    """A callback query with any data on a real message of the customer (a modified client)."""
    shop.telegram._query_counter += 1
    query_id = f"forged-{shop.telegram._query_counter}"
    shop.telegram._queries[query_id] = customer.id
    await shop.telegram.push_update({"callback_query": {
        "id": query_id, "from": customer.user.as_dict(), "chat_instance": "1", "data": data,
        "message": shop.telegram._message_json(message),  # type: ignore[arg-type]
    }})
    return query_id


async def test_unverified_orders_settled_from_buttons_once_by_two_admins(shop: Shop) -> None:
    customer = await funded(shop, 3006)
    for link in ("https://instagram.com/u1", "https://instagram.com/u2"):
        shop.server.inject(FaultKind.HTML_502, action="add", after_processing=True)
        text = await confirm(customer, await order_until_summary(customer, "102", [link, "1000"]))
        assert text.startswith("⏳ The provider did not answer")
    first, second = await orders_in_state(shop.state.db, "unverified")
    ann, menu_a = await admin_home(shop)
    eve, menu_e = await admin_home(shop, SECOND_ADMIN)
    await ann.tap(menu_a, "a:unv")
    await eve.tap(menu_e, "a:unv")
    assert "instagram.com/u1" in menu_a.text and "instagram.com/u2" in menu_e.text
    # both admins ask to refund the second order, then both confirm at the same moment
    await ann.tap(menu_a, f"a:o:{second.order_id}:f")
    await eve.tap(menu_e, f"a:o:{second.order_id}:f")
    assert "refund 0.18 USD to user" in menu_a.text
    queries = [await ann.user.press(menu_a, f"a:o:{second.order_id}:fy"),
               await eve.user.press(menu_e, f"a:o:{second.order_id}:fy")]
    await asyncio.gather(ann.user.wait_answer(queries[0]), eve.user.wait_answer(queries[1]))
    await shop.telegram.wait_for(lambda: True if not any(m.text.startswith("❌ Mark") for m in (menu_a, menu_e))
                                 else None, what="both screens settled")
    texts_seen = sorted([menu_a.text, menu_e.text])
    assert texts_seen[0].startswith(f"Order #{second.order_id} is not waiting for a check (it is rejected)")
    assert texts_seen[1].startswith(f"✅ Order #{second.order_id} marked as failed; 0.18 USD refunded")
    assert await shop.balance(3006) == Decimal(100) - Decimal("0.18")  # one order held, one refunded once
    refund_notes = [m for m in customer.user.messages() if "could not be placed" in m.text]
    assert len(refund_notes) == 1
    # the first was placed after all: the admin types its panel id, and it is tracked from then on
    await ann.tap(menu_a, "a:unv")
    await ann.tap(menu_a, f"a:o:{first.order_id}:p")
    assert "send the panel's order id" in menu_a.text
    assert (await ann.say("23 501")).raw_text == texts.BAD_PANEL_ORDER_ID
    assert (await ann.say("23501")).text == f"✅ Order #{first.order_id} marked as placed (panel order 23501)."
    placed = await get_order(shop.state.db, first.order_id)
    assert placed is not None and placed.state == "placed" and placed.next_poll_at is not None
    entries = await recent_entries(shop.state.db)
    assert [(e.action, e.target) for e in entries[:2]] == [("resolve placed", f"order #{first.order_id}"),
                                                           ("resolve failed", f"order #{second.order_id}")]


async def test_catalogue_hide_show_markup_and_refresh(shop: Shop) -> None:
    customer = await funded(shop, 3007)
    old_summary = await order_until_summary(customer, "102", ["https://instagram.com/c", "1000"])
    admin, menu = await admin_home(shop)
    await admin.tap(menu, "a:cat:0")
    key = category_key(FOLLOWERS)
    await admin.tap(menu, f"a:c:{key}")
    await admin.tap(menu, f"a:c:{key}:h")
    assert "🙈 hidden" in menu.text
    # hidden: an old summary cannot be confirmed, and it is not in the menu or in search
    assert await confirm(customer, old_summary) == texts.SERVICE_GONE
    categories = await customer.say("/order")
    assert FOLLOWERS not in str(categories.button_texts())
    assert (await customer.say("Cheapest")).text.startswith("🔎 Nothing matches Cheapest")
    await customer.say("/cancel")
    assert not shop.adds() and await shop.balance(3007) == Decimal(100)
    await admin.tap(menu, f"a:c:{key}:s")
    assert "shown" in menu.text
    # a category markup of its own: 100% instead of the shop's 50%
    await admin.tap(menu, f"a:c:{key}:m")
    assert (await admin.say("lots")).text.startswith("⚠️ “lots” is not a markup")
    done = await admin.say("100")
    assert done.text.startswith(f"✅ Markup for {FOLLOWERS}: 100%")
    assert done.button_texts() == [[f"‹ {FOLLOWERS}"]]  # back to the category it names, not "Catalogue"
    card = await customer.open_service("102")
    assert "0.24 USD" in card.text  # 0.12 × 2
    # a single service hidden, the rest of its category still sold
    await admin.tap(done, f"a:c:{key}")
    await admin.tap(done, f"a:c:{key}:sv:0")
    await admin.tap(done, "a:s:101")
    await admin.tap(done, "a:s:101:h")
    assert "🙈 hidden" in done.text
    assert shop.state.catalogue.service("101") is None and shop.state.catalogue.service("102") is not None
    # the panel changes a rate: /refresh reports it; an open summary asks again before charging more
    summary = await order_until_summary(customer, "102", ["https://instagram.com/d", "1000"])
    assert "0.24 USD" in summary.text
    shop.panel.catalogue["102"] = dataclasses.replace(shop.panel.catalogue["102"], rate=Decimal("0.20"))
    del shop.panel.catalogue["103"]
    report = await admin.say("/refresh")
    assert "1 added" not in report.text and "0 added, 1 removed, 1 with a new panel rate" in report.text
    message, _ = await customer.tap(summary, ":ok")
    assert message.text.startswith("ℹ️ The price changed since you looked: it is now 0.40 USD")
    assert "Confirm 0.40 USD" in str(message.button_texts())
    assert (await confirm(customer, message)).startswith("✅ Order placed")
    order = (await orders_in_state(shop.state.db, "placed"))[-1]
    assert order.price_micros == 400_000 and order.cost_micros == 200_000
    actions = [e.action for e in await recent_entries(shop.state.db)][:6]
    assert actions == ["refresh", "hide", "markup", "show", "hide", "credit"]
