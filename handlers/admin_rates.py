"""Exchange rates, for admins: `/rate CUR RATE` sets how many shop-currency units one unit of a
panel's currency is; `/rates` lists them with their age, and the panels' currencies that have
none (those panels' services are not on sale until they do)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from decimal import Decimal

from telegram import Update
from telegram.ext import ContextTypes

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.timestamps import shown_ago
from bot.state import AppState, app_state
from handlers.admin_base import admin_id, admin_only, home_row
from handlers.common import reply, show

_CURRENCY = re.compile(r"[A-Za-z]{3}")
_RATE = re.compile(r"[0-9]{1,10}(?:[.,][0-9]{1,8})?")  # ASCII digits only; "1,08" as typed in much of Europe
MAX_RATE = Decimal(10) ** 9


# "15,800" or "15.800": fifteen thousand eight hundred, or 15.8? Refused rather than guessed (a
# rate off by 1000 prices a whole panel 1000 times too cheap); "15800" or "15.8" say which.
_GROUPED = re.compile(r"[1-9][0-9]{0,2}[.,][0-9]{3}")


def parse_rate(text: str) -> Decimal | None:
    """A rate typed by an admin: above 0, at most 1e9, at most 8 decimals (no exponent, no sign)."""
    if not _RATE.fullmatch(text) or _GROUPED.fullmatch(text):
        return None
    rate = Decimal(text.replace(",", "."))
    return rate if 0 < rate <= MAX_RATE else None


def _shown(rate: Decimal) -> str:
    return f"{rate.normalize():f}"  # 1.10 → 1.1, 100 → 100 (not 1E+2)


@admin_only
async def rate_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    args = context.args or []
    usage = texts.RATE_USAGE.format(shop=html.escape(state.currency))
    if len(args) != 2:
        await reply(update, usage)
        return
    currency_text, rate_text = args
    if not _CURRENCY.fullmatch(currency_text):
        await reply(update, texts.BAD_RATE_CURRENCY.format(value=html.escape(shorten(currency_text, 20))))
        return
    currency = currency_text.upper()
    if currency == state.catalogues.currency:
        await reply(update, texts.RATE_SHOP_CURRENCY.format(currency=currency))
        return
    rate = parse_rate(rate_text)
    if rate is None:
        await reply(update, texts.BAD_RATE.format(value=html.escape(shorten(rate_text, 30))))
        return
    await state.catalogues.set_rate(admin_id(update), currency, rate)
    lines = [texts.RATE_SET.format(currency=currency, rate=_shown(rate), shop=html.escape(state.currency))]
    if not _panels_in(state, currency):
        lines.append(texts.RATE_UNUSED.format(currency=currency))
    await reply(update, "\n".join(lines))


def _panels_in(state: AppState, currency: str) -> list[str]:
    return [name for name, known in state.panels.currencies().items() if known == currency]


@admin_only
async def rates_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The rates set, by currency, with their age and the panels that use them; then the panels'
    currencies that have none."""
    state = app_state(context)
    shop = html.escape(state.currency)
    now = datetime.now(UTC)
    lines = [str(texts.RATES_TITLE.format(shop=shop))]
    rates = sorted(state.catalogues.rates.values(), key=lambda r: r.currency)
    lines += [texts.RATES_LINE.format(
        currency=html.escape(r.currency), rate=_shown(r.rate), shop=shop,
        age=shown_ago(datetime.fromtimestamp(r.set_at, UTC), now),
        panels=html.escape(", ".join(_panels_in(state, r.currency))) or texts.RATES_NO_PANEL) for r in rates]
    if not rates:
        lines.append(str(texts.RATES_NONE))
    lines += [texts.PANEL_NO_RATE.format(currency=html.escape(c), shop=shop) for c in state.catalogues.missing_rates()]
    lines.append(str(texts.RATES_HINT))
    await show(update, "\n".join(lines), home_row())
