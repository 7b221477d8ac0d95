"""The languages issue (#14), end to end and in its rules: every text rendered in the reader's
language when it is sent (Telegram's language, or the one chosen with /language), queued messages
rendered for their recipient at send time, plural forms, local number formats, right-to-left
isolates, per-language command menus, and the catalog check CI runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.catalog import Message

from bot import i18n, texts
from bot.catalogs import LOCALES, _message_problems, checked, extract, problems
from bot.domain.money import format_money, parse_amount
from bot.panel import OrderStatus
from storage.orders import get_order
from tests.support.customer import Customer
from tests.support.shop import ADMIN_ID, Shop, open_shop
from tests.support.telegram_html import parse_html
from tests.test_ordering_e2e import confirm
from tests.test_tracking_e2e import FAST, _wait_db, notice


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, stars_per_unit="50", **FAST) as running:
        yield running


def rendered(locale: str, text: texts.Rendered, **params: object) -> str:
    """A text as a reader of `locale` sees it in Telegram (HTML rendered: the tags gone)."""
    with i18n.reading(locale):
        html = text.format(**params) if params else str(text)  # type: ignore[union-attr]
    return parse_html(html)[0]


async def speaking(shop: Shop, user_id: int, language_code: str, credit: str = "100") -> Customer:
    """A funded customer whose Telegram is set to `language_code`."""
    customer = Customer(shop, shop.telegram.user(user_id, first_name="Ann", language_code=language_code))
    await customer.say("/start")
    admin = shop.customer(ADMIN_ID, "Admin")
    assert "Credited" in (await admin.say(f"/credit {user_id} {credit}")).text
    await customer.user.next_message()  # "credited", in their language
    return customer


async def to_summary(customer: Customer, link: str, service_category: str = "📸 Instagram Followers",
                     service: str = ":svc:102") -> object:
    menu = await customer.say("/order")
    await customer.tap(menu, service_category)
    await customer.tap(menu, service)
    quantities = await customer.say(link)
    summary, _ = await customer.tap(quantities, ":pick:1000")
    return summary


# --------------------------------------------------------------------------- the catalogs (what CI checks)

def test_every_catalog_has_every_text_with_its_placeholders_plurals_and_tags() -> None:
    template = extract()
    assert len(template) > 400
    assert set(checked()) >= set(LOCALES)  # every catalog there is, a new one too
    assert {locale: problems(locale, template) for locale in checked()} == {locale: [] for locale in checked()}
    assert set(i18n.available()) == {i18n.SOURCE, *LOCALES}


@pytest.mark.parametrize(("english", "translated", "plurals", "problem"), [
    ("Order #{order_id}", "Заказ", 3, "placeholders"),
    ("Order <b>#{order_id}</b>", "Заказ #{order_id}", 3, "HTML tags"),
    (("{count} line", "{count} lines"), ("{count} строка", "{count} строки"), 3, "plural forms"),
    ("Order #{order_id}", "", 3, "empty"),
])
def test_the_catalog_check_finds_what_a_translator_can_get_wrong(english: object, translated: object,
                                                                  plurals: int, problem: str) -> None:
    found = _message_problems(Message(english), Message(english, translated), plurals)  # type: ignore[arg-type]
    assert found and problem in found[0]


@pytest.mark.parametrize(("choice", "telegram_code", "locale"), [
    (None, "ru", "ru"), (None, "ru-RU", "ru"), (None, "pt-br", "pt_BR"), (None, "pt", "pt_BR"),
    (None, "uz", "uz_Latn"), (None, "es-419", "es"), (None, "de", "en"), (None, None, "en"),
    ("tr", "ru", "tr"),  # a choice made with /language wins over Telegram's setting
    ("xx", "ar", "ar"),  # a choice of a catalog since removed does not
])
def test_the_readers_language_is_their_choice_else_telegrams_else_english(
        choice: str | None, telegram_code: str | None, locale: str) -> None:
    assert i18n.resolve(choice, telegram_code) == locale


@pytest.mark.parametrize(("count", "russian"), [(1, "1 строка"), (2, "2 строки"), (5, "5 строк"), (21, "21 строка")])
def test_russian_counts_take_their_three_forms(count: int, russian: str) -> None:
    assert rendered("ru", texts.LINES, count=count) == russian


def test_amounts_are_written_and_read_the_readers_way() -> None:
    with i18n.reading("tr"):
        assert format_money(Decimal("1234.5"), "USD") == "1.234,50 USD"
        assert parse_amount("12,50") == Decimal("12.50") and parse_amount("1.000,50") == Decimal("1000.50")
    with i18n.reading("ru"):
        assert format_money(Decimal("1234.5"), "USD") == "1\u00a0234,50 USD"
    with i18n.reading("en"):
        assert format_money(Decimal("1234.5"), "USD") == "1,234.50 USD" and parse_amount("12.50") == Decimal("12.50")
    assert parse_amount("۱۲.۵") == Decimal("12.5")  # the digits of a Persian keyboard


def test_values_in_right_to_left_text_are_isolated() -> None:
    with i18n.reading("ar"):
        text = texts.NOTICE_COMPLETED.format(order_id=7, service="Instagram Followers")
    assert "\u2068Instagram Followers\u2069" in text and "\u20687\u2069" in text
    assert "\u2068" not in rendered("tr", texts.NOTICE_COMPLETED, order_id=7, service="X")


# --------------------------------------------------------------------------- end to end

def money_in(locale: str, amount: str) -> str:
    with i18n.reading(locale):
        return format_money(Decimal(amount), "USD")


def count_in(locale: str, number: int) -> str:
    with i18n.reading(locale):
        return i18n.format_count(number)


@pytest.mark.parametrize(("locale", "typed"), [("ru", "12,50"), ("ar", "12.50"), ("tr", "12,50")])
async def test_an_order_its_notice_its_refund_and_a_top_up_in_the_customers_language(
        shop: Shop, locale: str, typed: str) -> None:
    customer = await speaking(shop, 7001, locale)
    menu = await customer.say("/start")
    assert menu.text == rendered(locale, texts.GREETING, name="Ann", balance=money_in(locale, "100"))
    summary = await to_summary(customer, "https://instagram.com/lang")
    assert rendered(locale, texts.SUMMARY_CONFIRM_HINT) in summary.text  # type: ignore[attr-defined]
    assert rendered(locale, texts.PRICE_PLAIN, price=money_in(locale, "0.12")) in summary.text  # type: ignore[attr-defined]
    placed = await confirm(customer, summary)
    order = await get_order(shop.state.db, 1)
    assert order is not None and order.panel_order_id is not None
    assert placed == rendered(locale, texts.ORDER_PLACED, order_id=1, service=order.service_name,
                              price=money_in(locale, "0.12"), balance=money_in(locale, "99.88"))
    shop.panel.force_status(order.panel_order_id, OrderStatus.PARTIAL, remains=250)  # 0.03 back
    partial = await notice(customer, "⚠️")
    assert partial.text == rendered(locale, texts.NOTICE_PARTIAL, order_id=1, service=order.service_name,
                                    remains=count_in(locale, 250), quantity=count_in(locale, 1000),
                                    refund=money_in(locale, "0.03"))
    assert partial.button_texts() == [[rendered(locale, texts.BUTTON_OPEN_ORDER, order_id=1)]]
    menu = await customer.say("/topup")
    announced = await customer.say(typed)  # an amount written the customer's way
    assert money_in(locale, "12.50") in announced.text
    invoice = await customer.user.next_message()
    assert invoice.kind == "invoice" and invoice.invoice["total_amount"] == 625  # 12.50 × 50 Stars
    assert invoice.invoice["title"] == rendered(locale, texts.INVOICE_TITLE)
    assert (await customer.user.pay(invoice)).ok
    receipt = await customer.user.next_message()
    assert receipt.text == rendered(locale, texts.TOPUP_RECEIPT, stars=625, amount=money_in(locale, "12.50"),
                                    balance=money_in(locale, "112.41"), reference=1)
    assert await shop.balance(7001) == Decimal("112.41")


@pytest.mark.parametrize("count", [1, 2, 5, 21])
async def test_a_russian_summary_counts_lines_in_russian(shop: Shop, count: int) -> None:
    customer = await speaking(shop, 7010 + count, "ru")
    await customer.say("/order")
    results = await customer.say("Mentions")  # the panel's service names stay as the panel wrote them
    await customer.tap(results, ":svc:302")  # mentions with hashtags: usernames, one per line
    await customer.say("https://instagram.com/p/ru")
    await customer.say("100")
    await customer.say("\n".join(f"user{i}" for i in range(count)))
    summary = await customer.say("#sale")
    assert f"{rendered('ru', texts.FIELD_NAMES['usernames'])}: {rendered('ru', texts.LINES, count=count)}" in (
        summary.text), summary.text


async def test_an_arabic_customer_reads_right_to_left_with_values_isolated(shop: Shop) -> None:
    customer = await speaking(shop, 7020, "ar")
    summary = await to_summary(customer, "https://instagram.com/ar")
    assert "\u2068https://instagram.com/ar\u2069" in summary.text  # the link keeps its direction
    assert "🧾" in summary.text and any("\u0600" <= c <= "\u06ff" for c in summary.text)
    assert (await confirm(customer, summary)).startswith("✅")


async def test_a_wrong_amount_is_answered_with_an_example_in_the_customers_format(shop: Shop) -> None:
    customer = Customer(shop, shop.telegram.user(7030, first_name="Ayşe", language_code="tr"))
    await customer.say("/topup")
    bad = await customer.say("on iki")
    assert money_in("tr", "5") in bad.text and "5,00 USD" in bad.text


async def test_a_refused_checkout_is_explained_in_the_payers_language(shop: Shop) -> None:
    """A pre-checkout is answered at once, outside the payer's turn: in their language all the same."""
    customer = Customer(shop, shop.telegram.user(7050, first_name="Ann", language_code="ru"))
    await customer.say("/topup")
    await customer.say("12")
    invoice = await customer.user.next_message()
    refused = await customer.user.pay(invoice, total_amount=1)  # not the invoice's price
    assert not refused.ok and refused.error_message == rendered("ru", texts.CHECKOUT_REFUSED["changed"])


async def test_an_id_copied_from_arabic_text_is_the_id_alone_and_pasted_values_are_read(shop: Shop) -> None:
    customer = Customer(shop, shop.telegram.user(7060, first_name="Ann", language_code="ar"))
    balance = await customer.say("/balance")
    code = next(e for e in balance.entities if e["type"] == "code")
    units = balance.text.encode("utf-16-le")  # entity offsets count UTF-16 units
    copied = units[2 * code["offset"]:2 * (code["offset"] + code["length"])].decode("utf-16-le")
    assert copied == "7060"  # what Telegram copies from the <code>: no direction marks in it
    assert "\u2068" in balance.text  # (they are around it)
    assert parse_amount("\u206812.50\u2069") == Decimal("12.50")  # pasted back from an Arabic message
    await customer.say("/order")
    results = await customer.say("Cheapest")
    await customer.tap(results, ":svc:102")
    quantities = await customer.say("\u2068https://instagram.com/pasted\u2069")
    await customer.tap(quantities, ":pick:1000")
    assert shop.adds() == [] and "\u2068" not in str((await shop.dialogue(7060)).draft)


async def test_a_customer_who_switches_language_gets_the_queued_notice_in_the_new_one(shop: Shop) -> None:
    customer = await speaking(shop, 7040, "en")
    placed = await confirm(customer, await to_summary(customer, "https://instagram.com/switch"))
    assert placed.startswith("✅ Order placed")
    order = await get_order(shop.state.db, 1)
    assert order is not None and order.panel_order_id is not None
    await customer.say("/order")  # mid-dialogue: the order's notice waits (it is queued in English)
    shop.panel.force_status(order.panel_order_id, OrderStatus.COMPLETED)
    await _wait_db(shop, "SELECT notification_id FROM notifications WHERE order_id = 1")
    chooser = await customer.say("/language")
    assert [row[0] for row in chooser.button_texts()[:-1]] == [
        ("✓ " if code == "en" else "") + i18n.native_name(code) for code in i18n.available()]
    chosen, _ = await customer.tap(chooser, "lang:ru")
    assert chosen.text == rendered("ru", texts.LANGUAGE_CHOSEN)
    done = await notice(customer, "✅")
    assert done.text == rendered("ru", texts.NOTICE_COMPLETED, order_id=1, service=order.service_name)
    again = await customer.say("/start")  # and from now on, whatever Telegram's setting says
    assert again.text == rendered("ru", texts.GREETING, name="Ann", balance="99,88 USD")


async def test_admin_alerts_go_out_in_each_admins_language(shop: Shop) -> None:
    admin = shop.customer(ADMIN_ID, "Admin")
    chooser = await admin.say("/language")
    await admin.tap(chooser, "lang:tr")
    await shop.state.alerts.alert(texts.ALERT_RESTART_PLACING.lazy(order_id=42))
    alert = await admin.user.next_message()
    assert alert.text == rendered("tr", texts.ALERT_RESTART_PLACING, order_id=42)


async def test_the_command_menu_and_descriptions_are_set_for_every_language(shop: Shop) -> None:
    for locale in i18n.available():
        code = "" if locale == i18n.SOURCE else i18n.telegram_code(locale)
        commands = shop.telegram.commands_for(code)
        assert [c["description"] for c in commands] == [rendered(locale, about) for _, about in texts.COMMANDS]
        assert shop.telegram.description_for("description", code) == rendered(locale, texts.BOT_DESCRIPTION)
        assert shop.telegram.description_for("short_description", code) == rendered(
            locale, texts.BOT_SHORT_DESCRIPTION)
    assert len({tuple(c["description"] for c in shop.telegram.commands_for(i18n.telegram_code(code)))
                for code in LOCALES}) == len(LOCALES)  # each its own language


def test_a_held_refunds_reason_is_recorded_by_name_and_read_in_the_admins_language() -> None:
    from bot.domain.refunds import Held, refund_target
    from bot.shop.tracking import held_reason

    held = refund_target(OrderStatus.PARTIAL, 1_000_000, 1000, 1001)
    assert isinstance(held, Held)
    stored = json.dumps(held.reason.to_json())  # what the order's refund_hold keeps
    assert rendered("ru", held_reason(stored)) == rendered("ru", texts.HOLD_IMPOSSIBLE, remains=1001, units=1000)
    assert str(held_reason(stored)) == "the panel says 1001 of 1000 were not delivered, which cannot be right"
    assert held_reason("an <old> reason") == "an &lt;old&gt; reason"  # recorded in words by an earlier version
