"""The catalogue, for admins: /refresh (with what changed), hide or show a category or a
service, and a markup per category that overrides PRICE_MARKUP_PERCENT. Hidden ones are not in
the customers' catalogue at all, so neither search nor an old button reaches them."""

from __future__ import annotations

import html
import logging
from decimal import Decimal

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot import texts
from bot.domain.catalogue import Category, category_name, diff_catalogues, paginate, shorten
from bot.domain.money import format_money, parse_percent
from bot.domain.pricing import price_per_1000
from bot.panel import PanelError
from bot.shop.catalogue import hide, refresh_catalogue, set_markup
from bot.state import AppState, app_state
from handlers.admin_base import admin_id, admin_only, args_of, ask, on_answer
from handlers.common import Button, reply, show
from storage.audit import record_now

log = logging.getLogger(__name__)

PER_PAGE = 8
HOME: list[Button] = [(texts.BUTTON_ADMIN_HOME, "a:home")]


@admin_only
async def refresh(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    old = state.full_catalogue
    try:
        new = await refresh_catalogue(state.db, state.panel)
    except PanelError as exc:
        await show(update, texts.CATALOGUE_REFRESH_FAILED.format(reason=html.escape(shorten(exc.message, 200))),
                   [HOME])
        return
    state.show_catalogue(new, state.rules)
    diff = diff_catalogues(old, new)
    await record_now(state.db, admin_id(update), "refresh", "catalogue", before=f"{len(old)} services",
                     after=f"{len(new)} services (+{diff.added} -{diff.removed} ~{diff.repriced})")
    await show(update, texts.CATALOGUE_REFRESHED.format(services=len(new), added=diff.added, removed=diff.removed,
                                                        repriced=diff.repriced), [HOME])


@admin_only
async def categories_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    args = args_of(update)
    page = paginate(state.full_catalogue.categories, int(args[0]) if args else 0, PER_PAGE)
    rows: list[list[Button]] = [[(_label(state, c), f"a:c:{c.key}")] for c in page.items]
    nav: list[Button] = [("‹", f"a:cat:{page.number - 1}")] if page.has_prev else []
    nav += [("›", f"a:cat:{page.number + 1}")] if page.has_next else []
    text = texts.CATALOGUE_ADMIN.format(services=len(state.full_catalogue),
                                        categories=len(state.full_catalogue.categories),
                                        markup=state.settings.price_markup_percent)
    await show(update, f"{text}\n{texts.PAGE.format(number=page.number + 1, count=page.count)}", [*rows, nav, HOME])


def _label(state: AppState, category: Category) -> str:
    hidden = "🙈 " if category.name in state.rules.hidden_categories else ""
    markup = state.rules.category_markups.get(category.name)
    own = f" · {markup}%" if markup is not None else ""
    return f"{hidden}{shorten(category.name, 36)} ({len(category.services)}){own}"


@admin_only
async def category_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    args = args_of(update)
    category = state.full_catalogue.category(args[0])
    if category is None:  # gone from the panel since the button was made
        await categories_view(update, context)
        return
    action = args[1] if len(args) > 1 else ""
    if action in ("h", "s"):
        state.show_catalogue(state.full_catalogue,
                             await hide(state.db, admin_id(update), "category", category.name, action == "h"))
    elif action == "m":
        ask(context, "markup", category.key)
        await show(update, texts.ASK_MARKUP.format(name=html.escape(category.name),
                                                   markup=state.settings.price_markup_percent))
        return
    elif action == "sv":
        await _services_page(update, state, category, int(args[2]))
        return
    await _category_card(update, state, category)


async def _category_card(update: Update, state: AppState, category: Category, note: str = "") -> None:
    hidden = category.name in state.rules.hidden_categories
    own = state.rules.category_markups.get(category.name)
    text = texts.CATEGORY_ADMIN.format(
        name=html.escape(category.name), count=len(category.services),
        state=texts.STATE_HIDDEN if hidden else texts.STATE_SHOWN,
        markup=own if own is not None else state.settings.price_markup_percent,
        own=texts.CATEGORY_OWN_MARKUP if own is not None else "")
    toggle: Button = ((texts.BUTTON_SHOW, f"a:c:{category.key}:s") if hidden
                      else (texts.BUTTON_HIDE, f"a:c:{category.key}:h"))
    await show(update, f"{note}\n\n{text}" if note else text, [
        [toggle, (texts.BUTTON_SET_MARKUP, f"a:c:{category.key}:m")],
        [(texts.BUTTON_SERVICES, f"a:c:{category.key}:sv:0")],
        [(texts.BUTTON_BACK_CATALOGUE, "a:cat:0")], HOME])


async def _services_page(update: Update, state: AppState, category: Category, number: int) -> None:
    page = paginate(category.services, number, PER_PAGE)
    rows: list[list[Button]] = [[(f"{'🙈 ' if s.service_id in state.rules.hidden_services else ''}"
                                  f"{shorten(s.name, 40)}", f"a:s:{s.service_id}")] for s in page.items]
    nav: list[Button] = [("‹", f"a:c:{category.key}:sv:{page.number - 1}")] if page.has_prev else []
    nav += [("›", f"a:c:{category.key}:sv:{page.number + 1}")] if page.has_next else []
    text = f"🧩 <b>{html.escape(category.name)}</b>\n{texts.PAGE.format(number=page.number + 1, count=page.count)}"
    await show(update, text, [*rows, nav, [(texts.BUTTON_BACK_CATALOGUE, f"a:c:{category.key}")], HOME])


@admin_only
async def service_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    args = args_of(update)
    service = state.full_catalogue.service(args[0])
    if service is None:
        await categories_view(update, context)
        return
    if len(args) > 1:
        state.show_catalogue(state.full_catalogue,
                             await hide(state.db, admin_id(update), "service", service.service_id, args[1] == "h"))
    hidden = service.service_id in state.rules.hidden_services
    category_hidden = category_name(service) in state.rules.hidden_categories
    text = texts.SERVICE_ADMIN.format(
        name=html.escape(shorten(service.name, 200)), service_id=html.escape(service.service_id),
        category=html.escape(shorten(service.category, 80)), rate=format_money(service.rate, state.currency),
        price=format_money(price_per_1000(service, state.markup_for(service)), state.currency),
        state=texts.STATE_HIDDEN if hidden or category_hidden else texts.STATE_SHOWN)
    toggle: Button = ((texts.BUTTON_SHOW, f"a:s:{service.service_id}:s") if hidden
                      else (texts.BUTTON_HIDE, f"a:s:{service.service_id}:h"))
    category = next((c for c in state.full_catalogue.categories if service in c.services), None)
    back: list[Button] = [(texts.BUTTON_BACK_CATALOGUE, f"a:c:{category.key}:sv:0" if category else "a:cat:0")]
    await show(update, text, [[toggle], back, HOME])


@on_answer("markup")
async def markup_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    state = app_state(context)
    category = state.full_catalogue.category(target)
    if category is None:
        return True  # gone from the panel meanwhile: nothing to set
    typed = (message.text or "").strip()
    markup: Decimal | None = None
    if typed.casefold() != "default":
        markup = parse_percent(typed)
        if markup is None:
            await reply(update, texts.BAD_MARKUP.format(value=html.escape(shorten(typed, 40))))
            return False
    before = state.rules.category_markups.get(category.name, state.settings.price_markup_percent)
    state.show_catalogue(state.full_catalogue, await set_markup(state.db, admin_id(update), category.name, markup,
                                                                before))
    shown = markup if markup is not None else state.settings.price_markup_percent
    await reply(update, texts.MARKUP_SET.format(name=html.escape(category.name), markup=shown),
                [[(texts.BUTTON_BACK_CATALOGUE, f"a:c:{category.key}")]])
    return True


def register(application: Application, admins: filters.BaseFilter) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("refresh", refresh, filters=admins))
    application.add_handler(CommandHandler("catalogue", categories_view, filters=admins))
    application.add_handler(CallbackQueryHandler(refresh, pattern=r"^a:refresh$"))
    application.add_handler(CallbackQueryHandler(categories_view, pattern=r"^a:cat:\d{1,5}$"))
    application.add_handler(CallbackQueryHandler(category_button, pattern=r"^a:c:[0-9a-f]{10}(:(h|s|m|sv:\d{1,5}))?$"))
    application.add_handler(CallbackQueryHandler(service_button, pattern=r"^a:s:[^:]{1,40}(:(h|s))?$"))
