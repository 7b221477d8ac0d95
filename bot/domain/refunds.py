"""How much of an order's price goes back to the customer, by one rule for every order type.

The customer is owed the *undelivered share of what they paid*:

    price × undelivered units / units paid for        (rounded down to the price step)

where the units paid for are what the price was computed from (pricing.order_cost): quantity for
most types, quantity × runs for drip-feed, max × posts for a subscription. A package has a flat
price: its undelivered share cannot be read from `remains`, so a Partial package is *held* for an
admin to decide, as is a Partial whose `remains` is missing or impossible.

A status is a *target* (what should have gone back in total), never an amount to add: a later
status settles only the difference with what was refunded before, and nothing ever brings the
total above the price. A target below what was already refunded takes nothing back (the admins
are told, see `Settlement.overpaid`).

The price step (`quantum`, in micro-units) is the shop's price decimals (money.quantum_micros):
prices are quoted in whole cents, so a share rounded down to a cent keeps refunds in cents too
(balances stay in cents as long as credits are: an admin may still credit any amount, and orders
priced before PRICE_DECIMALS may be finer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from bot import texts
from bot.domain.catalogue import is_package
from bot.panel import OrderStatus, ServiceType
from bot.texts import Formatted

FULL_REFUND = frozenset({OrderStatus.CANCELED, OrderStatus.REFUNDED, OrderStatus.FAILED})
NOTHING_DUE = frozenset({OrderStatus.COMPLETED, OrderStatus.EXPIRED})


@dataclass(frozen=True)
class Held:
    """The share cannot be known: the money stays with the shop until an admin decides.
    `reason` is a text (bot/texts.py HOLD_*), shown to each admin in their language."""

    reason: Formatted


RefundTarget = int | Held | None  # micro-units due back in total; None: this status says nothing about it


def billed_units(service_type: str, quantity: int | None, request: Mapping[str, str]) -> int | None:
    """The units the price paid for (see pricing.order_cost); None for a flat price."""
    kind = ServiceType.parse(service_type)
    if is_package(kind) or not quantity or quantity < 0:
        return None
    multiplier = request.get("posts") if kind is ServiceType.SUBSCRIPTIONS else request.get("runs")
    if multiplier is None:
        return quantity
    if not multiplier.isascii() or not multiplier.isdigit() or int(multiplier) < 1:
        return None  # what we sent is not a count: nothing can be derived from it
    return quantity * int(multiplier)


def refund_target(status: OrderStatus, price_micros: int, units: int | None, remains: int | None,
                  quantum: int = 1) -> RefundTarget:
    """What the customer should have got back in total once the panel says `status`."""
    if status in FULL_REFUND:
        return price_micros
    if status in NOTHING_DUE:
        return 0
    if status is not OrderStatus.PARTIAL:
        return None
    if units is None:
        return Held(texts.HOLD_PER_PACKAGE.lazy())
    if remains is None:
        return Held(texts.HOLD_NO_REMAINS.lazy())
    if not 0 < remains <= units:
        return Held(texts.HOLD_IMPOSSIBLE.lazy(remains=remains, units=units))
    share = int((Decimal(price_micros) * remains / units).to_integral_value(rounding=ROUND_DOWN))
    return share - share % quantum


@dataclass(frozen=True)
class Settlement:
    pay: int = 0  # to refund now, in micro-units
    held: Held | None = None  # the share cannot be known: an admin decides
    overpaid: int = 0  # refunded before beyond this status's target (never taken back)


def settle(target: RefundTarget, refunded_micros: int) -> Settlement:
    """What to do now, given what was refunded before: the difference to the target (which
    refund_target keeps within the price), never anything taken back."""
    if isinstance(target, Held):
        return Settlement(held=target)
    if target is None:
        return Settlement()
    if target >= refunded_micros:
        return Settlement(pay=target - refunded_micros)
    return Settlement(overpaid=refunded_micros - target)


def refundable(price_micros: int, refunded_micros: int) -> int:
    """What can still be refunded by hand."""
    return max(0, price_micros - refunded_micros)
