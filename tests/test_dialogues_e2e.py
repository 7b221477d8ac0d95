"""Dialogues end to end: their state is in the database, so a restart in the middle of any of them
loses nothing; one /cancel and one rule for leaving; expiry; one user's updates in order.
The real bot over loopback HTTP to the fake Bot API and the sandbox panel, a real SQLite file."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import CallbackContext

from bot import texts
from bot.domain.catalogue import category_key
from bot.panel.sandbox import FaultKind, SandboxClock, SandboxPanel, SandboxServer
from bot.panel.sandbox.catalogue import DEMO_CATALOGUE
from handlers.dialogues import announce_expired
from storage.broadcasts import get_broadcast
from storage.dialogues import save_dialogue
from storage.orders import get_order, orders_in_state
from tests.support.customer import Customer
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.shop import ADMIN_ID, PANEL_KEY, Shop, open_shop, run_shop
from tests.test_operator_e2e import _forge
from tests.test_ordering_e2e import confirm, funded, order_until_summary

SERVICE = "102"  # a plain Default service: link, quantity, summary
CATEGORY = category_key(next(s.category for s in DEMO_CATALOGUE if str(s.service_id) == SERVICE))
SETTINGS: dict[str, Any] = {"stars_per_unit": "50", "manual_topup_text": "Pay to IBAN XX00 0000."}


class Restarts:
    """One bot at a time on one database, one fake Telegram and one sandbox panel: `restart()`
    stops the running bot (as a deploy would) and starts a new process's worth of it."""

    def __init__(self, tmp_path: Path, telegram: FakeTelegram, server: SandboxServer) -> None:
        self._args = (tmp_path, telegram, server)
        self._stack: AsyncExitStack | None = None
        self.count = 0

    async def restart(self) -> Shop:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = AsyncExitStack()
        self.count += 1
        return await self._stack.enter_async_context(run_shop(*self._args, **SETTINGS))

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()


@asynccontextmanager
async def restartable(tmp_path: Path) -> AsyncIterator[tuple[Restarts, Shop]]:
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
    async with FakeTelegram() as telegram, SandboxServer(panel, hang_seconds=5) as server:
        bots = Restarts(tmp_path, telegram, server)
        try:
            yield bots, await bots.restart()
        finally:
            await bots.stop()


# --------------------------------------------------------------------------- restarts

ORDER_STEPS = ("categories", "services", "link", "quantity", "summary")


@pytest.mark.parametrize("restart_at", ORDER_STEPS)
async def test_an_order_carries_on_after_a_restart_at_any_step(tmp_path: Path, restart_at: str) -> None:
    async with restartable(tmp_path) as (bots, shop):
        customer = await funded(shop, 5001)

        async def step(name: str) -> None:
            nonlocal shop
            if name == restart_at:
                shop = await bots.restart()

        menu = await customer.say("/order")
        await step("categories")
        await customer.tap(menu, f":cat:{CATEGORY}:0")
        await step("services")
        await customer.tap(menu, f":svc:{SERVICE}")  # the service, with its first question
        assert "link" in menu.text.lower() and "Back" in str(menu.button_texts())
        await step("link")
        quantity = await customer.say("https://instagram.com/restart")
        assert "how many" in quantity.text.lower(), quantity.text
        await step("quantity")
        summary = await customer.say("1000")
        assert summary.text.startswith("🧾 Check your order") and "https://instagram.com/restart" in summary.text
        await step("summary")
        assert (await confirm(customer, summary)).startswith("✅ Order placed")
        assert bots.count == 2
        assert [a["link"] for a in shop.adds()] == ["https://instagram.com/restart"]
        assert await shop.balance(5001) == Decimal(100) - Decimal("0.12")
        assert (await shop.dialogue(5001)).name is None


async def test_a_confirm_pressed_again_after_a_restart_places_nothing_more(tmp_path: Path) -> None:
    """The confirmed dialogue's nonce is remembered in the database: a late second press (an old
    client, a stuck network) is told "already confirmed", across a restart too."""
    async with restartable(tmp_path) as (bots, shop):
        customer = await funded(shop, 5002)
        summary = await order_until_summary(customer, SERVICE, ["https://instagram.com/once", "1000"])
        ok = next(b["callback_data"] for row in summary.buttons() for b in row if b["callback_data"].endswith(":ok"))
        assert (await confirm(customer, summary)).startswith("✅ Order placed")
        shop = await bots.restart()
        answered = await customer.user.wait_answer(await _forge(shop, customer, summary, ok))
        assert answered.params.get("text") == texts.ALREADY_CONFIRMED
        assert len(shop.adds()) == 1 and await shop.balance(5002) == Decimal(100) - Decimal("0.12")


async def test_top_ups_carry_on_after_a_restart(tmp_path: Path) -> None:
    async with restartable(tmp_path) as (bots, shop):
        ann = shop.customer(5010, "Ann")
        menu = await ann.say("/topup")
        await ann.tap(menu, "t:c")
        await bots.restart()
        announced = await ann.say("12")
        assert announced.text.startswith("🧾 Your invoice")  # the line first, the invoice under it
        invoice = await ann.user.next_message()
        assert invoice.kind == "invoice" and "12.00 USD" in invoice.text

        menu = await ann.say("/topup")
        await ann.tap(menu, "t:m")
        await bots.restart()
        proof = await ann.say("7.5")
        assert "7.50 USD" in proof.text, proof.text
        shop = await bots.restart()
        sent = await ann.say("bank ref 42")
        assert "Request #2" in sent.text and "7.50 USD" in sent.text  # (#1: the Stars invoice)
        admin = shop.customer(ADMIN_ID, "Admin")
        request = await shop.telegram.wait_for(lambda: next(
            (m for m in admin.user.messages() if "bank ref 42" in m.text), None), what="the request to the admin")
        assert "7.50 USD" in request.text


async def test_admin_prompts_carry_on_after_a_restart(tmp_path: Path) -> None:
    async with restartable(tmp_path) as (bots, shop):
        customer = await funded(shop, 5020)
        admin = shop.customer(ADMIN_ID, "Admin")
        card = await admin.say("/user 5020")
        await admin.tap(card, "a:u:5020:cr")
        shop = await bots.restart()
        assert (await admin.say("5")).text.startswith("✅ Credited 5.00 USD")
        card = await admin.say("/user 5020")
        await admin.tap(card, "a:u:5020:db")
        shop = await bots.restart()
        assert (await admin.say("2")).text.startswith("✅ Debited 2.00 USD")
        assert await shop.balance(5020) == Decimal(103)

        shop.server.inject(FaultKind.HTML_502, action="add", after_processing=True)
        customer = shop.customer(5020)  # (a Customer opens services through the running bot's catalogue)
        customer.user.skip_pending()  # the credit and debit notices
        summary = await order_until_summary(customer, SERVICE, ["https://instagram.com/unv", "1000"])
        assert (await confirm(customer, summary)).startswith("⏳ The provider did not answer")
        (order,) = await orders_in_state(shop.state.db, "unverified")
        admin.user.skip_pending()  # the alert about the unknown outcome
        menu = await admin.say("/unverified")
        await admin.tap(menu, f"a:o:{order.order_id}:p")
        shop = await bots.restart()
        placed = await admin.say("23501")
        assert placed.text == f"✅ Order #{order.order_id} marked as placed (panel order 23501)."
        stored = await get_order(shop.state.db, order.order_id)
        assert stored is not None and stored.state == "placed"


async def test_a_broadcast_draft_carries_on_after_a_restart(tmp_path: Path) -> None:
    async with restartable(tmp_path) as (bots, shop):
        customer = shop.customer(5030, "Cid")
        await customer.say("/start")
        admin = shop.customer(ADMIN_ID, "Admin")
        assert (await admin.say("/broadcast")).text.startswith("📣 Send the message")
        await bots.restart()
        await admin.user.send("Sale <b>today</b>")
        assert (await admin.user.next_message()).text == "Sale today"  # the preview
        confirm_message = await admin.user.next_message()
        shop = await bots.restart()
        await admin.tap(confirm_message, "📣 Send")
        got = await shop.telegram.wait_for(lambda: next(
            (m for m in customer.user.messages() if m.text == "Sale today"), None), what="the broadcast")
        assert got.entities[0]["type"] == "bold"


# --------------------------------------------------------------------------- /cancel, Cancel, leaving

async def _order_at(customer: Customer, step: str) -> SentMessage:
    """An order open at `step`; returns the message whose buttons belong to it."""
    if step == "browse":
        return await customer.say("/order")
    card = await customer.open_service(SERVICE)
    if step == "card":
        return card
    if step == "link":
        return card
    if step == "quantity":
        return await customer.say("https://instagram.com/cancel")
    return await order_until_summary(customer, SERVICE, ["https://instagram.com/cancel", "1000"])  # type: ignore[return-value]


@pytest.mark.parametrize("step", ["browse", "card", "link", "quantity", "summary"])
async def test_cancel_and_a_foreign_button_end_an_order_at_any_step(tmp_path: Path, step: str) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        customer = await funded(shop, 5040)
        home = await customer.say("/start")
        message = await _order_at(customer, step)
        assert (await customer.say("/cancel")).text == texts.ORDER_CANCELLED
        assert await customer.tap_answer(message, "Cancel") == texts.MENU_EXPIRED  # its buttons are dead
        assert (await customer.say("/cancel")).text == texts.NOTHING_TO_CANCEL  # one answer, once

        message = await _order_at(customer, step)
        await customer.tap(home, "m:orders:0")  # another screen's button: the order ends, the screen shows
        assert str(texts.MY_ORDERS_EMPTY) in home.text
        assert (await customer.say("https://instagram.com/x")).text == texts.UNKNOWN_INPUT
        assert await customer.tap_answer(message, "Cancel") == texts.MENU_EXPIRED
        assert (await shop.dialogue(5040)).name is None

        message = await _order_at(customer, step)
        left, _ = await customer.tap(message, "Cancel")  # the Cancel button: the same answer as /cancel
        assert left.text == texts.ORDER_CANCELLED
        assert shop.adds() == [] and await shop.balance(5040) == Decimal(100)


@pytest.mark.parametrize("button", ["t:c", "t:m"])
async def test_cancel_and_a_foreign_button_end_a_top_up(tmp_path: Path, button: str) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        ann = shop.customer(5050, "Ann")
        home = await ann.say("/start")
        menu = await ann.say("/topup")
        await ann.tap(menu, button)
        assert (await ann.say("/cancel")).text == texts.TOPUP_CANCELLED
        assert (await ann.say("12")).text == texts.UNKNOWN_INPUT
        menu = await ann.say("/topup")
        await ann.tap(menu, button)
        await ann.tap(home, "m:orders:0")
        assert (await ann.say("12")).text == texts.UNKNOWN_INPUT  # no longer read as an amount
        assert await ann.tap_answer(menu, "Cancel") == texts.MENU_EXPIRED
        assert not shop.telegram.calls_of("sendInvoice")


async def test_an_admin_prompt_ends_with_cancel_a_command_or_another_screen(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        await funded(shop, 5060)
        admin = shop.customer(ADMIN_ID, "Admin")
        card = await admin.say("/user 5060")
        await admin.tap(card, "a:u:5060:cr")
        left, _ = await admin.tap(card, "Cancel")
        assert left.text == texts.PROMPT_CANCELLED
        assert (await admin.say("5")).text == texts.UNKNOWN_INPUT
        card = await admin.say("/user 5060")
        await admin.tap(card, "a:u:5060:cr")
        assert (await admin.say("/admin")).text.startswith("🛠 Admin")  # a command leaves the prompt
        assert (await admin.say("5")).text == texts.UNKNOWN_INPUT
        card = await admin.say("/user 5060")
        await admin.tap(card, "a:u:5060:db")
        home = await admin.say("/admin")
        await admin.tap(home, "a:stats")  # a button of another screen
        assert (await admin.say("5")).text == texts.UNKNOWN_INPUT
        assert await shop.balance(5060) == Decimal(100)


# --------------------------------------------------------------------------- races, expiry

async def test_two_dialogues_started_at_once_end_with_the_later_one(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        ann = shop.customer(5070, "Ann")
        menu = await ann.say("/topup")
        await ann.user.send("/order")  # both reach the bot before it answers either
        query = await ann.user.press(menu, "t:c")
        order_menu = await ann.user.next_message()
        assert order_menu.text.startswith("🛒 Choose a category")
        await ann.user.wait_answer(query)
        await shop.telegram.wait_for(lambda: True if "amount" in menu.text.lower() else None, what="the top-up step")
        assert await ann.tap_answer(order_menu, f":cat:{CATEGORY}:0") == texts.MENU_EXPIRED
        await ann.say("12")  # the top-up, started last, has the typing
        assert (await ann.user.next_message()).kind == "invoice"


async def test_one_users_answers_sent_together_are_taken_in_order(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        customer = await funded(shop, 5080)
        await customer.open_service(SERVICE)
        await customer.user.send("https://instagram.com/together")
        await customer.user.send("1000")
        await customer.user.next_message()  # the quantity question
        summary = await customer.user.next_message()
        assert summary.text.startswith("🧾 Check your order") and "https://instagram.com/together" in summary.text


async def test_an_expired_dialogue_answers_that_it_expired(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        ann = shop.customer(5090, "Ann")
        menu = await ann.say("/topup")
        await ann.tap(menu, "t:m")
        later = time.time() + shop.settings.conversation_timeout_seconds + 1
        shop.state.dialogues.clock = lambda: later
        assert (await ann.say("12")).text == texts.TOPUP_EXPIRED
        assert (await ann.say("12")).text == texts.UNKNOWN_INPUT  # said once: the dialogue is closed
        customer = await funded(shop, 5091)
        shop.state.dialogues.clock = time.time
        card = await customer.open_service(SERVICE)
        shop.state.dialogues.clock = lambda: later + shop.settings.conversation_timeout_seconds + 1
        assert await customer.tap_answer(card, "‹ Back") == texts.MENU_EXPIRED


async def test_an_unanswered_order_is_announced_once_when_it_expires(tmp_path: Path) -> None:
    async with open_shop(tmp_path, conversation_timeout_seconds=1) as shop:
        customer = shop.customer(5100)
        menu = await customer.say("/order")
        timed_out = await customer.user.next_message(timeout=10)
        assert timed_out.text == texts.ORDER_TIMED_OUT
        assert await customer.tap_answer(menu, f":cat:{CATEGORY}:0") == texts.MENU_EXPIRED
        assert (await shop.dialogue(5100)).name is None
        assert [m.text for m in customer.user.messages()].count(texts.ORDER_TIMED_OUT) == 1


async def _prompt(shop: Shop, admin: Customer, kind: str) -> SentMessage:
    """An admin prompt of `kind` open; returns the message that asks (with its Cancel)."""
    if kind in ("credit", "debit"):
        card = await admin.say("/user 5110")
        await admin.tap(card, "a:u:5110:cr" if kind == "credit" else "a:u:5110:db")
        return card
    if kind == "broadcast":
        return await admin.say("/broadcast")
    menu = await admin.say("/catalogue")
    await admin.tap(menu, f"a:c:{CATEGORY}")
    await admin.tap(menu, f"a:c:{CATEGORY}:m")
    return menu


@pytest.mark.parametrize("kind", ["credit", "debit", "broadcast", "markup"])
async def test_every_admin_prompt_ends_by_cancel_and_by_another_screen(tmp_path: Path, kind: str) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        await funded(shop, 5110)
        admin = shop.customer(ADMIN_ID, "Admin")
        asking = await _prompt(shop, admin, kind)
        assert (await admin.say("/cancel")).text == texts.PROMPT_CANCELLED
        assert await admin.tap_answer(asking, "Cancel") == texts.MENU_EXPIRED
        assert (await admin.say("12")).text == texts.UNKNOWN_INPUT  # no question is open
        asking = await _prompt(shop, admin, kind)
        home = await admin.say("/start")  # a command: the prompt ends
        await _prompt(shop, admin, kind)
        await admin.tap(home, "m:orders:0")  # a button of another screen: the prompt ends
        assert (await admin.say("12")).text == texts.UNKNOWN_INPUT
        assert await shop.balance(5110) == Decimal(100) and not shop.state.rules.category_markups
        assert await get_broadcast(shop.state.db, 1) is None  # no draft was made of the "12"


async def test_the_proof_step_of_a_manual_top_up_ends_by_cancel_and_by_another_screen(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        ann = shop.customer(5120, "Ann")
        home = await ann.say("/start")
        menu = await ann.say("/topup")
        await ann.tap(menu, "t:m")
        proof = await ann.say("5")
        assert (await ann.say("/cancel")).text == texts.TOPUP_CANCELLED
        assert await ann.tap_answer(proof, "Cancel") == texts.MENU_EXPIRED
        menu = await ann.say("/topup")
        await ann.tap(menu, "t:m")
        await ann.say("5")
        await ann.tap(home, "m:orders:0")
        assert (await ann.say("ref 1")).text == texts.UNKNOWN_INPUT
        assert "Request #" not in " ".join(m.text for m in ann.user.messages())


# --------------------------------------------------------------------------- found in review

def _ok(summary: SentMessage) -> str:
    return next(b["callback_data"] for row in summary.buttons() for b in row if b["callback_data"].endswith(":ok"))


async def test_the_expiry_sweep_waits_for_an_answer_being_handled(tmp_path: Path) -> None:
    """Confirm pressed just before the deadline: the sweep, due while the panel is asked, must
    not tell the customer "cancelled, nothing was charged" about the order being placed."""
    async with open_shop(tmp_path, **SETTINGS) as shop:
        customer = await funded(shop, 5130)
        summary = await order_until_summary(customer, SERVICE, ["https://instagram.com/late", "1000"])
        ok = _ok(summary)  # type: ignore[arg-type]
        shop.server.inject(FaultKind.TIMEOUT, action="add", after_processing=True)
        await customer.user.press(summary, ok)  # type: ignore[arg-type]
        await customer.wait_text(summary, lambda text: text.startswith("⏳ Placing"))  # type: ignore[arg-type]
        later = time.time() + shop.settings.conversation_timeout_seconds + 1
        shop.state.dialogues.clock = lambda: later
        await announce_expired(CallbackContext(shop.app))
        final = await customer.wait_text(summary, lambda text: not text.startswith("⏳ Placing"))  # type: ignore[arg-type]
        assert final.text.startswith("⏳ The provider did not answer")
        assert str(texts.ORDER_TIMED_OUT) not in [m.text for m in customer.user.messages()]
        again = await customer.user.wait_answer(await _forge(shop, customer, summary, ok))
        assert again.params.get("text") == texts.ALREADY_CONFIRMED


async def test_a_confirm_that_bought_nothing_is_not_called_confirmed(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        customer = await funded(shop, 5140, "0.12")
        summary = await order_until_summary(customer, SERVICE, ["https://instagram.com/poor", "1000"])
        ok = _ok(summary)  # type: ignore[arg-type]
        await shop.customer(ADMIN_ID, "Admin").say("/debit 5140 0.12")  # emptied after the summary was shown
        await customer.user.next_message()  # "taken from your wallet"
        assert (await confirm(customer, summary)).startswith("⚠️ Not enough money")
        again = await customer.user.wait_answer(await _forge(shop, customer, summary, ok))
        assert again.params.get("text") == texts.MENU_EXPIRED
        assert shop.adds() == []


async def test_an_earlier_summary_cannot_confirm_at_a_later_price(tmp_path: Path) -> None:
    async with open_shop(tmp_path, **SETTINGS) as shop:
        customer = await funded(shop, 5150)
        first = await order_until_summary(customer, SERVICE, ["https://instagram.com/price", "1000"])
        assert "0.12 USD" in first.text  # type: ignore[attr-defined]
        first_ok = _ok(first)  # type: ignore[arg-type]
        admin = shop.customer(ADMIN_ID, "Admin")
        menu = await admin.say("/catalogue")
        await admin.tap(menu, f"a:c:{CATEGORY}")
        await admin.tap(menu, f"a:c:{CATEGORY}:m")
        await admin.say("100")  # the category's markup: 100 %
        second = await customer.say("what now?")  # typed at the summary: the summary again
        assert "0.24 USD" in second.text
        assert first.buttons() == []  # type: ignore[attr-defined]  # the earlier summary lost its keyboard
        stale = await customer.user.wait_answer(await _forge(shop, customer, first, first_ok))  # a stale client
        assert stale.params.get("text") == texts.MENU_EXPIRED
        assert shop.adds() == [] and await shop.balance(5150) == Decimal(100)
        assert (await confirm(customer, second)).startswith("✅ Order placed")
        assert await shop.balance(5150) == Decimal(100) - Decimal("0.24")


async def test_a_stored_dialogue_this_version_does_not_know_expires(tmp_path: Path) -> None:
    """Dialogue rows outlive deploys: one named by an older version is closed, not a crash."""
    async with open_shop(tmp_path, **SETTINGS) as shop:
        customer = shop.customer(5160)
        home = await customer.say("/start")
        row = await shop.dialogue(5160)
        row.name, row.step, row.nonce, row.expires_at = "retired", "somewhere", "abc123", time.time() + 600
        assert await save_dialogue(shop.state.db, row)
        answered = await customer.user.wait_answer(await _forge(shop, customer, home, "o:abc123:cats:0"))
        assert answered.params.get("text") == texts.MENU_EXPIRED
        assert (await customer.say("hello")).text == texts.UNKNOWN_INPUT
        assert str(texts.ERROR_GENERIC) not in [m.text for m in customer.user.messages()]
        assert (await shop.dialogue(5160)).name is None
