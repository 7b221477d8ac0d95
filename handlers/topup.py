"""Top up the wallet: /topup or the Top up button.

Telegram Stars: a preset amount (button) or a typed one → an invoice. Another method
(MANUAL_TOPUP_TEXT): the instructions → the amount paid → a reference or a photo of the receipt
→ a request for the admins.

The typed steps are a dialogue (STARS_AMOUNT, MANUAL_AMOUNT, MANUAL_PROOF; listed in
handlers/dialogues.py with the rule for /cancel, Cancel, expiry and leaving).
"""

from __future__ import annotations

import html
import logging
from decimal import Decimal

from telegram import LabeledPrice, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.dialogue import current
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
from bot.shop.topups import Invoice, TooManyPending, open_stars_topup, request_manual_topup
from bot.shop.wallet import balance
from bot.state import AppState, app_state
from handlers import admin_topups
from handlers.buttons import Button, Menu, MenuItem, Topup, TopupItem, TopupPreset
from handlers.common import Row, cancel_row, main_menu, replace, reply, show

log = logging.getLogger(__name__)

DIALOGUE = "topup"
STARS_AMOUNT, MANUAL_AMOUNT, MANUAL_PROOF = "stars_amount", "manual_amount", "manual_proof"
REFERENCE_LIMIT = 300


def _home() -> tuple[str, str]:
    return texts.BUTTON_MAIN_MENU, Menu(MenuItem.HOME).data


def _back() -> list[Row]:
    return [[(texts.BUTTON_TOPUP_MENU, Topup(TopupItem.MENU).data), _home()]]


def _bounds(state: AppState, allowed: AmountRange) -> dict[str, str]:
    return {"low": format_money(allowed.low, state.currency), "high": format_money(allowed.high, state.currency)}


def _example(state: AppState) -> str:
    presets = state.settings.topup_presets
    return format_money(presets[0] if presets else Decimal(10), state.currency)


async def topup_menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None:
        return
    state = app_state(context)
    rate, manual = state.settings.stars_per_unit, state.settings.manual_topup_text
    if rate is None and manual is None:
        await show(update, texts.TOPUP_DISABLED.format(user_id=user.id), [[_home()]])
        return
    methods: list[str] = []
    rows: list[Row] = []
    if rate is not None:
        allowed = stars_range(rate)
        methods.append(texts.TOPUP_STARS_LINE.format(
            currency=html.escape(state.currency), rate=f"{rate.normalize():f}",
            **_bounds(state, allowed)))
        presets = [amount for amount in state.settings.topup_presets if topup_amount_problem(amount, allowed) is None]
        buttons: list[Button] = [(texts.BUTTON_TOPUP_PRESET.format(amount=format_money(amount, state.currency),
                                                                   stars=stars_for(amount, rate)),
                                  TopupPreset(amount).data)
                                 for amount in presets]
        rows += [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
        rows.append([(texts.BUTTON_TOPUP_CUSTOM, Topup(TopupItem.CUSTOM).data)])
    if manual is not None:
        methods.append(texts.TOPUP_MANUAL_LINE)
        rows.append([(texts.BUTTON_TOPUP_MANUAL, Topup(TopupItem.MANUAL).data)])
    rows.append([_home()])
    wallet = format_money(await balance(state.db, user.id), state.currency)
    if rate is not None:  # the menu invites a typed amount: the next message is read as one
        current().begin(DIALOGUE, STARS_AMOUNT)
    await show(update, texts.TOPUP_MENU.format(balance=wallet, methods="\n\n".join(map(str, methods))), rows)


async def topup_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, Topup)
    if pressed.item is TopupItem.CUSTOM:
        await custom_button(update, context)
    elif pressed.item is TopupItem.MANUAL:
        await manual_button(update, context)
    else:
        await topup_menu(update, context)


async def preset_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, TopupPreset)
    await _invoice(update, context, pressed.amount)


async def custom_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    rate = state.settings.stars_per_unit
    if rate is None:
        await show(update, texts.TOPUP_STARS_DISABLED, [[(texts.BUTTON_TOPUP_MENU, Topup(TopupItem.MENU).data)]])
        return
    allowed = stars_range(rate)
    current().begin(DIALOGUE, STARS_AMOUNT)
    await show(update, texts.ASK_TOPUP_AMOUNT.format(
        currency=html.escape(state.currency), example=_example(state), **_bounds(state, allowed)), [cancel_row()])


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Continue: the open step's question again."""
    state, session = app_state(context), current()
    rate = state.settings.stars_per_unit
    if session.step == STARS_AMOUNT and rate is not None:
        await show(update, texts.ASK_TOPUP_AMOUNT.format(currency=html.escape(state.currency), example=_example(state),
                                                         **_bounds(state, stars_range(rate))), [cancel_row()])
    elif session.step == MANUAL_AMOUNT and state.settings.manual_topup_text is not None:
        await show(update, texts.MANUAL_INSTRUCTIONS.format(
            instructions=html.escape(state.settings.manual_topup_text), currency=html.escape(state.currency),
            example=_example(state)), [cancel_row()])
    elif session.step == MANUAL_PROOF and (amount := parse_amount(str(session.draft.get("amount", "")))):
        await show(update, texts.ASK_MANUAL_PROOF.format(amount=format_money(amount, state.currency)),
                   [cancel_row()])
    else:  # the method was switched off meanwhile
        session.end()
        await topup_menu(update, context)


async def manual_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    instructions = state.settings.manual_topup_text
    if instructions is None:
        user_id = update.effective_user.id if update.effective_user else ""
        await show(update, texts.TOPUP_DISABLED.format(user_id=user_id), [[_home()]])
        return
    current().begin(DIALOGUE, MANUAL_AMOUNT)
    await show(update, texts.MANUAL_INSTRUCTIONS.format(instructions=html.escape(instructions),
                                                        currency=html.escape(state.currency),
                                                        example=_example(state)), [cancel_row()])


async def _invoice(update: Update, context: ContextTypes.DEFAULT_TYPE, amount: Decimal) -> None:
    """Open a Stars top-up of `amount` and send its invoice (after checking the amount again:
    a button's amount is as untrusted as a typed one). Any top-up step in progress ends here."""
    current().end()
    state, user, chat = app_state(context), update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    rate = state.settings.stars_per_unit
    back = _back()
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
    # The line announcing the invoice first, then the invoice under it (where the customer looks next).
    announced = await show(update, texts.INVOICE_SENT.format(amount=shown, stars=invoice.stars,
                                                             hours=INVOICE_VALID_HOURS), back)
    try:
        await send_invoice(context, chat.id, invoice, shown)
    except TelegramError:
        log.exception("could not send the invoice of top-up %s", invoice.topup_id)
        await replace(update, announced, texts.CHECKOUT_REFUSED["error"], back)


async def send_invoice(context: ContextTypes.DEFAULT_TYPE, chat_id: int, invoice: Invoice, shown: str) -> None:
    """The Stars invoice of a top-up (`shown`: its amount as the reader reads it); TelegramError
    when Telegram would not take it."""
    await context.bot.send_invoice(
        chat_id, title=texts.INVOICE_TITLE, description=texts.INVOICE_DESCRIPTION.format(amount=shown),
        payload=invoice.payload, currency="XTR",
        prices=[LabeledPrice(texts.INVOICE_LABEL.format(amount=shown), invoice.stars)])


# --------------------------------------------------------------------------- typed steps

def _typed(update: Update) -> str:
    return update.effective_message.text or "" if update.effective_message else ""


async def stars_amount(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    rate = state.settings.stars_per_unit
    if rate is None:
        current().end()
        await reply(update, texts.TOPUP_STARS_DISABLED, main_menu())
        return
    allowed = stars_range(rate)
    typed = _typed(update)
    amount = parse_amount(typed)
    if amount is None or topup_amount_problem(amount) is not None:
        await reply(update, texts.TOPUP_BAD_AMOUNT.format(
            value=html.escape(shorten(typed, 40)), currency=html.escape(state.currency),
            example=_example(state), **_bounds(state, allowed)), [cancel_row()])
        return
    if topup_amount_problem(amount, allowed) is not None:
        await reply(update, texts.TOPUP_OUT_OF_RANGE.format(
            amount=format_money(amount, state.currency), **_bounds(state, allowed)), [cancel_row()])
        return
    await _invoice(update, context, amount)


async def manual_amount(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    typed = _typed(update)
    amount = parse_amount(typed)
    if amount is None or topup_amount_problem(amount) is not None:
        await reply(update, texts.MANUAL_BAD_AMOUNT.format(
            value=html.escape(shorten(typed, 40)), currency=html.escape(state.currency),
            example=_example(state)), [cancel_row()])
        return
    current().goto(MANUAL_PROOF, amount=f"{amount:f}")
    await reply(update, texts.ASK_MANUAL_PROOF.format(amount=format_money(amount, state.currency)), [cancel_row()])


async def manual_proof(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state, user, message, session = app_state(context), update.effective_user, update.effective_message, current()
    assert user is not None and message is not None
    amount = parse_amount(str(session.draft.get("amount", "")))
    if amount is None:  # not written by manual_amount: start again
        session.end()
        await reply(update, texts.TOPUP_EXPIRED, main_menu())
        return
    photo = message.photo[-1].file_id if message.photo else None  # the largest size
    reference = (message.caption if photo else message.text) or ""
    reference = reference.strip()
    if (photo is None and not reference) or len(reference) > REFERENCE_LIMIT:
        await reply(update, texts.MANUAL_PROOF_EXPECTED.format(limit=REFERENCE_LIMIT), [cancel_row()])
        return
    session.end()
    try:
        topup_id = await request_manual_topup(state.db, user.id, amount, state.currency, reference=reference,
                                              photo_file_id=photo)
    except TooManyPending:
        await reply(update, texts.MANUAL_TOO_MANY.format(count=MAX_PENDING_MANUAL), main_menu())
        return
    await reply(update, texts.MANUAL_SENT.format(topup_id=topup_id, amount=format_money(amount, state.currency)),
                main_menu())
    await admin_topups.announce(context, topup_id)


