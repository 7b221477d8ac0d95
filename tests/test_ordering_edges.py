"""The edges of ordering: odd updates, lost messages, concurrency, settling unknown outcomes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import texts
from bot.domain.order_form import OrderDraft
from bot.panel import PanelClient
from bot.panel.sandbox import FaultKind
from bot.shop.alerts import AdminAlerts
from bot.shop.catalogue import ShopCatalogue
from bot.shop.ordering import Duplicate, Placed, Refused, place_order, quote
from bot.shop.panels import Panel, Panels
from storage.database import open_database
from storage.orders import get_order, orders_in_state
from tests.support.customer import Customer
from tests.support.databases import database_at
from tests.support.shop import ADMIN_ID, Shop, open_shop
from tests.test_ordering_e2e import confirm, funded, order_until_summary


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path) as running:
        yield running


async def push_callback(shop: Shop, customer: Customer, data: str, message: Any, query_id: str) -> str:
    """A callback query as Telegram would send it, with any data, from this customer."""
    await shop.telegram.push_update({"callback_query": {
        "id": query_id, "from": customer.user.as_dict(), "chat_instance": "1", "data": data,
        "message": {"message_id": message.message_id, "date": 0, "chat": customer.user.chat_dict(),
                    "text": message.text},
    }})
    answered = await shop.telegram.wait_call("answerCallbackQuery",
                                             lambda c: c.params.get("callback_query_id") == query_id)
    return str(answered.params.get("text") or "")


async def test_the_same_draft_confirmed_twice_is_one_order(shop: Shop) -> None:
    """The database, not the conversation, is what stops a second charge: call the use case
    twice with one draft, as two processes or a lost session might."""
    await funded(shop, 2101)
    service = shop.state.catalogue.service("102")
    assert service is not None
    draft = OrderDraft.start("same-draft", service)
    draft.answer("https://instagram.com/twice")
    draft.answer(1000)
    state = shop.state
    sources = state.catalogues.sources("102")
    first = await place_order(state.db, state.panels, state.alerts, user_id=2101, draft=draft,
                              price=quote(draft, Decimal(0), 2), sources=sources, currency="USD")
    second = await place_order(state.db, state.panels, state.alerts, user_id=2101, draft=draft,
                               price=quote(draft, Decimal(0), 2), sources=sources, currency="USD")
    assert isinstance(first, Placed) and isinstance(second, Duplicate)
    assert second.order.order_id == first.order.order_id
    assert len(shop.adds()) == 1 and await shop.balance(2101) == Decimal(100) - Decimal("0.12")


async def test_unknown_and_forged_buttons_are_answered(shop: Shop) -> None:
    customer = shop.customer(2102)
    menu = await customer.say("/start")
    for number, data in enumerate(["m:orders:99999999", "m:orders:-1", "zzz", "m:new:x", "o:", "o:abc",
                                   "o:abcdef:cats:²", "ø:💥"]):
        assert await push_callback(shop, customer, data, menu, f"q{number}") == texts.MENU_EXPIRED
    await customer.say("/order")
    nonce = (await shop.dialogue(2102)).nonce
    answer = await push_callback(shop, customer, f"o:{nonce}:cats:²", menu, "q-digits")
    assert answer == texts.MENU_EXPIRED  # a valid dialogue, a forged page number: refused, nothing crashes
    assert not [c for c in shop.telegram.calls if c.method == "sendMessage" and c.params.get("text") ==
                texts.ERROR_GENERIC]


async def test_an_edited_message_is_not_an_answer(shop: Shop) -> None:
    customer = await funded(shop, 2103)
    await customer.open_service("101")
    await customer.say("https://instagram.com/edit")
    summary = await customer.say("500")
    runs_prompt, _ = await customer.tap(summary, ":opt:drip")
    assert "runs" in runs_prompt.text
    sent = await customer.user.send("3")
    interval_prompt = await customer.user.next_message()
    await shop.telegram.push_update({"edited_message": {**sent, "text": "5", "edit_date": int(time.time())}})
    assert "Minutes between runs" in interval_prompt.text
    summary = await customer.say("15")  # the interval: the edit above answered nothing
    assert "Quantity: 500" in summary.text and "Runs: 3" in summary.text and "Interval (min): 15" in summary.text


async def test_a_photo_in_the_middle_of_an_order_asks_for_text(shop: Shop) -> None:
    customer = await funded(shop, 2104)
    await customer.open_service("102")
    await shop.telegram.push_update({"message": {
        "message_id": 777001, "from": customer.user.as_dict(), "chat": customer.user.chat_dict(), "date": 0,
        "photo": [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}],
    }})
    again = await customer.user.next_message()  # the question again, with its buttons
    assert again.text == f"{texts.INVALID['text']}\n\n{texts.ASK['link']}" and again.buttons()
    assert "How many" in (await customer.say("https://instagram.com/photo")).text


async def test_result_is_sent_as_a_new_message_when_the_summary_is_gone(shop: Shop) -> None:
    customer = await funded(shop, 2105)
    summary = await order_until_summary(customer, "102", ["https://instagram.com/gone", "1000"])
    ok = next(b["callback_data"] for row in summary.buttons() for b in row if b["callback_data"].endswith(":ok"))
    summary.deleted = True  # the customer deleted the chat message before pressing
    await push_callback(shop, customer, ok, summary, "q-gone")
    placing = await customer.user.next_message()
    assert shop.telegram.calls_of("sendMessage")[-1].params["text"] == texts.PLACING  # sent as a new message
    result = await customer.wait_text(placing, lambda text: text.startswith("✅ Order placed"))
    assert result.message_id == placing.message_id  # the outcome replaces the notice, no third message
    assert len(shop.adds()) == 1


async def test_a_failing_button_handler_still_answers_and_apologises(shop: Shop) -> None:
    customer = shop.customer(2106)
    menu = await customer.say("/start")
    await shop.state.db.close()  # the database is gone: the balance cannot be read
    await push_callback(shop, customer, "m:bal", menu, "q-broken")
    assert (await customer.user.next_message()).text == texts.ERROR_GENERIC


async def test_one_customers_slow_order_does_not_hold_up_another(shop: Shop) -> None:
    ann = await funded(shop, 2107, name="Ann")
    summary = await order_until_summary(ann, "102", ["https://instagram.com/slow", "1000"])
    shop.server.inject(FaultKind.TIMEOUT, action="add")  # hangs until the client gives up (1 s)
    ok = next(b["callback_data"] for row in summary.buttons() for b in row if b["callback_data"].endswith(":ok"))
    await ann.user.press(summary, ok)
    await shop.telegram.wait_for(lambda: True if shop.server.in_flight else None, what="the add in flight")
    bob = shop.customer(2108, "Bob")
    assert (await bob.say("/help")).text.startswith("How ordering works")
    assert shop.server.in_flight == 1  # Bob was answered while Ann's order was still at the panel
    final = await ann.wait_text(summary, lambda text: text.startswith("⏳ The provider did not answer"))
    assert final.text.startswith("⏳")


async def test_admin_settles_unknown_outcomes(shop: Shop) -> None:
    customer = await funded(shop, 2109)
    admin = shop.customer(ADMIN_ID, "Admin")
    for link in ("https://instagram.com/u1", "https://instagram.com/u2"):
        shop.server.inject(FaultKind.HTML_502, action="add", after_processing=True)
        text = await confirm(customer, await order_until_summary(customer, "102", [link, "1000"]))
        assert text.startswith("⏳ The provider did not answer")
    first, second = await orders_in_state(shop.state.db, "unverified")
    for order in (first, second):  # the admin was alerted about each, with the command to settle it
        alert = await admin.user.next_message()
        assert "Order outcome unknown" in alert.text and f"/resolve {order.order_id} failed" in alert.text
    assert await shop.balance(2109) == Decimal(100) - 2 * Decimal("0.12")
    listing = await admin.say("/unverified")
    assert listing.text.startswith("❔ Orders whose outcome is unknown (2)")
    assert "instagram.com/u1" in listing.text and "instagram.com/u2" in listing.text
    buttons = [b["callback_data"] for row in listing.buttons() for b in row]
    assert {f"a:o:{first.order_id}:p", f"a:o:{first.order_id}:f", f"a:o:{second.order_id}:p"} <= set(buttons)
    assert (await admin.say(f"/resolve {first.order_id} placed 23501")).text == (
        f"✅ Order #{first.order_id} marked as placed (panel order 23501).")
    confirmed = (await customer.user.next_message()).text
    assert "is confirmed" in confirmed and "23501" not in confirmed  # the panel's id is for the admins
    assert (await admin.say(f"/resolve {second.order_id} failed")).text == (
        f"✅ Order #{second.order_id} marked as failed; 0.12 USD refunded to user 2109.")
    assert "could not be placed. The 0.12 USD was returned" in (await customer.user.next_message()).text
    assert (await admin.say(f"/resolve {second.order_id} failed")).text == (
        f"Order #{second.order_id} is not waiting for a check (it is rejected).")
    assert await shop.balance(2109) == Decimal(100) - Decimal("0.12")  # refunded once
    placed = await get_order(shop.state.db, first.order_id)
    assert placed is not None and placed.panel_order_id == "23501"
    assert (await admin.say("/resolve 1 maybe")).text.startswith("Usage: /resolve ORDER_ID placed")
    assert (await admin.say("/unverified")).text == texts.UNVERIFIED_NONE
    # A customer cannot settle anything: /resolve gets what any unknown command gets.
    assert (await customer.say(f"/resolve {first.order_id} failed")).text == texts.UNKNOWN_INPUT
    assert (await customer.say("/balance")).text.startswith("💰 Your balance: 99.88 USD")


async def test_a_catalogue_with_duplicate_ids_refreshes(tmp_path: Path) -> None:
    body = ('[{"service": 2, "name": "Followers", "type": "Default", "category": "A", "rate": "0.73", "min": "100",'
            ' "max": "10000"}, {"service": 2, "name": "Comments", "type": "Custom Comments", "category": "B",'
            ' "rate": "12", "min": "10", "max": "2500"}, {"service": 3, "name": "Bad", "type": "Default",'
            ' "category": "A", "rate": "-1", "min": "1", "max": "2"}]')
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text=body))
    db = await open_database(await database_at(tmp_path / "c.db"))
    try:
        async with PanelClient("http://panel.example/api/v2", "k", transport=transport) as panel:
            panels = Panels([Panel("main", panel, configured_currency="USD")])
            refreshed = await ShopCatalogue.load(db, panels, Decimal(0), "USD")
            await refreshed.refresh()
            cached = await ShopCatalogue.load(db, panels, Decimal(0), "USD")
        for catalogue in (refreshed.full, cached.full):
            assert len(catalogue) == 1 and catalogue.service("2").name == "Followers"  # type: ignore[union-attr]
            assert catalogue.service("3") is None  # a negative rate is never offered
    finally:
        await db.close()


async def test_alerts_are_throttled_per_key() -> None:
    sent: list[tuple[int, str]] = []
    now = [1000.0]

    async def send(chat_id: int, text: str) -> None:
        sent.append((chat_id, text))

    alerts = AdminAlerts([2, 1], send, clock=lambda: now[0])
    assert await alerts.alert("low", throttle_key="funds")
    assert not await alerts.alert("low again", throttle_key="funds")
    now[0] += 3601
    assert await alerts.alert("low later", throttle_key="funds")
    assert await alerts.alert("unthrottled")
    assert sent == [(1, "low"), (2, "low"), (1, "low later"), (2, "low later"), (1, "unthrottled"),
                    (2, "unthrottled")]


async def test_a_throttled_alert_waits_a_full_hour_from_the_last_one_sent() -> None:
    sent: list[str] = []
    now = [1000.0]

    async def send(chat_id: int, text: str) -> None:
        sent.append(text)

    alerts = AdminAlerts([1], send, clock=lambda: now[0])
    assert await alerts.alert("first", throttle_key="funds")
    now[0] = 1000 + 3599
    assert not await alerts.alert("too soon", throttle_key="funds")
    now[0] = 1000 + 3600
    assert await alerts.alert("an hour later", throttle_key="funds")
    now[0] = 1000 + 3600 + 3599  # the hour counts from the last alert sent
    assert not await alerts.alert("too soon again", throttle_key="funds")
    assert sent == ["first", "an hour later"]


async def test_out_of_funds_alerts_admins_at_most_once_an_hour(shop: Shop) -> None:
    """place_order's own alert for an empty panel balance is throttled with a one-hour window."""
    await funded(shop, 2111)
    shop.panel.funds = Decimal("0.01")
    service = shop.state.catalogue.service("102")
    assert service is not None
    sent: list[str] = []
    now = [5000.0]

    async def send(chat_id: int, text: str) -> None:
        sent.append(text)

    alerts = AdminAlerts([ADMIN_ID], send, clock=lambda: now[0])
    for number, at in enumerate([5000.0, 5060.0, 5000 + 3599, 5000 + 3600, 5000 + 3601]):
        now[0] = at
        draft = OrderDraft.start(f"funds-{number}", service)
        draft.answer(f"https://instagram.com/funds{number}")
        draft.answer(1000)
        outcome = await place_order(shop.state.db, shop.state.panels, alerts, user_id=2111, draft=draft,
                                    price=quote(draft, Decimal(0), 2), sources=shop.state.catalogues.sources("102"),
                                    currency="USD")
        assert isinstance(outcome, Refused) and outcome.why == "unavailable"
    assert len(sent) == 2 and all("panel balance is too low" in text for text in sent)  # at 5000 and 8600
    assert await shop.balance(2111) == Decimal(100)


async def test_pressing_a_button_whose_page_is_already_shown_changes_nothing(shop: Shop) -> None:
    """A double tap edits the message once; the second, identical edit is refused by Telegram as
    "message is not modified", which the bot takes as done: no new message, no error."""
    customer = shop.customer(2112)
    menu = await customer.say("/start")
    first_call = len(shop.telegram.calls)
    queries = [await customer.user.press(menu, "m:bal") for _ in range(2)]  # before the bot reacts
    for query_id in queries:
        await customer.user.wait_answer(query_id)
    calls = shop.telegram.calls[first_call:]
    assert menu.edits == 1 and menu.text.startswith("💰 Your balance: 0.00 USD")
    assert [c for c in calls if c.method == "sendMessage"] == []
    for query_id in queries:
        assert len([c for c in calls if c.method == "answerCallbackQuery"
                    and c.params.get("callback_query_id") == query_id]) == 1
    failed = [(c.method, c.error) for c in calls if not c.ok and c.method != "getUpdates"]
    assert len(failed) == 1 and failed[0][0] == "editMessageText" and "message is not modified" in str(failed[0][1])
    assert len(customer.user.messages()) == 1


async def test_the_main_menu_leaves_an_order_in_progress(shop: Shop) -> None:
    customer = await funded(shop, 2110)
    card = await customer.open_service("102")
    menu = await customer.say("/start")
    assert menu.text.startswith("👋 Hello, Ann!")
    assert await customer.tap_answer(card, "Cancel") == texts.MENU_EXPIRED  # the order's buttons are dead
    assert (await customer.say("https://instagram.com/late")).text == texts.UNKNOWN_INPUT  # not an answer
    summary = await order_until_summary(customer, "102", ["https://instagram.com/x", "1000"])
    home, _ = await customer.tap(menu, "My orders")  # a main-menu button of an older message
    assert str(texts.MY_ORDERS_EMPTY) in home.text
    assert await customer.tap_answer(summary, ":ok") == texts.MENU_EXPIRED
    assert shop.adds() == []


async def test_a_burst_of_taps_gets_its_replies_before_the_spinners_stop(shop: Shop) -> None:
    """Answering a callback query only stops the button's spinner: the edited message goes first,
    and each query is still answered exactly once."""
    customers = [shop.customer(2200 + i) for i in range(6)]
    menus = [await customer.say("/start") for customer in customers]
    first_call = len(shop.telegram.calls)
    queries = [await customer.user.press(menu, "m:bal") for customer, menu in zip(customers, menus, strict=True)]
    for customer, query_id in zip(customers, queries, strict=True):
        await customer.user.wait_answer(query_id)
    calls = shop.telegram.calls[first_call:]
    for customer, query_id in zip(customers, queries, strict=True):
        edit = next(i for i, c in enumerate(calls) if c.method == "editMessageText" and c.chat_id == customer.user.id)
        answers = [i for i, c in enumerate(calls) if c.method == "answerCallbackQuery"
                   and c.params.get("callback_query_id") == query_id]
        assert len(answers) == 1 and edit < answers[0]
        assert "Your balance" in calls[edit].params["text"]
