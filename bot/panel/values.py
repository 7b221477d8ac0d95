"""Tolerant, bounded readers for the scalar values panels send in many spellings.

Money arrives as "0.73", 0.73 (already a Decimal: we decode JSON floats as Decimal), 1 or
"1,650.00000" (a reseller script's thousands separator); flags as true/false, 1/0, "1"/"0";
counts as "100", 100 or "Unknown". Each reader either returns a normalised value or raises
ValueError, which pydantic turns into a validation error (an unreadable answer for that one item).

Every reader is bounded *before* it converts: a count outside ±COUNT_LIMIT, an amount outside
±AMOUNT_LIMIT or with absurd precision, a number written in more than NUMBER_TEXT_LIMIT
characters, an id that could not be sent back to the panel. "1e1000000" is refused from its
exponent, not after a 20-second conversion; 2^63 never reaches the database.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_TRUE = {"1", "true", "yes", "on", "enabled"}
_FALSE = {"0", "false", "no", "off", "disabled", "", "null", "none"}

COUNT_LIMIT = 10**15  # quantities, remains, start counts: far above any real order, far below 2^63
AMOUNT_LIMIT = Decimal(10) ** 12  # rates, charges, balances
AMOUNT_DIGITS = 40  # significant digits of an amount
NUMBER_TEXT_LIMIT = 64  # characters of a number written as text
TEXT_LIMIT = 2000  # names, descriptions, messages: longer is cut
ID_LIMIT = 64
# An id is sent back to the panel inside a comma-separated list: no commas, spaces or controls.
_ID = re.compile(rf"^[^\s,\x00-\x1f\x7f\ud800-\udfff]{{1,{ID_LIMIT}}}$")


# "1,650.00000": comma groups of three before a decimal point. Without the point ("1,500") it
# could be a decimal comma, so that stays unreadable rather than guessed.
_GROUPED = re.compile(r"^[+-]?[1-9][0-9]{0,2}(,[0-9]{3})+\.[0-9]+$")


def _ungrouped(text: str) -> str:
    """"1 000" → "1000", "1,650.00000" → "1650.00000"; anything else as it was (stripped)."""
    text = text.strip().replace(" ", "")
    if len(text) <= NUMBER_TEXT_LIMIT and _GROUPED.match(text):
        return text.replace(",", "")
    return text


def _number(text: str) -> Decimal:
    if len(text) > NUMBER_TEXT_LIMIT:
        raise ValueError("a number too long to be real")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text[:NUMBER_TEXT_LIMIT]!r}") from None


def _bounded(number: Decimal, limit: Decimal) -> Decimal:
    """Finite, of sane size and precision; checked on the exponent, so nothing slow is done first."""
    if not number.is_finite():
        raise ValueError("not a finite amount")
    if number and (number.adjusted() > limit.adjusted() or len(number.as_tuple().digits) > AMOUNT_DIGITS):
        raise ValueError("an amount out of range")
    if abs(number) > limit:
        raise ValueError("an amount out of range")
    return number


def _as_decimal(value: Any, limit: Decimal) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("a flag is not an amount")
    if type(value) is str:  # the common case, first: "0.27819"
        try:
            return _bounded(_number(value), limit)
        except ValueError:
            return _bounded(_number(_ungrouped(value)), limit)
    if isinstance(value, Decimal):
        return _bounded(value, limit)
    if isinstance(value, int):
        if abs(value) > limit:
            raise ValueError("an amount out of range")
        return Decimal(value)
    raise ValueError(f"not an amount: {type(value).__name__}")


def to_decimal(value: Any) -> Decimal:
    """Exact money: never goes through float."""
    return _as_decimal(value, AMOUNT_LIMIT)


def to_optional_decimal(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_decimal(value)


def to_int(value: Any) -> int:
    """Counts and bounds: "100", 100, "100.0" → 100; fractional or beyond ±COUNT_LIMIT is refused."""
    if type(value) is int:
        number = value
    elif type(value) is str and value.isascii() and value.isdigit() and len(value) <= 16:  # the common case
        number = int(value)
    else:
        exact = _as_decimal(value, Decimal(COUNT_LIMIT))
        if exact != exact.to_integral_value():
            raise ValueError("not a whole number")
        number = int(exact)
    if not -COUNT_LIMIT <= number <= COUNT_LIMIT:
        raise ValueError("a count out of range")
    return number


def to_optional_int(value: Any) -> int | None:
    """Like to_int, but "Unknown", "", "-" and null mean "the panel does not say" (None).
    A number that is there but unreadable or out of range is an error, not "unknown"."""
    if value is None:
        return None
    if isinstance(value, str) and (not value.strip() or not re.search(r"\d", value)):
        return None
    return to_int(value)


def to_flag(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError("not a flag")


def to_id(value: Any) -> str:
    """Ids are opaque strings: 23501, "23501" and "ab-12" are all fine; 12.0 is "12". No id has
    a comma, a space or a control character, or more than ID_LIMIT characters (it is sent back
    in comma-separated lists), and none is a negative number."""
    if isinstance(value, bool) or value is None:
        raise ValueError("not an id")
    if isinstance(value, Decimal):
        if not value.is_finite() or value.adjusted() >= ID_LIMIT or value != value.to_integral_value():
            raise ValueError("not an id")
        value = int(value)
    if isinstance(value, int):
        if value < 0 or value >= 10**ID_LIMIT:
            raise ValueError("not an id")
        return str(value)
    if not isinstance(value, str):
        raise ValueError("not an id")
    text = value.strip()
    if not _ID.match(text):
        raise ValueError("not an id")
    if text.startswith("-") and text[1:].isdigit():
        raise ValueError("not an id")
    return text


def is_id(value: str) -> bool:
    """Whether `value` can be used as a panel id (the same rule the parsers apply)."""
    try:
        return to_id(value) == value
    except ValueError:
        return False


def to_text(value: Any) -> str:
    """A panel's words, bounded: scalars as text, anything else refused."""
    if value is None:
        return ""
    if isinstance(value, bool | int | Decimal):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("not a text")
    text = value.strip()[:TEXT_LIMIT]
    if not text.isascii():  # "\ud800" is valid JSON but no UTF-8: it could be neither stored nor sent
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


_CURRENCY = re.compile(r"^[^\s<>&\"'\x00-\x1f\x7f\ud800-\udfff]{1,10}$")


def to_currency(value: Any) -> str | None:
    """"USD", "usd", "₽": a short code or sign; anything else means "the panel does not say"."""
    if not isinstance(value, str) or not _CURRENCY.match(value.strip()):
        return None
    return value.strip()


def to_note(value: Any) -> str:
    """Like to_text, for what is only shown (a description, an average time): what is not a text
    is left out rather than making the whole entry unreadable."""
    try:
        return to_text(value)
    except ValueError:
        return ""


def normalise_word(value: str) -> str:
    """"In_Progress ", "in-progress", "IN PROGRESS" → "in progress"."""
    return " ".join(re.split(r"[\s_\-]+", value.strip().lower())).strip()
