"""Every handler of the bot, registered here and nowhere else, in the order they must run.

python-telegram-bot runs the groups lowest first; within a group only the first handler that
matches runs, and a handler raising ApplicationHandlerStop ends the update. Why this order:

1. PAYMENTS: money Telegram took is credited even for a user banned a second ago, and the
   pre-checkout query is answered within Telegram's 10 seconds; nothing else may run first.
2. GATE: records users; keeps strangers out of a private bot and banned users out of any bot.
3. DIALOGUE: the one rule for /cancel, Cancel, leaving and answering a dialogue's step
   (handlers/dialogues.py). It runs before the commands and buttons so that a command or another
   screen's button ends the open dialogue first, and a typed answer never reaches the catch-all.
4. Commands and buttons (group 0), each button kind of handlers/buttons.py to one callback.
   The catch-alls come last: any other message gets a pointer to the menu, any other button
   "this menu has expired".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    TypeHandler,
    filters,
)

from bot import texts
from handlers import (
    access,
    admin,
    admin_broadcast,
    admin_catalogue,
    admin_orders,
    admin_rates,
    admin_settle,
    admin_sources,
    admin_topups,
    admin_users,
    dialogues,
    menu,
    ordering,
    orders,
    payments,
    topup,
)
from handlers.buttons import (
    Admin,
    AdminCategories,
    AdminCategory,
    AdminCategoryServices,
    AdminFlagged,
    AdminMerge,
    AdminService,
    AdminSource,
    BroadcastDraft,
    Button,
    Language,
    Languages,
    Menu,
    MyOrders,
    OrderCard,
    ResolveOrder,
    Settle,
    StarsRefund,
    Topup,
    TopupPreset,
    TopupRequest,
    UserCard,
)
from handlers.common import answer

PAYMENTS, GATE, DIALOGUE, SCREENS = -3, -2, -1, 0

ButtonCallback = Callable[[Update, ContextTypes.DEFAULT_TYPE, Button], Awaitable[None]]


def on_button(kind: type[Button], callback: ButtonCallback) -> CallbackQueryHandler:  # type: ignore[type-arg]
    """A press of a button of `kind`, decoded, for `callback(update, context, pressed)`."""
    async def decoded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        pressed = kind.parse(update.callback_query.data)
        assert pressed is not None  # the pattern matched it
        await callback(update, context, pressed)
    return CallbackQueryHandler(decoded, pattern=kind.parse)


async def expired_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await answer(update, texts.MENU_EXPIRED)


def register_handlers(application: Application, admin_ids: frozenset[int]) -> None:  # type: ignore[type-arg]
    # The shop works in private chats only: a wallet, an order or a dialogue is nobody else's
    # business, and a dialogue is kept per user, not per chat.
    private = filters.ChatType.PRIVATE
    admins = filters.User(user_id=admin_ids) & private
    in_order: list[tuple[int, BaseHandler]] = [  # type: ignore[type-arg]
        (PAYMENTS, PreCheckoutQueryHandler(payments.pre_checkout)),
        (PAYMENTS, MessageHandler(filters.SUCCESSFUL_PAYMENT, payments.successful_payment)),
        (PAYMENTS, MessageHandler(filters.StatusUpdate.REFUNDED_PAYMENT, payments.refunded_payment)),
        (GATE, TypeHandler(Update, access.gate)),
        (DIALOGUE, TypeHandler(Update, dialogues.route)),
        # the customer's menu
        (SCREENS, CommandHandler("start", menu.start, filters=private)),
        (SCREENS, CommandHandler("help", menu.help_command, filters=private)),
        (SCREENS, CommandHandler("balance", menu.balance_command, filters=private)),
        (SCREENS, CommandHandler("orders", menu.my_orders, filters=private)),
        (SCREENS, CommandHandler("order", ordering.begin, filters=private)),
        (SCREENS, CommandHandler("topup", topup.topup_menu, filters=private)),
        (SCREENS, CommandHandler("paysupport", payments.paysupport, filters=private)),
        (SCREENS, CommandHandler("language", menu.language_menu, filters=private)),
        (SCREENS, on_button(Language, menu.language_menu)),
        (SCREENS, on_button(Languages, menu.language_menu)),
        (SCREENS, on_button(Menu, menu.menu_button)),
        (SCREENS, on_button(MyOrders, menu.my_orders)),
        (SCREENS, on_button(OrderCard, orders.order_button)),
        (SCREENS, on_button(Topup, topup.topup_button)),
        (SCREENS, on_button(TopupPreset, topup.preset_button)),
        # the admin's (commands exist for admins only; every admin button checks the presser)
        (SCREENS, CommandHandler("admin", admin.admin_menu, filters=admins)),
        (SCREENS, CommandHandler("user", admin_users.user_command, filters=admins)),
        (SCREENS, CommandHandler("credit", admin_users.credit_command, filters=admins)),
        (SCREENS, CommandHandler("debit", admin_users.debit_command, filters=admins)),
        (SCREENS, CommandHandler("unverified", admin_orders.unverified_view, filters=admins)),
        (SCREENS, CommandHandler("resolve", admin_orders.resolve_command, filters=admins)),
        (SCREENS, CommandHandler("settle", admin_settle.settle_command, filters=admins)),
        (SCREENS, CommandHandler("broadcast", admin_broadcast.broadcast_start, filters=admins)),
        (SCREENS, CommandHandler("refresh", admin_catalogue.refresh, filters=admins)),
        (SCREENS, CommandHandler("catalogue", admin_catalogue.categories_view, filters=admins)),
        (SCREENS, CommandHandler("rate", admin_rates.rate_command, filters=admins)),
        (SCREENS, CommandHandler("rates", admin_rates.rates_view, filters=admins)),
        (SCREENS, on_button(Admin, admin.screen_button)),
        (SCREENS, on_button(UserCard, admin_users.user_button)),
        (SCREENS, on_button(ResolveOrder, admin_orders.order_button)),
        (SCREENS, on_button(Settle, admin_settle.settle_button)),
        (SCREENS, on_button(BroadcastDraft, admin_broadcast.broadcast_button)),
        (SCREENS, on_button(AdminCategories, admin_catalogue.categories_view)),
        (SCREENS, on_button(AdminCategory, admin_catalogue.category_button)),
        (SCREENS, on_button(AdminCategoryServices, admin_catalogue.category_button)),
        (SCREENS, on_button(AdminService, admin_sources.service_button)),
        (SCREENS, on_button(AdminSource, admin_sources.source_button)),
        (SCREENS, on_button(AdminMerge, admin_sources.merge_button)),
        (SCREENS, on_button(AdminFlagged, admin_sources.flagged_view)),
        (SCREENS, on_button(TopupRequest, admin_topups.request_button)),
        (SCREENS, on_button(StarsRefund, admin_topups.refund_button)),
        # last: whatever no handler above took
        (SCREENS, MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE, menu.unknown)),
        (SCREENS, CallbackQueryHandler(expired_button)),
    ]
    for group, handler in in_order:
        application.add_handler(handler, group=group)
