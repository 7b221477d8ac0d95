"""What a customer fills in for each service type, and how each answer is checked.

`steps_for(service)` lists the fields of the service's type (from the panel client's
ORDER_FIELDS table, so the bot asks exactly what `add` sends). `parse_answer` turns a typed
answer into a value or raises InvalidAnswer with the text that says what is allowed.
`OrderDraft` collects the answers and builds the OrderRequest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from bot import i18n, texts
from bot.domain.catalogue import is_package, is_telegram_service
from bot.panel import ORDER_FIELDS, OrderRequest, Service, ServiceType
from bot.panel.orders import LIST_FIELDS

# Delays every seed panel accepts (some accept more; these work everywhere).
DELAY_CHOICES = (0, 5, 10, 15, 30, 60, 90)
MAX_LINES = 1000
MAX_LINE_LENGTH = 500
MAX_WORD_LENGTH = 200
MAX_LINK_LENGTH = 2048
MAX_RUNS = 100
MAX_INTERVAL = 1440
MAX_POSTS = 1000
MAX_ANSWER = 100

# Types where the number of lines is the quantity.
COUNTED_LISTS = {
    ServiceType.CUSTOM_COMMENTS: "comments",
    ServiceType.CUSTOM_COMMENTS_PACKAGE: "comments",
    ServiceType.MENTIONS_CUSTOM_LIST: "usernames",
    ServiceType.COMMENT_REPLIES: "comments",
}


class Kind(StrEnum):
    LINK = "link"
    URL = "url"
    NUMBER = "number"
    LIST = "list"
    WORD = "word"
    CHOICE = "choice"
    DATE = "date"


_KINDS = {"link": Kind.LINK, "media": Kind.URL, "hashtag": Kind.WORD, "username": Kind.WORD,
          "delay": Kind.CHOICE, "expiry": Kind.DATE} | dict.fromkeys(LIST_FIELDS, Kind.LIST)


@dataclass(frozen=True)
class Step:
    field: str
    kind: Kind
    optional: bool = False


class InvalidAnswer(ValueError):
    """The message (from texts) tells the customer what is wrong and what is allowed."""


def steps_for(service: Service, *, drip: bool = False) -> tuple[Step, ...]:
    """The questions for `service`. Drip-feed (runs, interval) is asked only when the customer
    chose it among the summary's options (`drip`), never on the way to a plain order."""
    spec = ORDER_FIELDS[service.type]
    required = list(spec.required)
    if spec.one_of:
        required += spec.one_of[0]  # Poll: we ask for the answer number
    optional = list(spec.optional)
    if service.type is ServiceType.DEFAULT and not (service.dripfeed and drip):
        optional = [name for name in optional if name not in ("runs", "interval")]
    if service.type is ServiceType.SUBSCRIPTIONS:
        # The wallet is charged up front, so the number of posts must be known: we require it.
        optional.remove("posts")
        required.append("posts")
    steps = [Step(name, _KINDS.get(name, Kind.NUMBER)) for name in required]
    steps += [Step(name, _KINDS.get(name, Kind.NUMBER), optional=name != "interval") for name in optional]
    return tuple(steps)


def offers_drip_feed(service: Service) -> bool:
    return service.type is ServiceType.DEFAULT and service.dripfeed


# The round amounts a quantity question offers as buttons: 1, 2, 5 × 10^k.
_ROUND = tuple(m * 10**k for k in range(10) for m in (1, 2, 5))
QUANTITY_CHOICES = 6


def quantity_choices(low: int, high: int) -> tuple[int, ...]:
    """A few round quantities within low–high, centred on 1000 (the size most people buy), for
    buttons beside "or type a number"; the minimum itself when no round amount fits."""
    fitting = [n for n in _ROUND if low <= n <= high]
    if not fitting:
        return (low,) if low <= high else ()
    at = next((i for i, n in enumerate(fitting) if n >= 1000), len(fitting) - 1)
    start = max(0, min(at - 2, len(fitting) - QUANTITY_CHOICES))
    return tuple(fitting[start:start + QUANTITY_CHOICES])


def choices_for(step: Step, service: Service, values: dict[str, Any]) -> tuple[int, ...]:
    """The values a question offers as buttons (a typed answer is read as well)."""
    if step.kind is Kind.CHOICE:
        return DELAY_CHOICES
    if step.field == "quantity":
        return quantity_choices(*_bounds("quantity", service, values))
    return ()


def prompt(step: Step, service: Service, values: dict[str, Any]) -> str:
    name = step.field
    if name == "link":
        return texts.ASK["link_telegram" if is_telegram_service(service) else "link"]
    if name in ("comments", "usernames") and COUNTED_LISTS.get(service.type) == name:
        key = "comments" if name == "comments" else "usernames_counted"
        return texts.ASK[key].format(min=counted_as_shown(service.min), max=counted_as_shown(service.max))
    if name == "comments":
        return texts.ASK["comments_any"]
    if name == "username":
        key = {ServiceType.COMMENT_LIKES: "username_comment_owner",
               ServiceType.COMMENT_REPLIES: "username_comment_owner",
               ServiceType.MENTIONS_USER_FOLLOWERS: "username_followers",
               ServiceType.SUBSCRIPTIONS: "username_subscription"}.get(service.type, "username")
        return texts.ASK[key]
    low, high = _bounds(name, service, values)
    low_shown, high_shown = counted_as_shown(low), counted_as_shown(high)
    return texts.ASK[name].format(min=low_shown, max=high_shown, low=low_shown, limit=high_shown)


def counted_as_shown(number: int) -> str:
    """A count as the summary and the buttons show it: 10,000 (locale formats: the languages issue)."""
    return i18n.format_count(number)


def _bounds(name: str, service: Service, values: dict[str, Any]) -> tuple[int, int]:
    return {
        "quantity": (service.min, service.max),
        "min": (service.min, service.max),
        "max": (values.get("min", service.min), service.max),
        "posts": (1, MAX_POSTS),
        "old_posts": (0, MAX_POSTS),
        "runs": (2, MAX_RUNS),
        "interval": (1, MAX_INTERVAL),
        "answer_number": (1, MAX_ANSWER),
    }.get(name, (0, 0))


def parse_answer(step: Step, text: str, service: Service, values: dict[str, Any], *,
                 today: date | None = None) -> Any:
    """The value for `step` from what the customer typed, or InvalidAnswer."""
    text = i18n.latin_digits(text).strip()
    if step.kind is Kind.LINK:
        return parse_link(text, telegram=is_telegram_service(service))
    if step.kind is Kind.URL:
        return parse_link(text, telegram=False)
    if step.kind is Kind.NUMBER:
        low, high = _bounds(step.field, service, values)
        return parse_whole_number(text, low, high)
    if step.kind is Kind.LIST:
        counted = COUNTED_LISTS.get(service.type) == step.field
        return parse_lines(text, (service.min, service.max) if counted else None)
    if step.kind is Kind.WORD:
        if not text or any(c.isspace() for c in text) or len(text) > MAX_WORD_LENGTH:
            raise InvalidAnswer(texts.INVALID["word"].format(max=MAX_WORD_LENGTH))
        return text
    if step.kind is Kind.CHOICE:
        if text.isdigit() and int(text) in DELAY_CHOICES:
            return int(text)
        raise InvalidAnswer(texts.INVALID["choice"])
    return parse_future_date(text, today or date.today())


_TELEGRAM_NAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")


def parse_link(text: str, *, telegram: bool) -> str:
    """An http(s) URL with a host; for Telegram services `@name` and `t.me/…` are completed."""
    candidate = text.strip()
    if telegram:
        name = _TELEGRAM_NAME.match(candidate)
        if name and candidate.startswith("@"):
            return f"https://t.me/{name.group(1)}"
        if candidate.lower().startswith(("t.me/", "telegram.me/")):
            candidate = "https://" + candidate
    parts = urlsplit(candidate)
    host = parts.hostname or ""
    if (parts.scheme not in ("http", "https") or "." not in host or any(c.isspace() for c in candidate)
            or len(candidate) > MAX_LINK_LENGTH):
        raise InvalidAnswer(texts.INVALID["link_telegram" if telegram else "link"])
    return candidate


_GROUPED = re.compile(r"[0-9]{1,3}(?:([.,])[0-9]{3})(?:\1[0-9]{3})*")  # 1.000 · 12,500 · 1.000.000
_SHORT = re.compile(r"([0-9]{1,6}(?:[.,][0-9]{1,3})?)([kKкК]|[mM])")  # 1k · 2.5K · 1m
_SEPARATORS = str.maketrans("", "", " _'\u00a0\u202f")


def whole_number(text: str) -> int | None:
    """A count as customers write it: 1000, 1 000, 1,000, 1.000, 1k, 2.5K, 1m (None: not one)."""
    cleaned = i18n.latin_digits(text).strip().translate(_SEPARATORS)
    if cleaned.isascii() and cleaned.isdigit() and len(cleaned) <= 18:
        return int(cleaned)
    if _GROUPED.fullmatch(cleaned):
        return int(cleaned.replace(".", "").replace(",", ""))
    short = _SHORT.fullmatch(cleaned)
    if short:
        amount = Decimal(short.group(1).replace(",", ".")) * (10**6 if short.group(2) in "mM" else 1000)
        return int(amount) if amount == amount.to_integral_value() else None
    return None


def parse_whole_number(text: str, low: int, high: int) -> int:
    number = whole_number(text)
    if number is None:
        raise InvalidAnswer(texts.INVALID["whole_number"].format(value=_quote(text), min=counted_as_shown(low),
                                                                 max=counted_as_shown(high)))
    if not low <= number <= high:
        raise InvalidAnswer(texts.INVALID["range"].format(value=counted_as_shown(number), min=counted_as_shown(low),
                                                          max=counted_as_shown(high)))
    return number


def parse_lines(text: str, bounds: tuple[int, int] | None) -> tuple[str, ...]:
    lines = tuple(line.strip() for line in text.splitlines() if line.strip())
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_LENGTH:
            raise InvalidAnswer(texts.INVALID["line_too_long"].format(number=number, max=MAX_LINE_LENGTH))
    if bounds is not None and not bounds[0] <= len(lines) <= bounds[1]:
        raise InvalidAnswer(texts.INVALID["lines_count"].format(count=len(lines), min=counted_as_shown(bounds[0]),
                                                                max=counted_as_shown(bounds[1])))
    if not lines:
        raise InvalidAnswer(texts.INVALID["lines_empty"])
    if len(lines) > MAX_LINES:
        raise InvalidAnswer(texts.INVALID["lines_too_many"].format(count=len(lines), max=MAX_LINES))
    return lines


def parse_future_date(text: str, today: date) -> date:
    text = i18n.latin_digits(text)
    for layout in ("%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d"):
        try:
            day = datetime.strptime(text, layout).date()
            break
        except ValueError:
            continue
    else:
        raise InvalidAnswer(texts.INVALID["date"].format(value=_quote(text)))
    if day <= today:
        raise InvalidAnswer(texts.INVALID["date_past"])
    return day


def _quote(text: str) -> str:
    """A customer's text, shortened, for an error message (the renderer escapes it)."""
    text = " ".join(text.split())
    return f"“{text[:40]}{'…' if len(text) > 40 else ''}”"


@dataclass
class OrderDraft:
    """An order being filled in. `key` is unique: it names the draft in callback data and,
    once confirmed, the order in the database (so a draft can make one order only)."""

    key: str
    service: Service
    steps: tuple[Step, ...]
    values: dict[str, Any] = field(default_factory=dict)
    position: int = 0
    drip: bool = False  # drip-feed chosen among the summary's options

    @classmethod
    def start(cls, key: str, service: Service) -> OrderDraft:
        return cls(key, service, steps_for(service))

    def choose_drip_feed(self) -> None:
        """The summary's drip-feed option: ask runs (Skip: deliver at once) and the interval."""
        if not offers_drip_feed(self.service):
            raise InvalidAnswer(texts.INVALID["not_optional"])
        self.drip = True
        self.steps = steps_for(self.service, drip=True)
        for name in ("runs", "interval"):
            self.values.pop(name, None)
        self.position = next(i for i, step in enumerate(self.steps) if step.field == "runs")

    @property
    def step(self) -> Step | None:
        return self.steps[self.position] if self.position < len(self.steps) else None

    def answer(self, value: Any) -> None:
        step = self.step
        assert step is not None
        self.values[step.field] = value
        self.position += 1

    def skip(self) -> None:
        step = self.step
        if step is None or not step.optional:
            raise InvalidAnswer(texts.INVALID["not_optional"])
        self.position += 1
        if step.field == "runs":  # no drip-feed: no interval either, and the plain order's steps again
            self.position += sum(1 for s in self.steps[self.position:] if s.field == "interval")
            if self.drip:
                self.drip = False
                self.steps = steps_for(self.service)
                self.position = min(self.position, len(self.steps))

    @property
    def quantity(self) -> int:
        """The quantity the price and the panel count: typed, or the number of lines."""
        counted = COUNTED_LISTS.get(self.service.type)
        if counted and counted in self.values:
            return len(self.values[counted])
        if is_package(self.service.type):
            return 1
        if self.service.type is ServiceType.SUBSCRIPTIONS:
            return int(self.values.get("max", 0))
        return int(self.values.get("quantity", 0))

    def to_request(self) -> OrderRequest:
        return OrderRequest(self.service.service_id, self.service.type, **self.values)


def draft_to_json(draft: OrderDraft) -> dict[str, Any]:
    """The draft as JSON values, to be stored between the customer's answers."""
    values = {name: list(value) if isinstance(value, tuple) else value.isoformat() if isinstance(value, date)
              else value for name, value in draft.values.items()}
    return {"key": draft.key, "service_id": draft.service.service_id, "values": values, "position": draft.position,
            "drip": draft.drip}


def draft_from_json(data: object, service: Service) -> OrderDraft | None:
    """The draft `draft_to_json` stored, for `service` as the catalogue has it now; None when the
    stored answers no longer fit it (its type changed) or were not written by `draft_to_json`."""
    if not isinstance(data, dict) or data.get("service_id") != service.service_id:
        return None
    key, stored, position = data.get("key"), data.get("values"), data.get("position")
    drip = data.get("drip", offers_drip_feed(service))  # a draft stored before the option asked drip-feed inline
    if not isinstance(drip, bool):
        return None
    steps = steps_for(service, drip=drip and offers_drip_feed(service))
    kinds = {step.field: step.kind for step in steps}
    if not (isinstance(key, str) and isinstance(stored, dict) and isinstance(position, int)
            and 0 <= position <= len(steps) and set(stored) <= set(kinds)):
        return None
    values: dict[str, Any] = {}
    for name, value in stored.items():
        kind = kinds[name]
        if kind is Kind.LIST and isinstance(value, list) and all(isinstance(line, str) for line in value):
            values[name] = tuple(value)
        elif kind is Kind.DATE and isinstance(value, str):
            try:
                values[name] = date.fromisoformat(value)
            except ValueError:
                return None
        elif ((kind in (Kind.NUMBER, Kind.CHOICE) and isinstance(value, int) and not isinstance(value, bool))
              or (kind in (Kind.LINK, Kind.URL, Kind.WORD) and isinstance(value, str))):
            values[name] = value
        else:
            return None
    return OrderDraft(key, service, steps, values, position, drip and offers_drip_feed(service))
