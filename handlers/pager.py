"""The one pager: a page's title line and its ‹ Prev / Next › row, for every paginated list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot import texts
from bot.domain.catalogue import Page
from handlers.buttons import Button
from handlers.common import Row


def titled(text: str, page: Page[Any]) -> str:
    """`text` with "Page n of m" under it (nothing to say for a single page)."""
    return text if page.count == 1 else f"{text}\n\n{texts.PAGE.format(number=page.number + 1, count=page.count)}"


def page_row(page: Page[Any], button: Callable[[int], Button]) -> Row:
    """‹ Prev and Next › where there is a page before or after; `button(n)` opens page n."""
    row: Row = [(texts.BUTTON_PREV, button(page.number - 1).data)] if page.has_prev else []
    return row + ([(texts.BUTTON_NEXT, button(page.number + 1).data)] if page.has_next else [])
