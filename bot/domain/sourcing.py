"""Shop services and their sources: what customers are offered out of what several panels list.

A *shop service* is what a customer browses and orders; it is bought at one of its *sources*
(a panel and that panel's service id), tried in the operator's order of preference. Customers
see it as a `Service` whose id is the shop's, whose rate is its first usable source's rate in
the shop's currency, and whose limits and options are that source's; everything downstream
(menus, the order form, prices, markups) works on that `Service` unchanged.

A source is usable when its panel is configured, still lists the service, with the shop
service's type, and its currency converts into the shop's (the same, or a rate is set).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from bot.domain.catalogue import MAX_SERVICE_ID_LENGTH, Catalogue, orderable
from bot.domain.money import round_up
from bot.panel import (
    PanelAuthError,
    PanelError,
    PanelFundsError,
    PanelRateLimited,
    PanelRejected,
    PanelUnreachable,
    Service,
    ServiceType,
)
from bot.panel.orders import OrderRequest

GONE = "gone"  # the panel no longer lists the service
TYPE_CHANGED = "type"  # the panel lists it with another type than the shop service's


@dataclass(frozen=True)
class ShopServiceSpec:
    """A shop service as the operator keeps it (storage/catalogue.py ShopServiceRow)."""

    shop_id: str
    type: ServiceType
    name: str | None = None  # None: the first usable source's
    category: str | None = None
    description: str | None = None
    edited: bool = False
    markup: Decimal | None = None  # None: its category's (or the shop's)


@dataclass(frozen=True)
class SourceRef:
    panel: str
    service_id: str
    shop_id: str
    rank: int
    flag: str | None = None
    name: str | None = None  # the panel's name for it when it last listed it


@dataclass(frozen=True)
class Source:
    """A usable source: the panel's own service (rate in the panel's currency) and the rate that
    turns the panel's currency into the shop's."""

    panel: str
    service: Service
    currency: str
    fx_rate: Decimal

    @property
    def label(self) -> str:
        return f"{self.panel}:{self.service.service_id}"


@dataclass(frozen=True)
class SourceView:
    """Any source, usable or not, for the operator's screens; `problem` says why it is not used."""

    ref: SourceRef
    service: Service | None
    problem: str | None  # None, GONE, TYPE_CHANGED, "panel" (not configured), "currency" (no rate), "limits"


@dataclass(frozen=True)
class Offer:
    catalogue: Catalogue  # every shop service with a usable source, as customers see it
    sources: Mapping[str, tuple[Source, ...]]  # shop id → usable sources, best first
    views: Mapping[str, tuple[SourceView, ...]]  # shop id → every source
    specs: Mapping[str, ShopServiceSpec]


def convert(amount: Decimal, fx_rate: Decimal) -> Decimal:
    return amount * fx_rate


def fx_rate_of(currency: str | None, shop_currency: str, rates: Mapping[str, Decimal]) -> Decimal | None:
    """Shop units per unit of `currency`; None when it cannot be known (no currency, no rate)."""
    if currency is None:
        return None
    if currency == shop_currency:
        return Decimal(1)
    rate = rates.get(currency)
    return rate if rate is not None and rate > 0 else None


def build_offer(panels: Sequence[str], services: Mapping[str, Sequence[Service]],
                specs: Iterable[ShopServiceSpec], refs: Iterable[SourceRef],
                panel_currencies: Mapping[str, str | None], shop_currency: str,
                rates: Mapping[str, Decimal]) -> Offer:
    """The shop services customers can order, in the panels' order (a shop service stands where
    the first of its sources stands at the first panel listing it)."""
    by_id = {spec.shop_id: spec for spec in specs}
    listed = {panel: {s.service_id: s for s in services.get(panel, ())} for panel in panels}
    ranked: dict[str, list[SourceRef]] = {}
    shop_of: dict[tuple[str, str], str] = {}
    for ref in refs:
        if ref.shop_id in by_id:
            ranked.setdefault(ref.shop_id, []).append(ref)
            shop_of[(ref.panel, ref.service_id)] = ref.shop_id
    views: dict[str, tuple[SourceView, ...]] = {}
    usable: dict[str, tuple[Source, ...]] = {}
    for shop_id, shop_refs in ranked.items():
        spec = by_id[shop_id]
        shown: list[SourceView] = []
        good: list[Source] = []
        for ref in sorted(shop_refs, key=lambda r: r.rank):
            service = listed.get(ref.panel, {}).get(ref.service_id)
            fx = fx_rate_of(panel_currencies.get(ref.panel), shop_currency, rates)
            problem = _problem(ref, service, spec, fx, configured=ref.panel in listed)
            shown.append(SourceView(ref, service, problem))
            if problem is None and service is not None and fx is not None:
                good.append(Source(ref.panel, service, panel_currencies[ref.panel] or shop_currency, fx))
        views[shop_id] = tuple(shown)
        usable[shop_id] = tuple(good)
    offered: list[Service] = []
    emitted: set[str] = set()
    for panel in panels:
        for service in services.get(panel, ()):
            shop_id = shop_of.get((panel, service.service_id))
            if shop_id is None or shop_id in emitted:
                continue
            emitted.add(shop_id)
            if usable.get(shop_id):
                offered.append(present(by_id[shop_id], usable[shop_id][0]))
    return Offer(Catalogue(offered), {k: v for k, v in usable.items() if v}, views, by_id)


def _problem(ref: SourceRef, service: Service | None, spec: ShopServiceSpec, fx: Decimal | None, *,
             configured: bool) -> str | None:
    if not configured:
        return "panel"
    if service is None or ref.flag == GONE:
        return GONE
    if service.type is not spec.type or ref.flag == TYPE_CHANGED:
        return TYPE_CHANGED
    if fx is None:
        return "currency"
    if not (service.rate >= 0 and 0 <= service.min <= service.max):
        return "limits"
    return None


def present(spec: ShopServiceSpec, source: Source) -> Service:
    """The shop service as customers see it: its own words where the operator gave them, the
    source's limits and options, the source's rate in the shop's currency."""
    service = source.service
    return service.model_copy(update={
        "service_id": spec.shop_id, "name": spec.name or service.name,
        "category": spec.category if spec.category is not None else service.category,
        "description": spec.description if spec.description is not None else service.description,
        "rate": convert(service.rate, source.fx_rate), "type": spec.type,
    })


# --------------------------------------------------------------------------- a refresh

@dataclass(frozen=True)
class SourceChanges:
    """What one panel's new list means for the shop's services."""

    new: tuple[tuple[ShopServiceSpec, SourceRef], ...]  # a shop service per service never seen
    flags: tuple[tuple[str, str, str | None], ...]  # (panel, service id, flag) that changed
    types: tuple[tuple[str, ServiceType], ...]  # (shop id, type) of untouched services that follow their source
    names: tuple[tuple[str, str, str], ...] = ()  # (panel, service id, name) the panel renamed


def source_changes(panel: str, first_panel: str, listed: Sequence[Service], specs: Iterable[ShopServiceSpec],
                   refs: Iterable[SourceRef]) -> SourceChanges:
    by_id = {spec.shop_id: spec for spec in specs}
    all_refs = list(refs)
    mine = {ref.service_id: ref for ref in all_refs if ref.panel == panel}
    count = {shop_id: 0 for shop_id in by_id}
    for ref in all_refs:
        count[ref.shop_id] = count.get(ref.shop_id, 0) + 1
    taken = set(by_id)
    now_listed = {s.service_id: s for s in listed}
    new: list[tuple[ShopServiceSpec, SourceRef]] = []
    flags: list[tuple[str, str, str | None]] = []
    types: list[tuple[str, ServiceType]] = []
    names: list[tuple[str, str, str]] = []
    for service in now_listed.values():
        ref = mine.get(service.service_id)
        if ref is None:
            if not orderable_source(service):
                continue
            shop_id = auto_shop_id(panel, service.service_id, first_panel=first_panel, taken=taken)
            taken.add(shop_id)
            new.append((ShopServiceSpec(shop_id, service.type),
                        SourceRef(panel, service.service_id, shop_id, 0, name=service.name)))
            continue
        if service.name != ref.name:
            names.append((panel, ref.service_id, service.name))
        spec = by_id.get(ref.shop_id)
        flag: str | None = None
        if spec is not None and service.type is not spec.type:
            if not spec.edited and count.get(ref.shop_id, 0) == 1:
                types.append((spec.shop_id, service.type))  # nobody shaped it: it follows its source
            else:
                flag = TYPE_CHANGED
        if flag != ref.flag:
            flags.append((panel, ref.service_id, flag))
    for service_id, ref in mine.items():
        if service_id not in now_listed and ref.flag != GONE:
            flags.append((panel, service_id, GONE))
    return SourceChanges(tuple(new), tuple(flags), tuple(types), tuple(names))


def orderable_source(service: Service) -> bool:
    """A panel service the shop can sell (its own id may be anything: it never goes in a button)."""
    return orderable(service.model_copy(update={"service_id": "x"}))


_ID_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def auto_shop_id(panel: str, service_id: str, *, first_panel: str, taken: set[str]) -> str:
    """The id of the shop service a panel service gets by default: its own id at the first panel
    (a one-panel shop keeps the ids it always had), `<panel>-<id>` elsewhere; a hash where that
    would not fit in a button or is taken."""
    candidates = [service_id] if panel == first_panel else []
    candidates.append(f"{panel}-{service_id}")
    for candidate in candidates:
        if (candidate not in taken and _ID_SAFE.search(candidate) is None
                and len(candidate.encode()) <= MAX_SERVICE_ID_LENGTH):
            return candidate
    digest = hashlib.sha1(f"{panel}\0{service_id}".encode(), usedforsecurity=False).hexdigest()
    for length in range(10, 41):
        candidate = f"{panel}-h{digest[:length]}"[:MAX_SERVICE_ID_LENGTH]
        if candidate not in taken:
            return candidate
    raise ValueError("no free shop id")  # 2^160 services later


# --------------------------------------------------------------------------- placing

def for_source(request: OrderRequest, source: Source) -> OrderRequest:
    """The same order, for this source's service id."""
    return replace(request, service_id=source.service.service_id)


def fits(source: Source, quantity: int | None, *, runs: int | None) -> bool:
    """Whether the source can take this order at all (checked before sending: a refusal we can
    predict costs a request and tells nothing)."""
    service = source.service
    if runs and not service.dripfeed:
        return False
    return quantity is None or service.min <= quantity <= service.max


def cost_in_shop(panel_cost: Decimal, source: Source) -> Decimal:
    """The panel's charge in the shop's currency, rounded up to the micro-unit."""
    return round_up(convert(panel_cost, source.fx_rate))


_NOT_OFFERED = re.compile(
    r"disabled|inactive|not active|not available|unavailable|incorrect service|invalid service|service not found"
    r"|service (?:is )?(?:off|closed|paused|stopped)|no such service|unknown service")
_QUANTITY = re.compile(r"quantit|minimum|maximum|\bmin\b|\bmax\b|less than|more than|greater than|exceed")


def proves_not_placed(exc: PanelError) -> bool:
    """A refusal after which the next source may be tried: it proves nothing was placed and is
    not the customer's doing (out of funds, the service off or its limits, the key, the panel
    busy or unreachable before the request left). Never a timeout or an unknown outcome."""
    if isinstance(exc, PanelFundsError | PanelAuthError | PanelRateLimited | PanelUnreachable):
        return True
    if type(exc) is PanelRejected:
        words = (exc.panel_message or exc.message).lower()
        return bool(_NOT_OFFERED.search(words) or _QUANTITY.search(words))
    return False

