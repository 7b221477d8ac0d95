"""Operator commands (ADMIN_IDS only): /credit and /debit. For anyone else they do not exist."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.money import format_money, from_micros, parse_amount
from bot.shop.ordering import resolve_failed, resolve_placed
from bot.shop.wallet import Overdraft, UnknownUser, adjust
from bot.state import app_state
from handlers.common import reply
from storage.orders import get_order, orders_in_state

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






async def resolve(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/resolve ORDER_ID placed PANEL_ORDER_ID | /resolve ORDER_ID failed: settle an order whose
    outcome was unknown, after checking the panel by hand."""
    state, admin = app_state(context), update.effective_user
    if admin is None or not state.is_admin(admin.id):
        return
    args = context.args or []
    valid = (len(args) == 3 and args[1] == "placed") or (len(args) == 2 and args[1] == "failed")
    if not valid or not args[0].isascii() or not args[0].isdigit():
        await reply(update, texts.RESOLVE_USAGE)
        return
    order_id = int(args[0])
    if args[1] == "placed":
        order = await resolve_placed(state.db, order_id, args[2][:100])
    else:
        order = await resolve_failed(state.db, order_id)
    if order is None:
        current = await get_order(state.db, order_id)
        await reply(update, texts.RESOLVE_NOT_UNVERIFIED.format(
            order_id=order_id, state=html.escape(current.state if current else "unknown")))
        return
    price = format_money(from_micros(order.price_micros), order.currency)
    service = html.escape(shorten(order.service_name, 200))
    if order.state == "placed":
        panel_order_id = html.escape(order.panel_order_id or "")
        await reply(update, texts.RESOLVED_PLACED_ADMIN.format(order_id=order_id, panel_order_id=panel_order_id))
        await _tell(context, order.user_id, texts.RESOLVED_PLACED_CUSTOMER.format(
            order_id=order_id, service=service, panel_order_id=panel_order_id))
    else:
        await reply(update, texts.RESOLVED_FAILED_ADMIN.format(order_id=order_id, price=price, user_id=order.user_id))
        await _tell(context, order.user_id, texts.RESOLVED_FAILED_CUSTOMER.format(
            order_id=order_id, service=service, price=price))
    log.info("admin %s resolved order %s as %s", admin.id, order_id, order.state)


async def unverified(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/unverified: the orders whose `add` got no clear answer, oldest first (at most 20 shown)."""
    state, admin = app_state(context), update.effective_user
    if admin is None or not state.is_admin(admin.id):
        return
    waiting = await orders_in_state(state.db, "unverified")
    if not waiting:
        await reply(update, texts.UNVERIFIED_NONE)
        return
    lines = [texts.UNVERIFIED_LIST.format(count=len(waiting))]
    lines += [texts.UNVERIFIED_LINE.format(
        order_id=o.order_id, user_id=o.user_id, service=html.escape(shorten(o.service_name, 60)),
        link=html.escape(shorten(o.link or "-", 80)), quantity=o.quantity or "-",
        price=format_money(from_micros(o.price_micros), o.currency), created=o.created_at[:16].replace("T", " "),
    ) for o in waiting[:20]]
    await reply(update, "\n\n".join(lines))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("credit", credit))
    application.add_handler(CommandHandler("debit", debit))
    application.add_handler(CommandHandler("resolve", resolve))
    application.add_handler(CommandHandler("unverified", unverified))
