"""Prices: the shop's rate × units / 1000, rounded up to the shop's price decimals.

The shop's rate is the panel's rate × (1 + markup %), per 1000 (per package for package types),
rounded up to the price decimals or to three significant digits where those are finer (a views
service may cost 0.0025 per 1000): 0.90, 1.02 and 0.787 rather than 1.0125 or 0.786713. The units
are what the panel delivers: the quantity, × runs for drip-feed, × posts for a subscription.
The cost is what the panel charges the operator (its own rate, exact to the micro-unit); the
price is what the customer pays, never below cost × markup. The arithmetic a customer is shown
(`Breakdown`) is made of these same numbers, so it is exactly what they are charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from bot.domain.catalogue import is_package
from bot.domain.money import round_price, round_up
from bot.panel import Service, ServiceType


def with_markup(amount: Decimal, markup_percent: Decimal) -> Decimal:
    return amount * (1 + markup_percent / 100)


RATE_DIGITS = 3  # significant digits of a rate finer than the price decimals


def price_per_1000(service: Service, markup_percent: Decimal, decimals: int) -> Decimal:
    """The shop's rate a customer sees: per 1000, or per package for package types."""
    rate = round_up(with_markup(service.rate, markup_percent))
    if rate <= 0:
        return rate
    places = min(6, max(decimals, RATE_DIGITS - 1 - rate.adjusted()))
    return rate.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING)


@dataclass(frozen=True)
class Breakdown:
    """How a price is made, for the summary: `quantity` (× `times` runs or posts) = `units`,
    × `rate` / 1000 = `exact`, rounded up to `price`."""

    quantity: int
    times: int | None  # runs (drip-feed) or posts (subscription); None: once
    units: int
    rate: Decimal
    exact: Decimal
    price: Decimal
    package: bool = False
    per_post: bool = False  # `times` counts posts (a subscription), not runs


def breakdown(service: Service, markup_percent: Decimal, decimals: int, *, quantity: int,
              runs: int | None = None, posts: int | None = None) -> Breakdown:
    rate = price_per_1000(service, markup_percent, decimals)
    if is_package(service.type):
        return Breakdown(1, None, 1, rate, rate, round_price(rate, decimals), package=True)
    times = posts or 1 if service.type is ServiceType.SUBSCRIPTIONS else runs or None
    units = quantity * (times or 1)
    exact = rate * units / 1000
    return Breakdown(quantity, times, units, rate, exact, round_price(exact, decimals),
                     per_post=service.type is ServiceType.SUBSCRIPTIONS)


def order_cost(service: Service, *, quantity: int | None, runs: int | None = None,
               posts: int | None = None) -> Decimal:
    """The panel's charge for an order, to the micro-unit (rounded up)."""
    if is_package(service.type):
        return round_up(service.rate)
    units = Decimal(quantity or 0)
    if service.type is ServiceType.SUBSCRIPTIONS:
        units *= posts or 1  # `quantity` is the max per post
    elif runs:
        units *= runs
    return round_up(service.rate * units / 1000)
