"""The admin menu (/admin): panel, stats, audit log, and the entries to the other admin tools
(users, unverified orders, broadcast, catalogue), each in a module of its own."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import ContextTypes

from bot import texts
from bot.domain.catalogue import shorten
from bot.domain.money import format_money, from_micros
from bot.domain.timestamps import shown_ago, shown_moment
from bot.shop.catalogue import refreshed_at
from bot.shop.panel_watch import BalanceRead, check_balances
from bot.shop.stats import shop_stats
from bot.state import AppState, app_state
from handlers import (
    admin_broadcast,
    admin_catalogue,
    admin_orders,
    admin_rates,
    admin_settle,
    admin_topups,
    admin_users,
)
from handlers.admin_base import admin_only, home_row
from handlers.buttons import Admin, AdminCategories, AdminScreen, Button
from handlers.common import show
from storage.audit import recent_entries
from storage.orders import orders_in_state
from storage.panels import open_orders_by_panel
from storage.settlements import count_held
from storage.stats import PeriodFigures
from storage.topups import count_pending_manual_all

PANEL_SCREEN_WAIT = 5.0  # seconds the Panels screen waits for a balance


def _to(screen: AdminScreen) -> str:
    return Admin(screen).data


@admin_only
async def admin_menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    waiting = len(await orders_in_state(state.db, "unverified"))
    topups = await count_pending_manual_all(state.db)
    held = await count_held(state.db)
    await show(update, f"{texts.ADMIN_MENU}\n{texts.ADMIN_MENU_RATES}", [
        [(texts.BUTTON_ADMIN_PANEL, _to(AdminScreen.PANEL)), (texts.BUTTON_ADMIN_STATS, _to(AdminScreen.STATS))],
        [(texts.BUTTON_ADMIN_USERS, _to(AdminScreen.USERS)),
         (texts.BUTTON_ADMIN_UNVERIFIED.format(count=waiting), _to(AdminScreen.UNVERIFIED))],
        [(texts.BUTTON_ADMIN_HELD.format(count=held), _to(AdminScreen.HELD)),
         (texts.BUTTON_ADMIN_TOPUPS.format(count=topups), _to(AdminScreen.TOPUPS))],
        [(texts.BUTTON_ADMIN_BROADCAST, _to(AdminScreen.BROADCAST)),
         (texts.BUTTON_ADMIN_CATALOGUE, AdminCategories(0).data)],
        [(texts.BUTTON_ADMIN_AUDIT, _to(AdminScreen.AUDIT)), (texts.BUTTON_ADMIN_RATES, _to(AdminScreen.RATES))],
    ])


@admin_only
async def panel_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every panel: its balance (read now, side by side), currency, how it answered this last
    hour, its open orders; then the catalogue and the exchange rates."""
    state = app_state(context)
    # (a panel that hangs is shown as not answering after a few seconds, not waited for)
    reads = await check_balances(state.db, state.panels, state.alerts, within=PANEL_SCREEN_WAIT)
    if any(read.learned for read in reads):  # a panel named its currency: its services can be priced now
        await state.catalogues.reload()
    open_orders = await open_orders_by_panel(state.db)
    now = time.time()
    blocks = [_panel_block(state, read, open_orders.get(read.panel.name, 0), now) for read in reads]
    blocks += [texts.PANEL_GONE_BLOCK.format(name=html.escape(name or "?"), open=count)
               for name, count in open_orders.items() if state.panels.get(name) is None and count]
    blocks += [texts.PANEL_NO_RATE.format(currency=html.escape(c), shop=html.escape(state.currency))
               for c in state.catalogues.missing_rates()]
    rates = [texts.PANEL_RATE.format(currency=html.escape(r.currency), rate=f"{r.rate.normalize():f}",
                                     shop=html.escape(state.currency),
                                     age=shown_ago(datetime.fromtimestamp(r.set_at, UTC), datetime.now(UTC)))
             for r in sorted(state.catalogues.rates.values(), key=lambda r: r.currency)]
    refreshed = await refreshed_at(state.db)
    full = state.full_catalogue
    await show(update, texts.PANEL_VIEW.format(
        currency=html.escape(state.currency), panels="\n\n".join(map(str, blocks)), services=len(full),
        categories=len(full.categories), visible=len(state.catalogue), hidden=len(full) - len(state.catalogue),
        refreshed=shown_moment(refreshed) if refreshed else texts.NEVER,
        rates=texts.PANEL_RATES.format(rates="; ".join(map(str, rates))) if rates else "",
    ), [[(texts.BUTTON_ADMIN_PANEL, _to(AdminScreen.PANEL)), (texts.BUTTON_ADMIN_REFRESH, _to(AdminScreen.REFRESH))],
        *home_row()])


def _panel_block(state: AppState, read: BalanceRead, open_orders: int, now: float) -> str:
    panel = read.panel
    currency = panel.currency or (read.balance.currency if read.balance else None)
    if read.balance is None:
        reason = read.error.message if read.error else "-"
        balance, low = texts.PANEL_UNREADABLE.format(reason=html.escape(shorten(reason, 200))), ""
    else:
        balance = format_money(read.balance.amount, currency or "")
        low = (texts.PANEL_LOW_NOTE.format(threshold=format_money(panel.low_balance, currency or ""))
               if read.low and panel.low_balance is not None else "")
    health = panel.health.summary(now=now)
    reach = {True: texts.PANEL_ANSWERING, False: texts.PANEL_NOT_ANSWERING, None: texts.PANEL_NOT_ASKED}
    latency = (texts.PANEL_LATENCY.format(median=f"{health.median_seconds:.2f}", p95=f"{health.p95_seconds:.2f}")
               if health.median_seconds is not None and health.p95_seconds is not None else "")
    return texts.PANEL_BLOCK.format(
        name=html.escape(panel.name), currency=html.escape(currency) if currency else texts.PANEL_CURRENCY_UNKNOWN,
        balance=balance, low=low, reach=reach[health.reachable], requests=health.requests,
        failures=health.failures, latency=latency, open=open_orders)


@admin_only
async def stats_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    stats = await shop_stats(state.db, datetime.now(UTC), state.settings.admin_ids)
    lines = [texts.STATS_TITLE.format(customers=stats.customers, active=stats.active_7d)]
    if stats.periods["all"] == PeriodFigures():
        lines.append(texts.STATS_NOTHING_YET)
    else:  # periods with the same figures once: "Today = All time" on a shop's first day
        lines += [_period_line(state, _span(names), figures) for names, figures in stats.blocks()]
    await show(update, "\n\n".join(map(str, lines)),
               [[(texts.BUTTON_ADMIN_STATS, _to(AdminScreen.STATS))], *home_row()])


def _span(names: tuple[str, ...]) -> str:
    first, last = texts.STATS_PERIODS[names[0]], texts.STATS_PERIODS[names[-1]]
    return first if len(names) == 1 else texts.STATS_SAME_FIGURES.format(first=first, last=last)


def _period_line(state: AppState, title: str, figures: PeriodFigures) -> str:
    def money(micros: int) -> str:
        return format_money(from_micros(micros), state.currency)
    statuses = ", ".join(f"{html.escape(name)} {count}" for name, count in figures.by_status.most_common())
    topups = (texts.STATS_TOPUPS.format(total=money(figures.stars_micros + figures.manual_micros),
                                        stars=figures.stars, stars_money=money(figures.stars_micros),
                                        manual=money(figures.manual_micros))
              if figures.stars_micros or figures.manual_micros else "")
    # Per panel once the shop has more than one (margins at the panel that took each order).
    panels = ([texts.STATS_PANEL.format(panel=html.escape(name or "?"), orders=f.orders,
                                        turnover=money(f.turnover_micros), margin=money(f.margin_micros))
               for name, f in sorted(figures.by_panel.items())] if len(state.panels) > 1 or len(figures.by_panel) > 1
              else [])
    return texts.STATS_PERIOD.format(period=title, orders=figures.orders, turnover=money(figures.turnover_micros),
                                     cost=money(figures.cost_micros), margin=money(figures.margin_micros),
                                     statuses=f"\n   {statuses}" if statuses else "") + topups + "".join(
        f"\n{line}" for line in panels)


@admin_only
async def audit_view(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    entries = await recent_entries(app_state(context).db, 20)
    if not entries:
        await show(update, texts.AUDIT_NONE, home_row())
        return
    lines = [texts.AUDIT_TITLE] + [texts.AUDIT_LINE.format(
        created=shown_moment(e.created_at), admin_id=e.admin_id, action=html.escape(e.action),
        target=html.escape(shorten(e.target, 60)), before=html.escape(shorten(e.before, 60)) or "—",
        after=html.escape(shorten(e.after, 60)) or "—") for e in entries]
    await show(update, "\n".join(map(str, lines)), [[(texts.BUTTON_ADMIN_AUDIT, _to(AdminScreen.AUDIT))], *home_row()])


async def screen_button(update: Update, context: ContextTypes.DEFAULT_TYPE, pressed: Button) -> None:
    """A button of the admin menu (each screen checks the admin itself)."""
    assert isinstance(pressed, Admin)
    screens = {AdminScreen.HOME: admin_menu, AdminScreen.PANEL: panel_view, AdminScreen.STATS: stats_view,
               AdminScreen.AUDIT: audit_view, AdminScreen.USERS: admin_users.users_view,
               AdminScreen.UNVERIFIED: admin_orders.unverified_view, AdminScreen.HELD: admin_settle.held_view,
               AdminScreen.TOPUPS: admin_topups.pending_view, AdminScreen.BROADCAST: admin_broadcast.broadcast_start,
               AdminScreen.REFRESH: admin_catalogue.refresh, AdminScreen.RATES: admin_rates.rates_view}
    await screens[pressed.screen](update, context)
