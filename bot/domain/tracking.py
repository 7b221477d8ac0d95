"""Rules for following orders: when to ask again (refunds are in refunds.py)."""

from __future__ import annotations

MAX_POLL_DELAY = 1800.0  # seconds: a long-running order is still asked about every 30 minutes


def next_poll_delay(age_seconds: float, interval: float) -> float:
    """New orders every `interval`; older ones back off gradually (a tenth of their age), up to
    MAX_POLL_DELAY."""
    return min(MAX_POLL_DELAY, max(interval, age_seconds / 10))


def retry_delay(failures: int, interval: float) -> float:
    """After the panel failed to answer `failures` times in a row."""
    return min(MAX_POLL_DELAY, interval * 2 ** min(failures, 10))
