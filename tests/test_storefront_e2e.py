"""The storefront issue's items that are done, end to end (the rest of it is still open):
counts typed as customers write them, a typed amount on the top-up menu, a summary shown again
taking the keyboard away from the earlier one, and a cancellation worded by who cancelled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot import texts
from bot.panel import OrderStatus
from storage.orders import get_order
from tests.support.shop import Shop, open_shop
from tests.test_ordering_e2e import confirm, funded, order_until_summary
from tests.test_tracking_e2e import FAST, notice, place


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
    assert second.text.startswith(texts.INVALID["choice"]) and "🧾 Check your order" in second.text
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
