"""Top up the wallet: /topup or the Top up button.

Telegram Stars: a preset amount (button) or a typed one → an invoice. Another method
(MANUAL_TOPUP_TEXT): the instructions → the amount paid → a reference or a photo of the receipt
→ a request for the admins.

The typed steps are a small state in user_data, read in a group before the menus and the
ordering conversation: a command or any other button leaves the top-up; a step unanswered for
CONVERSATION_TIMEOUT_SECONDS is forgotten.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from telegram import LabeledPrice, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, CallbackQueryHandler, ContextTypes, TypeHandler

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.money import format_money, parse_amount
from bot.domain.topup import (
    INVOICE_VALID_HOURS,
    MAX_PENDING_MANUAL,
    AmountRange,
    stars_for,
    stars_range,
    topup_amount_problem,
)
from bot.shop.topups import TooManyPending, open_stars_topup, request_manual_topup
from bot.shop.wallet import balance
from bot.state import AppState, app_state
from handlers import admin_topups, groups
from handlers.common import Button, main_menu, reply, show

log = logging.getLogger(__name__)

STEP = "topup_step"
REFERENCE_LIMIT = 300
CANCEL: list[Button] = [(texts.BUTTON_CANCEL, "t:x")]


@dataclass(frozen=True)
class Step:
    kind: str  # stars_amount / manual_amount / manual_proof
    since: float  # time.monotonic() when asked
    amount: Decimal | None = None


def _ask(context: ContextTypes.DEFAULT_TYPE, kind: str, amount: Decimal | None = None) -> None:
    assert context.user_data is not None
    context.user_data[STEP] = Step(kind, time.monotonic(), amount)


def _drop(context: ContextTypes.DEFAULT_TYPE) -> Step | None:
    return context.user_data.pop(STEP, None) if context.user_data is not None else None


def _bounds(state: AppState, allowed: AmountRange) -> dict[str, str]:
    return {"low": format_money(allowed.low, state.currency), "high": format_money(allowed.high, state.currency)}


def _example(state: AppState) -> str:
    presets = state.settings.topup_presets
    return format_money(presets[0] if presets else Decimal(10), state.currency)


async def topup_menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None:
        return
    _drop(context)
    state = app_state(context)
    rate, manual = state.settings.stars_per_unit, state.settings.manual_topup_text
    if rate is None and manual is None:
        await show(update, texts.TOPUP_DISABLED.format(user_id=user.id), [[(texts.BUTTON_MAIN_MENU, "m:home")]])
        return
    methods: list[str] = []
    rows: list[list[Button]] = []
    if rate is not None:
        allowed = stars_range(rate)
        methods.append(texts.TOPUP_STARS_LINE.format(
            currency=html.escape(state.currency), rate=f"{rate.normalize():f}",
            **_bounds(state, allowed)))
        presets = [amount for amount in state.settings.topup_presets if topup_amount_problem(amount, allowed) is None]
        buttons: list[Button] = [(texts.BUTTON_TOPUP_PRESET.format(amount=format_money(amount, state.currency),
                                                                   stars=stars_for(amount, rate)), f"t:a:{amount:f}")
                                 for amount in presets]
        rows += [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
        rows.append([(texts.BUTTON_TOPUP_CUSTOM, "t:c")])
    if manual is not None:
        methods.append(texts.TOPUP_MANUAL_LINE)
        rows.append([(texts.BUTTON_TOPUP_MANUAL, "t:m")])
    rows.append([(texts.BUTTON_MAIN_MENU, "m:home")])
    wallet = format_money(await balance(state.db, user.id), state.currency)
    await show(update, texts.TOPUP_MENU.format(balance=wallet, methods="\n\n".join(methods)), rows)


async def preset_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    data = update.callback_query.data if update.callback_query and update.callback_query.data else ""
    try:
        amount = Decimal(data.removeprefix("t:a:"))
    except InvalidOperation:
        amount = Decimal(0)
    await _invoice(update, context, amount)


async def custom_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    rate = state.settings.stars_per_unit
    if rate is None:
        await show(update, texts.TOPUP_STARS_DISABLED, [[(texts.BUTTON_TOPUP_MENU, "t:home")]])
        return
    allowed = stars_range(rate)
    _ask(context, "stars_amount")
    await show(update, texts.ASK_TOPUP_AMOUNT.format(
        currency=html.escape(state.currency), example=_example(state), **_bounds(state, allowed)), [CANCEL])


async def manual_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    instructions = state.settings.manual_topup_text
    if instructions is None:
        user_id = update.effective_user.id if update.effective_user else ""
        await show(update, texts.TOPUP_DISABLED.format(user_id=user_id), [[(texts.BUTTON_MAIN_MENU, "m:home")]])
        return
    _ask(context, "manual_amount")
    await show(update, texts.MANUAL_INSTRUCTIONS.format(instructions=html.escape(instructions),
                                                        currency=html.escape(state.currency),
                                                        example=_example(state)), [CANCEL])


async def cancel_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    _drop(context)
    await show(update, texts.TOPUP_CANCELLED, main_menu())


async def _invoice(update: Update, context: ContextTypes.DEFAULT_TYPE, amount: Decimal) -> None:
    """Open a Stars top-up of `amount` and send its invoice (after checking the amount again:
    a button's amount is as untrusted as a typed one). Any top-up step in progress ends here."""
    _drop(context)
    state, user, chat = app_state(context), update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    rate = state.settings.stars_per_unit
    back: list[list[Button]] = [[(texts.BUTTON_TOPUP_MENU, "t:home"), (texts.BUTTON_MAIN_MENU, "m:home")]]
    if rate is None:
        await show(update, texts.TOPUP_STARS_DISABLED, back)
        return
    allowed = stars_range(rate)
    if amount <= 0 or topup_amount_problem(amount, allowed) is not None:
        await show(update, texts.TOPUP_OUT_OF_RANGE.format(
            amount=format_money(amount, state.currency), **_bounds(state, allowed)), back)
        return
    invoice = await open_stars_topup(state.db, user.id, amount, state.currency, rate)
    shown = format_money(amount, state.currency)
    try:
        await context.bot.send_invoice(
            chat.id, title=texts.INVOICE_TITLE, description=texts.INVOICE_DESCRIPTION.format(amount=shown),
            payload=invoice.payload, currency="XTR", prices=[LabeledPrice(texts.INVOICE_LABEL.format(amount=shown),
                                                                          invoice.stars)])
    except TelegramError:
        log.exception("could not send the invoice of top-up %s", invoice.topup_id)
        await show(update, texts.CHECKOUT_REFUSED["error"], back)
        return
    await show(update, texts.INVOICE_SENT.format(amount=shown, stars=invoice.stars, hours=INVOICE_VALID_HOURS), back)


# --------------------------------------------------------------------------- typed steps

async def step_input(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A customer's answer to the current top-up step; anything else passes on (and a command or
    another button ends the top-up)."""
    if context.user_data is None or not isinstance(step := context.user_data.get(STEP), Step):
        return
    state = app_state(context)
    if time.monotonic() - step.since > state.settings.conversation_timeout_seconds:
        _drop(context)
        return
    query = update.callback_query
    if query is not None:
        if not (query.data or "").startswith("t:"):
            _drop(context)
        return
    message = update.message
    if message is None or update.effective_chat is None or update.effective_chat.type != "private" \
            or message.successful_payment is not None:
        return
    if (message.text or "").startswith("/"):
        _drop(context)
        if (message.text or "").split()[0].split("@")[0] == "/cancel":  # cancels the top-up, nothing else
            await reply(update, texts.TOPUP_CANCELLED, main_menu())
            raise ApplicationHandlerStop
        return
    if step.kind == "stars_amount":
        await _stars_amount(update, context, message)
    elif step.kind == "manual_amount":
        await _manual_amount(update, context, message)
    else:
        await _manual_proof(update, context, message, step)
    raise ApplicationHandlerStop


async def _stars_amount(update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message) -> None:
    state = app_state(context)
    rate = state.settings.stars_per_unit
    if rate is None:
        _drop(context)
        await reply(update, texts.TOPUP_STARS_DISABLED, main_menu())
        return
    allowed = stars_range(rate)
    amount = parse_amount(message.text or "")
    if amount is None or topup_amount_problem(amount) is not None:
        await reply(update, texts.TOPUP_BAD_AMOUNT.format(
            value=html.escape(shorten(message.text or "", 40)), currency=html.escape(state.currency),
            example=_example(state), **_bounds(state, allowed)), [CANCEL])
        return
    if topup_amount_problem(amount, allowed) is not None:
        await reply(update, texts.TOPUP_OUT_OF_RANGE.format(
            amount=format_money(amount, state.currency), **_bounds(state, allowed)), [CANCEL])
        return
    _drop(context)
    await _invoice(update, context, amount)


async def _manual_amount(update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message) -> None:
    state = app_state(context)
    amount = parse_amount(message.text or "")
    if amount is None or topup_amount_problem(amount) is not None:
        await reply(update, texts.MANUAL_BAD_AMOUNT.format(
            value=html.escape(shorten(message.text or "", 40)), currency=html.escape(state.currency),
            example=_example(state)), [CANCEL])
        return
    _ask(context, "manual_proof", amount)
    await reply(update, texts.ASK_MANUAL_PROOF.format(amount=format_money(amount, state.currency)), [CANCEL])


async def _manual_proof(update: Update, context: ContextTypes.DEFAULT_TYPE, message: Message, step: Step) -> None:
    state, user = app_state(context), update.effective_user
    assert user is not None and step.amount is not None
    photo = message.photo[-1].file_id if message.photo else None  # the largest size
    reference = (message.caption if photo else message.text) or ""
    reference = reference.strip()
    if (photo is None and not reference) or len(reference) > REFERENCE_LIMIT:
        await reply(update, texts.MANUAL_PROOF_EXPECTED.format(limit=REFERENCE_LIMIT), [CANCEL])
        return
    _drop(context)
    try:
        topup_id = await request_manual_topup(state.db, user.id, step.amount, state.currency, reference=reference,
                                              photo_file_id=photo)
    except TooManyPending:
        await reply(update, texts.MANUAL_TOO_MANY.format(count=MAX_PENDING_MANUAL), main_menu())
        return
    await reply(update, texts.MANUAL_SENT.format(topup_id=topup_id, amount=format_money(step.amount, state.currency)),
                main_menu())
    await admin_topups.announce(context, topup_id)


# The buttons that begin a typed step; the ordering conversation leaves itself through them too
# (one typed conversation at a time, so no answer is read by a step the customer forgot).
STEP_BUTTONS = {r"^t:c$": custom_button, r"^t:m$": manual_button}


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(TypeHandler(Update, step_input), group=groups.TOPUP_STEP)
    application.add_handler(CallbackQueryHandler(topup_menu, pattern=r"^t:home$"))
    application.add_handler(CallbackQueryHandler(preset_button, pattern=r"^t:a:\d{1,9}(\.\d{1,2})?$"))
    for pattern, callback in STEP_BUTTONS.items():
        application.add_handler(CallbackQueryHandler(callback, pattern=pattern))
    application.add_handler(CallbackQueryHandler(cancel_button, pattern=r"^t:x$"))
