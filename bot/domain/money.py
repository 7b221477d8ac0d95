"""Exact money: Decimal in the code, integer micro-units (10^-6) in the database.

Costs (what the panel charges) are exact to the micro-unit, rounded up. Customer prices are
rounded UP to the shop's price decimals (PRICE_DECIMALS, default 2: whole cents) when they are
quoted, so a rate like 0.01 per 1000 still costs something for a single unit, the shop never
sells below its computed price, and the amount shown is exactly the amount charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from bot import i18n

MICROS = 1_000_000
QUANTUM = Decimal(1) / MICROS


def round_up(amount: Decimal) -> Decimal:
    return amount.quantize(QUANTUM, rounding=ROUND_CEILING)


def price_quantum(decimals: int) -> Decimal:
    """The smallest step of a customer price: 0.01 for 2 decimals."""
    return Decimal(1).scaleb(-decimals)


def round_price(amount: Decimal, decimals: int) -> Decimal:
    """A customer price, rounded up to `decimals` (never below the computed price)."""
    return amount.quantize(price_quantum(decimals), rounding=ROUND_CEILING).quantize(QUANTUM)


def quantum_micros(decimals: int) -> int:
    """`price_quantum` in micro-units (10_000 for 2 decimals)."""
    return 10 ** (6 - decimals)


def to_micros(amount: Decimal) -> int:
    """Exact conversion; an amount finer than a micro-unit is a programming error."""
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise ValueError(f"{amount} is finer than a micro-unit; round it first")
    return int(micros)


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) / MICROS).quantize(QUANTUM)


@dataclass(frozen=True)
class Money:
    """An amount of a currency that is written out when it is shown, in the reader's way (a
    parameter of a queued message is one: bot/texts.py `Formatted`)."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


@dataclass(frozen=True)
class Count:
    """A count written out when it is shown, in the reader's way (10 000 in Russian)."""

    number: int

    def __str__(self) -> str:
        return i18n.format_count(self.number)


def format_money(amount: Decimal, currency: str = "") -> str:
    """1.5 → "1.50", 0.000012 → "0.000012", 1000 → "1,000.00" (+ currency), written as the
    reader writes numbers (bot/i18n.py: "1 000,00" in Russian): the amount, then the ISO code."""
    return f"{i18n.format_amount(amount)} {currency}".strip()


def parse_amount(text: str) -> Decimal | None:
    """A positive amount typed by a person, at most 6 decimals: as the reader writes numbers
    ("1.234,50" in Turkish, "1,234.50" in English), else with either mark as the decimal point
    ("12", "12.5", "12,50")."""
    text = i18n.latin_digits(text)
    amount = i18n.parse_number(text)
    if amount is None:
        cleaned = text.strip().replace(" ", "").replace(",", ".")
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            return None
    if not amount.is_finite() or amount <= 0 or amount != round_up(amount) or amount > Decimal(10) ** 9:
        return None
    return amount


def parse_percent(text: str) -> Decimal | None:
    """A markup typed by a person ("25", "12.5", "12,5%"): 0–10000, at most 6 decimals."""
    cleaned = text.strip().removesuffix("%").strip().replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value > 10000 or value != round_up(value):
        return None
    return Decimal(int(value)) if value == value.to_integral_value() else value.normalize()  # 100, not 1E+2


def source_money(amount: Decimal, currency: str) -> str:
    """An amount as the records keep it (the audit log): in the source language, whoever acted."""
    with i18n.reading(i18n.SOURCE):
        return format_money(amount, currency)

