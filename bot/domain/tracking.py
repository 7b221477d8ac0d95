"""Rules for following orders: when to ask again, and how much to refund."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from bot.panel import OrderStatus

MAX_POLL_DELAY = 1800.0  # seconds: a long-running order is still asked about every 30 minutes
FULL_REFUND = frozenset({OrderStatus.CANCELED, OrderStatus.REFUNDED, OrderStatus.FAILED})


def next_poll_delay(age_seconds: float, interval: float) -> float:
    """New orders every `interval`; older ones back off gradually (a tenth of their age), up to
    MAX_POLL_DELAY."""
    return min(MAX_POLL_DELAY, max(interval, age_seconds / 10))


def retry_delay(failures: int, interval: float) -> float:
    """After the panel failed to answer `failures` times in a row."""
    return min(MAX_POLL_DELAY, interval * 2 ** min(failures, 10))


def refund_micros(status: OrderStatus, price_micros: int, quantity: int | None, remains: int | None) -> int:
    """Canceled, refunded or failed: everything back. Partial: price × remains / quantity, rounded
    down to the micro-unit so a refund never exceeds what was charged."""
    if status in FULL_REFUND:
        return price_micros
    if status is not OrderStatus.PARTIAL or not quantity or remains is None:
        return 0
    undelivered = min(max(remains, 0), quantity)
    return int((Decimal(price_micros) * undelivered / quantity).to_integral_value(rounding=ROUND_DOWN))
