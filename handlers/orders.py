"""An order's card: details, Refresh, Refill, Cancel order (with confirmation), Back.

Callback data carries the order id only (buttons.OrderCard); every press loads the order and
checks that it belongs to the user pressing, so a forged id shows nothing and does nothing.
The card's own buttons edit it in place; a notice's Open order sends it as a new message, so the
notice (what changed, what was refunded) stays as it was. The customer sees the shop's order
number and plain words only: the panel's ids and messages are on the admins' screens and in the log.
"""

from __future__ import annotations

import html
import math
import time
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import ContextTypes

from bot import i18n, texts
from bot.domain.catalogue import shorten
from bot.domain.money import format_money, from_micros
from bot.domain.timestamps import shown_ago
from bot.panel import OrderStatus, PanelError
from bot.shop.tracking import is_finished, refresh_order, request_cancel, request_refill, shown_status, status_name
from bot.state import AppState, app_state
from handlers.buttons import Button, CardAction, MyOrders, OrderCard
from handlers.common import Row, answer, reply, show
from storage.orders import OrderRecord, get_order
from storage.settlements import refunded_so_far
from storage.tracking import refills_of_order

REFILLABLE = {OrderStatus.COMPLETED.value, OrderStatus.PARTIAL.value}


async def order_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, OrderCard)
    user = update.effective_user
    assert user is not None
    state = app_state(context)
    order = await get_order(state.db, pressed.order_id)
    if order is None or order.user_id != user.id:
        await answer(update, texts.NOT_YOUR_ORDER)
        return
    action = pressed.action
    now, interval = time.time(), state.settings.poll_interval_seconds
    if action is CardAction.NOTICE:  # the notice keeps its facts: the card comes below it
        from handlers.dialogues import continue_row  # here: handlers/dialogues.py imports the screens

        await answer(update)
        await reply(update, await _card(state, order), [*_buttons(state, order), continue_row()])
        return
    if action is CardAction.REFRESH and order.state == "placed":
        if wait := state.card_throttle.wait(user.id, state.clock()):  # the card as last polled
            await answer(update, texts.REFRESH_THROTTLED.format(seconds=math.ceil(wait)))
            await show(update, await _card(state, order), _buttons(state, order), answered=True)
            return
        try:
            order = await refresh_order(state.db, state.panels, state.alerts, order, now=now, interval=interval,
                                        quantum=state.refund_quantum)
        except PanelError:
            await answer(update, texts.PANEL_BUSY[:200])
            return
        await answer(update, texts.REFRESHED)
        if state.notifier is not None:
            state.notifier.wake()
        await show(update, await _card(state, order), _buttons(state, order), answered=True)
    elif action is CardAction.REFILL and _can_refill(state, order):
        if wait := state.card_throttle.wait((user.id, "refill"), state.clock()):  # a write: one at a time
            await answer(update, texts.REFILL_THROTTLED.format(seconds=math.ceil(wait)))
            return
        result = await request_refill(state.db, state.panels, order, now=now, interval=interval)
        await answer(update)
        await reply(update, result.text)
    elif action is CardAction.CANCEL and _can_cancel(state, order):
        await show(update, texts.CANCEL_ORDER_CONFIRM.format(order_id=order.order_id,
                                                             service=html.escape(shorten(order.service_name, 200))),
                   [[(texts.BUTTON_CANCEL_YES, OrderCard(order.order_id, CardAction.CANCEL_YES).data),
                     (texts.BUTTON_CANCEL_NO, OrderCard(order.order_id).data)]])
    elif action is CardAction.CANCEL_YES and _can_cancel(state, order):
        result = await request_cancel(state.db, state.panels, order, now=now, interval=interval)
        order = await get_order(state.db, order.order_id) or order  # now "cancellation requested"
        await show(update, await _card(state, order), _buttons(state, order))
        await reply(update, result.text)
    elif action in (None, CardAction.REFRESH):
        await show(update, await _card(state, order), _buttons(state, order))
    else:  # a button the order no longer offers (it changed since the card was drawn)
        await answer(update, texts.MENU_EXPIRED)


def _service_flags(state: AppState, order: OrderRecord) -> tuple[bool, bool]:
    # What the panel that took it offers for that service (hidden later or not: its order goes on).
    service = (state.catalogues.panel_service(order.panel, order.panel_service_id) if order.panel_service_id
               else None) or state.full_catalogue.service(order.service_id)
    return (service.refill, service.cancel) if service is not None else (False, False)


def _can_refill(state: AppState, order: OrderRecord) -> bool:
    return order.state == "placed" and order.panel_status in REFILLABLE and _service_flags(state, order)[0]


def _can_cancel(state: AppState, order: OrderRecord) -> bool:
    asked = order.cancel_requested_at is not None  # once is enough: the panel's answer comes by the poll
    return order.state == "placed" and not _final(order) and not asked and _service_flags(state, order)[1]


def _final(order: OrderRecord) -> bool:
    return order.panel_status is not None and OrderStatus(order.panel_status).is_final


def _buttons(state: AppState, order: OrderRecord) -> list[Row]:
    actions: Row = []
    if order.state == "placed" and not is_finished(order):  # a finished order has nothing left to look up
        actions.append((texts.BUTTON_REFRESH, OrderCard(order.order_id, CardAction.REFRESH).data))
    if _can_refill(state, order):
        actions.append((texts.BUTTON_REFILL, OrderCard(order.order_id, CardAction.REFILL).data))
    if _can_cancel(state, order):
        actions.append((texts.BUTTON_CANCEL_ORDER, OrderCard(order.order_id, CardAction.CANCEL).data))
    return [actions, [(texts.BUTTON_MY_ORDERS_BACK, MyOrders(0).data)]]


async def _card(state: AppState, order: OrderRecord) -> str:
    refills = await refills_of_order(state.db, order.order_id)
    refunded = await refunded_so_far(state.db, order.order_id)  # the ledger's word, whoever refunded
    mark, status = shown_status(order)
    refund = ""
    if refunded.micros:
        refund = texts.ORDER_CARD_REFUNDED.format(refund=format_money(from_micros(refunded.micros), order.currency))
    elif order.refund_hold:
        refund = texts.ORDER_CARD_REFUND_HELD
    progress = ""
    if order.start_count is not None or order.remains is not None:  # nothing to say before the panel does
        progress = texts.ORDER_CARD_PROGRESS.format(start_count=_number(order.start_count),
                                                    remains=_number(order.remains))
    now = datetime.now(UTC)
    return texts.ORDER_CARD.format(
        order_id=order.order_id, service=html.escape(shorten(order.service_name, 200)),
        link=html.escape(shorten(order.link or "-", 300)), quantity=_number(order.quantity or None),
        price=format_money(from_micros(order.price_micros), order.currency), refund=refund, mark=mark,
        status=html.escape(status), progress=progress, created=shown_ago(order.created_at, now),
        updated=shown_ago(order.updated_at, now),
        refills="".join(texts.ORDER_CARD_REFILL.format(number=i, status=html.escape(status_name(r.status)))
                        for i, r in enumerate(refills[-5:], start=1)),
    )


def _number(value: int | None) -> str:
    return "-" if value is None else i18n.format_count(value)

