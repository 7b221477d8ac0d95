"""Figures for the operator's stats: customers, orders by status, turnover, cost and margin."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from storage.database import Database


@dataclass
class PeriodFigures:
    """Orders created in a period. Turnover is what wallets were charged net of refunds; cost is
    the panel's charge, reduced in the same proportion as the order was refunded."""

    orders: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    turnover_micros: int = 0
    cost_micros: int = 0
    stars: int = 0  # Stars received, refunded ones left out
    stars_micros: int = 0  # what those Stars put on wallets
    manual_micros: int = 0  # approved manual top-ups

    @property
    def margin_micros(self) -> int:
        return self.turnover_micros - self.cost_micros


async def customer_counts(db: Database, *, active_since: str, admins: Collection[int]) -> tuple[int, int]:
    """(all customers, customers seen since `active_since`), admins left out."""
    marks = ",".join("?" * len(admins)) or "NULL"
    row = await db.fetchone(
        f"SELECT COUNT(*), COALESCE(SUM(last_seen_at >= ?), 0) FROM users WHERE user_id NOT IN ({marks})",
        (active_since, *admins))
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def period_figures(db: Database, since: str | None) -> PeriodFigures:
    """Orders created at or after `since` (an ISO UTC time; None: all time). Summed in Python:
    integers stay exact where SQLite would turn a large product into a float."""
    rows = await db.fetchall(
        "SELECT o.state, o.panel_status, o.price_micros, o.cost_micros, COALESCE(r.refunded, 0) FROM orders o"
        " LEFT JOIN (SELECT order_id, SUM(amount_micros) AS refunded FROM ledger WHERE reason = 'refund'"
        "            GROUP BY order_id) r ON r.order_id = o.order_id"
        " WHERE o.created_at >= ?", (since or "",))
    figures = PeriodFigures()
    for state, panel_status, price, cost, refunded in rows:
        figures.orders += 1
        figures.by_status[panel_status or "Pending" if state == "placed" else state] += 1
        kept = max(0, price - refunded)
        figures.turnover_micros += kept
        figures.cost_micros += cost * kept // price if price else cost
    for stars, micros in await db.fetchall("SELECT stars, amount_micros FROM star_payments"
                                           " WHERE state <> 'refunded' AND created_at >= ?", (since or "",)):
        figures.stars += stars
        figures.stars_micros += micros
    for (micros,) in await db.fetchall("SELECT amount_micros FROM topups WHERE method = 'manual'"
                                       " AND state = 'approved' AND created_at >= ?", (since or "",)):
        figures.manual_micros += micros
    return figures
