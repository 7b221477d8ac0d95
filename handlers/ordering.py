"""The order dialogue: categories → services → the service with its first question → the other
questions → summary → confirm.

Choosing a service starts its order: the service is shown with its first question, so a first
order takes few taps. Quantities are offered as buttons with their prices; drip-feed is an option
on the summary, not a question on the way. A summary the wallet cannot pay offers the missing
amount as a Stars invoice and comes back, Confirm and all, once it is paid.

Its steps (BROWSE, FIELD, CONFIRM) are listed with every other dialogue's in handlers/dialogues.py,
which also does /cancel, Cancel, expiry and leaving. The draft is stored between answers as JSON
(service id, answers, the quoted price), and read against the catalogue as it is at each step, so
a restart carries on where the customer was. Every button carries the dialogue's nonce; a value
button also names its question, so a stale one answers nothing else. A summary (whose Confirm
charges) loses its buttons once a newer screen is sent as another message (`_present`).
The charge, the order record and the single `add` are in bot.shop.ordering.
"""

from __future__ import annotations

import contextlib
import html
import logging
import secrets
from collections.abc import Callable
from datetime import date
from decimal import ROUND_CEILING, Decimal

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import texts
from bot.dialogue import current
from bot.domain.catalogue import is_package, paginate, shorten
from bot.domain.money import format_money, from_micros, price_quantum
from bot.domain.order_form import (
    COUNTED_LISTS,
    InvalidAnswer,
    OrderDraft,
    Step,
    choices_for,
    counted_as_shown,
    draft_from_json,
    draft_to_json,
    offers_drip_feed,
    parse_answer,
    prompt,
)
from bot.domain.pricing import Breakdown, breakdown
from bot.domain.rejections import classify_rejection
from bot.domain.timestamps import shown_date
from bot.domain.topup import CENT, stars_range, topup_amount_problem
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
)
from bot.shop.topups import PaymentRecorded, open_stars_topup
from bot.shop.wallet import balance
from bot.state import AppState, app_state
from handlers.buttons import (
    Button,
    Categories,
    CategoryPage,
    ChooseOption,
    Confirm,
    Menu,
    MenuItem,
    OrderOption,
    OrderThis,
    PayAndOrder,
    PickChoice,
    SearchPage,
    ServicePick,
    SkipField,
    parse_any,
)
from handlers.common import Row, answer, cancel_row, main_menu, replace, reply, show
from handlers.pager import page_row, titled
from handlers.topup import send_invoice

log = logging.getLogger(__name__)

DIALOGUE = "order"
BROWSE, FIELD, CONFIRM = "browse", "field", "confirm"
PER_PAGE = 8
QUERY_LIMIT = 100
BROWSING = (Categories, CategoryPage, SearchPage)  # a list's buttons: Back from the first question is one


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
    elif isinstance(pressed, ServicePick | OrderThis):  # OrderThis: the card of an earlier version
        service_id = pressed.service_id if isinstance(pressed, ServicePick) else session.draft.get("service_id")
        service = state.catalogue.service(str(service_id or ""))
        if service is None:
            await answer(update, texts.MENU_EXPIRED)
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
    await _present(update, titled(text, page), [*rows, page_row(page, lambda n: Categories(nonce, n)),
                                                cancel_row()])


async def _show_search(update: Update, state: AppState, number: int) -> None:
    session = current()
    query = str(session.draft.get("query", ""))
    found = state.catalogue.search(query)
    if not found:
        await _present(update, texts.SEARCH_NOTHING.format(query=html.escape(query)),
                       [[(texts.BUTTON_CATEGORIES, Categories(session.nonce, 0).data), *cancel_row()]])
        return
    await _show_services(update, state, found, number,
                         texts.SEARCH_RESULTS.format(query=html.escape(query), count=len(found)),
                         lambda page: SearchPage(session.nonce, page))


async def _show_services(update: Update, state: AppState, services: list[Service], number: int, title: str,
                         page_button: Callable[[int], Button]) -> None:
    session = current()
    page = paginate(services, number, PER_PAGE)
    session.keep(back=page_button(page.number).data)  # where the first question's Back returns
    rows: list[Row] = []
    for service in page.items:
        template = texts.PACKAGE_BUTTON if is_package(service.type) else texts.SERVICE_BUTTON
        label = template.format(name=shorten(service.name, 38), price=format_money(state.rate_of(service),
                                                                                   state.currency))
        rows.append([(label, ServicePick(session.nonce, service.service_id).data)])
    await _present(update, titled(title, page), [*rows, page_row(page, page_button),
                                                 [(texts.BUTTON_CATEGORIES, Categories(session.nonce, 0).data),
                                                  *cancel_row()]])


def _service_text(state: AppState, service: Service) -> str:
    """The service as a customer needs it: what it is, what it costs, what it promises (the
    panel's id and type are for admins)."""
    lines = [texts.SERVICE_HEADER.format(name=html.escape(shorten(service.name, 300)),
                                         category=html.escape(shorten(service.category, 200)))]
    description = shorten(service.description, 1500) if service.description.strip("- ") else ""
    if description:
        lines += ["", html.escape(description)]
    lines.append("")
    rate = format_money(state.rate_of(service), state.currency)
    if is_package(service.type):
        lines.append(texts.SERVICE_RATE_PACKAGE.format(price=rate))
    else:
        lines.append(texts.SERVICE_RATE.format(price=rate))
        if service.type not in COUNTED_LISTS and service.min < service.max:
            lines.append(texts.SERVICE_RANGE.format(min=counted_as_shown(service.min),
                                                    max=counted_as_shown(service.max)))
    lines += [text for flag, text in ((service.refill, texts.SERVICE_REFILL), (service.cancel, texts.SERVICE_CANCEL),
                                      (offers_drip_feed(service), texts.SERVICE_DRIP_FEED)) if flag]
    return "\n".join(map(str, lines))


# --------------------------------------------------------------------------- the screen shown

async def _present(update: Update, text: str, rows: list[Row], *, charges: bool = False) -> None:
    """Show the dialogue's next screen. A summary (`charges`: its buttons charge or pay) loses
    its buttons once a newer screen goes out as another message (a typed answer gets a new
    message), so no earlier Confirm stays live; other screens' stale buttons answer "expired"
    by themselves, and are left as they are (one Bot API call less per step)."""
    session, user = current(), update.effective_user
    earlier = session.draft.get("summary")
    query = update.callback_query
    here = query.message.message_id if query is not None and query.message is not None else None
    if isinstance(earlier, int) and earlier != here and user is not None:
        with contextlib.suppress(TelegramError):  # deleted, or too old to edit: its buttons are dead anyway
            await update.get_bot().edit_message_reply_markup(user.id, earlier, reply_markup=None)
    shown = await show(update, text, rows)
    session.keep(summary=shown.message_id if charges and shown is not None else None)


# --------------------------------------------------------------------------- fields

def _draft(state: AppState) -> OrderDraft | None:
    """The stored draft, read against the catalogue as it is now (None: its service is gone)."""
    data = current().draft.get("order")
    service = state.catalogue.service(data.get("service_id", "")) if isinstance(data, dict) else None
    return draft_from_json(data, service) if service is not None else None


async def _service_gone(update: Update) -> None:
    current().end()
    await show(update, texts.SERVICE_GONE, main_menu())


def _choice_rows(state: AppState, draft: OrderDraft, step: Step) -> list[Row]:
    """The question's values as buttons: quantities with their prices, two a row; delays, four."""
    nonce, choices = current().nonce, choices_for(step, draft.service, draft.values)
    if step.field == "quantity":
        markup = state.markup_for(draft.service)
        buttons = [(texts.QUANTITY_BUTTON.format(quantity=counted_as_shown(n), price=format_money(
                        breakdown(draft.service, markup, state.settings.price_decimals, quantity=n).price,
                        state.currency)),
                    PickChoice(nonce, n, draft.position).data) for n in choices]
        return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    buttons = [(str(n), PickChoice(nonce, n, draft.position).data) for n in choices]
    return [buttons[i:i + 4] for i in range(0, len(buttons), 4)]


async def _ask(update: Update, state: AppState, draft: OrderDraft, problem: str = "") -> None:
    """Store the draft and ask its next question (the summary once every field is answered).
    The first question comes with the service; a `problem` with the answer comes above the
    question again, with its buttons."""
    session = current()
    step = draft.step
    if step is None:
        await _summary(update, state, draft)
        return
    session.goto(FIELD, order=draft_to_json(draft))
    rows = _choice_rows(state, draft, step)
    if step.optional:
        rows.append([(texts.BUTTON_SKIP, SkipField(session.nonce, draft.position).data)])
    question = html.escape(prompt(step, draft.service, draft.values))
    if draft.position == 0:  # the service (not again under an error), with Back to the list it came from
        if not problem:
            question = f"{_service_text(state, draft.service)}\n\n{question}"
        back = session.draft.get("back") or Categories(session.nonce, 0).data
        rows.append([(texts.BUTTON_BACK, back), *cancel_row()])
    else:
        rows.append(cancel_row())
    await _present(update, f"{html.escape(problem)}\n\n{question}" if problem else question, rows)


async def field_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state, message = app_state(context), update.effective_message
    assert message is not None
    draft = _draft(state)
    if draft is None or draft.step is None:
        await _service_gone(update)
        return
    if not message.text:  # a photo, a sticker…: the question again, with its buttons
        await _ask(update, state, draft, texts.INVALID["text"])
        return
    try:
        value = parse_answer(draft.step, message.text, draft.service, draft.values, today=date.today())
    except InvalidAnswer as exc:
        await _ask(update, state, draft, str(exc))
        return
    draft.answer(value)
    await _ask(update, state, draft)


async def field_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    state = app_state(context)
    if isinstance(pressed, BROWSING):  # Back from the first question: the list again, no order yet
        await browse(update, context, pressed)
        return
    draft = _draft(state)
    if draft is None or draft.step is None:
        await _service_gone(update)
        return
    step = draft.step
    if isinstance(pressed, SkipField) and pressed.position == draft.position and step.optional:
        draft.skip()
        await _ask(update, state, draft)
    elif (isinstance(pressed, PickChoice) and pressed.position in (None, draft.position)
          and pressed.value in choices_for(step, draft.service, draft.values)):
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

def _shown_value(value: object) -> str:
    if isinstance(value, tuple):
        return texts.LINES.format(count=len(value))
    if isinstance(value, date):
        return shown_date(value)
    if isinstance(value, int):
        return counted_as_shown(value)
    return shorten(str(value), 200)


def _details(draft: OrderDraft) -> str:
    lines = []
    counted = COUNTED_LISTS.get(draft.service.type)
    for step in draft.steps:
        if step.field in draft.values:
            lines.append(texts.FIELD_LINE.format(field=texts.FIELD_NAMES[step.field],
                                                 value=html.escape(_shown_value(draft.values[step.field]))))
    if counted and "quantity" not in draft.values:
        lines.append(texts.FIELD_LINE.format(field=texts.FIELD_NAMES["quantity"],
                                             value=counted_as_shown(draft.quantity)))
    return "\n".join(map(str, lines))


def _price_line(state: AppState, basis: Breakdown) -> str:
    """The price, with the arithmetic when the total is not simply the rate (1000 of them, or a
    package): "1,500 × 0.90 USD per 1000 = 1.35 USD"."""
    money = state.currency
    price = format_money(basis.price, money)
    if basis.package or (basis.units == 1000 and basis.times is None):
        line = texts.PRICE_PLAIN.format(price=price)
    else:
        counts = {"quantity": counted_as_shown(basis.quantity), "times": basis.times,
                  "units": counted_as_shown(basis.units), "rate": format_money(basis.rate, money), "price": price}
        template = (texts.PRICE_PER_1000 if basis.times is None
                    else texts.PRICE_POSTS if basis.per_post else texts.PRICE_RUNS)
        line = template.format(**counts)
    if basis.exact != basis.price:
        step = format_money(price_quantum(state.settings.price_decimals), money)
        line += "\n" + texts.PRICE_ROUNDED.format(step=step)
    return line
def _top_up_amount(state: AppState, missing: Decimal) -> Decimal | None:
    """What a Stars invoice for `missing` is for: whole cents, at least one Star's worth; None
    when Stars are off or it is more than one invoice may be."""
    rate = state.settings.stars_per_unit
    if rate is None or missing <= 0:
        return None
    allowed = stars_range(rate)
    amount = max(missing.quantize(CENT, rounding=ROUND_CEILING), allowed.low)
    return amount if topup_amount_problem(amount, allowed) is None else None


async def _summary(update: Update, state: AppState, draft: OrderDraft, note: str = "") -> None:
    """Show the summary at the price it quotes now; Confirm charges that price or asks again.
    A wallet that cannot pay it is offered the missing amount instead of Confirm."""
    session = current()
    assert update.effective_user is not None
    quoted = state.quote(draft)
    price, money = quoted.price, state.currency
    session.goto(CONFIRM, order=draft_to_json(draft), quoted=f"{price:f}")
    session.renew()  # an earlier summary's Confirm, at an earlier price, is dead from now on
    wallet = await balance(state.db, update.effective_user.id)
    text = texts.SUMMARY.format(service=html.escape(shorten(draft.service.name, 200)), details=_details(draft),
                                price=_price_line(state, quoted.basis), balance=format_money(wallet, money))
    rows: list[Row] = []
    if wallet >= price:
        rows.append([(texts.BUTTON_CONFIRM.format(price=format_money(price, money)), Confirm(session.nonce).data)])
        text += "\n\n" + texts.SUMMARY_CONFIRM_HINT
    else:
        missing = format_money(price - wallet, money)
        top_up = _top_up_amount(state, price - wallet)
        if top_up is not None:
            text += "\n\n" + texts.SUMMARY_SHORT_STARS.format(missing=missing)
            rows.append([(texts.BUTTON_PAY_AND_ORDER.format(amount=format_money(top_up, money)),
                          PayAndOrder(session.nonce).data)])
        elif state.settings.stars_per_unit is not None or state.settings.manual_topup_text is not None:
            text += "\n\n" + texts.SUMMARY_SHORT_MANUAL.format(missing=missing)
            rows.append([(texts.BUTTON_TOP_UP, Menu(MenuItem.TOP_UP).data)])
        else:
            text += "\n\n" + texts.SUMMARY_SHORT.format(missing=missing, user_id=update.effective_user.id)
    if offers_drip_feed(draft.service):
        rows.append([(texts.BUTTON_DRIP_FEED, ChooseOption(session.nonce, OrderOption.DRIP_FEED).data)])
    rows.append(cancel_row())
    await _present(update, f"{note}\n\n{text}" if note else text, rows, charges=True)


async def confirm_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    state, session, user = app_state(context), current(), update.effective_user
    assert user is not None
    # The catalogue may have changed since the summary: a hidden or removed service is not sold,
    # and a new rate or markup is shown before anyone is charged it.
    draft = _draft(state)
    if draft is None or draft.step is not None:
        await _service_gone(update)
        return
    if isinstance(pressed, ChooseOption) and offers_drip_feed(draft.service):
        draft.choose_drip_feed()
        await _ask(update, state, draft)
        return
    if isinstance(pressed, PayAndOrder):
        await _pay_and_order(update, context, draft)
        return
    if not isinstance(pressed, Confirm):
        await answer(update, texts.MENU_EXPIRED)
        return
    quoted = state.quote(draft)
    if f"{quoted.price:f}" != session.draft.get("quoted"):
        await _summary(update, state, draft, texts.PRICE_CHANGED.format(price=format_money(quoted.price,
                                                                                          state.currency)))
        return
    sources = state.catalogues.sources(draft.service.service_id)
    if not sources:  # (every source went since the summary: a refresh, a rate removed)
        await _service_gone(update)
        return
    nonce = session.nonce
    session.end()
    # The reply comes at once and takes the buttons away; the outcome follows in the same message.
    placing = await show(update, texts.PLACING)
    outcome = await place_order(
        state.db, state.panels, state.alerts, user_id=user.id, draft=draft, price=quoted,
        sources=sources, currency=state.currency,
        poll_interval=state.settings.poll_interval_seconds, unrecorded=state.unrecorded)
    if not isinstance(outcome, ShortOfMoney):  # an order exists (placed, refused, being checked)
        session.remember_confirmed(nonce)
    await replace(update, placing, _outcome_text(state, outcome, user.id), main_menu())


async def _pay_and_order(update: Update, context: ContextTypes.DEFAULT_TYPE, draft: OrderDraft) -> None:
    """A Stars invoice for what the wallet is short of; the order waits at its summary, which
    `paid` shows again once the payment is in. The line comes first, then the invoice under it."""
    state, session, user = app_state(context), current(), update.effective_user
    assert user is not None
    price = state.quote(draft).price
    amount = _top_up_amount(state, price - await balance(state.db, user.id))
    rate = state.settings.stars_per_unit
    if amount is None or rate is None:  # paid meanwhile, or Stars switched off: the summary says what now
        await _summary(update, state, draft)
        return
    invoice = await open_stars_topup(state.db, user.id, amount, state.currency, rate)
    session.renew()  # a second tap on the same button opens no second invoice
    invoices = session.draft.get("topups")
    session.keep(topups=[*(invoices if isinstance(invoices, list) else [])[-4:], invoice.topup_id])
    shown = format_money(amount, state.currency)
    await _present(update, texts.ORDER_INVOICE_SENT.format(stars=invoice.stars, amount=shown), [cancel_row()],
                   charges=True)
    try:
        await send_invoice(context, user.id, invoice, shown)
    except TelegramError:
        log.exception("could not send the invoice of top-up %s", invoice.topup_id)
        await _summary(update, state, draft, texts.CHECKOUT_REFUSED["error"])


def awaits_payment(topup_id: int | None) -> bool:
    """Whether the open order's summary waits for the payment of this top-up's invoice (then
    its receipt is the summary again, see `paid`)."""
    session = current()
    invoices = session.draft.get("topups")
    return (topup_id is not None and session.is_open(DIALOGUE) and session.step == CONFIRM
            and isinstance(invoices, list) and topup_id in invoices)


async def paid(update: Update, context: ContextTypes.DEFAULT_TYPE, recorded: PaymentRecorded) -> None:
    """The payment `awaits_payment` waited for is credited: the receipt, with the summary again
    under it, Confirm and all."""
    state, session = app_state(context), current()
    message = update.effective_message
    stars = message.successful_payment.total_amount if message and message.successful_payment else 0
    receipt = texts.ORDER_PAID.format(stars=stars, amount=format_money(recorded.amount, recorded.currency),
                                      reference=recorded.payment_id)
    draft = _draft(state)
    if draft is None or draft.step is not None:
        session.end()
        await reply(update, f"{receipt}\n\n{texts.SERVICE_GONE}", main_menu())
        return
    await _summary(update, state, draft, receipt)


def _outcome_text(state: AppState, outcome: Outcome, user_id: int) -> str:
    money = state.currency
    if isinstance(outcome, Placed):
        text = texts.ORDER_PLACED.format(
            order_id=outcome.order.order_id, service=html.escape(shorten(outcome.order.service_name, 200)),
            price=format_money(from_micros(outcome.order.price_micros), money),
            balance=format_money(outcome.balance, money),
        )
        return f"{text}\n\n{texts.SANDBOX_ORDER_NOTE}" if state.sandbox else text
    if isinstance(outcome, Refused):
        price = format_money(from_micros(outcome.order.price_micros), money)
        if outcome.why is WhyRefused.REJECTED:  # in plain words; the panel's own is on the admins' screen
            return texts.ORDER_REJECTED[classify_rejection(outcome.reason)].format(price=price)
        return (texts.ORDER_BUSY if outcome.why is WhyRefused.BUSY else texts.ORDER_UNAVAILABLE).format(price=price)
    if isinstance(outcome, OutcomeUnknown):
        return texts.ORDER_UNKNOWN.format(order_id=outcome.order.order_id,
                                          price=format_money(from_micros(outcome.order.price_micros), money))
    if isinstance(outcome, ShortOfMoney):
        return texts.NOT_ENOUGH_MONEY.format(price=format_money(outcome.price, money),
                                             balance=format_money(outcome.balance, money), user_id=user_id)
    assert isinstance(outcome, Duplicate)
    # Confirmed before (an update handled again after its instance stopped): where the order stands.
    if outcome.order.state == "placed":
        return _outcome_text(state, Placed(outcome.order, outcome.order.panel_order_id or "", outcome.balance), user_id)
    if outcome.order.state in ("placing", "unverified"):
        return _outcome_text(state, OutcomeUnknown(outcome.order), user_id)
    return texts.ALREADY_CONFIRMED


async def confirm_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text at the summary: the summary again, with its buttons and a word on what to press."""
    state = app_state(context)
    draft = _draft(state)
    if draft is None or draft.step is not None:
        await _service_gone(update)
        return
    await _summary(update, state, draft, texts.INVALID["choice"])
