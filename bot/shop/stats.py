"""The operator's figures, per period: today (since midnight UTC), 7 days, 30 days, all time."""

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


async def shop_stats(db: Database, now: datetime, admins: Collection[int]) -> ShopStats:
    """`now` must be UTC."""
    starts = period_starts(now)
    customers, active = await customer_counts(db, active_since=starts["7d"] or "", admins=admins)
    return ShopStats(customers, active, {name: await period_figures(db, since) for name, since in starts.items()})
