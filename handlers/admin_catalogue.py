"""The catalogue, for admins: /refresh (with what changed at each panel), categories (hide or
show one, a markup that overrides PRICE_MARKUP_PERCENT) and their services' pages. Hidden ones
are not in the customers' catalogue at all, so neither search nor an old button reaches them.
A service's own card, with its sources, is handlers/admin_sources.py."""

from __future__ import annotations

import html
import logging

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.domain.catalogue import Category, paginate, shorten
from bot.state import AppState, app_state
from handlers.admin_base import admin_id, admin_only, ask, home_row, typed_markup
from handlers.buttons import (
    AdminCategories,
    AdminCategory,
    AdminCategoryServices,
    AdminFlagged,
    AdminService,
    Button,
    CategoryAction,
)
from handlers.common import Row, reply, show
from handlers.pager import page_row, titled

log = logging.getLogger(__name__)

PER_PAGE = 8
MARKUP = "markup"  # the prompt for a category's markup (handlers/dialogues.py)


@admin_only
async def refresh(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every panel's list read again: what changed at each, and the sources that need a look."""
    state = app_state(context)
    report = await state.catalogues.refresh(admin_id=admin_id(update))
    if not report.read_any:
        reason = "; ".join(report.errors)
        await show(update, texts.CATALOGUE_REFRESH_FAILED.format(reason=html.escape(shorten(reason, 300))),
                   home_row())
        return
    read = [p for p in report.panels if p.error is None]
    lines = [texts.CATALOGUE_REFRESHED.format(
        services=len(state.full_catalogue), added=sum(p.added for p in read), removed=sum(p.removed for p in read),
        repriced=sum(p.repriced for p in read))]
    if len(report.panels) > 1 or len(read) < len(report.panels):
        lines += [texts.REFRESH_PANEL_LINE.format(panel=html.escape(p.panel), services=p.services, added=p.added,
                                                  removed=p.removed, repriced=p.repriced) if p.error is None else
                  texts.REFRESH_PANEL_FAILED.format(panel=html.escape(p.panel),
                                                    reason=html.escape(shorten(p.error, 150)))
                  for p in report.panels]
    flagged = sum(len(p.flagged) for p in read)
    if flagged:
        lines.append(texts.REFRESH_FLAGGED.format(count=flagged))
    await show(update, "\n".join(map(str, lines)), home_row())


@admin_only
async def categories_view(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button | None = None) -> None:
    state = app_state(context)
    number = pressed.page if isinstance(pressed, AdminCategories) else 0
    page = paginate(state.full_catalogue.categories, number, PER_PAGE)
    rows: list[Row] = [[(_label(state, c), AdminCategory(c.key).data)] for c in page.items]
    text = texts.CATALOGUE_ADMIN.format(services=len(state.full_catalogue),
                                        categories=len(state.full_catalogue.categories),
                                        markup=state.settings.price_markup_percent)
    flagged = len(state.catalogues.flagged())
    check: list[Row] = [[(texts.BUTTON_FLAGGED.format(count=flagged), AdminFlagged(0).data)]] if flagged else []
    await show(update, titled(text, page), [*rows, page_row(page, AdminCategories), *check, *home_row()])


def back_to(category_name: str) -> str:
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
                              [(back_to(category.name), AdminCategory(category.key).data)], *home_row()])


async def markup_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    state = app_state(context)
    category = state.full_catalogue.category(target)
    if category is None:
        return True  # gone from the panel meanwhile: nothing to set
    ok, markup = typed_markup(message.text)
    if not ok:
        await reply(update, texts.BAD_MARKUP.format(value=html.escape(shorten((message.text or "").strip(), 40))))
        return False
    await state.catalogues.set_markup(admin_id(update), category.name, markup)
    shown = markup if markup is not None else state.settings.price_markup_percent
    await reply(update, texts.MARKUP_SET.format(name=html.escape(category.name), markup=shown),
                [[(back_to(category.name), AdminCategory(category.key).data)]])
    return True
