"""The shop's figures for GET /metrics, read when scraped (bot/metrics.py shows them).

Plain SQL that SQLite and PostgreSQL both run (aggregates and GROUP BY only, no date
functions): dates are turned into numbers here, in Python. Only `fetchone` / `fetchall` are
used, with rows read by position, so any database object that has them will do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol


class Reader(Protocol):
    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Sequence[Any] | None: ...

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> Sequence[Sequence[Any]]: ...


@dataclass(frozen=True)
class ShopFigures:
    orders: list[tuple[str, str | None, int]]  # (state, panel_status, count)
    outbox_pending: int
    oldest_pending_at: float | None  # unix time the oldest pending notification was queued
    turnover: list[tuple[str, str, int]]  # (reason, currency, sum of amount_micros)


async def read_figures(db: Reader) -> ShopFigures:
    orders = await db.fetchall("SELECT state, panel_status, COUNT(*) FROM orders GROUP BY state, panel_status")
    outbox = await db.fetchone("SELECT COUNT(*), MIN(created_at) FROM notifications WHERE state = 'pending'")
    turnover = await db.fetchall("SELECT reason, currency, SUM(amount_micros) FROM ledger GROUP BY reason, currency")
    pending, oldest = (int(outbox[0] or 0), outbox[1]) if outbox is not None else (0, None)
    return ShopFigures(
        orders=[(str(row[0]), None if row[1] is None else str(row[1]), int(row[2])) for row in orders],
        outbox_pending=pending,
        oldest_pending_at=_unix_time(oldest) if pending else None,
        turnover=[(str(row[0]), str(row[1]), int(row[2] or 0)) for row in turnover],
    )


def _unix_time(value: object) -> float | None:
    """created_at as stored: ISO text ("2025-01-31T12:00:00.123Z", UTC) or a driver's datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
