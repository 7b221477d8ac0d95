"""Keeping the catalogue: fetched from the panel, cached in the database, served from memory
(`ShopCatalogue`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from bot.domain.catalogue import Catalogue, CatalogueDiff, CatalogueRules, diff_catalogues, visible
from bot.panel import PanelClient, Service
from storage.audit import record
from storage.catalogue import ServiceRow, load_services, replace_services
from storage.catalogue_rules import load_rules, set_category_markup, set_hidden
from storage.changes import CATALOGUE, note_change
from storage.database import Database
from storage.kv import get_value, put_value

REFRESHED_AT = "catalogue_refreshed_at"

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


async def cached_catalogue(db: Database) -> Catalogue:
    return Catalogue(_service(row) for row in await load_services(db))


@dataclass(frozen=True)
class Refreshed:
    catalogue: Catalogue
    diff: CatalogueDiff  # against the catalogue before


async def refresh_catalogue(db: Database, panel: PanelClient, old: Catalogue, *,
                            admin_id: int | None = None) -> Refreshed:
    """Fetch the panel's services, replace the cache, and return the new catalogue (every
    orderable service, hidden ones too: see `catalogue_rules`). Raises PanelError when the panel
    cannot be read (the old cache stays). New rates apply to orders confirmed from now on. A
    refresh an admin asked for is audited in the same transaction."""
    services = await panel.services()
    unique: dict[str, Service] = {}
    for service in services:
        unique.setdefault(service.service_id, service)  # a duplicated id: the first entry wins
    catalogue = Catalogue(services)
    diff = diff_catalogues(old, catalogue)
    async with db.transaction() as conn:
        await replace_services(conn, [_row(s) for s in unique.values()])
        await put_value(conn, REFRESHED_AT, str(time.time()))
        await note_change(conn, CATALOGUE, now=time.time())  # other instances reload it
        if admin_id is not None:
            await record(conn, admin_id, "refresh", "catalogue", before=f"{len(old)} services",
                         after=f"{len(catalogue)} services (+{diff.added} -{diff.removed} ~{diff.repriced})")
    log.info("catalogue refreshed: %d services (%d orderable) in %d categories",
             len(services), len(catalogue), len(catalogue.categories))
    return Refreshed(catalogue, diff)


async def refreshed_at(db: Database) -> datetime | None:
    value = await get_value(db, REFRESHED_AT)
    return datetime.fromtimestamp(float(value), UTC) if value else None


async def catalogue_rules(db: Database) -> CatalogueRules:
    rows = await load_rules(db)
    return CatalogueRules(frozenset(rows.hidden_categories), frozenset(rows.hidden_services),
                          dict(rows.category_markups))


async def hide(db: Database, admin_id: int, kind: str, name: str, hidden: bool) -> CatalogueRules:
    """Hide or show a category (by name) or a service (by id); returns the rules now in force."""
    async with db.transaction() as conn:
        await set_hidden(conn, kind, name, hidden)
        await note_change(conn, CATALOGUE, now=time.time())  # other instances reload it
        await record(conn, admin_id, "hide" if hidden else "show", f"{kind} {name}",
                     before="shown" if hidden else "hidden", after="hidden" if hidden else "shown")
    return await catalogue_rules(db)


async def set_markup(db: Database, admin_id: int, category: str, markup: Decimal | None,
                     before: Decimal) -> CatalogueRules:
    """A category's own markup (None: back to PRICE_MARKUP_PERCENT); returns the rules now in force."""
    async with db.transaction() as conn:
        await set_category_markup(conn, category, markup)
        await note_change(conn, CATALOGUE, now=time.time())  # other instances reload it
        await record(conn, admin_id, "markup", f"category {category}", before=f"{before}%",
                     after="default" if markup is None else f"{markup}%")
    return await catalogue_rules(db)


class ShopCatalogue:
    """What the panel offers and what customers see of it, in memory, with the operator's rules
    (hidden categories and services, markups). Only these methods change it, each after writing
    the database (audited where an admin acted); customers see the result from the next update."""

    def __init__(self, db: Database, panel: PanelClient, default_markup: Decimal, full: Catalogue,
                 rules: CatalogueRules) -> None:
        self._db, self._panel, self._default_markup = db, panel, default_markup
        self._adopt(full, rules)

    @classmethod
    async def load(cls, db: Database, panel: PanelClient, default_markup: Decimal) -> ShopCatalogue:
        return cls(db, panel, default_markup, await cached_catalogue(db), await catalogue_rules(db))

    @property
    def full(self) -> Catalogue:
        """Everything the panel offers that we can order, hidden or not."""
        return self._full

    @property
    def visible(self) -> Catalogue:
        """What customers can browse and order."""
        return self._visible

    @property
    def rules(self) -> CatalogueRules:
        return self._rules

    def markup_for(self, service: Service) -> Decimal:
        return self._rules.markup_for(service, self._default_markup)

    async def refresh(self, *, admin_id: int | None = None) -> CatalogueDiff:
        """refresh_catalogue; PanelError when the panel cannot be read (nothing changes)."""
        refreshed = await refresh_catalogue(self._db, self._panel, self._full, admin_id=admin_id)
        self._adopt(refreshed.catalogue, self._rules)
        return refreshed.diff

    async def hide(self, admin_id: int, kind: str, name: str, hidden: bool) -> None:
        self._adopt(self._full, await hide(self._db, admin_id, kind, name, hidden))

    async def set_markup(self, admin_id: int, category: str, markup: Decimal | None) -> None:
        before = self._rules.category_markups.get(category, self._default_markup)
        self._adopt(self._full, await set_markup(self._db, admin_id, category, markup, before))

    async def reload(self) -> None:
        """Another instance changed the catalogue or its rules: take them as stored."""
        self._adopt(await cached_catalogue(self._db), await catalogue_rules(self._db))

    def _adopt(self, full: Catalogue, rules: CatalogueRules) -> None:
        self._full, self._rules, self._visible = full, rules, visible(full, rules)
