"""Top-up rules: converting wallet money to Telegram Stars, the allowed amounts, invoice payloads
and what a pre-checkout may accept."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum

MAX_STARS = 10_000  # Stars in one invoice: Telegram refuses larger invoices
INVOICE_VALID_HOURS = 24  # an unpaid invoice is refused at checkout after this; the customer asks anew
MAX_PENDING_MANUAL = 3  # manual requests waiting for an admin, per customer
CENT = Decimal("0.01")
_PAYLOAD = re.compile(r"^topup:(\d{1,18})$")


def stars_for(amount: Decimal, stars_per_unit: Decimal) -> int:
    """Stars to pay for `amount` of wallet money, rounded up to a whole Star (never below the
    price: the shop does not give money away to rounding)."""
    return math.ceil(amount * stars_per_unit)


@dataclass(frozen=True)
class AmountRange:
    low: Decimal
    high: Decimal


def stars_range(stars_per_unit: Decimal) -> AmountRange:
    """Wallet amounts a Stars top-up may have: from one Star's worth (at least a cent) to
    MAX_STARS' worth, in cents."""
    low = max(CENT, (Decimal(1) / stars_per_unit).quantize(CENT, rounding=ROUND_CEILING))
    high = (Decimal(MAX_STARS) / stars_per_unit).quantize(CENT, rounding=ROUND_FLOOR)
    return AmountRange(low, high)


def topup_amount_problem(amount: Decimal, allowed: AmountRange | None = None) -> str | None:
    """Why `amount` cannot be topped up ("cents", "range"), or None when it can."""
    if amount != amount.quantize(CENT):
        return "cents"
    if allowed is not None and not allowed.low <= amount <= allowed.high:
        return "range"
    return None


def payload_for(topup_id: int) -> str:
    return f"topup:{topup_id}"


def topup_id_of(payload: str) -> int | None:
    match = _PAYLOAD.match(payload or "")
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Checkout:
    """What a pre-checkout query says, and what we know of the top-up it names."""

    payer_id: int
    currency: str
    total_stars: int
    topup_user_id: int | None  # None: no such top-up
    topup_method: str = ""
    topup_state: str = ""
    topup_stars: int | None = None
    topup_amount: Decimal = Decimal(0)
    age_hours: float = 0.0


class CheckoutProblem(StrEnum):
    """Why a checkout is refused (texts.CHECKOUT_REFUSED words each for the payer)."""
    DISABLED = "disabled"  # no Stars top-ups now
    UNKNOWN = "unknown"  # not a top-up of this payer
    PAID = "paid"
    EXPIRED = "expired"
    CHANGED = "changed"  # amount or price differs from the invoice
    BANNED = "banned"
    PRIVATE = "private"  # a private bot, and the payer is not allowed in
    ERROR = "error"  # the check itself failed


def checkout_problem(checkout: Checkout, stars_per_unit: Decimal | None) -> CheckoutProblem | None:
    """Why a checkout must be refused, or None to accept it."""
    if stars_per_unit is None:
        return CheckoutProblem.DISABLED
    if checkout.topup_user_id is None or checkout.topup_user_id != checkout.payer_id \
            or checkout.topup_method != "stars":
        return CheckoutProblem.UNKNOWN
    if checkout.topup_state != "pending":
        return CheckoutProblem.PAID
    if checkout.age_hours > INVOICE_VALID_HOURS:
        return CheckoutProblem.EXPIRED
    if checkout.currency != "XTR" or checkout.total_stars != checkout.topup_stars \
            or stars_for(checkout.topup_amount, stars_per_unit) != checkout.topup_stars:
        return CheckoutProblem.CHANGED
    return None


def credit_for(paid_stars: int, invoice_stars: int | None, invoice_amount: Decimal | None,
               stars_per_unit: Decimal | None) -> Decimal:
    """What a confirmed payment credits. The invoice's amount when the Stars match it (the normal
    case); otherwise (an invoice we cannot find, or a different total) the Stars at the invoice's
    own rate, else at today's, rounded down to a cent; zero if there is no rate at all."""
    if invoice_amount is not None and invoice_stars and paid_stars == invoice_stars:
        return invoice_amount
    if invoice_amount is not None and invoice_stars:
        rate_amount = invoice_amount * paid_stars / invoice_stars
    elif stars_per_unit:
        rate_amount = Decimal(paid_stars) / stars_per_unit
    else:
        return Decimal(0)
    return rate_amount.quantize(CENT, rounding=ROUND_FLOOR)
