"""Wallet top-ups end to end: Telegram Stars invoices, pre-checkout, payments, refunds, and manual
requests decided by admins, through the fake Bot API, with the real bot and a SQLite file.
After every test the ledger's invariants hold (tests/support/ledger_check.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from telegram import Bot

from bot import texts
from bot.panel.sandbox import FaultKind, SandboxClock, SandboxPanel, SandboxServer
from storage.audit import recent_entries
from storage.topups import star_payments_of_user
from tests.support.customer import Customer
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.ledger_check import assert_ledger_consistent
from tests.support.shop import ADMIN_ID, PANEL_KEY, Shop, open_shop, run_shop
from tests.test_operator_e2e import _forge
from tests.test_ordering_e2e import order_until_summary

SECOND_ADMIN = 901
INSTRUCTIONS = "Bank transfer to IBAN DE00 1234 <Shop & Co>\nReference: your Telegram id"


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, admin_ids=f"{ADMIN_ID},{SECOND_ADMIN}", stars_per_unit="50",
                         manual_topup_text=INSTRUCTIONS, support_contact="@shop_support") as running:
        yield running  # run_shop checks the ledger's invariants afterwards


async def topup_menu(customer: Customer) -> SentMessage:
    menu = await customer.say("/start")
    await customer.tap(menu, "m:top")
    return menu


async def invoice_for(customer: Customer, menu: SentMessage, button: str) -> SentMessage:
    """Press a preset amount; returns the invoice message the bot sent."""
    await customer.tap(menu, button)
    invoice = await customer.user.next_message()
    assert invoice.kind == "invoice", invoice.text
    return invoice


async def paid(shop: Shop, user_id: int, amount_button: str = "t:a:10") -> tuple[Customer, object]:
    """A customer who paid a Stars invoice and got the receipt; returns (customer, payment)."""
    customer = shop.customer(user_id, "Ann")
    invoice = await invoice_for(customer, await topup_menu(customer), amount_button)
    result = await customer.user.pay(invoice)
    assert result.ok, result
    receipt = await customer.user.next_message()
    assert receipt.text.startswith("✅ Payment received"), receipt.text
    return customer, result


async def settled(customer: Customer) -> SentMessage:
    """The customer's updates are handled in order: once /balance is answered, everything the
    customer sent before it has been handled too."""
    return await customer.say("/balance")


# --------------------------------------------------------------------------- Stars

async def test_a_full_stars_topup_and_a_replayed_payment(shop: Shop) -> None:
    ann = shop.customer(4001, "Ann")
    menu = await topup_menu(ann)
    assert "1 USD = 50 ⭐" in menu.text and "0.02 USD to 200.00 USD" in menu.text
    assert menu.button_texts()[:2] == [["5.00 USD · 250 ⭐", "10.00 USD · 500 ⭐"],
                                       ["25.00 USD · 1250 ⭐", "50.00 USD · 2500 ⭐"]]
    invoice = await invoice_for(ann, menu, "t:a:10")
    assert invoice.invoice["currency"] == "XTR" and invoice.invoice["total_amount"] == 500
    assert "10.00 USD" in invoice.text
    assert menu.text.startswith("🧾 Your invoice for 10.00 USD (500 ⭐) is below")
    call = shop.telegram.calls_of("sendInvoice")[-1]
    assert not call.params.get("provider_token") and "key" not in str(call.params).lower()

    result = await ann.user.pay(invoice)
    assert result.ok and result.answered_after is not None and result.answered_after < 1
    receipt = await ann.user.next_message()
    assert "500 ⭐" in receipt.text and "10.00 USD added" in receipt.text and "Balance: 10.00 USD" in receipt.text
    assert await shop.balance(ann.id) == Decimal(10)

    # Telegram delivers the same update again (e.g. after a restart before the offset was confirmed)
    await shop.telegram.push_update({"message": result.message})
    balance = await settled(ann)
    assert "10.00 USD" in balance.text and await shop.balance(ann.id) == Decimal(10)
    receipts = [m for m in ann.user.messages() if m.text.startswith("✅ Payment received")]
    assert len(receipts) == 1
    payments = await star_payments_of_user(shop.state.db, ann.id)
    assert [(p.stars, p.amount_micros, p.state) for p in payments] == [(500, 10_000_000, "paid")]

    # the same invoice cannot be paid twice
    again = await ann.user.pre_checkout(invoice.invoice["payload"], 500)
    assert not again.ok and again.error_message == texts.CHECKOUT_REFUSED["paid"]


async def test_a_typed_amount_is_checked_before_any_invoice(shop: Shop) -> None:
    ann = shop.customer(4002, "Ann")
    menu = await topup_menu(ann)
    await ann.tap(menu, "t:c")
    assert "from 0.02 USD to 200.00 USD" in menu.text
    for typed, expected in (("ten", "“ten” is not an amount"), ("1.234", "“1.234” is not an amount"),
                            ("0.01", "must be from 0.02 USD to 200.00 USD"),
                            ("200.01", "must be from 0.02 USD to 200.00 USD")):
        answer = await ann.say(typed)
        assert expected in answer.text, answer.text
    assert not shop.telegram.calls_of("sendInvoice")
    await ann.user.send("7.77")
    confirmation = await ann.user.next_message()
    assert "7.77 USD" in confirmation.text and "389 ⭐" in confirmation.text
    invoice = await ann.user.next_message()
    assert invoice.kind == "invoice" and invoice.invoice["total_amount"] == 389  # 388.5 rounded up
    assert (await ann.user.pay(invoice)).ok
    assert "7.77 USD added" in (await ann.user.next_message()).text
    # a forged amount button is checked like a typed amount
    menu = await topup_menu(ann)
    await ann.user.wait_answer(await _forge(shop, ann, menu, "t:a:999999"))
    await ann.wait_text(menu, lambda text: "cannot be paid with Stars" in text)
    assert len(shop.telegram.calls_of("sendInvoice")) == 1


async def test_pre_checkout_refuses_what_is_not_the_payers_pending_invoice(shop: Shop) -> None:
    ann = shop.customer(4003, "Ann")
    invoice = await invoice_for(ann, await topup_menu(ann), "t:a:5")
    payload = invoice.invoice["payload"]
    bob = shop.customer(4004, "Bob")
    await bob.say("/start")
    for user, forged_payload, stars, problem in (
            (bob, payload, 250, "unknown"),  # another user's invoice
            (ann, "topup:999999", 250, "unknown"),
            (ann, "order:1", 250, "unknown"),
            (ann, payload, 249, "changed")):
        result = await user.user.pre_checkout(forged_payload, stars)
        assert result.answered_after is not None and not result.ok
        assert result.error_message == texts.CHECKOUT_REFUSED[problem]
    assert not shop.telegram.charges
    # Ann's own invoice still goes through
    assert (await ann.user.pay(invoice)).ok
    assert "5.00 USD added" in (await ann.user.next_message()).text
    assert await shop.balance(bob.id) == 0


async def test_pre_checkout_is_answered_at_once_while_the_payer_waits_for_the_panel(tmp_path: Path) -> None:
    async with open_shop(tmp_path, stars_per_unit="50", panel_timeout_seconds="4") as shop:
        ann = shop.customer(4005, "Ann")
        invoice = await invoice_for(ann, await topup_menu(ann), "t:a:25")
        # Ann also has an order at Confirm, and the panel hangs on it
        admin = shop.customer(ADMIN_ID, "Admin")
        await admin.say(f"/credit {ann.id} 5")
        await ann.user.next_message()
        summary = await order_until_summary(ann, "102", ["https://instagram.com/a", "1000"])
        shop.server.inject(FaultKind.TIMEOUT, action="add")
        await ann.user.press(summary, next(b["callback_data"] for row in summary.buttons() for b in row
                                           if b["callback_data"].endswith(":ok")))
        await shop.telegram.wait_for(lambda: True if shop.server.in_flight else None, what="the hanging add")
        assert summary.text == texts.PLACING
        result = await ann.user.pay(invoice)
        assert result.ok and result.answered_after is not None
        # answered before Ann's order had its outcome: it did not wait behind it (no clock involved)
        assert summary.text == texts.PLACING and shop.server.in_flight
        await shop.telegram.wait_for(lambda: next((m for m in ann.user.messages() if "Payment received" in m.text),
                                                  None), timeout=10, what="the receipt")
        await assert_ledger_consistent(shop.state.db)


async def test_stars_topups_disabled_say_so(tmp_path: Path) -> None:
    async with open_shop(tmp_path) as shop:
        ann = shop.customer(4006, "Ann")
        menu = await topup_menu(ann)
        assert "Top-ups are not available" in menu.text and str(ann.id) in menu.text
        refused = await ann.user.pre_checkout("topup:1", 500)
        assert not refused.ok and refused.error_message == texts.CHECKOUT_REFUSED["disabled"]


# --------------------------------------------------------------------------- Stars refunds

async def open_card(shop: Shop, user_id: int) -> tuple[Customer, SentMessage]:
    admin = shop.customer(ADMIN_ID, "Admin")
    await admin.user.send(f"/user {user_id}")
    card = await admin.user.next_message()
    while not card.text.startswith("👤"):
        card = await admin.user.next_message()
    return admin, card


async def test_admin_refund_respects_the_wallet_and_happens_once(shop: Shop) -> None:
    ann, payment = await paid(shop, 4010)
    admin = shop.customer(ADMIN_ID, "Admin")
    assert "Debited" in (await admin.say(f"/debit {ann.id} 1")).text
    await ann.user.next_message()
    admin, card = await open_card(shop, ann.id)
    assert "P1 · " in card.text and "500 ⭐ · 10.00 USD · credited" in card.text
    await admin.tap(card, "a:rf:4010:1")
    assert "take 10.00 USD from their wallet (it holds 9.00 USD)" in card.text
    await admin.tap(card, "a:rf:4010:1:y")
    assert "wallet holds 9.00 USD, the refund would take 10.00 USD" in card.text
    assert not shop.telegram.calls_of("refundStarPayment")
    assert await shop.balance(ann.id) == Decimal(9)

    assert "Credited" in (await admin.say(f"/credit {ann.id} 1")).text
    await ann.user.next_message()
    admin, card = await open_card(shop, ann.id)
    await admin.tap(card, "a:rf:4010:1")
    await admin.tap(card, "a:rf:4010:1:y")
    assert "P1 refunded: 500 ⭐ back to the customer, 10.00 USD taken" in card.text
    [call] = shop.telegram.calls_of("refundStarPayment")
    assert int(call.params["user_id"]) == ann.id and call.params["telegram_payment_charge_id"] == payment.charge_id
    assert shop.telegram.charges[payment.charge_id].refunded
    told = await ann.user.next_message()
    assert told.text.startswith("↩️ Your payment of 500 ⭐ was refunded") and "Balance: 0.00 USD" in told.text
    assert await shop.balance(ann.id) == 0
    assert "a:rf:4010:1" not in str(card.buttons())
    # a forged second press, and Telegram's own refunded_payment message: nothing more happens
    await admin.user.wait_answer(await _forge(shop, admin, card, "a:rf:4010:1:y"))
    await admin.wait_text(card, lambda text: "already refunded" in text)
    assert len(shop.telegram.calls_of("refundStarPayment")) == 1
    balance = await settled(ann)
    assert "0.00 USD" in balance.text
    assert not [m for m in ann.user.messages() if m.text == texts.UNKNOWN_INPUT]
    audit = [e.action for e in await recent_entries(shop.state.db)]
    assert audit.count("stars refund") == 1


async def test_a_refused_refund_gives_the_money_back_and_a_lost_answer_is_settled(shop: Shop) -> None:
    ann, payment = await paid(shop, 4011)
    shop.telegram.inject_error(1, 400, "Bad Request: CHARGE_NOT_FOUND", method="refundStarPayment")
    admin, card = await open_card(shop, ann.id)
    await admin.tap(card, "a:rf:4011:1")
    await admin.tap(card, "a:rf:4011:1:y")
    assert "telegram refused to refund p1 (charge_not_found)" in card.text.lower()  # PTB capitalises the error
    assert await shop.balance(ann.id) == Decimal(10)

    # Telegram refunds, but its answer is lost: the money stays held. Telegram's own
    # refunded_payment message then settles it; a retry afterwards changes nothing.
    shop.telegram.inject_error(1, 502, "Bad Gateway", method="refundStarPayment", after_applying=True)
    await admin.tap(card, "a:rf:4011:1")
    await admin.tap(card, "a:rf:4011:1:y")
    assert "did not confirm the refund of P1" in card.text
    assert await shop.balance(ann.id) == 0
    assert shop.telegram.charges[payment.charge_id].refunded
    confirmed = await shop.telegram.wait_for(
        lambda: next((m for m in admin.user.messages() if "Telegram confirmed the refund of P1" in m.text), None),
        what="the admins told that Telegram confirmed the refund")
    assert f"to user {ann.id}" in confirmed.text
    told = await ann.user.next_message()
    assert told.text.startswith("↩️ Your payment of 500 ⭐ was refunded") and "Balance: 0.00 USD" in told.text
    [state] = [p.state for p in await star_payments_of_user(shop.state.db, ann.id)]
    assert state == "refunded"
    admin, card = await open_card(shop, ann.id)
    assert "Retry refund" not in str(card.button_texts()) and "Refund P1" not in str(card.button_texts())
    await admin.user.wait_answer(await _forge(shop, admin, card, "a:rf:4011:1:y"))  # a retry from an old card
    await admin.wait_text(card, lambda text: "already refunded" in text)
    assert len(shop.telegram.calls_of("refundStarPayment")) == 2  # the retry did not ask Telegram again
    assert await shop.balance(ann.id) == 0  # taken once
    await settled(ann)
    assert [m.text[:2] for m in ann.user.messages()].count("↩️"[:2]) == 1  # told once


async def test_a_refund_made_outside_the_bot_takes_the_credit_back_or_alerts(shop: Shop) -> None:
    """Anything holding the bot's token can refund Stars (another tool of the operator's, say):
    Telegram's refunded_payment message is then the bot's only news of it."""
    ann, ann_payment = await paid(shop, 4012)
    bob, bob_payment = await paid(shop, 4013)
    admin = shop.customer(ADMIN_ID, "Admin")
    assert "Debited" in (await admin.say(f"/debit {bob.id} 3")).text  # Bob spent some of it
    await bob.user.next_message()
    async with Bot(shop.telegram.token, base_url=shop.telegram.base_url) as outside:
        assert await outside.refund_star_payment(ann.id, ann_payment.charge_id)
        assert await outside.refund_star_payment(bob.id, bob_payment.charge_id)

    told = await ann.user.next_message()
    assert told.text.startswith("↩️ Your payment of 500 ⭐ was refunded") and "Balance: 0.00 USD" in told.text
    assert await shop.balance(ann.id) == 0
    taken = await shop.telegram.wait_for(
        lambda: next((m for m in admin.user.messages() if "was refunded outside the bot" in m.text
                      and f"user {ann.id}" in m.text), None), what="the admins told of Ann's refund")
    assert "10.00 USD was taken from the wallet (balance now 0.00 USD)" in taken.text

    short = await shop.telegram.wait_for(
        lambda: next((m for m in admin.user.messages() if "wallet holds only" in m.text), None),
        what="the admins told of Bob's refund")
    assert f"user {bob.id}" in short.text and "holds only 7.00 USD of the 10.00 USD" in short.text
    assert await shop.balance(bob.id) == Decimal(7)  # nothing taken: an admin decides
    await settled(bob)
    assert not [m for m in bob.user.messages() if m.text.startswith("↩️")]
    states = {p.user_id: p.state for u in (ann.id, bob.id) for p in await star_payments_of_user(shop.state.db, u)}
    assert states == {ann.id: "refunded", bob.id: "paid"}


# --------------------------------------------------------------------------- manual requests

async def test_two_admins_approving_one_manual_request_at_once_credit_it_once(shop: Shop) -> None:
    ann = shop.customer(4020, "Ann")
    menu = await topup_menu(ann)
    await ann.tap(menu, "t:m")
    assert "Bank transfer to IBAN DE00 1234 <Shop & Co>\nReference" in menu.text  # shown as typed, not as HTML
    for typed, expected in (("lots", "“lots” is not an amount"), ("-5", "“-5” is not an amount")):
        assert expected in (await ann.say(typed)).text
    assert "Amount: 25.00 USD" in (await ann.say("25")).text
    await ann.user.send_photo("wire ref 7781")
    sent = await ann.user.next_message()
    assert "Request #1 for 25.00 USD was sent" in sent.text

    copies = []
    for admin_id in (ADMIN_ID, SECOND_ADMIN):
        admin = shop.customer(admin_id, "Admin")
        copy = await shop.telegram.wait_for(lambda a=admin: next(
            (m for m in a.user.messages() if "Top-up request #1" in m.text), None), what="the request")
        assert copy.kind == "photo" and "wire ref 7781" in copy.text and "25.00 USD" in copy.text
        copies.append((admin, copy))
    queries = await asyncio.gather(*(admin.user.press(copy, "a:tu:1:ok") for admin, copy in copies))
    answers = [await admin.user.wait_answer(q) for (admin, _), q in zip(copies, queries, strict=True)]
    texts_ = sorted(str(a.params.get("text")) for a in answers)
    assert texts_[0].startswith("Already decided: ✅ Approved by") and texts_[1].startswith("✅ Approved by")
    approved = await ann.user.next_message()
    assert "request #1 was approved: 25.00 USD added" in approved.text and "Balance: 25.00 USD" in approved.text
    assert await shop.balance(ann.id) == Decimal(25)
    for _, copy in copies:  # every copy shows the decision, without buttons
        await shop.telegram.wait_for(lambda c=copy: c if "✅ Approved by" in c.text and not c.buttons() else None,
                                     what="the copy to show the decision")
    audit = [e for e in await recent_entries(shop.state.db) if e.action.startswith("top-up")]
    assert [(e.action, e.before, e.after) for e in audit] == [("top-up approve", "0.00 USD", "25.00 USD")]
    assert len([m for m in ann.user.messages() if "was approved" in m.text]) == 1


async def test_a_press_on_a_decided_request_logs_no_traceback(shop: Shop, caplog: pytest.LogCaptureFixture) -> None:
    """Hardening finding 9: the second admin's press re-draws every copy, which already show the
    decision; Telegram's "message is not modified" was logged with a full traceback at INFO."""
    caplog.set_level(logging.INFO)
    first, second = shop.customer(ADMIN_ID, "Admin"), shop.customer(SECOND_ADMIN, "Admin 2")
    ann = shop.customer(4022, "Ann")
    menu = await topup_menu(ann)
    await ann.tap(menu, "t:m")
    await ann.say("25")
    assert (await ann.say("wire ref 7782")).text.startswith("📨 Request #1 for 25.00 USD was sent")
    copies = {admin_id: await shop.telegram.wait_for(lambda a=admin_id: next(
        (m for m in shop.telegram.messages(a) if "Top-up request #1" in m.text), None), what="the request")
        for admin_id in (ADMIN_ID, SECOND_ADMIN)}
    await first.user.wait_answer(await first.user.press(copies[ADMIN_ID], "a:tu:1:ok"))
    await shop.telegram.wait_for(lambda: all("✅ Approved by" in c.text for c in copies.values()) or None,
                                 what="both copies to show the decision")
    # The second admin's phone still showed the buttons when they pressed Reject.
    late = await second.user.wait_answer(await _forge(shop, second, copies[SECOND_ADMIN], "a:tu:1:no"))
    assert str(late.params.get("text")).startswith("Already decided: ✅ Approved by")
    for _ in copies:  # the re-drawn copies: Telegram answers "not modified" for both
        await shop.telegram.wait_call("editMessageText", lambda c: c.status == 400)
    await ann.say("/balance")  # a later update: the press above has been handled in full
    assert not [r for r in caplog.records if r.exc_info or "not modified" in r.getMessage()]
    assert await shop.balance(ann.id) == Decimal(25)


async def test_a_rejected_request_credits_nothing_and_requests_are_limited(shop: Shop) -> None:
    bob = shop.customer(4021, "Bob")
    menu = await topup_menu(bob)
    await bob.tap(menu, "t:m")
    await bob.say("12.50")
    assert "Please send the payment reference" in (await bob.say("x" * 301)).text
    sent = await bob.say("TX-9 from Bob's bank")
    assert "Request #1 for 12.50 USD" in sent.text
    admin = shop.customer(ADMIN_ID, "Admin")
    copy = await shop.telegram.wait_for(lambda: next(
        (m for m in admin.user.messages() if "Top-up request #1" in m.text), None), what="the request")
    assert copy.kind == "text" and "TX-9 from Bob&#x27;s bank" not in copy.text and "TX-9 from Bob's bank" in copy.text
    await admin.tap(copy, "a:tu:1:no")
    assert "❌ Rejected by Admin" in copy.text  # the admin by name (#17 item 11), not by id
    told = await bob.user.next_message()
    assert "request #1 for 12.50 USD was not approved" in told.text
    assert await shop.balance(bob.id) == 0
    for n in range(3):
        menu = await topup_menu(bob)
        await bob.tap(menu, "t:m")
        await bob.say("1")
        assert f"Request #{n + 2}" in (await bob.say(f"ref {n}")).text
    menu = await topup_menu(bob)
    await bob.tap(menu, "t:m")
    await bob.say("1")
    assert "already have 3 top-up requests waiting" in (await bob.say("ref 4")).text
    # a customer cannot decide requests: the forged button is an expired menu
    answered = await bob.user.wait_answer(await _forge(shop, bob, await bob.say("/start"), "a:tu:2:ok"))
    assert answered.params.get("text") == texts.MENU_EXPIRED
    assert await shop.balance(bob.id) == 0
    # the admin list shows the three waiting ones
    await admin.user.send("/admin")
    home = await shop.telegram.wait_for(lambda: next(
        (m for m in reversed(admin.user.messages()) if m.text.startswith("🛠 Admin")), None), what="the admin menu")
    assert "🏦 Top-up requests (3)" in str(home.button_texts())
    await admin.tap(home, "a:tus")
    assert home.text.startswith("🏦 Top-up requests waiting: 3")


# --------------------------------------------------------------------------- /paysupport

async def test_paysupport_explains_lists_and_relays(shop: Shop) -> None:
    ann, _ = await paid(shop, 4030, "t:a:5")
    help_text = await ann.say("/paysupport")
    assert "Help with payments" in help_text.text and "@shop_support" in help_text.text
    assert "P1 · " in help_text.text and "250 ⭐ · 5.00 USD · credited" in help_text.text
    sent = await ann.say("/paysupport P1 <b>was</b> credited twice?")
    assert sent.text == texts.PAYSUPPORT_SENT
    admin = shop.customer(ADMIN_ID, "Admin")
    relayed = await shop.telegram.wait_for(lambda: next(
        (m for m in admin.user.messages() if "Payment support" in m.text), None), what="the relayed question")
    assert "P1 <b>was</b> credited twice?" in relayed.text and str(ann.id) in relayed.text
    assert (await ann.say("/paysupport and again")).text == texts.PAYSUPPORT_WAIT  # one a minute
    assert len([m for m in admin.user.messages() if "Payment support" in m.text]) == 1
    # the operator sees the Stars in the stats
    await admin.user.send("/admin")
    home = await shop.telegram.wait_for(lambda: next(
        (m for m in reversed(admin.user.messages()) if m.text.startswith("🛠 Admin")), None), what="the admin menu")
    await admin.tap(home, "a:stats")
    assert "top-ups 5.00 USD: 250 ⭐ for 5.00 USD, other methods 0.00 USD" in home.text


async def test_invoices_and_payments_survive_restarts(tmp_path: Path) -> None:
    """An invoice sent before a restart is paid after it; the payment update delivered again
    while the bot is down (its offset not confirmed) credits nothing the second time."""
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
    async with FakeTelegram() as telegram, SandboxServer(panel) as server:
        async with run_shop(tmp_path, telegram, server, stars_per_unit="50") as shop:
            ann = shop.customer(4040, "Ann")
            invoice = await invoice_for(ann, await topup_menu(ann), "t:a:25")
        async with run_shop(tmp_path, telegram, server, stars_per_unit="50") as shop:
            result = await ann.user.pay(invoice)
            assert result.ok and result.message is not None
            receipt = await ann.user.next_message()
            assert "25.00 USD added" in receipt.text
        await telegram.push_update({"message": result.message})  # redelivered while the bot is down
        async with run_shop(tmp_path, telegram, server, stars_per_unit="50") as shop:
            balance = await settled(ann)
            assert "25.00 USD" in balance.text and await shop.balance(ann.id) == Decimal(25)
            assert len([m for m in ann.user.messages() if m.text.startswith("✅ Payment received")]) == 1
            await assert_ledger_consistent(shop.state.db)


async def test_leaving_a_topup_step_hands_typing_back_to_the_menus_and_orders(shop: Shop) -> None:
    ann = shop.customer(4050, "Ann")
    menu = await topup_menu(ann)
    await ann.tap(menu, "t:c")
    await ann.tap(menu, "Cancel")
    assert menu.text == texts.TOPUP_CANCELLED
    assert (await ann.say("12")).text == texts.UNKNOWN_INPUT  # no longer read as an amount
    menu = await topup_menu(ann)
    await ann.tap(menu, "t:c")
    assert (await ann.say("/cancel")).text == texts.TOPUP_CANCELLED
    assert (await ann.say("12")).text == texts.UNKNOWN_INPUT
    menu = await topup_menu(ann)
    await ann.tap(menu, "t:m")
    order_menu = await ann.say("/order")  # a command leaves the top-up
    assert order_menu.text.startswith("🛒 Choose a category"), order_menu.text
    assert not shop.telegram.calls_of("sendInvoice")
    # the order conversation gets the typing now, and the top-up step does not come back
    await ann.open_service("102")
    link_answer = await ann.say("https://instagram.com/ann")
    assert "how many" in link_answer.text.lower(), link_answer.text
    assert not [m for m in ann.user.messages() if "not an amount" in m.text]


async def test_a_top_up_step_begun_from_an_old_menu_ends_the_order_in_progress(shop: Shop) -> None:
    """Like /topup and the Top up button: one typed conversation at a time, so that an answer is
    never read by a step the customer has forgotten."""
    ann = shop.customer(4051, "Ann")
    old_menu = await topup_menu(ann)
    card = await ann.open_service("102")
    link_prompt = card
    assert "link" in link_prompt.text.lower(), link_prompt.text
    await ann.tap(old_menu, "t:c")
    announced = await ann.say("12")  # read as the amount: the invoice is sent
    assert announced.text.startswith("🧾 Your invoice")  # the line first, the invoice under it
    invoice = await ann.user.next_message()
    assert invoice.kind == "invoice" and "12.00 USD" in invoice.text
    assert (await ann.say("https://instagram.com/ann")).text == texts.UNKNOWN_INPUT  # the order is over
    assert await ann.tap_answer(link_prompt, "Cancel") == texts.MENU_EXPIRED


async def test_a_reported_refund_of_an_unknown_charge_alerts_the_admins(shop: Shop) -> None:
    ann = shop.customer(4052, "Ann")
    await settled(ann)
    await shop.telegram.push_update({"message": {
        "message_id": 999, "date": 0, "from": ann.user.as_dict(), "chat": ann.user.chat_dict(),
        "refunded_payment": {"currency": "XTR", "total_amount": 70, "invoice_payload": "topup:999",
                             "telegram_payment_charge_id": "stxNEVER-RECORDED"}}})
    admin = shop.customer(ADMIN_ID, "Admin")
    alert = await shop.telegram.wait_for(
        lambda: next((m for m in admin.user.messages() if "could not settle" in m.text), None),
        what="the admins told of a refund the bot cannot match")
    assert f"70 ⭐ to user {ann.id}" in alert.text and "stxNEVER-RECORDED" in alert.text
    balance = await settled(ann)
    assert "0.00 USD" in balance.text  # nothing taken, nothing said to the customer
    assert not [m for m in ann.user.messages() if m.text.startswith("↩️") or m.text == texts.UNKNOWN_INPUT]
