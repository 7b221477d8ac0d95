"""Ordering end to end: simulated customers type and tap; the real bot talks to the fake Bot API
and to the sandbox panel over loopback HTTP, with a real SQLite file."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import pytest

from bot import texts
from bot.domain.catalogue import category_key
from bot.domain.money import format_money, quantum_micros
from bot.panel import ServiceType
from bot.panel.sandbox import FaultKind, SandboxClock, SandboxPanel, SandboxServer
from bot.panel.sandbox.catalogue import DemoService
from bot.shop.tracking import poll_orders
from storage.orders import get_order, orders_in_state
from tests.support.customer import Customer, money
from tests.support.fake_telegram import FakeTelegram
from tests.support.shop import ADMIN_ID, PANEL_KEY, Shop, open_shop, run_shop

T = ServiceType
SKIP = "SKIP"
DRIP_FEED = "DRIP_FEED"  # the summary's drip-feed option

# What a customer types (or taps) for one order of every type in the demo catalogue.
ANSWERS: dict[ServiceType, tuple[str, list[str]]] = {
    T.DEFAULT: ("101", ["https://instagram.com/acme", "1 000"]),
    T.PACKAGE: ("104", ["https://instagram.com/p/pkg"]),
    T.CUSTOM_COMMENTS: ("201", ["https://instagram.com/p/c1", "Great!\nLove it 😍\n<b>wow</b> & co\nnice\n🔥 fire"]),
    T.CUSTOM_COMMENTS_PACKAGE: ("202", ["https://instagram.com/p/c2", "one\ntwo"]),
    T.KEYWORDS: ("203", ["https://shop.example/p", "100", "red shoes\nsneakers"]),
    T.MENTIONS: ("301", ["https://instagram.com/p/m1", "100", "alice\nbob"]),
    T.MENTIONS_WITH_HASHTAGS: ("302", ["https://instagram.com/p/m2", "100", "alice", "#sale\n#shoes"]),
    T.MENTIONS_CUSTOM_LIST: ("303", ["https://instagram.com/p/m3", "\n".join(f"user{i}" for i in range(12))]),
    T.MENTIONS_HASHTAG: ("304", ["https://instagram.com/p/m4", "100", "#travel"]),
    T.MENTIONS_USER_FOLLOWERS: ("305", ["https://instagram.com/p/m5", "100", "https://instagram.com/natgeo"]),
    T.MENTIONS_MEDIA_LIKERS: ("306", ["https://instagram.com/p/m6", "100", "https://instagram.com/p/xyz"]),
    T.POLL: ("401", ["t.me/channel/12", "100", "2"]),
    T.COMMENT_LIKES: ("501", ["https://youtube.com/watch?v=1&lc=2", "50", "commenter"]),
    T.COMMENT_REPLIES: ("502", ["https://youtube.com/watch?v=1&lc=3", "a\nb\nc\nd\ne", SKIP]),
    T.INVITES_FROM_GROUPS: ("403", ["@mygroup", "100", "https://t.me/g1\nhttps://t.me/g2"]),
    T.SUBSCRIPTIONS: ("601", ["acme", "100", "200", "PICK:30", "5", SKIP, "31/12/2031"]),
}
# What the panel must receive besides service and action.
EXPECTED_FORMS: dict[ServiceType, dict[str, str]] = {
    T.DEFAULT: {"link": "https://instagram.com/acme", "quantity": "1000"},
    T.PACKAGE: {"link": "https://instagram.com/p/pkg"},
    T.CUSTOM_COMMENTS: {"link": "https://instagram.com/p/c1",
                        "comments": "Great!\nLove it 😍\n<b>wow</b> & co\nnice\n🔥 fire"},
    T.CUSTOM_COMMENTS_PACKAGE: {"link": "https://instagram.com/p/c2", "comments": "one\ntwo"},
    T.KEYWORDS: {"link": "https://shop.example/p", "quantity": "100", "keywords": "red shoes\nsneakers"},
    T.MENTIONS: {"link": "https://instagram.com/p/m1", "quantity": "100", "usernames": "alice\nbob"},
    T.MENTIONS_WITH_HASHTAGS: {"link": "https://instagram.com/p/m2", "quantity": "100", "usernames": "alice",
                               "hashtags": "#sale\n#shoes"},
    T.MENTIONS_CUSTOM_LIST: {"link": "https://instagram.com/p/m3",
                             "usernames": "\n".join(f"user{i}" for i in range(12))},
    T.MENTIONS_HASHTAG: {"link": "https://instagram.com/p/m4", "quantity": "100", "hashtag": "#travel"},
    T.MENTIONS_USER_FOLLOWERS: {"link": "https://instagram.com/p/m5", "quantity": "100",
                                "username": "https://instagram.com/natgeo"},
    T.MENTIONS_MEDIA_LIKERS: {"link": "https://instagram.com/p/m6", "quantity": "100",
                              "media": "https://instagram.com/p/xyz"},
    T.POLL: {"link": "https://t.me/channel/12", "quantity": "100", "answer_number": "2"},
    T.COMMENT_LIKES: {"link": "https://youtube.com/watch?v=1&lc=2", "quantity": "50", "username": "commenter"},
    T.COMMENT_REPLIES: {"link": "https://youtube.com/watch?v=1&lc=3", "comments": "a\nb\nc\nd\ne"},
    T.INVITES_FROM_GROUPS: {"link": "https://t.me/mygroup", "quantity": "100", "groups": "https://t.me/g1\nhttps://t.me/g2"},
    T.SUBSCRIPTIONS: {"username": "acme", "min": "100", "max": "200", "delay": "30", "posts": "5",
                      "expiry": "31/12/2031"},
}

CENT_STEP = quantum_micros(2)  # partial refunds in whole cents (PRICE_DECIMALS=2)


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path) as running:
        yield running


async def funded(shop: Shop, user_id: int, amount: str = "100", name: str = "Ann") -> Customer:
    """A customer who has started the bot and whose wallet an admin credited."""
    customer = shop.customer(user_id, name)
    await customer.say("/start")
    admin = shop.customer(ADMIN_ID, "Admin")
    confirmation = await admin.say(f"/credit {user_id} {amount}")
    assert "Credited" in confirmation.text, confirmation.text
    assert "credited" in (await customer.user.next_message()).text
    return customer


async def order_until_summary(customer: Customer, service_id: str, answers: list[str]) -> object:
    """Open the service (which asks its first question), give every answer; returns the summary
    message."""
    message = await customer.open_service(service_id)
    for answer in answers:
        if answer == SKIP:
            await customer.tap(message, "Skip")
        elif answer == DRIP_FEED:
            await customer.tap(message, ":opt:drip")
        elif answer.startswith("PICK:"):
            await customer.tap(message, f":pick:{answer[5:]}")
        else:
            message = await customer.say(answer)
    return message


def quoted(summary: object) -> Decimal:
    """The price the summary's Confirm button charges."""
    return money(next(text for row in summary.button_texts() for text in row  # type: ignore[attr-defined]
                      if text.startswith("✅ Confirm")))


def in_cents(amount: Decimal) -> Decimal:
    """A price as the shop quotes it (PRICE_DECIMALS=2): rounded up to the cent."""
    return amount.quantize(Decimal("0.01"), rounding=ROUND_CEILING)


async def confirm(customer: Customer, summary: object) -> str:
    message, _ = await customer.tap(summary, ":ok")  # type: ignore[arg-type]
    final = await customer.wait_text(message, lambda text: not text.startswith("⏳ Placing"))
    return final.text


# --------------------------------------------------------------------------- every type

@pytest.mark.parametrize("service_type", list(ANSWERS), ids=lambda t: t.name.lower())
async def test_every_order_type_from_start_to_panel_order(shop: Shop, service_type: ServiceType) -> None:
    service_id, answers = ANSWERS[service_type]
    customer = await funded(shop, 2001)
    summary = await order_until_summary(customer, service_id, answers)
    assert summary.text.startswith("🧾 Check your order")  # type: ignore[attr-defined]
    price = quoted(summary)
    assert format_money(price, 'USD') in summary.text  # type: ignore[attr-defined]
    text = await confirm(customer, summary)
    assert text.startswith("✅ Order placed"), text
    adds = shop.adds()
    assert len(adds) == 1
    assert adds[0] == {"action": "add", "service": service_id, **EXPECTED_FORMS[service_type]}
    panel_order_id = next(iter(shop.panel.orders))
    assert f"Charged: {format_money(price, 'USD')}" in text
    assert panel_order_id not in text.replace("#1:", "")  # the provider's id is for admins
    # Without markup the customer pays what the panel charges the operator, rounded up to the cent.
    assert in_cents(shop.panel.orders[panel_order_id].price) == price
    assert await shop.balance(2001) == Decimal(100) - price


# --------------------------------------------------------------------------- optional fields answered

OPTIONAL_ANSWERS = {
    "drip_feed": ("101", ["https://instagram.com/drip", "500", DRIP_FEED, "3", "15"],
                  {"link": "https://instagram.com/drip", "quantity": "500", "runs": "3", "interval": "15"}),
    "subscription_old_posts": ("601", ["acme", "100", "200", "PICK:30", "5", "3", "31/12/2031"],
                               {"username": "acme", "min": "100", "max": "200", "delay": "30", "posts": "5",
                                "old_posts": "3", "expiry": "31/12/2031"}),
    "comment_replies_username": ("502", ["https://youtube.com/watch?v=1&lc=4", "a\nb\nc\nd\ne", "owner1"],
                                 {"link": "https://youtube.com/watch?v=1&lc=4", "comments": "a\nb\nc\nd\ne",
                                  "username": "owner1"}),
}


@pytest.mark.parametrize("case", list(OPTIONAL_ANSWERS))
async def test_answered_optional_fields_reach_the_panel_and_the_price(shop: Shop, case: str) -> None:
    """Optional steps that are answered (not skipped) are sent with `add`, stored with the order,
    and the customer pays what the panel bills for them."""
    service_id, answers, form = OPTIONAL_ANSWERS[case]
    customer = await funded(shop, 2030)
    summary = await order_until_summary(customer, service_id, answers)
    price = quoted(summary)
    text = await confirm(customer, summary)
    assert text.startswith("✅ Order placed") and f"Charged: {format_money(price, 'USD')}" in text, text
    assert shop.adds() == [{"action": "add", "service": service_id, **form}]
    panel_order_id = next(iter(shop.panel.orders))
    assert in_cents(shop.panel.orders[panel_order_id].price) == price
    order = (await orders_in_state(shop.state.db, "placed"))[0]
    assert order.request == {"service": service_id, **form}  # what was sent, without key and action


async def test_drip_feed_charges_every_run_with_the_markup(tmp_path: Path) -> None:
    """0.90 per 1000 × 500 × 3 runs = 1.35 at the panel; the shop's rate is 0.90 × 1.125 = 1.0125,
    rounded up to the cent: 1.02, so the customer pays 1,500 × 1.02 / 1000 = 1.53, and the summary
    shows that arithmetic."""
    async with open_shop(tmp_path, price_markup_percent="12.5") as shop:
        customer = await funded(shop, 2031)
        summary = await order_until_summary(customer, "101",
                                            ["https://instagram.com/drip", "500", DRIP_FEED, "3", "15"])
        assert "💵 500 × 3 runs = 1,500 × 1.02 USD per 1000 = 1.53 USD\n" in summary.text, summary.text  # type: ignore[attr-defined]
        text = await confirm(customer, summary)
        assert "Charged: 1.53 USD" in text, text
        assert shop.panel.orders[next(iter(shop.panel.orders))].price == Decimal("1.35")
        order = (await orders_in_state(shop.state.db, "placed"))[0]
        assert (order.price_micros, order.cost_micros) == (1530000, 1350000)
        assert await shop.balance(2031) == Decimal(100) - Decimal("1.53")


async def test_a_placed_order_records_its_charge_and_placement_in_its_history(shop: Shop) -> None:
    customer = await funded(shop, 2032)
    summary = await order_until_summary(customer, "102", ["https://instagram.com/history", "1000"])
    assert (await confirm(customer, summary)).startswith("✅")
    order = (await orders_in_state(shop.state.db, "placed"))[0]
    rows = await shop.state.db.fetchall(
        "SELECT kind, detail, created_at FROM order_events WHERE order_id = ? ORDER BY event_id", (order.order_id,))
    assert [(row[0], row[1]) for row in rows] == [("charged", "120000"), ("placed", order.panel_order_id)]
    assert order.panel_order_id in shop.panel.orders
    assert all(row[2] for row in rows) and rows[0][2] <= rows[1][2]


# --------------------------------------------------------------------------- service cards

CARDS = {  # as the sandbox catalogue defines them; the test shop has no markup
    "101": ("💵 0.90 USD per 1000", "📏 From 50 to 10,000", (True, True, True)),
    "102": ("💵 0.12 USD per 1000", "📏 From 100 to 50,000", (False, False, False)),
    "103": ("💵 0.05 USD per 1000", "📏 From 10 to 100,000", (False, True, True)),
    "104": ("💵 2.50 USD for the package", None, (False, False, False)),
    "501": ("💵 2.20 USD per 1000", "📏 From 20 to 10,000", (True, False, False)),
}


@pytest.mark.parametrize("service_id", list(CARDS))
async def test_the_service_card_shows_price_range_and_flags(shop: Shop, service_id: str) -> None:
    price, quantity, flags = CARDS[service_id]
    card = await shop.customer(2033).open_service(service_id)
    assert price in card.text, card.text
    assert (quantity in card.text) if quantity else "📏" not in card.text, card.text  # no "1 – 1" on a package
    promised = (str(texts.SERVICE_REFILL) in card.text, str(texts.SERVICE_CANCEL) in card.text,
                str(texts.SERVICE_DRIP_FEED) in card.text)
    assert promised == flags, card.text
    assert f"Service {service_id}" not in card.text and "(Default)" not in card.text  # the panel's id and type
    if service_id == "103":  # the panel's description is text, not markup
        assert "Instant start. Likes <b>only</b> on public posts." in card.text


async def test_the_service_card_price_includes_the_markup(tmp_path: Path) -> None:
    async with open_shop(tmp_path, price_markup_percent="12.5") as shop:
        for service_id, price in (("101", "1.02 USD per 1000"), ("104", "2.82 USD for the package")):
            card = await shop.customer(2038).open_service(service_id)
            assert f"💵 {price}" in card.text, card.text


# --------------------------------------------------------------------------- what users and panels type is text

async def test_a_panel_rejection_reason_is_worded_for_the_customer_and_kept_verbatim_for_admins(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = "Quantity must be <= 10000 & > 0 <br>"
    real_handle = shop.panel.handle

    def handle(form: dict[str, str]) -> tuple[int, object]:
        return (200, {"error": reason}) if form.get("action") == "add" else real_handle(form)

    monkeypatch.setattr(shop.panel, "handle", handle)
    customer = await funded(shop, 2034)
    summary = await order_until_summary(customer, "102", ["https://instagram.com/odd", "1000"])
    assert await confirm(customer, summary) == texts.ORDER_REJECTED["quantity"].format(price="0.12 USD")
    assert await shop.balance(2034) == Decimal(100)
    order = (await orders_in_state(shop.state.db, "rejected"))[0]
    assert order.error == reason  # the admins' order screen shows the panel's own words


async def test_a_search_query_with_markup_characters_is_echoed_verbatim(shop: Shop) -> None:
    customer = shop.customer(2035)
    await customer.say("/order")
    nothing = await customer.say("<b>x & y")
    assert nothing.text == "🔎 Nothing matches <b>x & y. Try another word, or choose a category."


async def test_an_invalid_answer_with_markup_characters_is_quoted_verbatim(shop: Shop) -> None:
    customer = shop.customer(2036)
    await customer.open_service("101")
    await customer.say("https://instagram.com/acme")
    assert (await customer.say("<1>")).text.startswith(
        "⚠️ “<1>” is not a whole number. Send a number from 50 to 10,000.\n\n🔢 How many?")


# --------------------------------------------------------------------------- bad input

async def test_bad_input_at_every_step_is_explained_and_the_step_repeats(shop: Shop) -> None:
    """Each error repeats the question under it, with the question's buttons."""
    customer = await funded(shop, 2002)
    prompt = await customer.open_service("101")  # min 50, max 10000, drip-feed
    assert "https://" in prompt.text
    for bad in ("instagram.com/acme", "@acme", "ftp://x.com/a", "https://", "hello world"):
        answer = await customer.say(bad)
        assert answer.text.startswith("⚠️ That is not a link"), answer.text
        assert answer.text.endswith(str(texts.ASK["link"])) and answer.buttons()
    quantity_prompt = await customer.say("https://instagram.com/acme")
    assert "from 50 to 10,000" in quantity_prompt.text
    quantity_buttons = quantity_prompt.button_texts()
    for typed, error in (("ten", "⚠️ “ten” is not a whole number. Send a number from 50 to 10,000."),
                         ("49", "⚠️ 49 is out of range: send a number from 50 to 10,000."),
                         ("10001", "⚠️ 10,001 is out of range: send a number from 50 to 10,000."),
                         ("1.5", "⚠️ “1.5” is not a whole number")):
        answer = await customer.say(typed)
        assert answer.text.startswith(error) and "🔢 How many?" in answer.text, answer.text
        assert answer.button_texts() == quantity_buttons  # the quantity buttons again
    summary = await customer.say("500")
    assert "Runs" not in summary.text
    runs_prompt, _ = await customer.tap(summary, ":opt:drip")
    assert "runs" in runs_prompt.text
    assert (await customer.say("1")).text.startswith("⚠️ 1 is out of range: send a number from 2 to 100.")
    interval_prompt = await customer.say("3")
    assert "Minutes between runs" in interval_prompt.text
    assert (await customer.say("0")).text.startswith("⚠️ 0 is out of range: send a number from 1 to 1,440.")
    summary = await customer.say("15")
    assert "Runs: 3" in summary.text and "Interval (min): 15" in summary.text
    assert "💵 500 × 3 runs = 1,500 × 0.90 USD per 1000 = 1.35 USD" in summary.text
    assert quoted(summary) == Decimal("1.35")
    assert shop.adds() == []


async def test_counted_lists_dates_and_words_are_checked(shop: Shop) -> None:
    customer = await funded(shop, 2003)
    await customer.open_service("201")  # custom comments, 5..500 lines
    await customer.say("https://instagram.com/p/x")
    assert (await customer.say("one\ntwo\n\n  \nthree")).text.startswith(
        "⚠️ You sent 3 lines; this service takes from 5 to 500, one per line.")
    assert (await customer.say("a\nb\nc\nd\ne")).text.startswith("🧾 Check your order")

    await customer.say("/cancel")
    await customer.open_service("601")  # subscriptions
    assert (await customer.say("two words")).text.startswith("⚠️ Send a single word without spaces")
    await customer.say("acme")
    await customer.say("100")
    assert (await customer.say("99")).text.startswith("⚠️ 99 is out of range: send a number from 100 to 5,000.")
    delay = await customer.say("150")
    assert [b["text"] for b in delay.buttons()[0]] == ["0", "5", "10", "15"]
    delay_buttons = delay.buttons()
    retry = await customer.say("7")
    assert retry.text.startswith("⚠️ Please choose one of the buttons below.") and retry.buttons() == delay_buttons
    await customer.tap(retry, ":pick:60")
    old_posts = await customer.say("3")
    await customer.tap(old_posts, "Skip")
    assert (await customer.say("2020-01-01")).text.startswith("⚠️ The end date must be after today.")
    assert (await customer.say("31/02/2031")).text.startswith("⚠️ “31/02/2031” is not a date")
    summary = await customer.say("2031-01-31")
    assert "Ends: 31/01/2031" in summary.text and "Delay (min): 60" in summary.text


# --------------------------------------------------------------------------- money safety

async def test_triple_tap_on_confirm_places_exactly_one_order(shop: Shop) -> None:
    customer = await funded(shop, 2004)
    summary = await order_until_summary(customer, "102", ["https://instagram.com/triple", "1000"])
    data = next(b["callback_data"] for row in summary.buttons() for b in row if b["callback_data"].endswith(":ok"))
    queries = [await customer.user.press(summary, data) for _ in range(3)]  # before the bot reacts
    answers = [str((await customer.user.wait_answer(q)).params.get("text") or "") for q in queries]
    final = await customer.wait_text(summary, lambda text: text.startswith("✅"))
    assert "Order placed" in final.text
    assert answers[1:] == [texts.ALREADY_CONFIRMED, texts.ALREADY_CONFIRMED]
    assert len(shop.adds()) == 1
    assert await shop.balance(2004) == Decimal(100) - Decimal("0.12")


async def test_empty_wallet_is_told_and_nothing_is_sent(shop: Shop) -> None:
    """No Stars or manual top-ups in this shop: the summary says how much is missing and offers
    no Confirm; a wallet emptied after the summary was shown is refused at Confirm."""
    customer = shop.customer(2005)
    await customer.say("/start")
    summary = await order_until_summary(customer, "102", ["https://instagram.com/poor", "1000"])
    assert "Your balance is 0.12 USD short. Ask the operator" in summary.text and "2005" in summary.text
    assert not any("Confirm" in text for row in summary.button_texts() for text in row)
    customer = await funded(shop, 2015, "0.12")
    summary = await order_until_summary(customer, "102", ["https://instagram.com/poor", "1000"])
    admin = shop.customer(ADMIN_ID, "Admin")
    assert "Debited" in (await admin.say("/debit 2015 0.12")).text
    await customer.user.next_message()  # "0.12 USD was taken from your wallet"
    text = await confirm(customer, summary)
    assert text.startswith("⚠️ Not enough money: the order costs 0.12 USD, your balance is 0.00 USD")
    assert shop.adds() == []
    assert await orders_in_state(shop.state.db, "placing") == []


async def test_markup_is_applied_to_menus_summary_and_charge(tmp_path: Path) -> None:
    async with open_shop(tmp_path, price_markup_percent="12.5") as shop:
        customer = await funded(shop, 2006)
        menu = await customer.say("/order")
        await customer.tap(menu, f":cat:{category_key('📸 Instagram Followers')}:0")
        labels = [b["text"] for row in menu.buttons() for b in row]
        assert any(label.endswith("· 1.02 USD / 1K") for label in labels), labels  # 0.90 × 1.125, up to the cent
        summary = await order_until_summary(customer, "101", ["https://instagram.com/m", "777"])
        # 777 × 1.02 / 1000 = 0.79254, rounded up to the cent (the panel charges 0.6993)
        assert "💵 777 × 1.02 USD per 1000 = 0.80 USD\nRounded up to the nearest 0.01 USD." in summary.text, (
            summary.text)
        text = await confirm(customer, summary)
        assert "Charged: 0.80 USD" in text
        assert await shop.balance(2006) == Decimal("99.20")
        order = (await orders_in_state(shop.state.db, "placed"))[0]
        assert (order.price_micros, order.cost_micros) == (800000, 699300)


# --------------------------------------------------------------------------- panel trouble

async def test_panel_rejection_refunds_and_explains(shop: Shop) -> None:
    customer = await funded(shop, 2007)
    first = await order_until_summary(customer, "102", ["https://instagram.com/same", "1000"])
    assert (await confirm(customer, first)).startswith("✅")
    again = await order_until_summary(customer, "102", ["https://instagram.com/same", "1000"])
    text = await confirm(customer, again)
    # in the customer's words; the panel's own English stays on the order for the admins
    assert text == texts.ORDER_REJECTED["active"].format(price="0.12 USD")
    assert await shop.balance(2007) == Decimal(100) - Decimal("0.12")
    rejected = await orders_in_state(shop.state.db, "rejected")
    assert len(rejected) == 1 and "active order" in (rejected[0].error or "")


async def test_panel_out_of_funds_refunds_and_alerts_admins_once(shop: Shop) -> None:
    shop.panel.funds = Decimal("0.01")
    customer = await funded(shop, 2008)
    for link in ("https://instagram.com/f1", "https://instagram.com/f2"):
        summary = await order_until_summary(customer, "102", [link, "1000"])
        text = await confirm(customer, summary)
        assert text.startswith("❌ This service is temporarily unavailable. The 0.12 USD was returned")
    assert await shop.balance(2008) == Decimal(100)
    alerts = [m for m in shop.telegram.messages(ADMIN_ID) if "panel balance is too low" in m.text]
    assert len(alerts) == 1 and "Not enough funds on balance" in alerts[0].text


@pytest.mark.parametrize("fault", [FaultKind.HTML_502, FaultKind.TIMEOUT, FaultKind.DROP])
async def test_unknown_outcome_holds_money_alerts_admins_and_never_resends(shop: Shop, fault: FaultKind) -> None:
    customer = await funded(shop, 2009)
    summary = await order_until_summary(customer, "102", ["https://instagram.com/lost", "1000"])
    shop.server.inject(fault, action="add", after_processing=True)
    text = await confirm(customer, summary)
    assert text.startswith("⏳ The provider did not answer in time")
    assert len(shop.adds()) == 1 and len(shop.panel.orders) == 1  # it did exist; only a person can tell
    assert await shop.balance(2009) == Decimal(100) - Decimal("0.12")  # held, not refunded
    unverified = await orders_in_state(shop.state.db, "unverified")
    assert len(unverified) == 1
    alert = await shop.telegram.wait_for(
        lambda: next((m for m in shop.telegram.messages(ADMIN_ID) if "outcome unknown" in m.text), None))
    assert f"Order #{unverified[0].order_id} of user 2009" in alert.text and "instagram.com/lost" in alert.text
    assert shop.settings.panel_api_key is not None
    assert shop.settings.panel_api_key.get_secret_value() not in alert.text + text


async def test_an_unknown_outcome_is_sent_again_by_neither_polls_nor_a_restart(tmp_path: Path) -> None:
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
    async with FakeTelegram() as telegram, SandboxServer(panel, hang_seconds=5) as server:
        async with run_shop(tmp_path, telegram, server) as shop:
            customer = await funded(shop, 2041)
            summary = await order_until_summary(customer, "102", ["https://instagram.com/once", "1000"])
            server.inject(FaultKind.DROP, action="add", after_processing=True)
            assert (await confirm(customer, summary)).startswith("⏳ The provider did not answer in time")
            await poll_orders(shop.state.db, shop.state.panels, shop.state.alerts, now=time.time() + 3600, interval=60,
                              quantum=CENT_STEP)
        async with run_shop(tmp_path, telegram, server) as shop:  # a restart
            await poll_orders(shop.state.db, shop.state.panels, shop.state.alerts, now=time.time() + 7200, interval=60,
                              quantum=CENT_STEP)
            [order] = await orders_in_state(shop.state.db, "unverified")
            assert order.user_id == 2041
            assert len(shop.adds()) == 1 and len(panel.orders) == 1  # placed once, never again
            assert await shop.balance(2041) == Decimal(100) - Decimal("0.12")  # still held for a person to settle


# --------------------------------------------------------------------------- other users, access

async def test_a_forged_callback_with_another_users_session_does_nothing(shop: Shop) -> None:
    ann = await funded(shop, 2010, name="Ann")
    summary = await order_until_summary(ann, "102", ["https://instagram.com/ann", "1000"])
    ok_data = next(b["callback_data"] for row in summary.buttons() for b in row if b["callback_data"].endswith(":ok"))
    eve = await funded(shop, 2011, name="Eve")
    eve_menu = await eve.say("/order")
    await shop.telegram.push_update({"callback_query": {
        "id": "forged-1", "from": eve.user.as_dict(), "chat_instance": "1", "data": ok_data,
        "message": {"message_id": eve_menu.message_id, "date": 0, "chat": eve.user.chat_dict(),
                    "text": eve_menu.text},
    }})
    forged = await shop.telegram.wait_call("answerCallbackQuery",
                                           lambda c: c.params.get("callback_query_id") == "forged-1")
    assert forged.params.get("text") == texts.MENU_EXPIRED
    assert shop.adds() == []
    assert await shop.balance(2010) == Decimal(100) and await shop.balance(2011) == Decimal(100)
    # Ann's own confirm still works, once.
    assert (await confirm(ann, summary)).startswith("✅")


async def test_orders_list_shows_only_the_users_own_orders(shop: Shop) -> None:
    ann = await funded(shop, 2012, name="Ann")
    summary = await order_until_summary(ann, "102", ["https://instagram.com/a1", "1000"])
    assert (await confirm(ann, summary)).startswith("✅")
    bob = shop.customer(2013, "Bob")
    await bob.say("/start")
    listing = await bob.say("/orders")
    assert listing.text == texts.MY_ORDERS_EMPTY
    mine = await ann.say("/orders")
    assert "📦 Your orders (1)" in mine.text and "#1 " in str(mine.button_texts())  # one button per order


async def test_allowlist_keeps_strangers_out(tmp_path: Path) -> None:
    async with open_shop(tmp_path, allowed_user_ids="3001") as shop:
        stranger = shop.customer(3002, "Mallory")
        refusal = await stranger.say("/order")
        assert refusal.text.startswith("🔒 This bot is private.") and "3002" in refusal.text
        await shop.telegram.push_update({"callback_query": {
            "id": "stranger-1", "from": stranger.user.as_dict(), "chat_instance": "1", "data": "m:new",
            "message": {"message_id": refusal.message_id, "date": 0, "chat": stranger.user.chat_dict(),
                        "text": refusal.text},
        }})
        await shop.telegram.wait_call("answerCallbackQuery",
                                      lambda c: c.params.get("callback_query_id") == "stranger-1")
        friend = shop.customer(3001, "Friend")
        assert (await friend.say("/start")).text.startswith("👋 Hello, Friend!")
        admin = shop.customer(ADMIN_ID, "Admin")
        assert (await admin.say("/balance")).text.startswith("💰 Your balance")


async def test_allowlist_refuses_a_strangers_buttons_and_starts_no_order(tmp_path: Path) -> None:
    """A button press is refused like a message: no menu is edited, no conversation starts."""
    async with open_shop(tmp_path, allowed_user_ids="3001") as shop:
        stranger = shop.customer(3002, "Mallory")
        refusal_text = texts.PRIVATE_BOT.format(user_id=3002).replace("<code>", "").replace("</code>", "")
        refusal = await stranger.say("/start")
        assert refusal.text == refusal_text
        for number, data in enumerate(["m:new", "o:abcdef:cats:0", "m:bal"]):
            await shop.telegram.push_update({"callback_query": {
                "id": f"stranger-{number}", "from": stranger.user.as_dict(), "chat_instance": "1", "data": data,
                "message": {"message_id": refusal.message_id, "date": 0, "chat": stranger.user.chat_dict(),
                            "text": refusal.text},
            }})
            await stranger.user.wait_answer(f"stranger-{number}")
            assert (await stranger.user.next_message()).text == refusal_text
        assert (await stranger.say("Instagram")).text == refusal_text  # a search would show results
        assert (await stranger.say("https://instagram.com/x")).text == refusal_text
        assert refusal.edits == 0
        assert [m.text for m in stranger.user.messages()] == [refusal_text] * 6
        assert (await shop.dialogue(3002)).name is None


# --------------------------------------------------------------------------- leaving, expiry

async def test_cancel_from_any_step_and_old_buttons_expire(shop: Shop) -> None:
    customer = await funded(shop, 2014)
    card = await customer.open_service("101")
    cancelled = await customer.say("/cancel")
    assert cancelled.text == texts.ORDER_CANCELLED
    assert await customer.tap_answer(card, "Cancel") == texts.MENU_EXPIRED
    assert (await customer.say("/cancel")).text == texts.NOTHING_TO_CANCEL
    summary = await order_until_summary(customer, "102", ["https://instagram.com/c", "1000"])
    left, _ = await customer.tap(summary, "Cancel")
    assert left.text == texts.ORDER_CANCELLED
    assert shop.adds() == [] and await shop.balance(2014) == Decimal(100)


async def test_an_unanswered_conversation_times_out(tmp_path: Path) -> None:
    async with open_shop(tmp_path, conversation_timeout_seconds=1) as shop:
        customer = shop.customer(2015)
        await customer.say("/order")
        timed_out = await customer.user.next_message(timeout=10)
        assert timed_out.text.startswith("⌛ The order was left unfinished")


# --------------------------------------------------------------------------- a big catalogue

def big_catalogue() -> tuple[DemoService, ...]:
    services = []
    for c in range(100):
        for s in range(50):
            number = c * 50 + s + 1
            services.append(DemoService(number, f"Svc {number} <Real> & *HQ* _fast_ [R30] 🚀", T.DEFAULT,
                                        f"Cat {c:03d} 📸 <&>", Decimal("0.5"), 10, 1000,
                                        description="x" * 5000 if number == 4321 else "-"))
    services.append(DemoService(99999, "Unique Zebra Likes", T.DEFAULT, "Cat 099 📸 <&>", Decimal(1), 10, 100))
    return tuple(services)


async def test_5000_services_by_pages_and_by_search(tmp_path: Path) -> None:
    async with open_shop(tmp_path, catalogue=big_catalogue()) as shop:
        customer = shop.customer(2016)
        menu = await customer.say("/order")
        assert "5001 services" in menu.text and "Page 1 of 13" in menu.text
        for _ in range(12):
            await customer.tap(menu, "Next ›")
        assert "Page 13 of 13" in menu.text and "Next ›" not in str(menu.button_texts())
        await customer.tap(menu, "Cat 099")
        assert "Page 1 of 7" in menu.text  # 51 services, 8 a page
        card, _ = await customer.tap(menu, "Svc 4951 ")
        assert card.text.startswith("Svc 4951 <Real> & *HQ* _fast_ [R30] 🚀")
        await customer.tap(card, "‹ Back")
        assert "Page 1 of 7" in card.text
        results = await customer.say("zebra likes")
        assert "Results for zebra likes: 1" in results.text
        long_card, _ = await customer.tap(results, ":svc:99999")
        assert "Unique Zebra Likes" in long_card.text
        await customer.tap(long_card, "‹ Back")  # to the results: typing searches again
        long_results = await customer.say("Svc 4321")
        card, _ = await customer.tap(long_results, ":svc:4321")
        assert len(card.text) < 4096 and card.text.count("x") > 1000
        await customer.tap(card, "‹ Back")
        nothing = await customer.say("no such thing")
        assert nothing.text.startswith("🔎 Nothing matches")


async def test_search_results_are_paged(tmp_path: Path) -> None:
    catalogue = tuple(DemoService(900 + n, f"Zebra Likes {n:02d}", T.DEFAULT, "Zoo", Decimal(1), 10, 100)
                      for n in range(1, 20))
    async with open_shop(tmp_path, catalogue=catalogue) as shop:
        customer = shop.customer(2037)
        await customer.say("/order")
        results = await customer.say("zebra")
        assert "Results for zebra: 19" in results.text and "Page 1 of 3" in results.text
        assert "Zebra Likes 08" in str(results.button_texts()) and "Zebra Likes 09" not in str(results.button_texts())
        await customer.tap(results, "Next ›")
        assert "Page 2 of 3" in results.text
        labels = [b["text"] for row in results.buttons() for b in row if ":svc:" in b["callback_data"]]
        assert [label.split(" · ")[0] for label in labels] == [f"Zebra Likes {n:02d}" for n in range(9, 17)]
        card, _ = await customer.tap(results, ":svc:912")
        await customer.tap(card, "‹ Back")  # back to the page it came from
        assert "Page 2 of 3" in card.text


# --------------------------------------------------------------------------- admin wallet commands

async def test_credit_and_debit(shop: Shop) -> None:
    customer = shop.customer(2017)
    admin = shop.customer(ADMIN_ID, "Admin")
    assert (await admin.say("/credit 2017 5")).text == (
        "User 2017 has never started this bot, so they have no wallet yet.")
    await customer.say("/start")
    assert (await admin.say("/credit 2017 12.50")).text == "✅ Credited 12.50 USD to user 2017. New balance: 12.50 USD"
    assert (await customer.user.next_message()).text == "💰 Your wallet was credited with 12.50 USD. Balance: 12.50 USD"
    assert (await admin.say("/debit 2017 20")).text == (
        "User 2017 has only 12.50 USD; a debit cannot take the wallet below zero.")
    assert (await admin.say("/debit 2017 2.5")).text == "✅ Debited 2.50 USD from user 2017. New balance: 10.00 USD"
    assert "taken from your wallet" in (await customer.user.next_message()).text
    assert (await admin.say("/credit 2017 -3")).text.startswith("-3 is not an amount")
    assert (await admin.say("/credit bob 1")).text.startswith("bob is not a Telegram user id")
    assert (await admin.say("/credit 2017")).text.startswith("Usage: /credit USER_ID AMOUNT")
    # For a customer the admin commands do not exist: the answer any unknown command gets, no credit.
    assert (await customer.say("/credit 2017 1000")).text == texts.UNKNOWN_INPUT
    assert (await customer.say("/balance")).text.startswith("💰 Your balance: 10.00 USD")


async def test_interrupted_placement_becomes_unverified_after_restart(tmp_path: Path) -> None:
    from bot.domain.order_form import OrderDraft
    from bot.shop.ordering import quote
    from storage.orders import NewOrder, charge_and_record

    async with open_shop(tmp_path) as shop:
        await funded(shop, 2018)
        draft = OrderDraft.start("draft-x", shop.state.catalogue.service("102"))  # type: ignore[arg-type]
        draft.answer("https://instagram.com/r")
        draft.answer(1000)
        price = quote(draft, Decimal(0), 2).price
        charged = await charge_and_record(shop.state.db, NewOrder(2018, "draft-x", "102", "n", "Default", None, 1000,
                                                                  {}, int(price * 10**6), 0, "USD"))
        order_id = charged.order.order_id  # type: ignore[union-attr]
    async with open_shop(tmp_path) as shop:
        order = await get_order(shop.state.db, order_id)
        assert order is not None and order.state == "unverified"
        assert await shop.balance(2018) == Decimal(100) - price
        alert = await shop.telegram.wait_for(
            lambda: next((m for m in shop.telegram.messages(ADMIN_ID) if "was being placed" in m.text), None))
        assert f"#{order_id}" in alert.text
