"""Prices: rate × quantity / 1000 (× runs for drip-feed; flat for packages) × (1 + markup %).

The cost is what the panel charges the operator; the price is what the customer pays. Both
are rounded up to the micro-unit (see money.py), never down.
"""

from __future__ import annotations

from decimal import Decimal

from bot.domain.catalogue import is_package
from bot.domain.money import round_up
from bot.panel import Service, ServiceType


def with_markup(amount: Decimal, markup_percent: Decimal) -> Decimal:
    return amount * (1 + markup_percent / 100)


def price_per_1000(service: Service, markup_percent: Decimal) -> Decimal:
    """What a customer sees as the rate: per 1000, or per package for package types."""
    return round_up(with_markup(service.rate, markup_percent))


def order_cost(service: Service, *, quantity: int | None, runs: int | None = None,
               posts: int | None = None) -> Decimal:
    """The panel's charge for an order, exact (before rounding)."""
    if is_package(service.type):
        return service.rate
    units = Decimal(quantity or 0)
    if service.type is ServiceType.SUBSCRIPTIONS:
        units *= posts or 1  # `quantity` is the max per post
    elif runs:
        units *= runs
    return service.rate * units / 1000


def order_price(cost: Decimal, markup_percent: Decimal) -> Decimal:
    return round_up(with_markup(cost, markup_percent))
