"""Customers, for admins: /user ID (wallet, last orders, ledger), credit, debit, ban, unban."""

from __future__ import annotations

import html
import logging
from decimal import Decimal

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import i18n, texts
from bot.domain.catalogue import shorten
from bot.domain.money import Money, format_money, from_micros, parse_amount
from bot.domain.timestamps import shown_day, shown_moment
from bot.shop.moderation import CannotBan, Unbannable
from bot.shop.tracking import shown_status
from bot.shop.wallet import Overdraft, UnknownUser, adjust, balance
from bot.state import app_state
from bot.texts import Formatted
from handlers.admin_base import admin_id, admin_only, ask, home_row
from handlers.buttons import Admin, AdminScreen, Button, RefundStep, StarsRefund, UserAction, UserCard
from handlers.common import Row, reply, show
from storage.ledger import recent_entries
from storage.orders import orders_of_user
from storage.topups import star_payments_of_user
from storage.users import get_user, recent_users

log = logging.getLogger(__name__)

CREDIT, DEBIT = "credit", "debit"  # prompts (handlers/dialogues.py)


@admin_only
async def users_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    users = await recent_users(state.db, 10, leave_out=state.settings.admin_ids)
    if not users:
        await show(update, texts.USERS_NONE, home_row())
        return
    rows: list[Row] = [[(f"{'⛔ ' if u.banned_at else ''}{shorten(u.first_name or '?', 30)} · {u.user_id}",
                         UserCard(u.user_id).data)] for u in users]
    await show(update, texts.USERS_HELP, [*rows, *home_row()])


@admin_only
async def user_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    args = context.args or []
    if len(args) != 1 or not args[0].isascii() or not args[0].isdigit():
        await reply(update, texts.USER_USAGE)
        return
    await user_card(update, context, int(args[0]))


@admin_only
async def user_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, UserCard)
    user_id, action = pressed.user_id, pressed.action
    if action in (UserAction.CREDIT, UserAction.DEBIT):
        credit = action is UserAction.CREDIT
        rows = ask(CREDIT if credit else DEBIT, user_id)
        await show(update, (texts.ASK_CREDIT if credit else texts.ASK_DEBIT).format(user_id=user_id), rows)
        return
    if action in (UserAction.BAN, UserAction.UNBAN):
        await _ban(update, context, user_id, banned=action is UserAction.BAN)
        return
    await user_card(update, context, user_id)


async def user_card(update: Update, context: ContextTypes.DEFAULT_TYPE, user_id: int, note: str = "") -> None:
    """The customer's card: wallet, last orders, ledger, Stars payments, and the actions on them."""
    state = app_state(context)
    user = await get_user(state.db, user_id)
    if user is None:
        await show(update, texts.UNKNOWN_USER.format(user_id=user_id), home_row())
        return
    money = state.currency
    orders = await orders_of_user(state.db, user_id, limit=5)
    order_lines = [f"{shown_status(o)[0]} #{o.order_id} · {html.escape(shorten(o.service_name, 40))} · "
                   f"{format_money(from_micros(o.price_micros), o.currency)} · {html.escape(str(shown_status(o)[1]))}"
                   for o in orders]
    entries = await recent_entries(state.db, user_id)
    ledger_lines = [texts.USER_LEDGER_LINE.format(
        created=shown_moment(e.created_at), amount=format_money(from_micros(e.amount_micros), e.currency),
        reason=e.reason + (f" #{e.order_id}" if e.order_id else ""),
        note=f" · {html.escape(shorten(e.note, 40))}" if e.note else "") for e in entries]
    status = (texts.USER_STATUS_BANNED if user.banned_at else
              texts.USER_STATUS_BLOCKED if user.blocked_at else texts.USER_STATUS_ACTIVE)
    text = texts.USER_CARD.format(
        name=html.escape(shorten(user.first_name or "?", 60)),
        username=f"@{html.escape(user.username)} " if user.username else "", user_id=user_id, status=status,
        first_seen=shown_day(user.first_seen_at), last_seen=shown_moment(user.last_seen_at),
        balance=format_money(await balance(state.db, user_id), money),
        orders="\n".join(order_lines) or texts.USER_NO_ORDERS, ledger="\n".join(ledger_lines) or texts.USER_NO_LEDGER)
    payments = await star_payments_of_user(state.db, user_id)
    if payments:
        text += texts.USER_PAYMENTS.format(lines="\n".join(texts.USER_PAYMENT_LINE.format(
            payment_id=p.payment_id, created=shown_moment(p.created_at), stars=p.stars,
            amount=format_money(from_micros(p.amount_micros), p.currency),
            state=texts.PAYMENT_STATES.get(p.state, p.state)) for p in payments))
    ban = ((texts.BUTTON_UNBAN, UserCard(user_id, UserAction.UNBAN).data) if user.banned_at
           else (texts.BUTTON_BAN, UserCard(user_id, UserAction.BAN).data))
    rows: list[Row] = [[(texts.BUTTON_CREDIT, UserCard(user_id, UserAction.CREDIT).data),
                        (texts.BUTTON_DEBIT, UserCard(user_id, UserAction.DEBIT).data)]]
    if not state.is_admin(user_id):
        rows.append([ban])
    for p in payments:  # a paid one asks first; a refund left unconfirmed is retried at once
        if p.state == "paid":
            rows.append([(texts.BUTTON_REFUND_STARS.format(payment_id=p.payment_id, stars=p.stars),
                          StarsRefund(user_id, p.payment_id).data)])
        elif p.state == "refunding":
            rows.append([(texts.BUTTON_RETRY_REFUND.format(payment_id=p.payment_id),
                          StarsRefund(user_id, p.payment_id, RefundStep.CONFIRMED).data)])
    await show(update, f"{note}\n\n{text}" if note else text,
               [*rows, [(texts.BUTTON_ADMIN_USERS, Admin(AdminScreen.USERS).data)], *home_row()])


async def _ban(update: Update, context: ContextTypes.DEFAULT_TYPE, user_id: int, *, banned: bool) -> None:
    state = app_state(context)
    try:
        changed = await state.customers.set_ban(admin_id(update), user_id, banned)
    except CannotBan as exc:
        text = texts.CANNOT_BAN_ADMIN if exc.why is Unbannable.ADMIN else texts.UNKNOWN_USER.format(user_id=user_id)
        await show(update, text, home_row())
        return
    if changed:
        log.info("admin %s %s user %s", admin_id(update), "banned" if banned else "unbanned", user_id)
        note = (texts.BANNED_ADMIN if banned else texts.UNBANNED_ADMIN).format(user_id=user_id)
    else:
        status = texts.USER_STATUS_BANNED if banned else texts.USER_STATUS_ACTIVE
        note = texts.BAN_UNCHANGED.format(user_id=user_id, status=status)
    await user_card(update, context, user_id, note)


# --------------------------------------------------------------------------- credit and debit

@admin_only
async def credit_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _adjust_command(update, context, sign=1)


@admin_only
async def debit_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _adjust_command(update, context, sign=-1)


async def _adjust_command(update: Update, context: ContextTypes.DEFAULT_TYPE, *, sign: int) -> None:
    args = context.args or []
    usage = texts.CREDIT_USAGE if sign > 0 else texts.DEBIT_USAGE
    if len(args) != 2:
        await reply(update, usage)
        return
    user_text, amount_text = args
    if not user_text.isascii() or not user_text.isdigit():
        await reply(update, texts.BAD_USER_ID.format(value=html.escape(user_text)) + "\n" + usage)
        return
    amount = parse_amount(amount_text)
    if amount is None:
        await reply(update, texts.BAD_AMOUNT.format(value=html.escape(amount_text)) + "\n" + usage)
        return
    await reply(update, await _adjust(context, admin_id(update), int(user_text), amount * sign))


async def credit_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    return await _adjust_answer(update, context, int(target), message, sign=1)


async def debit_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    return await _adjust_answer(update, context, int(target), message, sign=-1)


async def _adjust_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, user_id: int, message: Message, *,
                         sign: int) -> bool:
    amount = parse_amount((message.text or "").strip())
    if amount is None:
        ask_again = texts.ASK_CREDIT if sign > 0 else texts.ASK_DEBIT
        await reply(update, texts.BAD_AMOUNT.format(value=html.escape(shorten(message.text or "", 40))) + "\n"
                    + ask_again.format(user_id=user_id))
        return False
    await reply(update, await _adjust(context, admin_id(update), user_id, amount * sign))
    return True


async def _adjust(context: ContextTypes.DEFAULT_TYPE, admin: int, user_id: int, amount: Decimal) -> str:
    """Credit (amount > 0) or debit; tells the customer; returns the admin's answer."""
    state, money = app_state(context), app_state(context).currency
    try:
        new_balance = await adjust(state.db, user_id, amount, money, admin_id=admin)
    except UnknownUser:
        return texts.UNKNOWN_USER.format(user_id=user_id)
    except Overdraft as exc:
        return texts.DEBIT_TOO_MUCH.format(user_id=user_id, balance=format_money(exc.balance, money))
    shown, balance_text = format_money(abs(amount), money), format_money(new_balance, money)
    credited = amount > 0
    confirmation = (texts.CREDITED_ADMIN if credited else texts.DEBITED_ADMIN).format(
        amount=shown, user_id=user_id, balance=balance_text)
    customer_text = (texts.CREDITED_CUSTOMER if credited else texts.DEBITED_CUSTOMER).lazy(
        amount=Money(abs(amount), money), balance=Money(new_balance, money))
    if not await tell(context, user_id, customer_text):
        confirmation += "\n" + texts.CUSTOMER_UNREACHABLE
    log.info("admin %s %s %s for user %s", admin, "credited" if credited else "debited", abs(amount), user_id)
    return confirmation


async def tell(context: ContextTypes.DEFAULT_TYPE, user_id: int, text: Formatted) -> bool:
    """A message to a customer, in their language (pass `texts.X.lazy(...)`); False when Telegram
    would not deliver it (blocked, never started)."""
    try:
        with i18n.reading(await app_state(context).customers.locale_of(user_id)):
            await context.bot.send_message(user_id, text)  # type: ignore[arg-type]  # rendered on the wire
    except TelegramError:
        return False
    return True
