"""The order dialogue: categories → services → card → fields → summary → confirm.

Its steps (BROWSE, FIELD, CONFIRM) are listed with every other dialogue's in handlers/dialogues.py,
which also does /cancel, Cancel, expiry and leaving. The draft is stored between answers as JSON
(service id, answers, the quoted price), and read against the catalogue as it is at each step, so
a restart carries on where the customer was. Every button carries the dialogue's nonce.
The charge, the order record and the single `add` are in bot.shop.ordering.
"""

from __future__ import annotations

import contextlib
import html
import secrets
from collections.abc import Callable
from datetime import date

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.dialogue import current
from bot.domain.catalogue import is_package, paginate, shorten
from bot.domain.money import format_money, from_micros
from bot.domain.order_form import (
    COUNTED_LISTS,
    DELAY_CHOICES,
    InvalidAnswer,
    Kind,
    OrderDraft,
    draft_from_json,
    draft_to_json,
    parse_answer,
    prompt,
)
from bot.domain.pricing import price_per_1000
from bot.panel import Service
from bot.shop.ordering import (
    Duplicate,
    Outcome,
    OutcomeUnknown,
    Placed,
    Refused,
    ShortOfMoney,
    WhyRefused,
    place_order,
    quote,
)
from bot.shop.wallet import balance
from bot.state import AppState, app_state
from handlers.buttons import (
    Button,
    Categories,
    CategoryPage,
    Confirm,
    OrderThis,
    PickChoice,
    SearchPage,
    ServicePick,
    SkipField,
    parse_any,
)
from handlers.common import Row, answer, cancel_row, main_menu, replace, reply, show
from handlers.pager import page_row, titled

DIALOGUE = "order"
BROWSE, FIELD, CONFIRM = "browse", "field", "confirm"
PER_PAGE = 8
QUERY_LIMIT = 100


# --------------------------------------------------------------------------- entry, browsing

async def begin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/order and New order: a new dialogue (any open one ends)."""
    state, session = app_state(context), current()
    if not state.catalogue.categories:
        session.end()
        await show(update, texts.CATALOGUE_EMPTY, main_menu())
        return
    session.begin(DIALOGUE, BROWSE)
    await _show_categories(update, state, 0)


async def browse(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    state, session = app_state(context), current()
    if isinstance(pressed, Categories):
        session.goto(BROWSE)
        await _show_categories(update, state, pressed.page)
    elif isinstance(pressed, CategoryPage):
        category = state.catalogue.category(pressed.key)
        if category is None:
            await answer(update, texts.MENU_EXPIRED)
            return
        session.goto(BROWSE)
        await _show_services(update, state, list(category.services), pressed.page,
                             texts.CHOOSE_SERVICE.format(category=html.escape(category.name)),
                             lambda page: CategoryPage(session.nonce, category.key, page))
    elif isinstance(pressed, SearchPage):
        session.goto(BROWSE)
        await _show_search(update, state, pressed.page)
    elif isinstance(pressed, ServicePick):
        service = state.catalogue.service(pressed.service_id)
        if service is None:
            await answer(update, texts.MENU_EXPIRED)
            return
        session.goto(BROWSE, service_id=service.service_id)
        back = session.draft.get("back") or Categories(session.nonce, 0).data
        await show(update, _card(state, service), [[(texts.BUTTON_ORDER_THIS, OrderThis(session.nonce).data)],
                                                  [(texts.BUTTON_BACK, back), *cancel_row()]])
    elif isinstance(pressed, OrderThis) and session.draft.get("service_id"):
        service = state.catalogue.service(session.draft["service_id"])
        if service is None:
            await _service_gone(update)
            return
        await _ask(update, state, OrderDraft.start(secrets.token_urlsafe(12), service))
    else:
        await answer(update, texts.MENU_EXPIRED)


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Continue: the open step again (the list last shown, the question, or the summary)."""
    state, session = app_state(context), current()
    if session.step == BROWSE:
        back = parse_any(session.draft.get("back"))
        await browse(update, context, back if back is not None else Categories(session.nonce, 0))
        return
    draft = _draft(state)
    if draft is None:
        await _service_gone(update)
    elif session.step == FIELD and draft.step is not None:
        await _ask(update, state, draft)
    else:
        await _summary(update, state, draft)


async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text typed while browsing is a search."""
    message = update.effective_message
    assert message is not None
    if not message.text:
        await reply(update, texts.TEXT_EXPECTED, [cancel_row()])
        return
    current().goto(BROWSE, query=message.text.strip()[:QUERY_LIMIT])
    await _show_search(update, app_state(context), 0)


async def _show_categories(update: Update, state: AppState, number: int) -> None:
    nonce = current().nonce
    catalogue = state.catalogue
    page = paginate(catalogue.categories, number, PER_PAGE)
    rows: list[Row] = [[(f"{shorten(c.name, 40)} ({len(c.services)})", CategoryPage(nonce, c.key, 0).data)]
                       for c in page.items]
    text = texts.CHOOSE_CATEGORY.format(count=len(catalogue))
    await show(update, titled(text, page), [*rows, page_row(page, lambda n: Categories(nonce, n)), cancel_row()])


async def _show_search(update: Update, state: AppState, number: int) -> None:
    session = current()
    query = str(session.draft.get("query", ""))
    found = state.catalogue.search(query)
    if not found:
        await show(update, texts.SEARCH_NOTHING.format(query=html.escape(query)),
                   [[(texts.BUTTON_CATEGORIES, Categories(session.nonce, 0).data), *cancel_row()]])
        return
    await _show_services(update, state, found, number,
                         texts.SEARCH_RESULTS.format(query=html.escape(query), count=len(found)),
                         lambda page: SearchPage(session.nonce, page))


async def _show_services(update: Update, state: AppState, services: list[Service], number: int, title: str,
                         page_button: Callable[[int], Button]) -> None:
    session = current()
    page = paginate(services, number, PER_PAGE)
    session.keep(back=page_button(page.number).data)  # where a service card's Back returns
    rows: list[Row] = []
    for service in page.items:
        template = texts.PACKAGE_BUTTON if is_package(service.type) else texts.SERVICE_BUTTON
        label = template.format(name=shorten(service.name, 38),
                                price=format_money(price_per_1000(service, state.markup_for(service))))
        rows.append([(label, ServicePick(session.nonce, service.service_id).data)])
    await show(update, titled(title, page), [*rows, page_row(page, page_button),
                                                 [(texts.BUTTON_CATEGORIES, Categories(session.nonce, 0).data),
                                                  *cancel_row()]])


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

def _draft(state: AppState) -> OrderDraft | None:
    """The stored draft, read against the catalogue as it is now (None: its service is gone)."""
    data = current().draft.get("order")
    service = state.catalogue.service(data.get("service_id", "")) if isinstance(data, dict) else None
    return draft_from_json(data, service) if service is not None else None


async def _service_gone(update: Update) -> None:
    current().end()
    await show(update, texts.SERVICE_GONE, main_menu())


async def _ask(update: Update, state: AppState, draft: OrderDraft) -> None:
    """Store the draft and ask its next question (the summary once every field is answered)."""
    session = current()
    step = draft.step
    if step is None:
        await _summary(update, state, draft)
        return
    session.goto(FIELD, order=draft_to_json(draft))
    rows: list[Row] = []
    if step.kind is Kind.CHOICE:
        choices = [(str(v), PickChoice(session.nonce, v).data) for v in DELAY_CHOICES]
        rows += [choices[i:i + 4] for i in range(0, len(choices), 4)]
    if step.optional:
        rows.append([(texts.BUTTON_SKIP, SkipField(session.nonce, draft.position).data)])
    rows.append(cancel_row())
    await show(update, html.escape(prompt(step, draft.service, draft.values)), rows)


async def field_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state, message = app_state(context), update.effective_message
    assert message is not None
    draft = _draft(state)
    if draft is None or draft.step is None:
        await _service_gone(update)
        return
    if not message.text:  # a photo, a sticker…: ask for text, stay put
        await reply(update, texts.TEXT_EXPECTED)
        return
    try:
        value = parse_answer(draft.step, message.text, draft.service, draft.values, today=date.today())
    except InvalidAnswer as exc:
        await reply(update, html.escape(str(exc)), [cancel_row()])
        return
    draft.answer(value)
    await _ask(update, state, draft)


async def field_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    state = app_state(context)
    draft = _draft(state)
    if draft is None or draft.step is None:
        await _service_gone(update)
        return
    step = draft.step
    if isinstance(pressed, SkipField) and pressed.position == draft.position and step.optional:
        draft.skip()
        await _ask(update, state, draft)
    elif isinstance(pressed, PickChoice) and step.kind is Kind.CHOICE:
        try:
            value = parse_answer(step, str(pressed.value), draft.service, draft.values)
        except InvalidAnswer:
            await answer(update, texts.MENU_EXPIRED)
            return
        draft.answer(value)
        await _ask(update, state, draft)
    else:
        await answer(update, texts.MENU_EXPIRED)


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


async def _summary(update: Update, state: AppState, draft: OrderDraft, note: str = "") -> None:
    """Show the summary at the price it quotes now; Confirm charges that price or asks again."""
    session = current()
    assert update.effective_user is not None
    price = quote(draft, state.markup_for(draft.service)).price
    session.goto(CONFIRM, order=draft_to_json(draft), quoted=f"{price:f}")
    session.renew()  # an earlier summary's Confirm, at an earlier price, is dead from now on
    wallet = await balance(state.db, update.effective_user.id)
    earlier = session.draft.get("summary")
    query = update.callback_query
    here = query.message.message_id if query is not None and query.message is not None else None
    if isinstance(earlier, int) and earlier != here:  # a new summary, not in place of the earlier one
        with contextlib.suppress(TelegramError):  # deleted, or too old to edit: its Confirm is dead anyway
            await update.get_bot().edit_message_reply_markup(update.effective_user.id, earlier, reply_markup=None)
    text = note + texts.SUMMARY.format(service=html.escape(shorten(draft.service.name, 200)), details=_details(draft),
                                price=format_money(price, state.currency),
                                balance=format_money(wallet, state.currency))
    if wallet < price:
        text += texts.SUMMARY_SHORT.format(user_id=update.effective_user.id)
    shown = await show(update, text, [[(texts.BUTTON_CONFIRM.format(price=format_money(price, state.currency)),
                                        Confirm(session.nonce).data)], cancel_row()])
    if shown is not None:
        session.keep(summary=shown.message_id)


async def confirm_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    state, session, user = app_state(context), current(), update.effective_user
    assert user is not None
    if not isinstance(pressed, Confirm):
        await answer(update, texts.MENU_EXPIRED)
        return
    # The catalogue may have changed since the summary: a hidden or removed service is not sold,
    # and a new rate or markup is shown before anyone is charged it.
    draft = _draft(state)
    if draft is None or draft.step is not None:
        await _service_gone(update)
        return
    price = quote(draft, state.markup_for(draft.service)).price
    if f"{price:f}" != session.draft.get("quoted"):
        await _summary(update, state, draft, texts.PRICE_CHANGED.format(price=format_money(price, state.currency))
                       + "\n\n")
        return
    nonce = session.nonce
    session.end()
    # The reply comes at once and takes the buttons away; the outcome follows in the same message.
    placing = await show(update, texts.PLACING)
    outcome = await place_order(
        state.db, state.panel, state.alerts, user_id=user.id, draft=draft,
        markup_percent=state.markup_for(draft.service), currency=state.currency,
        poll_interval=state.settings.poll_interval_seconds, unrecorded=state.unrecorded)
    if not isinstance(outcome, ShortOfMoney):  # an order exists (placed, refused, being checked)
        session.remember_confirmed(nonce)
    await replace(update, placing, _outcome_text(state, outcome, user.id), main_menu())


def _outcome_text(state: AppState, outcome: Outcome, user_id: int) -> str:
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
        if outcome.why is WhyRefused.REJECTED:
            return texts.ORDER_REJECTED.format(reason=html.escape(outcome.reason), price=price)
        return (texts.ORDER_BUSY if outcome.why is WhyRefused.BUSY else texts.ORDER_UNAVAILABLE).format(price=price)
    if isinstance(outcome, OutcomeUnknown):
        return texts.ORDER_UNKNOWN.format(order_id=outcome.order.order_id,
                                          price=format_money(from_micros(outcome.order.price_micros), money))
    if isinstance(outcome, ShortOfMoney):
        return texts.NOT_ENOUGH_MONEY.format(price=format_money(outcome.price, money),
                                             balance=format_money(outcome.balance, money), user_id=user_id)
    assert isinstance(outcome, Duplicate)
    return texts.ALREADY_CONFIRMED


async def confirm_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text at the summary: the summary again, with its buttons (Confirm is a button)."""
    state = app_state(context)
    draft = _draft(state)
    if draft is None or draft.step is not None:
        await _service_gone(update)
        return
    await _summary(update, state, draft)

