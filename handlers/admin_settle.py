"""Refunds settled by hand, for admins: /settle ORDER_ID (or a button of the held list) shows an
order's money — price, refunded so far, what is left, why a refund is held — with Refund all,
Refund part… (typed amount) and, for a held refund, Nothing is due. Each press carries the number
of refunds the admin saw, so a refund that happened meanwhile (a poll, another admin) is never
doubled: the card is shown again instead."""

from __future__ import annotations

import html
import logging

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.money import format_money, from_micros, parse_amount, to_micros
from bot.shop.settlement import Refusal, Settleable, SettledByHand, look_up, nothing_due, refund
from bot.shop.tracking import held_reason, status_name
from bot.state import app_state
from handlers.admin_base import admin_id, admin_only, ask, home_row, panel_line
from handlers.buttons import Admin, AdminScreen, Button, Settle, SettleAction
from handlers.common import Row, reply, show
from storage.settlements import count_held, held_orders

log = logging.getLogger(__name__)

SETTLE = "settle"  # the prompt for a part refund's amount (handlers/dialogues.py)


def _held_row() -> Row:
    return [(texts.BUTTON_ADMIN_HELD_LIST, Admin(AdminScreen.HELD).data)]


SHOWN = 10  # held orders listed at once, the oldest first


@admin_only
async def held_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    held = await held_orders(state.db, limit=SHOWN)
    if not held:
        await show(update, texts.HELD_NONE, home_row())
        return
    count = await count_held(state.db)
    lines = [texts.HELD_LIST.format(count=count) + ("\n" + texts.LIST_OLDEST_SHOWN.format(shown=len(held))
                                                     if count > len(held) else "")]
    lines += [texts.HELD_ITEM.format(order_id=o.order_id, user_id=o.user_id,
                                     service=html.escape(shorten(o.service_name, 60)),
                                     price=format_money(from_micros(o.price_micros), o.currency),
                                     reason=shorten(str(held_reason(o.refund_hold or "")), 160)) for o in held]
    rows: list[Row] = [[(f"💸 #{o.order_id}", Settle(o.order_id).data)] for o in held]
    await show(update, "\n\n".join(map(str, lines)), [*rows, *home_row()])


@admin_only
async def settle_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/settle ORDER_ID"""
    args = context.args or []
    if len(args) != 1 or not args[0].isascii() or not args[0].isdigit() or len(args[0]) > 18:
        await reply(update, texts.SETTLE_USAGE)
        return
    await _card(update, context, int(args[0]))


@admin_only
async def settle_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, Settle)
    order_id, action = pressed.order_id, pressed.action
    seen = pressed.seen if pressed.seen is not None else -1
    if action is None:
        await _card(update, context, order_id)
        return
    current = await look_up(app_state(context).db, order_id)
    if current is None or (seen >= 0 and current.refunded.count != seen):
        await _card(update, context, order_id, texts.SETTLE_CHANGED)
        return
    left = format_money(from_micros(current.left), current.order.currency)
    back = Settle(order_id).data
    if action is SettleAction.ALL:
        await show(update, texts.SETTLE_CONFIRM_ALL.format(order_id=order_id, amount=left,
                                                           user_id=current.order.user_id),
                   [[(texts.BUTTON_YES_REFUND.format(price=left), Settle(order_id, SettleAction.ALL_YES, seen).data),
                     (texts.BUTTON_NO, back)]])
    elif action is SettleAction.ALL_YES:
        await _card(update, context, order_id, await _refunded(
            context, await refund(app_state(context).db, order_id, None, seen_refunds=seen, admin_id=admin_id(update))))
    elif action is SettleAction.PART:
        rows = ask(SETTLE, f"{order_id}:{seen}")
        await show(update, texts.ASK_SETTLE_AMOUNT.format(order_id=order_id, left=left), rows)
    elif action is SettleAction.NOTHING:
        await show(update, texts.SETTLE_CONFIRM_NOTHING.format(order_id=order_id, user_id=current.order.user_id),
                   [[(texts.BUTTON_NOTHING_DUE, Settle(order_id, SettleAction.NOTHING_YES, seen).data),
                     (texts.BUTTON_NO, back)]])
    else:  # NOTHING_YES
        outcome = await nothing_due(app_state(context).db, order_id, admin_id=admin_id(update))
        await _card(update, context, order_id, await _refunded(context, outcome))


async def settle_amount(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    order_id, seen = (int(part) for part in target.split(":"))
    amount = parse_amount((message.text or "").strip())
    current = await look_up(app_state(context).db, order_id)
    if current is None:
        return True
    if amount is None or to_micros(amount) > current.left:  # parse_amount: positive, at most 6 decimals
        left = format_money(from_micros(current.left), current.order.currency)
        await reply(update, texts.BAD_SETTLE_AMOUNT.format(value=html.escape(shorten(message.text or "", 40)),
                                                           left=left))
        return False
    outcome = await refund(app_state(context).db, order_id, to_micros(amount), seen_refunds=seen,
                           admin_id=admin_id(update))
    note = await _refunded(context, outcome)
    after = await look_up(app_state(context).db, order_id) or current
    await reply(update, f"{note}\n\n{_card_text(after)}", _card_buttons(after))
    return True


async def _refunded(context: ContextTypes.DEFAULT_TYPE, outcome: SettledByHand | Refusal) -> str:
    """The admin's note on what happened (the customer's message is in the outbox already)."""
    if isinstance(outcome, Refusal):
        return texts.SETTLE_REFUSED[outcome.value]
    state = app_state(context)
    if state.notifier is not None:
        state.notifier.wake()
    order = outcome.order
    log.info("an admin settled order %s by hand: %s micros", order.order_id, outcome.amount_micros)
    if not outcome.amount_micros:
        return texts.SETTLED_NOTHING.format(order_id=order.order_id, user_id=order.user_id)
    return texts.SETTLED_REFUND.format(order_id=order.order_id, user_id=order.user_id,
                                       amount=format_money(from_micros(outcome.amount_micros), order.currency))


async def _card(update: Update, context: ContextTypes.DEFAULT_TYPE, order_id: int, note: str = "") -> None:
    current = await look_up(app_state(context).db, order_id)
    if current is None:
        await show(update, texts.SETTLE_UNKNOWN.format(order_id=order_id), [_held_row(), *home_row()])
        return
    text = _card_text(current)
    await show(update, f"{note}\n\n{text}" if note else text, _card_buttons(current))


def _card_text(current: Settleable) -> str:
    order = current.order

    def money(micros: int) -> str:
        return format_money(from_micros(micros), order.currency)
    status = status_name(order.panel_status) if order.state == "placed" else texts.ORDER_STATES[order.state]
    text = texts.SETTLE_CARD.format(
        order_id=order.order_id, user_id=order.user_id, service=html.escape(shorten(order.service_name, 120)),
        link=html.escape(shorten(order.link or "-", 120)), quantity=order.quantity or "-",
        status=html.escape(status), raw_status=html.escape(order.panel_raw_status or "-"),
        remains="-" if order.remains is None else order.remains,
        panel_order_id=html.escape(order.panel_order_id or "-"), price=money(order.price_micros),
        refunded=money(current.refunded.micros), left=money(current.left)) + "\n" + panel_line(order)
    if order.refund_hold:
        text += "\n" + texts.SETTLE_HELD.format(reason=held_reason(order.refund_hold))
    if order.state != "placed":
        text += "\n" + texts.SETTLE_NOT_PLACED
    return text


def _card_buttons(current: Settleable) -> list[Row]:
    order, seen = current.order, current.refunded.count
    rows: list[Row] = []
    if order.state == "placed" and current.left:
        left = format_money(from_micros(current.left), order.currency)
        rows.append([(texts.BUTTON_REFUND_ALL.format(amount=left), Settle(order.order_id, SettleAction.ALL, seen).data),
                     (texts.BUTTON_REFUND_PART, Settle(order.order_id, SettleAction.PART, seen).data)])
    if order.refund_hold:
        rows.append([(texts.BUTTON_NOTHING_DUE, Settle(order.order_id, SettleAction.NOTHING, seen).data)])
    return [*rows, _held_row(), *home_row()]
