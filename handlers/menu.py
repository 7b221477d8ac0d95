"""The main menu: /start, /help, /balance, My orders (and the help screen's way to /paysupport)."""

from __future__ import annotations

import html

from telegram import Update
from telegram.ext import ContextTypes

from bot import i18n, texts
from bot.domain.catalogue import paginate, shorten
from bot.domain.money import format_money
from bot.shop.tracking import shown_status
from bot.shop.wallet import balance
from bot.state import app_state
from handlers import ordering, payments, topup
from handlers.buttons import Button, Language, Menu, MenuItem, MyOrders, OrderCard
from handlers.common import Row, answer, main_menu, show
from handlers.dialogues import continue_row
from handlers.pager import page_row, titled
from storage.orders import OrderRecord, count_orders_of_user, orders_of_user

ORDERS_PER_PAGE = 8


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None:
        return
    state = app_state(context)
    wallet = format_money(await balance(state.db, user.id), state.currency)
    text = texts.GREETING.format(name=html.escape(user.first_name), balance=wallet)
    if state.sandbox:
        text = f"{texts.SANDBOX_BANNER}\n\n{text}"
    await show(update, text, main_menu())


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """How ordering works in a few lines; the rest is a button away (the commands are in
    Telegram's menu)."""
    await show(update, texts.HELP, [
        continue_row(),
        [(texts.BUTTON_NEW_ORDER, Menu(MenuItem.NEW_ORDER).data), (texts.BUTTON_MY_ORDERS, MyOrders(0).data)],
        [(texts.BUTTON_BALANCE, Menu(MenuItem.BALANCE).data), (texts.BUTTON_TOPUP, Menu(MenuItem.TOP_UP).data)],
        [(texts.BUTTON_PAYSUPPORT, Menu(MenuItem.PAYSUPPORT).data)]])


async def balance_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = update.effective_user
    if user is None:
        return
    state = app_state(context)
    wallet = format_money(await balance(state.db, user.id), state.currency)
    await show(update, texts.BALANCE.format(balance=wallet, user_id=user.id),
               [continue_row(), [(texts.BUTTON_TOPUP, Menu(MenuItem.TOP_UP).data),
                                 (texts.BUTTON_MAIN_MENU, Menu(MenuItem.HOME).data)]])


async def my_orders(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button | None = None) -> None:
    """The customer's own orders, newest first; the page comes from the button, the owner from
    the update itself, never from callback data."""
    user = update.effective_user
    if user is None:
        return
    state = app_state(context)
    page_number = pressed.page if isinstance(pressed, MyOrders) else 0
    total = await count_orders_of_user(state.db, user.id)
    page = paginate(range(total), page_number, ORDERS_PER_PAGE)
    orders = await orders_of_user(state.db, user.id, limit=ORDERS_PER_PAGE, offset=page.number * ORDERS_PER_PAGE)
    if not orders:
        await show(update, texts.MY_ORDERS_EMPTY, main_menu())
        return
    # One button per order (its mark, number and service), under a short title: the details are on its card.
    open_rows: list[Row] = [[(_order_button(order), OrderCard(order.order_id).data)] for order in orders]
    await show(update, titled(texts.MY_ORDERS.format(count=total), page),
               [*open_rows, page_row(page, MyOrders), [(texts.BUTTON_MAIN_MENU, Menu(MenuItem.HOME).data)]])


def _order_button(order: OrderRecord) -> str:
    """A button's text is plain (no HTML), so the service name is not escaped here."""
    mark, _ = shown_status(order)
    return texts.BUTTON_ORDER_IN_LIST.format(mark=mark, order_id=order.order_id,
                                             service=shorten(order.service_name, 28))


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text or a command no handler took: point to the menu instead of staying silent."""
    await show(update, texts.UNKNOWN_INPUT, main_menu())


async def menu_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    """A main-menu button."""
    assert isinstance(pressed, Menu)
    screens = {MenuItem.HOME: start, MenuItem.NEW_ORDER: ordering.begin, MenuItem.BALANCE: balance_command,
               MenuItem.TOP_UP: topup.topup_menu, MenuItem.HELP: help_command, MenuItem.PAYSUPPORT: payments.paysupport}
    await screens[pressed.item](update, context)


async def language_menu(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button | None = None) -> None:
    """/language and the menu's Language button: every language by its own name; the one in
    use is marked."""
    if isinstance(pressed, Language):
        await _choose_language(update, context, pressed.locale)
        return
    now = i18n.current()
    rows: list[Row] = [[(("✓ " if code == now else "") + i18n.native_name(code), Language(code).data)]
                       for code in i18n.available()]
    rows.append([(texts.BUTTON_MAIN_MENU, Menu(MenuItem.HOME).data)])
    await show(update, texts.LANGUAGE_CHOOSE, rows)


async def _choose_language(update: Update, context: ContextTypes.DEFAULT_TYPE, locale: str) -> None:
    user = update.effective_user
    if user is None or locale not in i18n.available():
        await answer(update, texts.MENU_EXPIRED)
        return
    await app_state(context).customers.choose_language(user.id, locale)
    with i18n.reading(locale):  # the answer already in the language chosen
        await show(update, texts.LANGUAGE_CHOSEN, main_menu())

