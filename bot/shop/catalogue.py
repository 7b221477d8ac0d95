"""Keeping the catalogue: each panel's list fetched and cached in the database, the shop's own
services made of ranked sources at those panels (bot/domain/sourcing.py), served from memory
(`ShopCatalogue`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from bot.domain.catalogue import Catalogue, CatalogueRules, diff_catalogues, visible
from bot.domain.sourcing import (
    GONE,
    TYPE_CHANGED,
    Offer,
    ShopServiceSpec,
    Source,
    SourceRef,
    SourceView,
    auto_shop_id,
    build_offer,
    source_changes,
)
from bot.panel import PanelError, Service, ServiceType
from bot.shop.panels import Panels
from storage.audit import record
from storage.catalogue import (
    REPLACING_SERVICES,
    ServiceRow,
    ShopServiceRow,
    SourceRow,
    add_shop_services,
    add_sources,
    delete_shop_service,
    edit_shop_service,
    load_services,
    load_shop_services,
    replace_services,
    set_flags,
    set_names,
    set_sources,
    set_types,
)
from storage.catalogue_rules import load_rules, set_category_markup, set_hidden
from storage.changes import CATALOGUE, note_change
from storage.database import Connection, Database
from storage.kv import get_value, put_value
from storage.panels import ExchangeRate, load_rates, put_rate

REFRESHED_AT = "catalogue_refreshed_at"
ShopField = Literal["name", "category", "description", "markup"]
_COLUMNS: dict[str, str] = {"name": "name", "category": "category", "description": "description",
                            "markup": "markup_percent"}

log = logging.getLogger(__name__)


def _row(service: Service) -> ServiceRow:
    return ServiceRow(service.service_id, service.name, service.raw_type, service.category, str(service.rate),
                      service.min, service.max, service.refill, service.cancel, service.dripfeed,
                      service.description)


def _service(row: ServiceRow) -> Service:
    return Service.model_validate({
        "service": row.service_id, "name": row.name, "type": row.type, "category": row.category,
        "rate": row.rate, "min": row.min_quantity, "max": row.max_quantity, "refill": row.refill,
        "cancel": row.cancel, "dripfeed": row.dripfeed, "description": row.description,
    })


def _spec(row: ShopServiceRow) -> ShopServiceSpec:
    return ShopServiceSpec(row.shop_id, ServiceType.parse(row.type), row.name, row.category, row.description,
                           row.edited, Decimal(row.markup_percent) if row.markup_percent is not None else None)


def _ref(row: SourceRow) -> SourceRef:
    return SourceRef(row.panel, row.service_id, row.shop_id, row.rank, row.flag, row.name)


async def _add_new(conn: Connection, new: Sequence[tuple[ShopServiceSpec, SourceRef]]) -> None:
    """Shop services of one source each (panel services seen for the first time)."""
    await add_shop_services(conn, [ShopServiceRow(spec.shop_id, spec.type.value, None, None, None, False)
                                   for spec, _ in new])
    await add_sources(conn, [SourceRow(ref.panel, ref.service_id, ref.shop_id, ref.rank, None, ref.name)
                             for _, ref in new])


async def _shop_services(db: Database | Connection) -> tuple[list[ShopServiceSpec], list[SourceRef]]:
    specs, refs = await load_shop_services(db)
    return [_spec(row) for row in specs], [_ref(row) for row in refs]


@dataclass(frozen=True)
class PanelRefresh:
    """What one panel's refresh changed (or why it could not be read: `error`)."""

    panel: str
    services: int = 0
    added: int = 0
    removed: int = 0
    repriced: int = 0
    flagged: tuple[tuple[str, str], ...] = ()  # (service id, GONE or TYPE_CHANGED) newly flagged sources
    error: str | None = None


@dataclass(frozen=True)
class RefreshReport:
    panels: tuple[PanelRefresh, ...]

    @property
    def read_any(self) -> bool:
        return any(p.error is None for p in self.panels)

    @property
    def errors(self) -> list[str]:
        return [f"{p.panel}: {p.error}" for p in self.panels if p.error is not None]


async def _refresh_panel(db: Database, name: str, panels: Panels, *, admin_id: int | None) -> PanelRefresh:
    panel = panels.get(name)
    assert panel is not None
    try:
        listed = await panel.client.services()
    except PanelError as exc:
        log.warning("panel %s: could not read its services (%s); keeping what it listed before", name, exc.message)
        return PanelRefresh(name, error=exc.message)
    unique: dict[str, Service] = {}
    for service in listed:
        unique.setdefault(service.service_id, service)  # a duplicated id: the first entry wins
    async with db.transaction() as conn:
        await conn.one_at_a_time(REPLACING_SERVICES)  # before reading what the new list is compared with
        before = [_service(row) for row in (await load_services(conn, name)).get(name, [])]
        specs, refs = await _shop_services(conn)
        changes = source_changes(name, panels.first.name, list(unique.values()), specs, refs)
        await replace_services(conn, name, [_row(s) for s in unique.values()])
        await _add_new(conn, changes.new)
        await set_flags(conn, changes.flags)
        await set_names(conn, changes.names)
        await set_types(conn, [(shop_id, kind.value) for shop_id, kind in changes.types])
        await put_value(conn, REFRESHED_AT, str(time.time()))
        await note_change(conn, CATALOGUE, now=time.time())  # other instances reload it
        diff = diff_catalogues(Catalogue(before), Catalogue(unique.values()))
        flagged = tuple((service_id, flag) for _, service_id, flag in changes.flags if flag is not None)
        if admin_id is not None:
            await record(conn, admin_id, "refresh", f"panel {name}", before=f"{len(before)} services",
                         after=f"{len(unique)} services (+{diff.added} -{diff.removed} ~{diff.repriced}"
                               f" flagged {len(flagged)})")
    log.info("panel %s: catalogue refreshed, %d services (+%d -%d ~%d), %d sources flagged", name, len(unique),
             diff.added, diff.removed, diff.repriced, len(flagged))
    return PanelRefresh(name, len(unique), diff.added, diff.removed, diff.repriced, flagged)


async def refreshed_at(db: Database) -> datetime | None:
    value = await get_value(db, REFRESHED_AT)
    return datetime.fromtimestamp(float(value), UTC) if value else None


async def catalogue_rules(db: Database) -> CatalogueRules:
    rows = await load_rules(db)
    return CatalogueRules(frozenset(rows.hidden_categories), frozenset(rows.hidden_services),
                          dict(rows.category_markups))


@dataclass(frozen=True)
class _Stored:
    services: Mapping[str, Sequence[Service]]
    specs: Sequence[ShopServiceSpec]
    refs: Sequence[SourceRef]
    rules: CatalogueRules
    rates: Mapping[str, ExchangeRate]


async def _stored(db: Database) -> _Stored:
    services = {panel: [_service(row) for row in rows] for panel, rows in (await load_services(db)).items()}
    specs, refs = await _shop_services(db)
    return _Stored(services, specs, refs, await catalogue_rules(db), await load_rates(db))


async def _give_shop_services(db: Database, panels: Panels, stored: _Stored) -> bool:
    """Cached panel services that are nobody's source (a shop from before shop services, its
    panel unreachable at the first start since) get their default shop service now, so that the
    cached catalogue stays on sale. True if there were any."""
    known = {(ref.panel, ref.service_id) for ref in stored.refs}
    if all((panel, s.service_id) in known for panel, services in stored.services.items() for s in services):
        return False  # (every start but the first: nothing to write)
    async with db.transaction() as conn:
        await conn.one_at_a_time(REPLACING_SERVICES)
        for panel, services in (await load_services(conn)).items():
            specs, refs = await _shop_services(conn)
            changes = source_changes(panel, panels.first.name, [_service(row) for row in services], specs, refs)
            await _add_new(conn, changes.new)
    return True


class ShopCatalogue:
    """What the panels offer, the shop services made of it, and what customers see of those, in
    memory, with the operator's rules (hidden categories and services, markups, merged services,
    exchange rates). Only these methods change it, each after writing the database (audited where
    an admin acted); customers see the result from the next update."""

    def __init__(self, db: Database, panels: Panels, default_markup: Decimal, shop_currency: str,
                 stored: _Stored) -> None:
        self._db, self._panels, self._default_markup, self.currency = db, panels, default_markup, shop_currency
        self._adopt(stored)

    @classmethod
    async def load(cls, db: Database, panels: Panels, default_markup: Decimal, shop_currency: str) -> ShopCatalogue:
        await panels.load_learned(db)
        stored = await _stored(db)
        if await _give_shop_services(db, panels, stored):
            stored = await _stored(db)
        return cls(db, panels, default_markup, shop_currency, stored)

    # ------------------------------------------------------------------ what it holds

    @property
    def full(self) -> Catalogue:
        """Every shop service that can be ordered, hidden or not."""
        return self._offer.catalogue

    @property
    def visible(self) -> Catalogue:
        """What customers can browse and order."""
        return self._visible

    @property
    def rules(self) -> CatalogueRules:
        return self._rules

    @property
    def rates(self) -> Mapping[str, ExchangeRate]:
        return self._stored.rates

    def markup_for(self, service: Service) -> Decimal:
        """The service's own markup, else its category's, else PRICE_MARKUP_PERCENT."""
        spec = self._offer.specs.get(service.service_id)
        if spec is not None and spec.markup is not None:
            return spec.markup
        return self._rules.markup_for(service, self._default_markup)

    def sources(self, shop_id: str) -> tuple[Source, ...]:
        """Where a shop service can be bought now, best first."""
        return self._offer.sources.get(shop_id, ())

    def source_views(self, shop_id: str) -> tuple[SourceView, ...]:
        """Every source of a shop service, usable or not (the operator's screens)."""
        return self._offer.views.get(shop_id, ())

    def spec(self, shop_id: str) -> ShopServiceSpec | None:
        return self._offer.specs.get(shop_id)

    def panel_services(self, panel: str) -> Sequence[Service]:
        return self._stored.services.get(panel, ())

    def panel_service(self, panel: str, service_id: str) -> Service | None:
        """A panel's own service as it last listed it (what an order placed there can do)."""
        return self._listed.get((panel, service_id))

    def shop_id_of(self, panel: str, service_id: str) -> str | None:
        return self._shop_of.get((panel, service_id))

    def shop_ids(self) -> list[str]:
        """Every shop service, on sale or not: those on sale first, in the catalogue's order."""
        on_sale = [s.service_id for s in self.full.services()]
        shown = set(on_sale)
        return on_sale + sorted(shop_id for shop_id in self._offer.views if shop_id not in shown)

    def flagged(self) -> list[SourceView]:
        """Sources the operator should look at: gone, or of another type, in a service they shaped
        or that has other sources."""
        return [view for views in self._offer.views.values() for view in views
                if view.ref.flag in (GONE, TYPE_CHANGED) or view.problem in (GONE, TYPE_CHANGED)]

    def missing_rates(self) -> list[str]:
        """Currencies of panels that have no exchange rate: their services cannot be priced."""
        return sorted({currency for currency in self._panels.currencies().values()
                       if currency and currency != self.currency and currency not in self._stored.rates})

    # ------------------------------------------------------------------ changes

    async def refresh(self, *, admin_id: int | None = None) -> RefreshReport:
        """Every panel's list, read side by side; a panel that cannot be read keeps its cached
        list (its report says why). New rates apply to orders confirmed from now on."""
        report = RefreshReport(tuple(await asyncio.gather(
            *(_refresh_panel(self._db, name, self._panels, admin_id=admin_id) for name in self._panels.names))))
        if report.read_any:
            await self.reload()
        return report

    async def hide(self, admin_id: int, kind: str, name: str, hidden: bool) -> None:
        async with self._db.transaction() as conn:
            await set_hidden(conn, kind, name, hidden)
            await note_change(conn, CATALOGUE, now=time.time())  # other instances reload it
            await record(conn, admin_id, "hide" if hidden else "show", f"{kind} {name}",
                         before="shown" if hidden else "hidden", after="hidden" if hidden else "shown")
        await self.reload()

    async def set_markup(self, admin_id: int, category: str, markup: Decimal | None) -> None:
        """A category's own markup (None: back to PRICE_MARKUP_PERCENT)."""
        before = self._rules.category_markups.get(category, self._default_markup)
        async with self._db.transaction() as conn:
            await set_category_markup(conn, category, markup)
            await note_change(conn, CATALOGUE, now=time.time())
            await record(conn, admin_id, "markup", f"category {category}", before=f"{before}%",
                         after="default" if markup is None else f"{markup}%")
        await self.reload()

    async def set_rate(self, admin_id: int, currency: str, rate: Decimal) -> None:
        """One `currency` unit is `rate` shop units, for prices computed from now on (orders keep
        the rate they were placed at)."""
        before = self._stored.rates.get(currency)
        async with self._db.transaction() as conn:
            await put_rate(conn, currency, rate, now=time.time(), admin_id=admin_id)
            await note_change(conn, CATALOGUE, now=time.time())
            await record(conn, admin_id, "exchange rate", currency, before=str(before.rate) if before else "none",
                         after=str(rate))
        await self.reload()

    async def merge(self, admin_id: int, into: str, other: str) -> bool:
        """`other`'s sources become `into`'s last ones, and `other` is gone (the customers buy it
        as `into`). False when either is unknown, they are the same, or their types differ."""
        async with self._db.transaction() as conn:
            await conn.one_at_a_time(REPLACING_SERVICES)
            specs, refs = await _shop_services(conn)
            by_id = {spec.shop_id: spec for spec in specs}
            if into == other or into not in by_id or other not in by_id or by_id[into].type is not by_id[other].type:
                return False
            ranked = [(r.panel, r.service_id) for r in sorted(refs, key=lambda r: r.rank) if r.shop_id == into]
            moved = [(r.panel, r.service_id) for r in sorted(refs, key=lambda r: r.rank) if r.shop_id == other]
            await set_sources(conn, into, ranked + moved)
            await delete_shop_service(conn, other)
            await note_change(conn, CATALOGUE, now=time.time())
            await record(conn, admin_id, "merge", f"service {into}", before=f"{into} + {other}",
                         after=", ".join(f"{p}:{s}" for p, s in ranked + moved))
        await self.reload()
        return True

    async def move_source(self, admin_id: int, shop_id: str, source: tuple[str, str], position: int,
                          step: int) -> bool:
        """Move `source` (panel, service id), at `position` when the admin saw it, one up (step -1)
        or down (+1) in the order of preference. False if it is no longer there (another admin,
        or another instance, changed the sources meanwhile)."""
        async with self._db.transaction() as conn:
            await conn.one_at_a_time(REPLACING_SERVICES)
            _, refs = await _shop_services(conn)
            ranked = [(r.panel, r.service_id) for r in sorted(refs, key=lambda r: r.rank) if r.shop_id == shop_id]
            target = position + step
            if not (0 <= position < len(ranked) and 0 <= target < len(ranked)) or ranked[position] != source:
                return False
            before = ", ".join(f"{p}:{s}" for p, s in ranked)
            ranked[position], ranked[target] = ranked[target], ranked[position]
            await set_sources(conn, shop_id, ranked)
            await note_change(conn, CATALOGUE, now=time.time())
            await record(conn, admin_id, "reorder sources", f"service {shop_id}", before=before,
                         after=", ".join(f"{p}:{s}" for p, s in ranked))
        await self.reload()
        return True

    async def split_source(self, admin_id: int, shop_id: str, source: tuple[str, str], position: int) -> str | None:
        """Take `source` (at `position` when the admin saw it) out of a service of several: it
        becomes a shop service of its own again, of the type its panel lists it with. Returns that
        service's id (None: nothing to take out, or the sources changed meanwhile)."""
        async with self._db.transaction() as conn:
            await conn.one_at_a_time(REPLACING_SERVICES)
            specs, refs = await _shop_services(conn)
            ranked = [(r.panel, r.service_id) for r in sorted(refs, key=lambda r: r.rank) if r.shop_id == shop_id]
            if not 0 <= position < len(ranked) or len(ranked) < 2 or ranked[position] != source:
                return None
            panel, service_id = ranked.pop(position)
            await set_sources(conn, shop_id, ranked)
            listed = self._listed.get((panel, service_id))
            kind = listed.type if listed is not None else next(s.type for s in specs if s.shop_id == shop_id)
            new_id = auto_shop_id(panel, service_id, first_panel=self._panels.first.name,
                                  taken={spec.shop_id for spec in specs})
            await add_shop_services(conn, [ShopServiceRow(new_id, kind.value, None, None, None, False)])
            await set_sources(conn, new_id, [(panel, service_id)], edited=False)
            if listed is not None:  # of its own type now: nothing to flag (a gone one stays flagged)
                await set_flags(conn, [(panel, service_id, None)])
            await note_change(conn, CATALOGUE, now=time.time())
            await record(conn, admin_id, "split source", f"service {shop_id}", before=f"{panel}:{service_id}",
                         after=f"service {new_id}")
        await self.reload()
        return new_id

    async def edit(self, admin_id: int, shop_id: str, field: ShopField, value: str | Decimal | None) -> None:
        """The shop's own name, category, description or markup for a service (None: back to
        its first source's words, its category's markup). New markups apply to orders confirmed
        from now on."""
        spec = self.spec(shop_id)
        before = getattr(spec, field) if spec is not None else None
        async with self._db.transaction() as conn:
            await edit_shop_service(conn, shop_id, _COLUMNS[field], None if value is None else str(value))
            await note_change(conn, CATALOGUE, now=time.time())
            await record(conn, admin_id, f"set {field}", f"service {shop_id}",
                         before="default" if before is None else str(before),
                         after="default" if value is None else str(value))
        await self.reload()

    async def reload(self) -> None:
        """Take the catalogue as stored (after a change here, or another instance's)."""
        await self._panels.load_learned(self._db)
        self._adopt(await _stored(self._db))

    def _adopt(self, stored: _Stored) -> None:
        self._stored = stored
        self._listed = {(panel, s.service_id): s for panel, services in stored.services.items() for s in services}
        self._shop_of = {(ref.panel, ref.service_id): ref.shop_id for ref in stored.refs}
        self._rules = stored.rules
        self._offer: Offer = build_offer(
            self._panels.names, stored.services, stored.specs, stored.refs, self._panels.currencies(),
            self.currency, {currency: rate.rate for currency, rate in stored.rates.items()})
        self._visible = visible(self._offer.catalogue, stored.rules)
