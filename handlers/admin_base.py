"""What every admin handler shares: the guard, and prompts for actions that need a typed answer
(an amount, a panel order id, a broadcast text…).

For anyone but ADMIN_IDS admin commands and buttons do not exist: commands are registered for
admins only (others get the catch-all's answer to any unknown command), and a forged admin
button gets the answer any unknown button gets.

A prompt is a dialogue (handlers/dialogues.py lists its kinds): the button that shows the question
calls `ask`, and the admin's next message is the answer. It belongs to the screen that asked: any
other button, or a command, ends it (/cancel says so), and it expires after
CONVERSATION_TIMEOUT_SECONDS, so a typed answer never reaches a prompt the admin no longer sees.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.dialogue import current
from bot.domain.money import format_money, from_micros, parse_percent
from bot.state import app_state
from handlers.buttons import Admin, AdminScreen
from handlers.common import Row, answer, cancel_row, show
from storage.orders import OrderRecord

DIALOGUE = "admin"

# The answer to a prompt: True when the prompt is settled, False to keep waiting (the answer
# was invalid and it said why). `target` is what `ask` was given.
Answer = Callable[[Update, ContextTypes.DEFAULT_TYPE, str, Message], Awaitable[bool]]


def admin_only(handler: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Runs `handler` for admins; anyone else gets what an unknown button or command gets."""
    @functools.wraps(handler)
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE, *args: Any) -> None:
        user = update.effective_user
        if user is None or not app_state(context).is_admin(user.id):
            if update.callback_query is not None:
                await answer(update, texts.MENU_EXPIRED)
            return
        await handler(update, context, *args)
    return guarded


def admin_id(update: Update) -> int:
    assert update.effective_user is not None
    return update.effective_user.id


def home_row() -> list[Row]:
    return [[(texts.BUTTON_ADMIN_HOME, Admin(AdminScreen.HOME).data)]]


def ask(kind: str, target: object = "") -> list[Row]:
    """Wait for the admin's next message as the answer to `kind` about `target`; returns the
    buttons to show under the question (its Cancel)."""
    current().begin(DIALOGUE, kind, target=str(target))
    return [cancel_row()]


def prompt_step(answer_with: Answer) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """The dialogue step that hands the admin's message to `answer_with`."""
    async def step(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        session, message = current(), update.effective_message
        if message is None or not app_state(context).is_admin(admin_id(update)):  # no longer an admin
            session.end()
            return
        if await answer_with(update, context, str(session.draft.get("target", "")), message):
            session.end()
    return step


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Continue: the question is still open."""
    await show(update, texts.PROMPT_STILL_OPEN, [cancel_row()])


def panel_line(order: OrderRecord) -> str:
    """Where an order was placed (or is being looked for) and what it costs there, for admins:
    in the shop's currency, and in the panel's at the rate recorded with the order."""
    cost = format_money(from_micros(order.cost_micros), order.currency)
    converted = ""
    if order.panel_currency and order.panel_currency != order.currency and order.panel_cost_micros is not None:
        converted = texts.ORDER_COST_CONVERTED.format(
            panel_cost=format_money(from_micros(order.panel_cost_micros), order.panel_currency),
            rate=html.escape(order.fx_rate or "?"))
    return texts.ORDER_AT_PANEL.format(panel=html.escape(order.panel or "?"),
                                       service_id=html.escape(order.panel_service_id or order.service_id),
                                       cost=cost, converted=converted)


def typed_markup(text: str | None) -> tuple[bool, Decimal | None]:
    """A markup an admin typed: (True, percent), (True, None) for "default", (False, None) when
    it is not one (bot/domain/money.py `parse_percent`)."""
    typed = (text or "").strip()
    if typed.casefold() == "default":
        return True, None
    markup = parse_percent(typed)
    return markup is not None, markup


def typed_words(text: str | None, limit: int, *, one_line: bool) -> tuple[bool, str | None]:
    """A service's own words an admin typed: (True, words), (True, None) for "-" or "default"
    (the panel's again), (False, None) when empty or longer than `limit`."""
    typed = " ".join((text or "").split()) if one_line else (text or "").strip()
    if not typed or len(typed) > limit:
        return False, None
    return True, None if typed == "-" or typed.casefold() == "default" else typed
