"""The storefront issue (#17), end to end: counts typed as customers write them, a typed amount on
the top-up menu and its invoice after the line announcing it, a summary shown again taking the
keyboard away from the earlier one, a cancellation worded by who cancelled, side commands that keep
the order, a first order counted in actions, an empty wallet topped up with Stars without retyping,
notices held while the customer is mid-order, and prices explained. (Orders list and cards:
test_storefront_orders_e2e.py; help, support, admin screens and search: test_storefront_side_e2e.py.)"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot import texts
from bot.notifier import HOLD_MID_DIALOGUE
from bot.panel import OrderStatus
from storage.orders import get_order
from tests.support.customer import Customer
from tests.support.fake_telegram import SentMessage
from tests.support.shop import ADMIN_ID, Shop, open_shop
from tests.test_ordering_e2e import SKIP, confirm, funded, order_until_summary
from tests.test_tracking_e2e import FAST, _wait_db, notice, place


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, stars_per_unit="50") as running:
        yield running


@pytest.mark.parametrize(("typed", "quantity"), [("1k", "1000"), ("1.000", "1000"), ("2,5K", "2500"),
                                                 ("1 500", "1500")])
async def test_a_quantity_is_read_as_customers_write_it(shop: Shop, typed: str, quantity: str) -> None:
    customer = await funded(shop, 5200)
    summary = await order_until_summary(customer, "102", ["https://instagram.com/k", typed])
    assert f"Quantity: {int(quantity):,}" in summary.text  # type: ignore[attr-defined]
    assert (await confirm(customer, summary)).startswith("✅ Order placed")
    assert shop.adds()[0]["quantity"] == quantity


async def test_a_whole_number_is_still_asked_for(shop: Shop) -> None:
    customer = await funded(shop, 5201)
    await customer.open_service("102")
    await customer.say("https://instagram.com/k")
    assert (await customer.say("1.5k5")).text.startswith("⚠️ “1.5k5” is not a whole number")


async def test_an_amount_typed_on_the_top_up_menu_is_taken(shop: Shop) -> None:
    ann = shop.customer(5210, "Ann")
    menu = await ann.say("/topup")
    assert "type your own" in menu.text
    announced = await ann.say("12")
    assert announced.text.startswith("🧾 Your invoice")  # the line first, the invoice under it
    invoice = await ann.user.next_message()
    assert invoice.kind == "invoice" and "12.00 USD" in invoice.text
    assert (await ann.say("12")).text == texts.UNKNOWN_INPUT  # the invoice ended the top-up


async def test_a_summary_shown_again_takes_the_keyboard_from_the_earlier_one(shop: Shop) -> None:
    customer = await funded(shop, 5220)
    first = await order_until_summary(customer, "102", ["https://instagram.com/again", "1000"])
    second = await customer.say("yes")  # typed at the summary: it is shown again, with its buttons
    assert second.text.startswith(str(texts.INVALID["choice"])) and "🧾 Check your order" in second.text
    assert second.buttons()
    assert first.buttons() == []  # type: ignore[attr-defined]
    assert (await confirm(customer, second)).startswith("✅ Order placed")
    assert len(shop.adds()) == 1 and await shop.balance(5220) == Decimal(100) - Decimal("0.12")


async def test_a_cancel_the_customer_asked_for_is_shown_and_worded_as_theirs(tmp_path: Path) -> None:
    """Item 7: after "Yes, cancel it" the card said pending and still offered Cancel, and the
    refund then said "canceled by the provider"."""
    async with open_shop(tmp_path, **FAST) as shop:
        customer = await funded(shop, 5230)
        order_id = await place(shop, customer, "https://instagram.com/stop")
        listing = await customer.say("/orders")
        card, _ = await customer.tap(listing, f"ord:{order_id}")
        await customer.tap(card, f"ord:{order_id}:c")
        await customer.tap(card, f"ord:{order_id}:cy")
        assert (await customer.user.next_message()).text.startswith(f"✖ Cancel request for order #{order_id}")
        assert "cancellation requested" in card.text
        assert "Cancel order" not in str(card.button_texts()) and "Refresh" in str(card.button_texts())
        refund = await notice(customer, f"❌ Order #{order_id}")
        assert "was cancelled as you asked" in refund.text and "by the provider" not in refund.text
        assert await shop.balance(5230) == Decimal(100)


async def test_a_cancel_by_the_provider_is_still_worded_as_theirs(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **FAST) as shop:
        customer = await funded(shop, 5231)
        order_id = await place(shop, customer, "https://instagram.com/theirs")
        order = await get_order(shop.state.db, order_id)
        assert order is not None and order.panel_order_id is not None
        shop.panel.force_status(order.panel_order_id, OrderStatus.CANCELED)  # the provider cancels it on its own
        refund = await notice(customer, f"❌ Order #{order_id}")
        assert "was canceled by the provider" in refund.text


async def test_a_side_command_mid_order_offers_to_continue_it(shop: Shop) -> None:
    """Item 8: /balance mid-order ended the order and the next tap said "menu expired"."""
    customer = await funded(shop, 5240)
    await customer.open_service("102")
    balance = await customer.say("/balance")
    assert balance.text.startswith("💰 Your balance") and "Continue your order" in str(balance.button_texts())
    await customer.tap(balance, "Continue your order")
    assert "link" in balance.text.lower()  # the open question again
    await customer.say("https://instagram.com/side")
    summary = await customer.say("1000")
    helped = await customer.say("/help")
    assert "Continue your order" in str(helped.button_texts())
    await customer.tap(helped, "Continue your order")
    assert helped.text.startswith("🧾 Check your order") and "https://instagram.com/side" in helped.text
    assert summary.buttons() == []  # the earlier summary's Confirm is gone  # type: ignore[attr-defined]
    assert (await confirm(customer, helped)).startswith("✅ Order placed")
    assert len(shop.adds()) == 1


async def test_a_side_command_keeps_a_top_up_and_other_commands_still_end_it(shop: Shop) -> None:
    ann = shop.customer(5241, "Ann")
    menu = await ann.say("/topup")
    await ann.tap(menu, "t:c")
    balance = await ann.say("/balance")
    await ann.tap(balance, "Continue your top-up")
    assert balance.text.startswith("✏️ Type the amount")
    announced = await ann.say("12")
    assert announced.text.startswith("🧾 Your invoice")  # the line first, the invoice under it
    invoice = await ann.user.next_message()
    assert invoice.kind == "invoice"
    menu = await ann.say("/topup")
    await ann.tap(menu, "t:c")
    assert "Continue" not in str((await ann.say("/orders")).button_texts())  # /orders is no side command
    assert (await ann.say("12")).text == texts.UNKNOWN_INPUT
    assert "Continue" not in str((await ann.say("/balance")).button_texts())  # nothing open: nothing to continue


# --------------------------------------------------------------------------- a first order, counted

class Counted:
    """A customer whose every message and tap is counted: the actions a first order takes."""

    def __init__(self, customer: Customer) -> None:
        self.customer = customer
        self.actions: list[str] = []

    async def say(self, text: str) -> SentMessage:
        self.actions.append(f"type {text}")
        return await self.customer.say(text)

    async def tap(self, message: SentMessage, button: str) -> SentMessage:
        self.actions.append(f"tap {button}")
        return (await self.customer.tap(message, button))[0]


async def test_a_first_order_with_a_funded_wallet_takes_at_most_seven_actions(shop: Shop) -> None:
    """Item 2: /start → New order → category → service (which asks for the link) → the link →
    a quantity button with its price → Confirm."""
    customer = Counted(await funded(shop, 5300))
    menu = await customer.say("/start")
    await customer.tap(menu, "New order")
    await customer.tap(menu, "📸 Instagram Followers")
    assert any("0.12 USD / 1K" in text for row in menu.button_texts() for text in row), menu.button_texts()
    question = await customer.tap(menu, ":svc:102")
    assert "0.12 USD per 1000" in question.text and "Send the link" in question.text
    quantities = await customer.say("https://instagram.com/first")
    assert ["1,000 · 0.12 USD", "2,000 · 0.24 USD"] in quantities.button_texts(), quantities.button_texts()
    summary = await customer.tap(quantities, "1,000 · 0.12 USD")
    assert "Quantity: 1,000" in summary.text and "Price: 0.12 USD" in summary.text
    placed = await customer.tap(summary, "Confirm 0.12 USD")
    await customer.customer.wait_text(placed, lambda text: text.startswith("✅ Order placed"))
    assert len(customer.actions) <= 7, customer.actions
    assert [(a["link"], a["quantity"]) for a in shop.adds()] == [("https://instagram.com/first", "1000")]
    assert await shop.balance(5300) == Decimal(100) - Decimal("0.12")


async def test_an_empty_wallet_pays_the_missing_amount_with_stars_and_keeps_the_order(shop: Shop) -> None:
    """Item 1: the summary offers the missing amount instead of a dead Confirm; the draft waits
    through the payment, and the summary comes back with Confirm: no field is typed twice."""
    customer = Counted(shop.customer(5310))
    await customer.say("/start")
    menu = await customer.say("/order")
    await customer.tap(menu, "📸 Instagram Followers")
    await customer.tap(menu, ":svc:102")
    quantities = await customer.say("https://instagram.com/broke")
    summary = await customer.tap(quantities, "1,000 · 0.12 USD")
    assert "Your balance is 0.12 USD short" in summary.text
    assert not any("Confirm" in text for row in summary.button_texts() for text in row)
    waiting = await customer.tap(summary, "Add 0.12 USD and order")
    assert waiting.text.startswith("💳 Pay the invoice below: 6 ⭐ adds 0.12 USD")  # 50 Stars a dollar
    invoice = await customer.customer.user.next_message()  # under the line announcing it
    assert invoice.kind == "invoice" and invoice.invoice["total_amount"] == 6
    assert (await customer.customer.user.pay(invoice)).ok
    again = await customer.customer.user.next_message()
    assert again.text.startswith("✅ Payment received: 6 ⭐, 0.12 USD added to your wallet")
    assert "🧾 Check your order" in again.text and "https://instagram.com/broke" in again.text
    assert waiting.buttons() == []  # the screen before it is no longer live
    placed = await customer.tap(again, "Confirm 0.12 USD")
    await customer.customer.wait_text(placed, lambda text: text.startswith("✅ Order placed"))
    typed = [action for action in customer.actions if action.startswith("type ")]
    assert typed == ["type /start", "type /order", "type https://instagram.com/broke"]  # nothing twice
    assert [a["link"] for a in shop.adds()] == ["https://instagram.com/broke"]
    assert await shop.balance(5310) == Decimal(0)
    assert not any("Payment reference" in m.text for m in customer.customer.user.messages())  # one receipt


async def test_a_notice_waits_while_the_customer_is_mid_order(tmp_path: Path) -> None:
    """Item 11: a status notice landed between a summary and its Confirm; it now waits for the
    dialogue to end (a minute at most)."""
    async with open_shop(tmp_path, **FAST) as shop:
        customer = await funded(shop, 5320)
        order_id = await place(shop, customer, "https://instagram.com/earlier", service="102")
        summary = await order_until_summary(customer, "102", ["https://instagram.com/later", "1000"])
        panel_order_id = (await get_order(shop.state.db, order_id)).panel_order_id  # type: ignore[union-attr]
        shop.panel.force_status(panel_order_id or "", OrderStatus.COMPLETED)
        await _wait_db(shop, "SELECT notification_id FROM notifications WHERE order_id = ?", order_id)
        notifier = shop.state.notifier
        assert notifier is not None
        assert await notifier.deliver_round() == 0  # held: the customer is at the summary
        assert not any(m.text.startswith(f"✅ Order #{order_id}") for m in customer.user.messages())
        assert (await confirm(customer, summary)).startswith("✅ Order placed")
        done = await notice(customer, f"✅ Order #{order_id}")  # the dialogue is over: it goes
        assert "completed" in done.text


async def test_a_held_notice_goes_after_a_minute_at_most(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **FAST) as shop:
        customer = await funded(shop, 5330)
        order_id = await place(shop, customer, "https://instagram.com/slow", service="102")
        await order_until_summary(customer, "102", ["https://instagram.com/pondering", "1000"])
        panel_order_id = (await get_order(shop.state.db, order_id)).panel_order_id  # type: ignore[union-attr]
        shop.panel.force_status(panel_order_id or "", OrderStatus.COMPLETED)
        await _wait_db(shop, "SELECT notification_id FROM notifications WHERE order_id = ?", order_id)
        notifier = shop.state.notifier
        assert notifier is not None
        queued_at = time.time()
        notifier.clock = lambda: queued_at + HOLD_MID_DIALOGUE + 1
        await notice(customer, f"✅ Order #{order_id}")  # still at the summary, but the minute is up


async def test_a_subscription_shows_the_basis_of_its_price_and_one_line_is_one_line(shop: Shop) -> None:
    """Items 4 and 6: a subscription's price is max × posts; a single line is "1 line"."""
    customer = await funded(shop, 5340)
    summary = await order_until_summary(customer, "601", ["acme", "100", "200", "PICK:30", "5", SKIP, SKIP])
    assert "up to 200 × 5 posts = 1,000 × " in summary.text, summary.text  # type: ignore[attr-defined]
    await customer.say("/cancel")
    summary = await order_until_summary(customer, "302", ["https://instagram.com/p/m2", "100", "alice", "#sale"])
    assert "Usernames: 1 line" in summary.text and "Hashtags: 1 line" in summary.text  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- found in review

async def test_drip_feed_chosen_then_skipped_still_confirms_a_plain_order(shop: Shop) -> None:
    customer = await funded(shop, 5350)
    summary = await order_until_summary(customer, "101", ["https://instagram.com/skipdrip", "1000"])
    runs, _ = await customer.tap(summary, ":opt:drip")
    back, _ = await customer.tap(runs, "Skip")  # deliver at once after all
    assert back.text.startswith("🧾 Check your order") and "Runs" not in back.text
    assert (await confirm(customer, back)).startswith("✅ Order placed")
    assert shop.adds() == [{"action": "add", "service": "101", "link": "https://instagram.com/skipdrip",
                            "quantity": "1000"}]


async def _short_summary(customer: Customer) -> SentMessage:
    menu = await customer.say("/order")
    await customer.tap(menu, "📸 Instagram Followers")
    await customer.tap(menu, ":svc:102")
    quantities = await customer.say("https://instagram.com/twice")
    summary, _ = await customer.tap(quantities, "1,000 · 0.12 USD")
    return summary


async def test_a_double_tap_on_add_opens_one_invoice_and_any_of_its_invoices_brings_the_summary_back(
        shop: Shop) -> None:
    customer = shop.customer(5360)
    await customer.say("/start")
    summary = await _short_summary(customer)
    data = next(b["callback_data"] for row in summary.buttons() for b in row if b["callback_data"].endswith(":pay"))
    first, second = [await customer.user.press(summary, data) for _ in range(2)]  # before the bot reacts
    await customer.user.wait_answer(first)
    assert (await customer.user.wait_answer(second)).params.get("text") == texts.MENU_EXPIRED
    invoice = await customer.user.next_message()
    assert invoice.kind == "invoice" and len(shop.telegram.calls_of("sendInvoice")) == 1
    again = await customer.say("ok?")  # typed at the summary: shown again, and a second invoice asked for
    await customer.tap(again, "Add 0.12 USD and order")
    assert (await customer.user.next_message()).kind == "invoice"
    assert (await customer.user.pay(invoice)).ok  # the first one
    paid = await customer.user.next_message()
    assert paid.text.startswith("✅ Payment received: 6 ⭐") and "Confirm 0.12 USD" in str(paid.button_texts())
    # the receipt queued with the payment is marked as shown by the summary: it is not sent again
    await _wait_db(shop, "SELECT 1 FROM notifications WHERE user_id = ? AND text LIKE ? AND state = 'sent'",
                   5360, "%Payment received%")
    assert [m.text for m in customer.user.messages() if "Payment received" in m.text] == [paid.text]


async def test_add_on_a_summary_the_wallet_now_covers_shows_confirm_instead_of_an_invoice(shop: Shop) -> None:
    customer = shop.customer(5370)
    await customer.say("/start")
    summary = await _short_summary(customer)
    admin = shop.customer(ADMIN_ID, "Admin")
    assert "Credited" in (await admin.say("/credit 5370 1")).text
    await customer.user.next_message()  # "credited"
    again, _ = await customer.tap(summary, "Add 0.12 USD and order")
    assert "Confirm 0.12 USD" in str(again.button_texts()) and not shop.telegram.calls_of("sendInvoice")


async def test_the_help_screens_buttons_and_a_notices_open_order_keep_the_order(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **FAST) as shop:
        customer = await funded(shop, 5380)
        order_id = await place(shop, customer, "https://instagram.com/done", service="102")
        await customer.open_service("101")
        helped = await customer.say("/help")
        await customer.tap(helped, "Help with a payment")
        sent = await customer.say("Where is my P1?")
        assert "Continue your order" in str(sent.button_texts()), sent.button_texts()
        panel_order_id = (await get_order(shop.state.db, order_id)).panel_order_id  # type: ignore[union-attr]
        shop.panel.force_status(panel_order_id or "", OrderStatus.COMPLETED)
        customer.shop.state.notifier.hold = 0  # type: ignore[union-attr]  # the notice now, mid-order
        done = await notice(customer, f"✅ Order #{order_id}")
        await customer.user.press(done, f"ord:{order_id}:n")
        card = await customer.user.next_message()
        assert f"#{order_id}" in card.text and "Continue your order" in str(card.button_texts())
        await customer.tap(card, "Continue your order")
        assert "Send the link" in card.text  # the order, where it was
        assert (await shop.dialogue(5380)).name == "order"


async def test_a_partial_refund_is_rounded_down_to_the_cent(tmp_path: Path) -> None:
    """PRICE_DECIMALS=2: 0.12 × 333 / 1000 = 0.03996 goes back as 0.03, so the wallet stays in
    whole cents (it was 0.03996 before)."""
    async with open_shop(tmp_path, **FAST) as shop:
        await _partial_refund_in_cents(shop)


async def _partial_refund_in_cents(shop: Shop) -> None:
    customer = await funded(shop, 5390)
    order_id = await place(shop, customer, "https://instagram.com/third", service="102")
    panel_order_id = (await get_order(shop.state.db, order_id)).panel_order_id  # type: ignore[union-attr]
    shop.panel.force_status(panel_order_id or "", OrderStatus.PARTIAL, remains=333)
    await notice(customer, f"⚠️ Order #{order_id}")
    assert await shop.balance(5390) == Decimal(100) - Decimal("0.12") + Decimal("0.03")
