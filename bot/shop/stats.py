"""The operator's figures, per period: today (since midnight UTC), 7 days, 30 days, all time.
Periods with the same figures are one block (a new shop's four periods are all today's)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.database import Database
from storage.stats import PeriodFigures, customer_counts, period_figures

PERIODS = ("today", "7d", "30d", "all")


def iso(moment: datetime) -> str:
    """The database's time format (UTC, milliseconds, 'Z'), so that text comparison is time order."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def period_starts(now: datetime) -> dict[str, str | None]:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return {"today": iso(midnight), "7d": iso(now - timedelta(days=7)), "30d": iso(now - timedelta(days=30)),
            "all": None}


@dataclass(frozen=True)
class ShopStats:
    customers: int
    active_7d: int
    periods: dict[str, PeriodFigures]

    def blocks(self) -> list[tuple[tuple[str, ...], PeriodFigures]]:
        """The periods in PERIODS order, each run of periods with equal figures as one block."""
        return same_figures(self.periods)


def same_figures(periods: dict[str, PeriodFigures]) -> list[tuple[tuple[str, ...], PeriodFigures]]:
    """Neighbouring periods (in PERIODS order) with equal figures, merged. The periods nest
    (today within 7 days within 30 within all), so equal neighbours mean nothing happened in
    between: one block says it without repeating it."""
    blocks: list[tuple[tuple[str, ...], PeriodFigures]] = []
    for name in PERIODS:
        figures = periods[name]
        if blocks and blocks[-1][1] == figures:
            blocks[-1] = ((*blocks[-1][0], name), figures)
        else:
            blocks.append(((name,), figures))
    return blocks


async def shop_stats(db: Database, now: datetime, admins: Collection[int]) -> ShopStats:
    """`now` must be UTC."""
    starts = period_starts(now)
    customers, active = await customer_counts(db, active_since=starts["7d"] or "", admins=admins)
    return ShopStats(customers, active, {name: await period_figures(db, since) for name, since in starts.items()})
