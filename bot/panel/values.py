"""Tolerant readers for the scalar values panels send in many spellings.

Money arrives as "0.73", 0.73 (already a Decimal: we decode JSON floats as Decimal) or 1;
flags as true/false, 1/0, "1"/"0"; counts as "100", 100 or "Unknown". Each reader either
returns a normalised value or raises ValueError, which pydantic turns into a validation error.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

_TRUE = {"1", "true", "yes", "on", "enabled"}
_FALSE = {"0", "false", "no", "off", "disabled", "", "null", "none"}


def to_decimal(value: Any) -> Decimal:
    """Exact money: never goes through float."""
    if isinstance(value, bool):
        raise ValueError("a flag is not an amount")
    if type(value) is str:  # the common case, first: "0.27819"
        try:
            return _finite(Decimal(value), value)
        except InvalidOperation:
            pass
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(" ", ""))
        except InvalidOperation:
            raise ValueError(f"not an amount: {value!r}") from None
    else:
        raise ValueError(f"not an amount: {value!r}")
    return _finite(result, value)


def _finite(result: Decimal, value: Any) -> Decimal:
    if not result.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return result


def to_optional_decimal(value: Any) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_decimal(value)


def to_int(value: Any) -> int:
    """Counts and bounds: "100", 100, "100.0" → 100; anything fractional is refused."""
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit():  # the common case, first
        return int(value)
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


def to_optional_int(value: Any) -> int | None:
    """Like to_int, but "Unknown", "", "-" and null mean "the panel does not say"."""
    if value is None:
        return None
    if type(value) is str and value.isascii() and value.isdigit():  # the common case, first
        return int(value)
    if isinstance(value, str) and (not value.strip() or not re.search(r"\d", value)):
        return None
    try:
        return to_int(value)
    except ValueError:
        return None


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
    raise ValueError(f"not a flag: {value!r}")


def to_id(value: Any) -> str:
    """Ids are opaque strings: 23501, "23501" and "ab-12" are all fine; 12.0 is "12"."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not an id: {value!r}")
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    text = str(value).strip()
    if not text:
        raise ValueError("empty id")
    return text


def to_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def normalise_word(value: str) -> str:
    """"In_Progress ", "in-progress", "IN PROGRESS" → "in progress"."""
    return " ".join(re.split(r"[\s_\-]+", value.strip().lower())).strip()
