"""Operator commands (ADMIN_IDS only): /credit and /debit. For anyone else they do not exist."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import texts
from bot.domain.money import format_money, parse_amount
from bot.shop.wallet import Overdraft, UnknownUser, adjust
from bot.state import app_state
from handlers.common import reply

log = logging.getLogger(__name__)


async def credit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _adjust(update, context, sign=1)


async def debit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _adjust(update, context, sign=-1)


async def _adjust(update: Update, context: ContextTypes.DEFAULT_TYPE, *, sign: int) -> None:
    state, admin = app_state(context), update.effective_user
    if admin is None or not state.is_admin(admin.id):
        return  # not an admin: the command does not exist
    args = context.args or []
    usage = texts.CREDIT_USAGE if sign > 0 else texts.DEBIT_USAGE
    if len(args) != 2:
        await reply(update, usage)
        return
    user_text, amount_text = args
    if not user_text.isdigit():
        await reply(update, texts.BAD_USER_ID.format(value=html.escape(user_text)) + "\n" + usage)
        return
    amount = parse_amount(amount_text)
    if amount is None:
        await reply(update, texts.BAD_AMOUNT.format(value=html.escape(amount_text)) + "\n" + usage)
        return
    user_id, money = int(user_text), state.currency
    try:
        new_balance = await adjust(state.db, user_id, amount * sign, money, admin_id=admin.id)
    except UnknownUser:
        await reply(update, texts.UNKNOWN_USER.format(user_id=user_id))
        return
    except Overdraft as exc:
        await reply(update, texts.DEBIT_TOO_MUCH.format(user_id=user_id, balance=format_money(exc.balance, money)))
        return
    shown, balance_text = format_money(amount, money), format_money(new_balance, money)
    template = texts.CREDITED_ADMIN if sign > 0 else texts.DEBITED_ADMIN
    confirmation = template.format(amount=shown, user_id=user_id, balance=balance_text)
    customer_text = (texts.CREDITED_CUSTOMER if sign > 0 else texts.DEBITED_CUSTOMER).format(
        amount=shown, balance=balance_text)
    if not await _tell(context, user_id, customer_text):
        confirmation += "\n" + texts.CUSTOMER_UNREACHABLE
    log.info("admin %s %s %s for user %s", admin.id, "credited" if sign > 0 else "debited", amount, user_id)
    await reply(update, confirmation)


async def _tell(context: ContextTypes.DEFAULT_TYPE, user_id: int, text: str) -> bool:
    try:
        await context.bot.send_message(user_id, text, parse_mode=ParseMode.HTML)
    except TelegramError:
        return False
    return True


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("credit", credit))
    application.add_handler(CommandHandler("debit", debit))


