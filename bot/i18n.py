"""The reader's language: which catalog a text is looked up in when it is rendered.

Texts (bot/texts.py) are looked up when they are rendered, not when they are defined: each
update is handled `reading(its user's language)`, the notifier renders each queued message for
its recipient, alerts for each admin. The language is the user's stored choice, else Telegram's
`language_code` (a regional variant falls back to the language: `pt-br` → pt_BR, `uz` → uz_Latn,
`es-419` → es), else English, the source language.

Catalogs are gettext .po files under bot/locales/<locale>/LC_MESSAGES/messages.po, read with
Babel at start-up (no compiled .mo to keep in step); `python -m bot.catalogs` extracts, updates
and checks them. A locale is offered once its catalog exists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from decimal import Decimal, InvalidOperation
from functools import cache
from gettext import c2py
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import NumberFormatError, format_decimal, parse_decimal

SOURCE = "en"
LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
# Telegram's language codes that do not name our locale by their language part alone.
_ALIASES = {"uz": "uz_Latn", "pt": "pt_BR"}

_reader: ContextVar[str] = ContextVar("reader_locale", default=SOURCE)


@cache
def available() -> tuple[str, ...]:
    """The source language, then every locale with a catalog, in a stable order."""
    found = sorted(p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE, *(code for code in found if code != SOURCE))


def native_name(locale: str) -> str:
    """A language by its own name, as a chooser shows it: "Русский", "Türkçe"."""
    name = Locale.parse(locale).get_display_name(locale) or locale
    return name[:1].upper() + name[1:]


def resolve(choice: str | None, telegram_code: str | None) -> str:
    """The reader's locale: their stored choice, else Telegram's code, else the source language."""
    offered = available()
    if choice in offered:
        return choice  # type: ignore[return-value]
    if telegram_code:
        wanted = telegram_code.strip().replace("-", "_").lower()
        by_lower = {code.lower(): code for code in offered}
        if wanted in by_lower:
            return by_lower[wanted]
        language = wanted.split("_")[0]
        for candidate in (_ALIASES.get(language), language):
            if candidate and candidate.lower() in by_lower:
                return by_lower[candidate.lower()]
    return SOURCE


def telegram_code(locale: str) -> str:
    """The language code Telegram gives users of `locale` (its language part: pt_BR → pt)."""
    return locale.split("_")[0].lower()


def current() -> str:
    """The locale texts are rendered in now."""
    return _reader.get()


@contextlib.contextmanager
def reading(locale: str) -> Iterator[None]:
    """Render texts in `locale` within the block (an update's handling, one queued message)."""
    token = _reader.set(locale)
    try:
        yield
    finally:
        _reader.reset(token)


@cache
def catalog(locale: str) -> Catalog | None:
    """The locale's catalog (None for the source language, or a locale without one)."""
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == SOURCE or not path.exists():
        return None
    with path.open("rb") as po:
        return read_po(po, locale=locale)


def gettext(msgid: str, context: str | None = None) -> str:
    found = _entry(msgid, context)
    return found if isinstance(found, str) and found else msgid


def ngettext(singular: str, plural: str, count: int, context: str | None = None) -> str:
    """The form of the reader's language for `count` (Russian has three: 1, 2–4, 5+)."""
    locale = current()
    found = _entry(singular, context)
    if isinstance(found, tuple | list) and all(found):
        index = _plural_index(locale, count)
        if index < len(found):
            return str(found[index])
    return singular if count == 1 else plural


def _entry(msgid: str, context: str | None) -> str | tuple[str, ...] | None:
    found = catalog(current())
    if found is None:
        return None
    message = found.get(msgid, context=context)
    if message is None or message.fuzzy:
        return None
    return message.string  # type: ignore[no-any-return]


@cache
def _plural(locale: str) -> Callable[[int], int]:
    """The catalog's Plural-Forms expression (Babel writes the CLDR rule there) as a function."""
    found = catalog(locale)
    return c2py(found.plural_expr if found is not None else "(n != 1)")


def _plural_index(locale: str, count: int) -> int:
    return _plural(locale)(abs(count))



# --------------------------------------------------------------------------- numbers as the reader writes them

RIGHT_TO_LEFT = frozenset({"ar", "fa"})
_AMOUNT = "#,##0.00####"  # at least the cents, every micro-unit there is


def format_amount(amount: Decimal) -> str:
    """An amount as the reader writes it: 1,234.50 (en), 1 234,50 (ru), 1.234,50 (tr)."""
    return format_decimal(amount, format=_AMOUNT, locale=current())


def format_count(number: int) -> str:
    """A count as the reader writes it: 10,000 (en), 10 000 (ru), 10.000 (tr)."""
    return format_decimal(number, locale=current())


def parse_number(text: str) -> Decimal | None:
    """A number typed the reader's way (12,50 in Turkish, 12.50 in English), or None."""
    try:
        return parse_decimal(text.strip(), locale=current(), strict=True)
    except (NumberFormatError, InvalidOperation, ValueError):
        return None


# The digits of Arabic and Persian keyboards as 0–9; direction marks (isolates, LRM/RLM, ALM)
# copied with a value from a right-to-left message, gone.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789",
                        "\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def latin_digits(text: str) -> str:
    """What a customer typed, as the parsers read it: 0–9 digits, no direction marks."""
    return text.translate(_DIGITS)


def isolated(value: str) -> str:
    """A value embedded in right-to-left text, kept in its own direction (a Latin name, a link,
    a number): Unicode's first-strong isolate around it. Left as it is in left-to-right text."""
    return f"\u2068{value}\u2069" if current() in RIGHT_TO_LEFT and value else value

