"""Unverified orders (the panel's answer to `add` never came), for admins: a list with, per
order, "placed" (the admin types the panel's order id; it is then tracked like any other) or
"failed" (refund). /resolve does the same by command. Each order is settled once, also when two
admins press at the same time."""

from __future__ import annotations

import html
import logging

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.money import Money, format_money, from_micros
from bot.domain.timestamps import shown_moment
from bot.panel import is_id
from bot.shop.ordering import resolve_failed, resolve_placed
from bot.state import app_state
from handlers.admin_base import admin_id, admin_only, ask, home_row, panel_line
from handlers.admin_users import tell
from handlers.buttons import Admin, AdminScreen, Button, Resolution, ResolveOrder
from handlers.common import Row, reply, show
from storage.orders import OrderRecord, get_order, orders_in_state

log = logging.getLogger(__name__)

PLACED = "placed"  # the prompt for the panel's order id (handlers/dialogues.py)
SHOWN = 10  # orders listed at once; the oldest first


@admin_only
async def unverified_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    waiting = await orders_in_state(app_state(context).db, "unverified")
    if not waiting:
        await show(update, texts.UNVERIFIED_NONE, home_row())
        return
    title = texts.UNVERIFIED_LIST.format(count=len(waiting))
    if len(waiting) > SHOWN:  # say so: the list stops at SHOWN
        title += "\n" + texts.LIST_OLDEST_SHOWN.format(shown=SHOWN)
    lines = [title] + [_item(o) for o in waiting[:SHOWN]]
    rows: list[Row] = [[(f"#{o.order_id} {texts.BUTTON_MARK_PLACED}", ResolveOrder(o.order_id, Resolution.PLACED).data),
                        (f"#{o.order_id} {texts.BUTTON_MARK_FAILED}", ResolveOrder(o.order_id, Resolution.FAILED).data)]
                       for o in waiting[:SHOWN]]
    await show(update, "\n\n".join(map(str, lines)), [*rows, *home_row()])


def _item(order: OrderRecord) -> str:
    return str(texts.UNVERIFIED_ITEM.format(
        order_id=order.order_id, user_id=order.user_id, created=shown_moment(order.created_at),
        service=html.escape(shorten(order.service_name, 80)), link=html.escape(shorten(order.link or "-", 80)),
        quantity=order.quantity or "-", price=format_money(from_micros(order.price_micros), order.currency),
        error=html.escape(shorten(order.error or "-", 120)))) + "\n" + panel_line(order)


@admin_only
async def order_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, ResolveOrder)
    order_id, action = pressed.order_id, pressed.action
    order = await get_order(app_state(context).db, order_id)
    if order is None or order.state != "unverified":
        await show(update, texts.RESOLVE_NOT_UNVERIFIED.format(
            order_id=order_id, state=html.escape(order.state if order else "unknown")), home_row())
        return
    price = format_money(from_micros(order.price_micros), order.currency)
    back = Admin(AdminScreen.UNVERIFIED).data
    if action is Resolution.PLACED:
        rows = ask(PLACED, order_id)
        await show(update, texts.ASK_PANEL_ORDER_ID.format(order_id=order_id), rows)
    elif action is Resolution.FAILED:
        await show(update, texts.CONFIRM_FAILED.format(order_id=order_id, price=price, user_id=order.user_id),
                   [[(texts.BUTTON_YES_REFUND.format(price=price), ResolveOrder(order_id, Resolution.FAILED_YES).data),
                     (texts.BUTTON_NO, back)]])
    else:
        await show(update, await _settle(context, admin_id(update), order_id, None), [[("‹ ❔", back)], *home_row()])


async def placed_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    panel_order_id = (message.text or "").strip()
    if not is_id(panel_order_id):  # the rule the panel's own answers are held to: it is polled with it
        await reply(update, texts.BAD_PANEL_ORDER_ID)
        return False
    await reply(update, await _settle(context, admin_id(update), int(target), panel_order_id))
    return True


@admin_only
async def resolve_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/resolve ORDER_ID placed PANEL_ORDER_ID | /resolve ORDER_ID failed"""
    args = context.args or []
    valid = (len(args) == 3 and args[1] == "placed") or (len(args) == 2 and args[1] == "failed")
    if not valid or not args[0].isascii() or not args[0].isdigit():
        await reply(update, texts.RESOLVE_USAGE)
        return
    panel_order_id = args[2] if len(args) == 3 else None
    if panel_order_id is not None and not is_id(panel_order_id):
        await reply(update, texts.BAD_PANEL_ORDER_ID_COMMAND)
        return
    await reply(update, await _settle(context, admin_id(update), int(args[0]), panel_order_id))


async def _settle(context: ContextTypes.DEFAULT_TYPE, admin: int, order_id: int, panel_order_id: str | None) -> str:
    """Placed (with the panel's id) or failed (None: refund); tells the customer; returns the
    admin's answer. Whoever comes second is told the order is settled already."""
    state = app_state(context)
    if panel_order_id is not None:
        order = await resolve_placed(state.db, order_id, panel_order_id, admin_id=admin)
    else:
        order = await resolve_failed(state.db, order_id, admin_id=admin)
    if order is None:
        current = await get_order(state.db, order_id)
        return texts.RESOLVE_NOT_UNVERIFIED.format(order_id=order_id,
                                                   state=html.escape(current.state if current else "unknown"))
    price = format_money(from_micros(order.price_micros), order.currency)
    service = html.escape(shorten(order.service_name, 200))
    log.info("admin %s resolved order %s as %s", admin, order_id, order.state)
    if order.state == "placed":
        shown_id = html.escape(order.panel_order_id or "")
        await tell(context, order.user_id, texts.RESOLVED_PLACED_CUSTOMER.lazy(
            order_id=order_id, service=service))
        return texts.RESOLVED_PLACED_ADMIN.format(order_id=order_id, panel_order_id=shown_id)
    await tell(context, order.user_id, texts.RESOLVED_FAILED_CUSTOMER.lazy(
        order_id=order_id, service=service, price=Money(from_micros(order.price_micros), order.currency)))
    return texts.RESOLVED_FAILED_ADMIN.format(order_id=order_id, price=price, user_id=order.user_id)
