"""The ordering conversation: categories → services → card → fields → summary → confirm.

Every button of one conversation carries its nonce (`o:<nonce>:<verb>…`), so a button from an
older menu is recognised and answered "this menu has expired" instead of acting. Callback data
carries ids only. The charge, the order record and the single `add` are in bot.shop.ordering.
"""

from __future__ import annotations

import dataclasses
import html
import secrets
import warnings
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot import texts
from bot.domain.catalogue import Page, is_package, paginate, shorten
from bot.domain.money import format_money, from_micros
from bot.domain.order_form import (
    COUNTED_LISTS,
    DELAY_CHOICES,
    InvalidAnswer,
    Kind,
    OrderDraft,
    parse_answer,
    prompt,
)
from bot.domain.pricing import price_per_1000
from bot.panel import Service
from bot.shop.ordering import Duplicate, OutcomeUnknown, Placed, Refused, ShortOfMoney, place_order, quote
from bot.shop.wallet import balance
from bot.state import AppState, app_state
from handlers import menu, topup
from handlers.common import Button, answer, main_menu, replace, reply, show

BROWSE, FIELD, CONFIRM = range(3)
PER_PAGE = 8
SESSION = "order"
CONFIRMED = "confirmed_nonces"


@dataclass
class Session:
    nonce: str = field(default_factory=lambda: secrets.token_hex(3))
    query: str = ""
    back: str = ""  # the list a service card returns to
    service_id: str | None = None
    draft: OrderDraft | None = None
    quoted: Decimal | None = None  # the price the summary showed: Confirm charges that or asks again

    def data(self, *parts: object) -> str:
        return ":".join(["o", self.nonce, *map(str, parts)])


def _session(context: ContextTypes.DEFAULT_TYPE) -> Session | None:
    assert context.user_data is not None
    return context.user_data.get(SESSION)


def _verb(update: Update, session: Session | None) -> list[str] | None:
    """The parts after the nonce, or None for a button of another (older) conversation."""
    data = update.callback_query.data if update.callback_query else None
    parts = (data or "").split(":")
    if session is None or len(parts) < 3 or parts[1] != session.nonce:
        return None
    return parts[2:]


# --------------------------------------------------------------------------- entry, browsing

async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    session = Session()
    context.user_data[SESSION] = session
    state = app_state(context)
    if not state.catalogue.categories:
        await show(update, texts.CATALOGUE_EMPTY, main_menu())
        return ConversationHandler.END
    await _show_categories(update, state, session, 0)
    return BROWSE


async def browse(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    session, state = _session(context), app_state(context)
    verb = _verb(update, session)
    if verb is None or session is None:
        return await stale(update, context)
    action, args = verb[0], verb[1:]
    if action == "cats" and args:
        await _show_categories(update, state, session, _int(args[0]))
    elif action == "cat" and len(args) == 2:
        category = state.catalogue.category(args[0])
        if category is None:
            return await _expired(update)
        session.back = session.data("cat", category.key, args[1])
        await _show_services(update, state, session, list(category.services), _int(args[1]),
                             texts.CHOOSE_SERVICE.format(category=html.escape(category.name)), ("cat", category.key))
    elif action == "find" and args:
        await _show_search(update, state, session, _int(args[0]))
    elif action == "svc" and args:
        service = state.catalogue.service(args[0])
        if service is None:
            return await _expired(update)
        session.service_id = service.service_id
        await show(update, _card(state, service), [[(texts.BUTTON_ORDER_THIS, session.data("go"))],
                                                  [(texts.BUTTON_BACK, session.back or session.data("cats", 0)),
                                                   (texts.BUTTON_CANCEL, session.data("x"))]])
    elif action == "go" and session.service_id:
        service = state.catalogue.service(session.service_id)
        if service is None:
            return await _expired(update)
        session.draft = OrderDraft.start(secrets.token_urlsafe(12), service)
        return await _ask(update, state, session)
    elif action == "x":
        return await cancel(update, context)
    else:
        return await _expired(update)
    return BROWSE


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    session, state = _session(context), app_state(context)
    assert session is not None and update.effective_message is not None
    session.query = (update.effective_message.text or "").strip()[:100]
    await _show_search(update, state, session, 0)
    return BROWSE


async def _show_categories(update: Update, state: AppState, session: Session, number: int) -> None:
    catalogue = state.catalogue
    page = paginate(catalogue.categories, number, PER_PAGE)
    rows: list[list[Button]] = [[(f"{shorten(c.name, 40)} ({len(c.services)})", session.data("cat", c.key, 0))]
                                for c in page.items]
    text = texts.CHOOSE_CATEGORY.format(count=len(catalogue))
    await show(update, _with_page(text, page), [*rows, _nav(session, page, ("cats",)),
                                                [(texts.BUTTON_CANCEL, session.data("x"))]])


async def _show_search(update: Update, state: AppState, session: Session, number: int) -> None:
    found = state.catalogue.search(session.query)
    query = html.escape(session.query)
    if not found:
        await show(update, texts.SEARCH_NOTHING.format(query=query),
                   [[(texts.BUTTON_CATEGORIES, session.data("cats", 0)), (texts.BUTTON_CANCEL, session.data("x"))]])
        return
    session.back = session.data("find", number)
    await _show_services(update, state, session, found, number,
                         texts.SEARCH_RESULTS.format(query=query, count=len(found)), ("find",))


async def _show_services(update: Update, state: AppState, session: Session, services: list[Service], number: int,
                         title: str, nav_prefix: tuple[str, ...]) -> None:
    page = paginate(services, number, PER_PAGE)
    session.back = session.data(*nav_prefix, page.number)
    rows: list[list[Button]] = []
    for service in page.items:
        template = texts.PACKAGE_BUTTON if is_package(service.type) else texts.SERVICE_BUTTON
        label = template.format(name=shorten(service.name, 38),
                                price=format_money(price_per_1000(service, state.markup_for(service))))
        rows.append([(label, session.data("svc", service.service_id))])
    await show(update, _with_page(title, page), [*rows, _nav(session, page, nav_prefix),
                                                 [(texts.BUTTON_CATEGORIES, session.data("cats", 0)),
                                                  (texts.BUTTON_CANCEL, session.data("x"))]])


def _with_page(text: str, page: Page[Any]) -> str:
    return text if page.count == 1 else f"{text}\n\n{texts.PAGE.format(number=page.number + 1, count=page.count)}"


def _nav(session: Session, page: Page[Any], prefix: tuple[str, ...]) -> list[Button]:
    row = [(texts.BUTTON_PREV, session.data(*prefix, page.number - 1))] if page.has_prev else []
    return row + ([(texts.BUTTON_NEXT, session.data(*prefix, page.number + 1))] if page.has_next else [])


def _card(state: AppState, service: Service) -> str:
    def flag(value: bool) -> str:
        return texts.YES if value else texts.NO

    description = shorten(service.description, 1500) if service.description.strip("- ") else ""
    return texts.SERVICE_CARD.format(
        name=html.escape(shorten(service.name, 300)), category=html.escape(shorten(service.category, 200)),
        description=f"{html.escape(description)}\n\n" if description else "",
        price=format_money(price_per_1000(service, state.markup_for(service)), state.currency),
        per=texts.PER_PACKAGE if is_package(service.type) else texts.PER_1000,
        min=service.min, max=service.max, refill=flag(service.refill), cancel=flag(service.cancel),
        dripfeed=flag(service.dripfeed), service_id=html.escape(service.service_id),
        type=html.escape(service.type.value),
    )


# --------------------------------------------------------------------------- fields

async def _ask(update: Update, state: AppState, session: Session) -> int:
    draft = session.draft
    assert draft is not None
    step = draft.step
    if step is None:
        return await _summary(update, state, session)
    rows: list[list[Button]] = []
    if step.kind is Kind.CHOICE:
        choices = [(str(v), session.data("pick", v)) for v in DELAY_CHOICES]
        rows += [choices[i:i + 4] for i in range(0, len(choices), 4)]
    if step.optional:
        rows.append([(texts.BUTTON_SKIP, session.data("skip", draft.position))])
    rows.append([(texts.BUTTON_CANCEL, session.data("x"))])
    await show(update, html.escape(prompt(step, draft.service, draft.values)), rows)
    return FIELD


async def field_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    session, state = _session(context), app_state(context)
    assert update.effective_message is not None
    if session is None or session.draft is None or session.draft.step is None:
        return ConversationHandler.END
    draft = session.draft
    try:
        value = parse_answer(draft.step, update.effective_message.text or "", draft.service, draft.values,  # type: ignore[arg-type]
                             today=date.today())
    except InvalidAnswer as exc:
        await reply(update, html.escape(str(exc)), [[(texts.BUTTON_CANCEL, session.data("x"))]])
        return FIELD
    draft.answer(value)
    return await _ask(update, state, session)


async def field_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    session, state = _session(context), app_state(context)
    verb = _verb(update, session)
    if verb is None or session is None or session.draft is None or session.draft.step is None:
        return await stale(update, context)
    draft = session.draft
    step = draft.step
    assert step is not None
    if verb[0] == "x":
        return await cancel(update, context)
    if verb[0] == "skip" and verb[1:] == [str(draft.position)] and step.optional:
        draft.skip()
        return await _ask(update, state, session)
    if verb[0] == "pick" and step.kind is Kind.CHOICE and len(verb) == 2:
        try:
            value = parse_answer(step, verb[1], draft.service, draft.values)
        except InvalidAnswer:
            return await _expired(update)
        draft.answer(value)
        return await _ask(update, state, session)
    return await _expired(update)


# --------------------------------------------------------------------------- summary, confirm

def _details(draft: OrderDraft) -> str:
    lines = []
    counted = COUNTED_LISTS.get(draft.service.type)
    for step in draft.steps:
        if step.field not in draft.values:
            continue
        value = draft.values[step.field]
        if isinstance(value, tuple):
            shown = texts.LINES.format(count=len(value))
        elif isinstance(value, date):
            shown = value.strftime("%d/%m/%Y")
        else:
            shown = shorten(str(value), 200)
        lines.append(f"{texts.FIELD_NAMES[step.field]}: {html.escape(shown)}")
    if counted and "quantity" not in draft.values:
        lines.append(f"{texts.FIELD_NAMES['quantity']}: {draft.quantity}")
    return "\n".join(lines)


async def _summary(update: Update, state: AppState, session: Session, note: str = "") -> int:
    draft = session.draft
    assert draft is not None and update.effective_user is not None
    price = session.quoted = quote(draft, state.markup_for(draft.service)).price
    wallet = await balance(state.db, update.effective_user.id)
    text = note + texts.SUMMARY.format(service=html.escape(shorten(draft.service.name, 200)), details=_details(draft),
                                price=format_money(price, state.currency),
                                balance=format_money(wallet, state.currency))
    if wallet < price:
        text += texts.SUMMARY_SHORT.format(user_id=update.effective_user.id)
    await show(update, text, [[(texts.BUTTON_CONFIRM.format(price=format_money(price, state.currency)),
                                session.data("ok"))],
                              [(texts.BUTTON_CANCEL, session.data("x"))]])
    return CONFIRM


async def confirm_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int | None:
    session, state = _session(context), app_state(context)
    verb = _verb(update, session)
    if verb is None or session is None or session.draft is None:
        return await stale(update, context)
    if verb[0] == "x":
        return await cancel(update, context)
    if verb[0] != "ok":
        return await _expired(update)
    user = update.effective_user
    assert user is not None and context.user_data is not None
    # The catalogue may have changed since the summary: a hidden or removed service is not sold,
    # and a new rate or markup is shown before anyone is charged it.
    current = state.catalogue.service(session.draft.service.service_id)
    if current is None:
        context.user_data.pop(SESSION, None)
        await show(update, texts.SERVICE_GONE, main_menu())
        return ConversationHandler.END
    if quote(dataclasses.replace(session.draft, service=current), state.markup_for(current)).price != session.quoted:
        session.draft = dataclasses.replace(session.draft, service=current)
        price = quote(session.draft, state.markup_for(current)).price
        return await _summary(update, state, session,
                              texts.PRICE_CHANGED.format(price=format_money(price, state.currency)) + "\n\n")
    session.draft = dataclasses.replace(session.draft, service=current)
    context.user_data.pop(SESSION, None)
    context.user_data.setdefault(CONFIRMED, []).append(session.nonce)
    del context.user_data[CONFIRMED][:-20]
    # The reply comes at once and takes the buttons away; the outcome follows in the same message.
    placing = await show(update, texts.PLACING)
    outcome = await place_order(
        state.db, state.panel, state.alerts, user_id=user.id, draft=session.draft,
        markup_percent=state.markup_for(session.draft.service), currency=state.currency,
        poll_interval=state.settings.poll_interval_seconds, unrecorded=state.unrecorded)
    await replace(update, placing, _outcome_text(state, outcome, user.id), main_menu())
    return ConversationHandler.END


def _outcome_text(state: AppState, outcome: object, user_id: int) -> str:
    money = state.currency
    if isinstance(outcome, Placed):
        text = texts.ORDER_PLACED.format(
            order_id=outcome.order.order_id, panel_order_id=html.escape(shorten(outcome.panel_order_id, 60)),
            service=html.escape(shorten(outcome.order.service_name, 200)),
            price=format_money(from_micros(outcome.order.price_micros), money),
            balance=format_money(outcome.balance, money),
        )
        return f"{text}\n\n{texts.SANDBOX_ORDER_NOTE}" if state.sandbox else text
    if isinstance(outcome, Refused):
        price = format_money(from_micros(outcome.order.price_micros), money)
        if outcome.why == "rejected":
            return texts.ORDER_REJECTED.format(reason=html.escape(outcome.reason), price=price)
        return (texts.ORDER_BUSY if outcome.why == "busy" else texts.ORDER_UNAVAILABLE).format(price=price)
    if isinstance(outcome, OutcomeUnknown):
        return texts.ORDER_UNKNOWN.format(order_id=outcome.order.order_id,
                                          price=format_money(from_micros(outcome.order.price_micros), money))
    if isinstance(outcome, ShortOfMoney):
        return texts.NOT_ENOUGH_MONEY.format(price=format_money(outcome.price, money),
                                             balance=format_money(outcome.balance, money), user_id=user_id)
    assert isinstance(outcome, Duplicate)
    return texts.ALREADY_CONFIRMED


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, sticker or the like in the middle of an order: ask for text, stay put."""
    await reply(update, texts.TEXT_EXPECTED)


async def confirm_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    session, state = _session(context), app_state(context)
    if session is None:
        return ConversationHandler.END
    return await _summary(update, state, session)


# --------------------------------------------------------------------------- leaving

async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    assert context.user_data is not None
    had_session = context.user_data.pop(SESSION, None) is not None
    await show(update, texts.ORDER_CANCELLED if had_session else texts.NOTHING_TO_CANCEL, main_menu())
    return ConversationHandler.END


async def timed_out(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert context.user_data is not None
    context.user_data.pop(SESSION, None)
    if isinstance(update, Update) and update.effective_chat is not None:
        await update.effective_chat.send_message(texts.ORDER_TIMED_OUT)


async def stale(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button of a finished or older conversation: say so, act on nothing."""
    assert context.user_data is not None
    data = update.callback_query.data if update.callback_query else ""
    parts = (data or "").split(":")
    if len(parts) > 1 and parts[1] in context.user_data.get(CONFIRMED, []):
        await answer(update, texts.ALREADY_CONFIRMED)
    else:
        await answer(update, texts.MENU_EXPIRED)


async def _expired(update: Update) -> None:
    await answer(update, texts.MENU_EXPIRED)


def _leave(callback: Any) -> Any:
    """Wrap a main-menu handler so that using it also ends the conversation."""
    async def leave(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert context.user_data is not None
        context.user_data.pop(SESSION, None)
        await callback(update, context)
        return ConversationHandler.END
    return leave


def _int(text: str) -> int:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else 0


def build(timeout_seconds: float) -> ConversationHandler:  # type: ignore[type-arg]
    # Only new messages count as answers: editing an earlier message must not answer this step.
    text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # per_message=False is right here (text steps); PTB warns about it for every such handler.
        warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)
        return _conversation(text, timeout_seconds)


def _conversation(text: filters.BaseFilter, timeout_seconds: float) -> ConversationHandler:  # type: ignore[type-arg]
    return ConversationHandler(
        entry_points=[CommandHandler("order", begin), CallbackQueryHandler(begin, pattern=r"^m:new$")],
        states={
            BROWSE: [CallbackQueryHandler(browse, pattern=r"^o:"), MessageHandler(text, search)],
            FIELD: [CallbackQueryHandler(field_button, pattern=r"^o:"), MessageHandler(text, field_text)],
            CONFIRM: [CallbackQueryHandler(confirm_button, pattern=r"^o:"), MessageHandler(text, confirm_text)],
            ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel),
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.TEXT & ~filters.COMMAND, not_text),
            *(CommandHandler(name, _leave(callback)) for name, callback in menu.COMMANDS.items()),
            *(CallbackQueryHandler(_leave(callback), pattern=pattern)
              for pattern, callback in {**menu.BUTTONS, **topup.STEP_BUTTONS}.items()),
        ],
        allow_reentry=True,
        conversation_timeout=timeout_seconds,
        name="order",
    )


def register(application: Application, timeout_seconds: float) -> None:  # type: ignore[type-arg]
    application.add_handler(build(timeout_seconds))
    # Outside a conversation: /cancel has nothing to cancel; old order buttons have expired.
    application.add_handler(CommandHandler("cancel", cancel))
    application.add_handler(CallbackQueryHandler(stale, pattern=r"^o:"))


def register_last(application: Application) -> None:  # type: ignore[type-arg]
    """Any button no other handler took (old, forged or unknown): answered, never ignored."""
    application.add_handler(CallbackQueryHandler(stale))

