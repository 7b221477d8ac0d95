"""A shop service's card, for admins: hide or show it, and its sources (the panels it is bought
at, in the order orders try them): move one up or down, split one out into a service of its own,
merge another service in (the most alike at other panels suggested, or found by words), rename
it. The sources to check (gone from their panel, or of another type now) lead to their services'
cards, which open even for a service no source can sell any more."""

from __future__ import annotations

import difflib
import hashlib
import heapq
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import Message, Update
from telegram.ext import ContextTypes

from bot import texts
from bot.domain.catalogue import category_name, is_package, paginate, shorten
from bot.domain.money import format_money, round_up
from bot.domain.sourcing import GONE, SourceView, convert
from bot.domain.synonyms import fold, matches, query_terms
from bot.shop.catalogue import ShopField
from bot.state import AppState, app_state
from handlers import admin_catalogue
from handlers.admin_base import admin_id, admin_only, ask, home_row, typed_markup, typed_words
from handlers.buttons import (
    AdminCategories,
    AdminCategoryServices,
    AdminFlagged,
    AdminMerge,
    AdminService,
    AdminSource,
    Button,
    ServiceAction,
    SourceAction,
)
from handlers.common import Row, answer, reply, show
from handlers.pager import page_row, titled

log = logging.getLogger(__name__)

PER_PAGE = admin_catalogue.PER_PAGE

RENAME = "rename"  # the prompt for a service's own name
RECATEGORISE = "service category"  # … its own category
DESCRIBE = "service description"  # … its own description
SERVICE_MARKUP = "service markup"  # … its own markup
CATEGORY_LIMIT = 100  # characters of a category's name
DESCRIPTION_LIMIT = 1000  # characters of a service's own description
MERGE_SEARCH = "merge search"  # the prompt for words to find a service to merge with
NAME_LIMIT = 100  # characters of a service's own name
MERGE_SUGGESTIONS = 8


def back_to_service(name: str) -> str:
    return texts.BUTTON_BACK_TO.format(name=shorten(name, 26))  # (service names run long: a phone's width)


@admin_only
async def service_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    """A shop service's card: what customers see of it, its sources in order, and the tools to
    hide, rename, merge, reorder and split it. It opens for a service no source can sell too
    (the sources to check lead there)."""
    assert isinstance(pressed, AdminService)
    state = app_state(context)
    spec = state.catalogues.spec(pressed.service_id)
    if spec is None:  # merged into another, or never was
        await admin_catalogue.categories_view(update, context)
        return
    shop_id = spec.shop_id
    if pressed.action in (ServiceAction.HIDE, ServiceAction.SHOW):
        await state.catalogues.hide(admin_id(update), "service", shop_id, pressed.action is ServiceAction.HIDE)
    elif pressed.action is ServiceAction.RENAME:
        rows = ask(RENAME, shop_id)
        await show(update, texts.ASK_RENAME.format(name=html.escape(_name_of(state, shop_id)), limit=NAME_LIMIT),
                   rows)
        return
    elif pressed.action is ServiceAction.CATEGORY:
        service = state.full_catalogue.service(shop_id)
        rows = ask(RECATEGORISE, shop_id)
        await show(update, texts.ASK_SERVICE_CATEGORY.format(
            name=html.escape(_name_of(state, shop_id)), limit=CATEGORY_LIMIT,
            category=html.escape(category_name(service) if service is not None else "-")), rows)
        return
    elif pressed.action is ServiceAction.DESCRIBE:
        rows = ask(DESCRIBE, shop_id)
        await show(update, texts.ASK_SERVICE_DESCRIPTION.format(name=html.escape(_name_of(state, shop_id)),
                                                                limit=DESCRIPTION_LIMIT), rows)
        return
    elif pressed.action is ServiceAction.MARKUP:
        service = state.full_catalogue.service(shop_id)
        rows = ask(SERVICE_MARKUP, shop_id)
        markup = state.markup_for(service) if service is not None else state.settings.price_markup_percent
        await show(update, texts.ASK_SERVICE_MARKUP.format(name=html.escape(_name_of(state, shop_id)),
                                                           markup=markup), rows)
        return
    elif pressed.action is ServiceAction.MERGE:
        await _merge_view(update, state, shop_id)
        return
    elif pressed.action is ServiceAction.FIND:
        rows = ask(MERGE_SEARCH, shop_id)
        await show(update, texts.ASK_MERGE_SEARCH.format(name=html.escape(_name_of(state, shop_id))), rows)
        return
    await _service_card(update, state, shop_id)


async def _service_card(update: Update, state: AppState, shop_id: str, note: str = "",
                        extra: Sequence[Row] = (), *, answered: bool = False) -> None:
    catalogues = state.catalogues
    service = state.full_catalogue.service(shop_id)
    hidden = shop_id in state.rules.hidden_services
    if service is not None:
        category_hidden = category_name(service) in state.rules.hidden_categories
        header = texts.SERVICE_ADMIN.format(
            name=html.escape(shorten(service.name, 200)), service_id=html.escape(shop_id),
            category=html.escape(shorten(service.category, 80)), rate=format_money(service.rate, state.currency),
            price=format_money(state.rate_of(service), state.currency),
            state=texts.STATE_HIDDEN if hidden or category_hidden else texts.STATE_SHOWN)
    else:
        header = texts.SERVICE_ADMIN_OFF_SALE.format(name=html.escape(shorten(_name_of(state, shop_id), 200)),
                                                     service_id=html.escape(shop_id))
    views = catalogues.source_views(shop_id)
    usable = catalogues.sources(shop_id)
    first = (usable[0].panel, usable[0].service.service_id) if usable else None
    lines = [header]
    spec = catalogues.spec(shop_id)
    if spec is not None and spec.markup is not None:
        lines.append(texts.SERVICE_OWN_MARKUP.format(markup=spec.markup))
    lines += ["", str(texts.SOURCES_TITLE)]
    lines += [_source_line(state, shop_id, n, view, first=first) for n, view in enumerate(views, 1)]
    lines.append(texts.SOURCES_FIRST.format(panel=html.escape(usable[0].panel)) if usable
                 else str(texts.SOURCES_NONE_USABLE))
    if len(views) > 1:
        lines.append(str(texts.SOURCES_HINT))
    rows: list[Row] = [*extra]
    for position, view in enumerate(views):
        row: Row = []
        key = source_key(view.ref.panel, view.ref.service_id)
        if position > 0:
            row.append((texts.BUTTON_SOURCE_UP.format(position=position + 1),
                        AdminSource(shop_id, position, SourceAction.UP, key).data))
        if position < len(views) - 1:
            row.append((texts.BUTTON_SOURCE_DOWN.format(position=position + 1),
                        AdminSource(shop_id, position, SourceAction.DOWN, key).data))
        if len(views) > 1:
            row.append((texts.BUTTON_SOURCE_SPLIT.format(position=position + 1),
                        AdminSource(shop_id, position, SourceAction.SPLIT, key).data))
        rows.append(row)
    toggle = ((texts.BUTTON_SHOW, AdminService(shop_id, ServiceAction.SHOW).data) if hidden
              else (texts.BUTTON_HIDE, AdminService(shop_id, ServiceAction.HIDE).data))
    rows.append([(texts.BUTTON_MERGE, AdminService(shop_id, ServiceAction.MERGE).data),
                 (texts.BUTTON_RENAME, AdminService(shop_id, ServiceAction.RENAME).data)])
    rows.append([(texts.BUTTON_SERVICE_CATEGORY, AdminService(shop_id, ServiceAction.CATEGORY).data),
                 (texts.BUTTON_SERVICE_DESCRIPTION, AdminService(shop_id, ServiceAction.DESCRIBE).data),
                 (texts.BUTTON_SERVICE_MARKUP, AdminService(shop_id, ServiceAction.MARKUP).data)])
    rows.append([toggle])
    category = (next((c for c in state.full_catalogue.categories if service in c.services), None)
                if service is not None else None)
    rows.append([(admin_catalogue.back_to(category.name), AdminCategoryServices(category.key, 0).data) if category
                 else (texts.BUTTON_BACK_CATALOGUE, AdminCategories(0).data)])
    if any(view.ref.shop_id == shop_id for view in catalogues.flagged()):
        rows.append([(texts.BUTTON_BACK_FLAGGED, AdminFlagged(0).data)])
    text = "\n".join(lines)
    await show(update, f"{note}\n\n{text}" if note else text, [*rows, *home_row()], answered=answered)


def _source_line(state: AppState, shop_id: str, position: int, view: SourceView, *,
                 first: tuple[str, str] | None) -> str:
    ref, listed = view.ref, view.service
    currency = _panel_currency(state, ref.panel)
    mark = ""
    if view.problem is not None:
        mark = texts.SOURCE_PROBLEMS.get(view.problem, texts.SOURCE_PROBLEMS["limits"]).format(
            type=html.escape(listed.raw_type if listed is not None else "?"), currency=html.escape(currency or "?"))
    elif (ref.panel, ref.service_id) == first:
        mark = str(texts.SOURCE_FIRST_MARK)
    panel, service_id = html.escape(ref.panel), html.escape(shorten(ref.service_id, 40))
    if listed is None:
        return texts.SOURCE_LINE_UNLISTED.format(position=position, panel=panel, service_id=service_id, mark=mark)
    spec = state.catalogues.spec(shop_id)
    per = texts.SOURCE_RATE_PACKAGE if spec is not None and is_package(spec.type) else texts.SOURCE_RATE
    converted = ""
    source = next((s for s in state.catalogues.sources(shop_id)
                   if (s.panel, s.service.service_id) == (ref.panel, ref.service_id)), None)
    if source is not None and source.currency != state.currency:
        converted = texts.SOURCE_CONVERTED.format(
            amount=format_money(round_up(convert(listed.rate, source.fx_rate)), state.currency))
    return texts.SOURCE_LINE.format(position=position, panel=panel, service_id=service_id,
                                    rate=per.format(rate=format_money(listed.rate, currency or "")),
                                    converted=converted, mark=mark)


def _panel_currency(state: AppState, name: str) -> str | None:
    panel = state.panels.get(name)
    return panel.currency if panel is not None else None


def _name_of(state: AppState, shop_id: str) -> str:
    """The name customers see (or would see, for a service no source can sell now)."""
    service = state.full_catalogue.service(shop_id)
    if service is not None:
        return service.name
    spec = state.catalogues.spec(shop_id)
    if spec is not None and spec.name:
        return spec.name
    views = state.catalogues.source_views(shop_id)
    listed = next((v.service.name for v in views if v.service is not None), None)
    return listed or next((v.ref.name for v in views if v.ref.name), None) or shop_id


def _digest(text: str, length: int) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:length]


def service_key(shop_id: str) -> str:
    """What a merge button carries for the other service (its id and this one's do not both fit)."""
    return _digest(shop_id, 10)


def source_key(panel: str, service_id: str) -> str:
    return _digest(f"{panel}\0{service_id}", 8)


@admin_only
async def source_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    """Move a source up or down, or split it out into a service of its own."""
    assert isinstance(pressed, AdminSource)
    state = app_state(context)
    spec = state.catalogues.spec(pressed.service_id)
    if spec is None:
        await admin_catalogue.categories_view(update, context)
        return
    shop_id = spec.shop_id
    views = state.catalogues.source_views(shop_id)
    if not (pressed.position < len(views) and source_key(views[pressed.position].ref.panel,
                                                         views[pressed.position].ref.service_id) == pressed.source):
        await _service_card(update, state, shop_id, str(texts.SOURCES_CHANGED))
        return
    ref = views[pressed.position].ref
    if pressed.action is SourceAction.SPLIT:
        new_id = await state.catalogues.split_source(admin_id(update), shop_id, (ref.panel, ref.service_id),
                                                     pressed.position)
        if new_id is None:
            await _service_card(update, state, shop_id, str(texts.SOURCES_CHANGED))
            return
        await _service_card(update, state, shop_id, texts.SOURCE_SPLIT.format(
            panel=html.escape(ref.panel), service_id=html.escape(shorten(ref.service_id, 40))),
            [[(texts.BUTTON_OPEN_SPLIT, AdminService(new_id).data)]])
        return
    step = -1 if pressed.action is SourceAction.UP else 1
    moved = await state.catalogues.move_source(admin_id(update), shop_id, (ref.panel, ref.service_id),
                                               pressed.position, step)
    await _service_card(update, state, shop_id, str(texts.SOURCE_MOVED if moved else texts.SOURCES_CHANGED))


# --------------------------------------------------------------------------- merging

@dataclass(frozen=True)
class _Candidate:
    shop_id: str
    name: str
    views: tuple[SourceView, ...]


def _candidates(state: AppState, shop_id: str, *, other_panels: bool) -> list[_Candidate]:
    """The services `shop_id` can be merged with: the same type (and, for suggestions, only
    sources at panels none of its own are at)."""
    catalogues = state.catalogues
    spec = catalogues.spec(shop_id)
    if spec is None:
        return []
    own_panels = {v.ref.panel for v in catalogues.source_views(shop_id)}
    found = []
    for other_id in state.catalogues.shop_ids():
        other = catalogues.spec(other_id)
        if other is None or other_id == shop_id or other.type is not spec.type:
            continue
        views = catalogues.source_views(other_id)
        if other_panels and own_panels & {v.ref.panel for v in views}:
            continue
        found.append(_Candidate(other_id, _name_of(state, other_id), views))
    return found


_NOT_WORD = re.compile(r"[\W_]+")


def _comparable(name: str) -> str:
    """A name as similarity compares it: lower case, words only (no emoji, brackets, marks)."""
    return _NOT_WORD.sub(" ", name.casefold()).strip()


def most_alike(name: str, candidates: Sequence[_Candidate], limit: int) -> list[_Candidate]:
    """The `limit` candidates whose names are most like `name` (difflib's ratio; the cheap upper
    bounds first, so a large catalogue is not compared in full)."""
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(_comparable(name))  # difflib caches what it learns of the second sequence
    best: list[tuple[float, int, _Candidate]] = []  # a min-heap of the best so far
    for order, candidate in enumerate(candidates):
        matcher.set_seq1(_comparable(candidate.name))
        floor = best[0][0] if len(best) == limit else -1.0
        if matcher.real_quick_ratio() <= floor or matcher.quick_ratio() <= floor:
            continue
        entry = (matcher.ratio(), -order, candidate)
        if len(best) < limit:
            heapq.heappush(best, entry)
        elif entry[:2] > best[0][:2]:
            heapq.heapreplace(best, entry)
    return [candidate for _, _, candidate in sorted(best, key=lambda e: (-e[0], -e[1]))]


def _merge_item(state: AppState, number: int, candidate: _Candidate) -> str:
    sources = ", ".join(f"{html.escape(v.ref.panel)} {html.escape(shorten(v.ref.service_id, 20))}"
                        for v in candidate.views[:3]) + (" …" if len(candidate.views) > 3 else "")
    listed = next((v for v in candidate.views if v.service is not None), None)
    rate = ""
    if listed is not None and listed.service is not None:
        rate = " · " + format_money(listed.service.rate, _panel_currency(state, listed.ref.panel) or "")
    return texts.MERGE_ITEM.format(number=number, sources=sources, name=html.escape(shorten(candidate.name, 70)),
                                   rate=rate)


def _merge_rows(shop_id: str, candidates: Sequence[_Candidate]) -> list[Row]:
    return [[(texts.BUTTON_MERGE_PICK.format(number=n, name=shorten(c.name, 22)),
              AdminMerge(shop_id, service_key(c.shop_id)).data)] for n, c in enumerate(candidates, 1)]


async def _merge_view(update: Update, state: AppState, shop_id: str) -> None:
    name = _name_of(state, shop_id)
    suggested = most_alike(name, _candidates(state, shop_id, other_panels=True), MERGE_SUGGESTIONS)
    title = texts.MERGE_TITLE if suggested else texts.MERGE_NONE
    lines = [title.format(name=html.escape(shorten(name, 80)))]
    lines += [_merge_item(state, n, c) for n, c in enumerate(suggested, 1)]
    await show(update, "\n".join(map(str, lines)), [
        *_merge_rows(shop_id, suggested),
        [(texts.BUTTON_MERGE_SEARCH, AdminService(shop_id, ServiceAction.FIND).data)],
        [(back_to_service(name), AdminService(shop_id).data)], *home_row()])


async def merge_search_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str,
                              message: Message) -> bool:
    """The words typed to find a service to merge with `target`: the matches, as the
    suggestions' buttons (the prompt stays open while nothing matches)."""
    state = app_state(context)
    if state.catalogues.spec(target) is None:
        return True  # merged away meanwhile: nothing to merge into
    typed = " ".join((message.text or "").split())
    terms = query_terms(typed)
    found = [c for c in _candidates(state, target, other_panels=False)
             if (terms and matches(terms, fold(c.name))) or typed in (c.shop_id, *(v.ref.service_id for v in c.views))]
    words = html.escape(shorten(typed, 40))
    if not found:
        await reply(update, texts.MERGE_NOT_FOUND.format(words=words))
        return False
    name = _name_of(state, target)
    shown = most_alike(name, found, MERGE_SUGGESTIONS)
    lines = [texts.MERGE_FOUND.format(count=len(found), words=words, name=html.escape(shorten(name, 80)))]
    lines += [_merge_item(state, n, c) for n, c in enumerate(shown, 1)]
    if len(found) > len(shown):
        lines.append(texts.MERGE_FOUND_MORE.format(shown=len(shown)))
    await reply(update, "\n".join(map(str, lines)),
                [*_merge_rows(target, shown), [(back_to_service(name), AdminService(target).data)]])
    return True


@admin_only
async def merge_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    """Merge the service the button names into the card's; a stale button merges nothing and
    says why."""
    assert isinstance(pressed, AdminMerge)
    state = app_state(context)
    into = state.catalogues.spec(pressed.service_id)
    if into is None:  # merged into another meanwhile
        await admin_catalogue.categories_view(update, context)
        return
    other_id = next((i for i in state.catalogues.shop_ids() if service_key(i) == pressed.other and i != into.shop_id),
                    None)
    other = state.catalogues.spec(other_id) if other_id is not None else None
    problem = texts.MERGE_GONE
    if other is not None and other.type is not into.type:
        problem = texts.MERGE_OTHER_TYPE
    elif other is not None:
        other_name = _name_of(state, other.shop_id)
        if await state.catalogues.merge(admin_id(update), into.shop_id, other.shop_id):
            await _service_card(update, state, into.shop_id,
                                texts.MERGED.format(other=html.escape(shorten(other_name, 60))))
            return
    await answer(update, problem)
    await _service_card(update, state, into.shop_id, str(problem), answered=True)


# --------------------------------------------------------------------------- renaming

async def rename_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    """The shop's own name for a service ("-" or "default": the panel's again)."""
    state = app_state(context)
    if state.catalogues.spec(target) is None:
        return True  # merged away meanwhile
    ok, name = typed_words(message.text, NAME_LIMIT, one_line=True)
    if not ok:
        await reply(update, texts.BAD_NAME.format(limit=NAME_LIMIT))
        return False
    await state.catalogues.edit(admin_id(update), target, "name", name)
    shown = html.escape(shorten(_name_of(state, target), 200))
    await reply(update, (texts.RENAMED if name else texts.RENAMED_DEFAULT).format(name=shown),
                [[(back_to_service(_name_of(state, target)), AdminService(target).data)]])
    return True


async def _own_words(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message,
                     field: ShopField, limit: int) -> bool:
    """The shop's own category or description for a service ("-" or "default": the panel's)."""
    state = app_state(context)
    if state.catalogues.spec(target) is None:
        return True  # merged away meanwhile
    ok, value = typed_words(message.text, limit, one_line=field == "category")
    if not ok:
        await reply(update, texts.BAD_OWN_TEXT.format(limit=limit))
        return False
    await state.catalogues.edit(admin_id(update), target, field, value)
    await reply(update, texts.SERVICE_EDITED, [[(back_to_service(_name_of(state, target)), AdminService(target).data)]])
    return True


async def category_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    return await _own_words(update, context, target, message, "category", CATEGORY_LIMIT)


async def description_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str,
                             message: Message) -> bool:
    return await _own_words(update, context, target, message, "description", DESCRIPTION_LIMIT)


async def markup_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, target: str, message: Message) -> bool:
    """The service's own markup in percent ("default": its category's again)."""
    state = app_state(context)
    if state.catalogues.spec(target) is None:
        return True
    ok, markup = typed_markup(message.text)
    if not ok:
        await reply(update, texts.BAD_MARKUP.format(value=html.escape(shorten((message.text or "").strip(), 40))))
        return False
    await state.catalogues.edit(admin_id(update), target, "markup", markup)
    service = state.full_catalogue.service(target)
    shown = state.markup_for(service) if service is not None else markup
    await reply(update, texts.SERVICE_MARKUP_SET.format(name=html.escape(shorten(_name_of(state, target), 200)),
                                                        markup=shown),
                [[(back_to_service(_name_of(state, target)), AdminService(target).data)]])
    return True


# --------------------------------------------------------------------------- sources to check

@admin_only
async def flagged_view(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button | None = None) -> None:
    """Sources gone from their panel or of another type now, each a way to its service's card
    (which opens even when no source can sell the service any more)."""
    state = app_state(context)
    flagged = state.catalogues.flagged()
    back: list[Row] = [[(texts.BUTTON_BACK_CATALOGUE, AdminCategories(0).data)], *home_row()]
    if not flagged:
        await show(update, str(texts.FLAGGED_NONE), back)
        return
    number = pressed.page if isinstance(pressed, AdminFlagged) else 0
    page = paginate(flagged, number, PER_PAGE)
    offset = page.number * PER_PAGE
    lines = [texts.FLAGGED_TITLE.format(count=len(flagged))]
    rows: list[Row] = []
    for n, view in enumerate(page.items, offset + 1):
        gone = GONE in (view.problem, view.ref.flag)
        panel, service_id = html.escape(view.ref.panel), html.escape(shorten(view.ref.service_id, 20))
        lines.append(texts.FLAGGED_ITEM.format(
            number=n, panel=panel, service_id=service_id, problem=texts.FLAGGED_GONE if gone else texts.FLAGGED_TYPE,
            name=html.escape(shorten(_name_of(state, view.ref.shop_id), 60))))
        rows.append([(texts.BUTTON_FLAGGED_ITEM.format(number=n, panel=view.ref.panel,
                                                       service_id=shorten(view.ref.service_id, 12)),
                      AdminService(view.ref.shop_id).data)])
    await show(update, titled("\n".join(map(str, lines)), page), [*rows, page_row(page, AdminFlagged), *back])


