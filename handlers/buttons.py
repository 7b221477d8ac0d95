"""Callback data as typed values: one dataclass per kind of button, one codec for all of them.

Each kind declares its `layout`, the text Telegram carries (at most 64 bytes), with its fields in
braces and optional trailing parts in brackets:

    @button
    class OrderCard(Button):
        layout = "ord:{order_id}[:{action}]"
        order_id: int
        action: CardAction | None = None

`OrderCard(5, CardAction.REFRESH).data` is "ord:5:r"; `OrderCard.parse("ord:5:r")` gives the
value back and `parse` of anything else (another kind, a forged field, a number too long) gives
None. A field's type says what it accepts: `int` (up to 18 ASCII digits), `Page` (up to 5), `str`
(1–40 characters, no colon), `Decimal` (a plain amount) or a `StrEnum` (one of its values). Encoding checks the result
decodes to the same value, so no button can carry data its own handler would refuse.

Buttons that belong to one dialogue carry its `nonce` field (see handlers/dialogues.py): a button
of an older dialogue is recognised as such and answered "this menu has expired".
"""

from __future__ import annotations

import dataclasses
import re
import typing
from decimal import Decimal
from enum import StrEnum
from types import NoneType, UnionType
from typing import Any, ClassVar, Self, TypeVar

DATA_LIMIT = 64  # bytes: Telegram's limit for callback data

_FIELD = re.compile(r"\{(\w+)\}")
B = TypeVar("B", bound="Button")


class Page(int):
    """A page number (at most 5 digits: no list has 100,000 pages)."""


_PATTERNS: dict[type, str] = {int: "[0-9]{1,18}", Page: "[0-9]{1,5}", str: "[^:]{1,40}",
                              Decimal: r"[0-9]{1,12}(?:\.[0-9]{1,6})?"}


class Button:
    """The base of every kind (subclasses are frozen dataclasses decorated with `@button`)."""

    layout: ClassVar[str]
    _regex: ClassVar[re.Pattern[str]]
    _types: ClassVar[dict[str, type]]

    @property
    def data(self) -> str:
        """The callback data; ValueError if it would not decode to this value or is too long."""
        text = self.unchecked_data()
        if len(text.encode()) > DATA_LIMIT or type(self).parse(text) != self:
            raise ValueError(f"{type(self).__name__} cannot carry {text!r}")
        return text

    def unchecked_data(self) -> str:
        """The layout filled in (an optional part only when all its fields are set)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

        def optional(match: re.Match[str]) -> str:
            names = _FIELD.findall(match.group(1))
            return _fill(match.group(1), values) if all(values[n] is not None for n in names) else ""
        return _fill(re.sub(r"\[([^\]]*)\]", optional, self.layout), values)

    @classmethod
    def parse(cls, data: object) -> Self | None:
        """The button `data` encodes, or None when it is not a valid button of this kind."""
        if not isinstance(data, str) or len(data) > DATA_LIMIT:
            return None
        match = cls._regex.fullmatch(data)
        if match is None:
            return None
        fields = {}
        for name, text in match.groupdict().items():
            fields[name] = None if text is None else cls._types[name](text)
        return cls(**fields)


def _fill(template: str, values: dict[str, Any]) -> str:
    return _FIELD.sub(lambda m: str(values[m.group(1)].value if isinstance(values[m.group(1)], StrEnum)
                                    else _plain(values[m.group(1)])), template)


def _plain(value: object) -> str:
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def button(cls: type[B]) -> type[B]:
    """Make `cls` a frozen dataclass and compile its layout against its fields' types."""
    kind = dataclasses.dataclass(frozen=True)(cls)
    hints = typing.get_type_hints(kind)
    types: dict[str, type] = {}
    for field in dataclasses.fields(kind):  # type: ignore[arg-type]
        declared = hints[field.name]
        if isinstance(declared, UnionType):  # X | None
            declared = next(t for t in typing.get_args(declared) if t is not NoneType)
        types[field.name] = declared

    def pattern(name: str) -> str:
        declared = types[name]
        if isinstance(declared, type) and issubclass(declared, StrEnum):
            inner = "|".join(re.escape(member.value) for member in declared)
        else:
            inner = _PATTERNS[declared]
        return f"(?P<{name}>{inner})"

    regex = ""
    for literal, optional in re.findall(r"([^\[]*)(?:\[([^\]]*)\])?", kind.layout):
        regex += _compile(literal, pattern)
        if optional:
            regex += f"(?:{_compile(optional, pattern)})?"
    missing = set(types) - set(_FIELD.findall(kind.layout))
    if missing:
        raise TypeError(f"{kind.__name__}: fields {sorted(missing)} are not in its layout")
    kind._regex = re.compile(regex)
    kind._types = types
    _KINDS.setdefault(kind.layout.split(":", 1)[0], []).append(kind)
    return kind


_KINDS: dict[str, list[type[Button]]] = {}  # by the layout's first part


def parse_any(data: object) -> Button | None:
    """The button of whichever kind `data` encodes (None: no kind does)."""
    if not isinstance(data, str):
        return None
    for kind in _KINDS.get(data.split(":", 1)[0], ()):
        if (pressed := kind.parse(data)) is not None:
            return pressed
    return None


def _compile(template: str, pattern: typing.Callable[[str], str]) -> str:
    parts = _FIELD.split(template)  # literal, name, literal, name, …
    return "".join(pattern(part) if i % 2 else re.escape(part) for i, part in enumerate(parts))


# --------------------------------------------------------------------------- every dialogue

@button
class Cancel(Button):
    """The one Cancel button: ends the dialogue whose nonce it carries."""
    layout = "x:{nonce}"
    nonce: str


@button
class Resume(Button):
    """Continue the dialogue whose nonce it carries (offered under a side command's answer)."""
    layout = "r:{nonce}"
    nonce: str


# --------------------------------------------------------------------------- the main menu

class MenuItem(StrEnum):
    HOME = "home"
    NEW_ORDER = "new"
    BALANCE = "bal"
    TOP_UP = "top"
    HELP = "help"
    PAYSUPPORT = "sup"


@button
class Menu(Button):
    layout = "m:{item}"
    item: MenuItem


@button
class Languages(Button):
    """The language chooser."""
    layout = "langs"


@button
class Language(Button):
    """One locale chosen in the language chooser."""
    layout = "lang:{locale}"
    locale: str


@button
class MyOrders(Button):
    layout = "m:orders:{page}"
    page: Page


# --------------------------------------------------------------------------- ordering (a dialogue)

@button
class Categories(Button):
    layout = "o:{nonce}:cats:{page}"
    nonce: str
    page: Page


@button
class CategoryPage(Button):
    layout = "o:{nonce}:cat:{key}:{page}"
    nonce: str
    key: str
    page: Page


@button
class SearchPage(Button):
    layout = "o:{nonce}:find:{page}"
    nonce: str
    page: Page


@button
class ServicePick(Button):
    layout = "o:{nonce}:svc:{service_id}"
    nonce: str
    service_id: str


@button
class OrderThis(Button):
    layout = "o:{nonce}:go"
    nonce: str


@button
class SkipField(Button):
    layout = "o:{nonce}:skip:{position}"
    nonce: str
    position: int


@button
class PickChoice(Button):
    """One of the values a question offers (a quantity, a delay); `position` names the question,
    so a button of an earlier question answers nothing else (buttons sent before it had none)."""
    layout = "o:{nonce}:pick:{value}[:{position}]"
    nonce: str
    value: int
    position: int | None = None


class OrderOption(StrEnum):
    DRIP_FEED = "drip"


@button
class ChooseOption(Button):
    """An option offered on the summary (drip-feed): its questions, then the summary again."""
    layout = "o:{nonce}:opt:{option}"
    nonce: str
    option: OrderOption


@button
class PayAndOrder(Button):
    """On a summary the wallet cannot pay: a Stars invoice for what is missing; the order stays
    ready and its summary comes back once the payment is in."""
    layout = "o:{nonce}:pay"
    nonce: str


@button
class Confirm(Button):
    layout = "o:{nonce}:ok"
    nonce: str


# --------------------------------------------------------------------------- an order's card

class CardAction(StrEnum):
    REFRESH = "r"
    REFILL = "f"
    CANCEL = "c"
    CANCEL_YES = "cy"
    NOTICE = "n"  # a notice's Open order: the card comes as a new message, so the notice keeps its facts


@button
class OrderCard(Button):
    layout = "ord:{order_id}[:{action}]"
    order_id: int
    action: CardAction | None = None


# --------------------------------------------------------------------------- top-ups

class TopupItem(StrEnum):
    MENU = "home"
    CUSTOM = "c"  # a typed Stars amount
    MANUAL = "m"  # another method: instructions, amount, proof


@button
class Topup(Button):
    layout = "t:{item}"
    item: TopupItem


@button
class TopupPreset(Button):
    layout = "t:a:{amount}"
    amount: Decimal


# --------------------------------------------------------------------------- admin screens

class AdminScreen(StrEnum):
    HOME = "home"
    PANEL = "panel"
    STATS = "stats"
    AUDIT = "audit"
    USERS = "users"
    UNVERIFIED = "unv"
    HELD = "held"
    TOPUPS = "tus"
    BROADCAST = "bc"
    REFRESH = "refresh"
    RATES = "rates"


@button
class Admin(Button):
    layout = "a:{screen}"
    screen: AdminScreen


class UserAction(StrEnum):
    CREDIT = "cr"
    DEBIT = "db"
    BAN = "ban"
    UNBAN = "unban"


@button
class UserCard(Button):
    layout = "a:u:{user_id}[:{action}]"
    user_id: int
    action: UserAction | None = None


class Resolution(StrEnum):
    PLACED = "p"
    FAILED = "f"
    FAILED_YES = "fy"


@button
class ResolveOrder(Button):
    layout = "a:o:{order_id}:{action}"
    order_id: int
    action: Resolution


class SettleAction(StrEnum):
    ALL = "a"
    ALL_YES = "ay"
    PART = "p"
    NOTHING = "z"
    NOTHING_YES = "zy"


@button
class Settle(Button):
    """`seen`: the number of refunds the admin saw, so a refund made meanwhile is never doubled."""
    layout = "a:st:{order_id}[:{action}:{seen}]"
    order_id: int
    action: SettleAction | None = None
    seen: int | None = None


class BroadcastAction(StrEnum):
    SEND = "go"
    DROP = "no"


@button
class BroadcastDraft(Button):
    layout = "a:bc:{broadcast_id}:{action}"
    broadcast_id: int
    action: BroadcastAction


@button
class AdminCategories(Button):
    layout = "a:cat:{page}"
    page: Page


class CategoryAction(StrEnum):
    HIDE = "h"
    SHOW = "s"
    MARKUP = "m"


@button
class AdminCategory(Button):
    layout = "a:c:{key}[:{action}]"
    key: str
    action: CategoryAction | None = None


@button
class AdminCategoryServices(Button):
    layout = "a:c:{key}:sv:{page}"
    key: str
    page: Page


class ServiceAction(StrEnum):
    HIDE = "h"
    SHOW = "s"
    RENAME = "rn"
    CATEGORY = "ct"  # ask for the shop's own category
    DESCRIBE = "ds"  # ask for the shop's own description
    MARKUP = "mk"  # ask for the service's own markup
    MERGE = "mg"  # the services it could be merged with
    FIND = "mf"  # ask for words to find one


@button
class AdminService(Button):
    layout = "a:s:{service_id}[:{action}]"
    service_id: str
    action: ServiceAction | None = None


class SourceAction(StrEnum):
    UP = "u"
    DOWN = "d"
    SPLIT = "x"


@button
class AdminSource(Button):
    """A source of a shop service, by its place in the list (0 first) and a digest of which
    source that was (`source`): a button drawn before the list changed moves nothing."""
    layout = "a:sr:{service_id}:{position}:{action}:{source}"
    service_id: str
    position: int
    action: SourceAction
    source: str


@button
class AdminMerge(Button):
    """Merge the service keyed `other` (a digest of its id: two ids do not fit) into `service_id`."""
    layout = "a:mg:{service_id}:{other}"
    service_id: str
    other: str


@button
class AdminFlagged(Button):
    """The sources to check: gone from their panel, or of another type now."""
    layout = "a:fl:{page}"
    page: Page


class TopupDecision(StrEnum):
    APPROVE = "ok"
    REJECT = "no"


@button
class TopupRequest(Button):
    layout = "a:tu:{topup_id}[:{decision}]"
    topup_id: int
    decision: TopupDecision | None = None


class RefundStep(StrEnum):
    CONFIRMED = "y"


@button
class StarsRefund(Button):
    layout = "a:rf:{user_id}:{payment_id}[:{step}]"
    user_id: int
    payment_id: int
    step: RefundStep | None = None
