"""The catalogue, for admins: /refresh (with what changed), hide or show a category or a
service, and a markup per category that overrides PRICE_MARKUP_PERCENT. Hidden ones are not in
the customers' catalogue at all, so neither search nor an old button reaches them."""

from __future__ import annotations

import html
import logging
from decimal import Decimal

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.domain.catalogue import Category, category_name, paginate, shorten
from bot.domain.money import format_money, parse_percent
from bot.panel import PanelError
from bot.state import AppState, app_state
from handlers.admin_base import admin_id, admin_only, ask, home_row
from handlers.buttons import (
    AdminCategories,
    AdminCategory,
    AdminCategoryServices,
    AdminService,
    Button,
    CategoryAction,
    ServiceAction,
)
from handlers.common import Row, reply, show
from handlers.pager import page_row, titled

log = logging.getLogger(__name__)

PER_PAGE = 8
MARKUP = "markup"  # the prompt for a category's markup (handlers/dialogues.py)


@admin_only
async def refresh(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    try:
        diff = await state.catalogues.refresh(admin_id=admin_id(update))
    except PanelError as exc:
        await show(update, texts.CATALOGUE_REFRESH_FAILED.format(reason=html.escape(shorten(exc.message, 200))),
                   home_row())
        return
    await show(update, texts.CATALOGUE_REFRESHED.format(services=len(state.full_catalogue), added=diff.added,
                                                        removed=diff.removed, repriced=diff.repriced), home_row())


@admin_only
async def categories_view(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button | None = None) -> None:
    state = app_state(context)
    number = pressed.page if isinstance(pressed, AdminCategories) else 0
    page = paginate(state.full_catalogue.categories, number, PER_PAGE)
    rows: list[Row] = [[(_label(state, c), AdminCategory(c.key).data)] for c in page.items]
    text = texts.CATALOGUE_ADMIN.format(services=len(state.full_catalogue),
                                        categories=len(state.full_catalogue.categories),
                                        markup=state.settings.price_markup_percent)
    await show(update, titled(text, page), [*rows, page_row(page, AdminCategories), *home_row()])


def _back_to(category_name: str) -> str:
    """A back button says where it goes: the category by name (the catalogue's says "Catalogue")."""
    return texts.BUTTON_BACK_TO.format(name=shorten(category_name, 40))


def _label(state: AppState, category: Category) -> str:
    hidden = "🙈 " if category.name in state.rules.hidden_categories else ""
    markup = state.rules.category_markups.get(category.name)
    own = f" · {markup}%" if markup is not None else ""
    return f"{hidden}{shorten(category.name, 36)} ({len(category.services)}){own}"


@admin_only
async def category_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, AdminCategory | AdminCategoryServices)
    state = app_state(context)
    category = state.full_catalogue.category(pressed.key)
    if category is None:  # gone from the panel since the button was made
        await categories_view(update, context)
        return
    if isinstance(pressed, AdminCategoryServices):
        await _services_page(update, state, category, pressed.page)
        return
    if pressed.action in (CategoryAction.HIDE, CategoryAction.SHOW):
        await state.catalogues.hide(admin_id(update), "category", category.name, pressed.action is CategoryAction.HIDE)
    elif pressed.action is CategoryAction.MARKUP:
        rows = ask(MARKUP, category.key)
        await show(update, texts.ASK_MARKUP.format(name=html.escape(category.name),
                                                   markup=state.settings.price_markup_percent), rows)
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
    toggle = ((texts.BUTTON_SHOW, AdminCategory(category.key, CategoryAction.SHOW).data) if hidden
              else (texts.BUTTON_HIDE, AdminCategory(category.key, CategoryAction.HIDE).data))
    await show(update, f"{note}\n\n{text}" if note else text, [
        [toggle, (texts.BUTTON_SET_MARKUP, AdminCategory(category.key, CategoryAction.MARKUP).data)],
        [(texts.BUTTON_SERVICES, AdminCategoryServices(category.key, 0).data)],
        [(texts.BUTTON_BACK_CATALOGUE, AdminCategories(0).data)], *home_row()])


async def _services_page(update: Update, state: AppState, category: Category, number: int) -> None:
    page = paginate(category.services, number, PER_PAGE)
    rows: list[Row] = [[(f"{'🙈 ' if s.service_id in state.rules.hidden_services else ''}"
                         f"{shorten(s.name, 40)}", AdminService(s.service_id).data)] for s in page.items]
    text = titled(f"🧩 <b>{html.escape(category.name)}</b>", page)
    await show(update, text, [*rows, page_row(page, lambda n: AdminCategoryServices(category.key, n)),
                              [(_back_to(category.name), AdminCategory(category.key).data)], *home_row()])


@admin_only
async def service_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    assert isinstance(pressed, AdminService)
    state = app_state(context)
    service = state.full_catalogue.service(pressed.service_id)
    if service is None:
        await categories_view(update, context)
        return
    if pressed.action is not None:
        await state.catalogues.hide(admin_id(update), "service", service.service_id,
                                    pressed.action is ServiceAction.HIDE)
    hidden = service.service_id in state.rules.hidden_services
    category_hidden = category_name(service) in state.rules.hidden_categories
    text = texts.SERVICE_ADMIN.format(
        name=html.escape(shorten(service.name, 200)), service_id=html.escape(service.service_id),
        category=html.escape(shorten(service.category, 80)), rate=format_money(service.rate, state.currency),
        price=format_money(state.rate_of(service), state.currency),
        state=texts.STATE_HIDDEN if hidden or category_hidden else texts.STATE_SHOWN)
    toggle = ((texts.BUTTON_SHOW, AdminService(service.service_id, ServiceAction.SHOW).data) if hidden
              else (texts.BUTTON_HIDE, AdminService(service.service_id, ServiceAction.HIDE).data))
    category = next((c for c in state.full_catalogue.categories if service in c.services), None)
    back: Row = [(_back_to(category.name), AdminCategoryServices(category.key, 0).data) if category
                 else (texts.BUTTON_BACK_CATALOGUE, AdminCategories(0).data)]
    await show(update, text, [[toggle], back, *home_row()])


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
    await state.catalogues.set_markup(admin_id(update), category.name, markup)
    shown = markup if markup is not None else state.settings.price_markup_percent
    await reply(update, texts.MARKUP_SET.format(name=html.escape(category.name), markup=shown),
                [[(_back_to(category.name), AdminCategory(category.key).data)]])
    return True
