"""The catalogue customers browse: categories in the panel's order, search, pages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Generic, TypeVar

from bot.domain.synonyms import fold, matches, query_terms
from bot.panel import Service, ServiceType
from bot.panel.orders import ORDER_FIELDS

T = TypeVar("T")
# Callback data is at most 64 bytes and carries the service id; longer ids cannot be offered.
MAX_SERVICE_ID_LENGTH = 40


def category_key(name: str) -> str:
    """A short stable id for callback data: survives refreshes, never a list index."""
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:10]


@dataclass(frozen=True)
class Category:
    key: str
    name: str
    services: tuple[Service, ...]


class Catalogue:
    """What customers can order (see `orderable`); the first entry wins on a duplicated id (seen
    in a real panel's example); categories in the panel's order."""

    def __init__(self, services: Iterable[Service]) -> None:
        self._services: dict[str, Service] = {}
        grouped: dict[str, list[Service]] = {}
        for service in services:
            if service.service_id in self._services or not orderable(service):
                continue
            self._services[service.service_id] = service
            grouped.setdefault(category_name(service), []).append(service)
        self.categories = tuple(Category(category_key(name), name, tuple(items)) for name, items in grouped.items())
        self._by_key = {c.key: c for c in self.categories}
        # folded once here, not on every search: a search then only looks for substrings
        self._names = [(s, fold(f"{s.name} {s.category}")) for s in self._services.values()]

    def __len__(self) -> int:
        return len(self._services)

    def category(self, key: str) -> Category | None:
        return self._by_key.get(key)

    def service(self, service_id: str) -> Service | None:
        return self._services.get(service_id)

    def services(self) -> Iterable[Service]:
        return self._services.values()

    def search(self, query: str) -> list[Service]:
        """Services whose name (or category) contains every word of the query, any case and
        accents, each word as typed or as the catalogue's word for it ("seguidores" finds
        "Followers": bot/domain/synonyms.py)."""
        terms = query_terms(query)
        if not terms:
            return []
        return [s for s, name in self._names if matches(terms, name)]


def category_name(service: Service) -> str:
    return service.category or "Other"


@dataclass(frozen=True)
class CatalogueRules:
    """The operator's choices: hidden categories (by name) and services (by id), and markups per
    category that override PRICE_MARKUP_PERCENT."""

    hidden_categories: frozenset[str] = frozenset()
    hidden_services: frozenset[str] = frozenset()
    category_markups: Mapping[str, Decimal] = field(default_factory=dict)

    def shows(self, service: Service) -> bool:
        return (service.service_id not in self.hidden_services
                and category_name(service) not in self.hidden_categories)

    def markup_for(self, service: Service, default: Decimal) -> Decimal:
        return self.category_markups.get(category_name(service), default)


def visible(catalogue: Catalogue, rules: CatalogueRules) -> Catalogue:
    """What customers may see and order: hidden ones are simply not there, so neither search
    nor an old button can reach them."""
    return Catalogue(s for s in catalogue.services() if rules.shows(s))


@dataclass(frozen=True)
class CatalogueDiff:
    added: int
    removed: int
    repriced: int


def diff_catalogues(old: Catalogue, new: Catalogue) -> CatalogueDiff:
    before = {s.service_id: s.rate for s in old.services()}
    after = {s.service_id: s.rate for s in new.services()}
    return CatalogueDiff(added=len(after.keys() - before.keys()), removed=len(before.keys() - after.keys()),
                         repriced=sum(1 for sid, rate in after.items() if sid in before and before[sid] != rate))


def orderable(service: Service) -> bool:
    """A type we can order, sane numbers, and an id that fits callback data (":" separates its
    parts)."""
    return (service.type in ORDER_FIELDS and service.rate >= 0 and 0 <= service.min <= service.max
            and len(service.service_id.encode()) <= MAX_SERVICE_ID_LENGTH and ":" not in service.service_id)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    number: int  # 0-based
    count: int

    @property
    def has_prev(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number + 1 < self.count


def paginate(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    """The page asked for, clamped to the pages that exist (an old button may ask for more)."""
    count = max(1, -(-len(items) // per_page))
    number = min(max(page, 0), count - 1)
    return Page(tuple(items[number * per_page:(number + 1) * per_page]), number, count)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def is_telegram_service(service: Service) -> bool:
    return "telegram" in f"{service.name} {service.category}".casefold()


def is_package(service_type: ServiceType) -> bool:
    return service_type in (ServiceType.PACKAGE, ServiceType.CUSTOM_COMMENTS_PACKAGE)
