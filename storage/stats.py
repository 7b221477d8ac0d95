"""Figures for the operator's stats: customers, orders by status, turnover, cost and margin."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from storage.database import POSTGRESQL, Database


@dataclass
class PanelFigures:
    """The orders a panel took (or may have: unverified), what they kept of their price, their
    cost there (in the shop's currency, at each order's rate)."""

    orders: int = 0
    turnover_micros: int = 0
    cost_micros: int = 0

    @property
    def margin_micros(self) -> int:
        return self.turnover_micros - self.cost_micros


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
    by_panel: dict[str, PanelFigures] = field(default_factory=dict)

    def _add(self, state: str, panel_status: str | None, panel: str | None, count: int, turnover: int,
             cost: int) -> None:
        self.orders += count
        self.by_status[panel_status or "Pending" if state == "placed" else state] += count
        self.turnover_micros += turnover
        self.cost_micros += cost
        if state != "rejected":  # (a refusal refunded everything and cost nothing)
            figures = self.by_panel.setdefault(panel or "", PanelFigures())
            figures.orders += count
            figures.turnover_micros += turnover
            figures.cost_micros += cost

    @property
    def margin_micros(self) -> int:
        return self.turnover_micros - self.cost_micros


async def customer_counts(db: Database, *, active_since: str, admins: Collection[int]) -> tuple[int, int]:
    """(all customers, customers seen since `active_since`), admins left out."""
    marks = ",".join("?" * len(admins)) or "NULL"
    row = await db.fetchone(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN last_seen_at >= ? THEN 1 ELSE 0 END), 0) FROM users"
        f" WHERE user_id NOT IN ({marks})", (active_since, *admins))
    return (int(row[0]), int(row[1])) if row else (0, 0)


_REFUNDED = ("FROM orders o LEFT JOIN (SELECT order_id, SUM(amount_micros) AS refunded FROM ledger"
             " WHERE reason = 'refund' GROUP BY order_id) r ON r.order_id = o.order_id WHERE o.created_at >= ?")


async def period_figures(db: Database, since: str | None) -> PeriodFigures:
    """Orders created at or after `since` (an ISO UTC time; None: all time). The cost of what was
    kept (cost × kept / price, rounded down per order) is summed in SQL on PostgreSQL, in exact
    NUMERIC; SQLite would turn a large product into a float, so there it is summed in Python."""
    figures = PeriodFigures()
    if db.dialect == POSTGRESQL:
        kept = "GREATEST(0, o.price_micros - COALESCE(r.refunded, 0))"
        rows = await db.fetchall(
            f"SELECT o.state, o.panel_status, o.panel, COUNT(*), COALESCE(SUM({kept}), 0),"
            f" COALESCE(SUM(CASE WHEN o.price_micros > 0 THEN FLOOR(o.cost_micros::numeric * {kept} / o.price_micros)"
            f" ELSE o.cost_micros END), 0) {_REFUNDED} GROUP BY o.state, o.panel_status, o.panel", (since or "",))
        for state, panel_status, panel, count, turnover, cost in rows:
            figures._add(state, panel_status, panel, int(count), int(turnover), int(cost))
    else:
        rows = await db.fetchall(
            f"SELECT o.state, o.panel_status, o.panel, o.price_micros, o.cost_micros, COALESCE(r.refunded, 0)"
            f" {_REFUNDED}", (since or "",))
        for state, panel_status, panel, price, cost, refunded in rows:
            kept_micros = max(0, price - refunded)
            figures._add(state, panel_status, panel, 1, kept_micros, cost * kept_micros // price if price else cost)
    row = await db.fetchone("SELECT COALESCE(SUM(stars), 0), COALESCE(SUM(amount_micros), 0) FROM star_payments"
                            " WHERE state <> 'refunded' AND created_at >= ?", (since or "",))
    if row is not None:
        figures.stars, figures.stars_micros = int(row[0]), int(row[1])
    row = await db.fetchone("SELECT COALESCE(SUM(amount_micros), 0) FROM topups WHERE method = 'manual'"
                            " AND state = 'approved' AND created_at >= ?", (since or "",))
    figures.manual_micros = int(row[0]) if row else 0
    return figures
