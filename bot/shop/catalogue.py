"""Keeping the catalogue: fetched from the panel, cached in the database, served from memory."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from bot.domain.catalogue import Catalogue, CatalogueDiff, CatalogueRules, diff_catalogues
from bot.panel import PanelClient, Service
from storage.audit import record
from storage.catalogue import ServiceRow, load_services, replace_services
from storage.catalogue_rules import load_rules, set_category_markup, set_hidden
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
        await record(conn, admin_id, "hide" if hidden else "show", f"{kind} {name}",
                     before="shown" if hidden else "hidden", after="hidden" if hidden else "shown")
    return await catalogue_rules(db)


async def set_markup(db: Database, admin_id: int, category: str, markup: Decimal | None,
                     before: Decimal) -> CatalogueRules:
    """A category's own markup (None: back to PRICE_MARKUP_PERCENT); returns the rules now in force."""
    async with db.transaction() as conn:
        await set_category_markup(conn, category, markup)
        await record(conn, admin_id, "markup", f"category {category}", before=f"{before}%",
                     after="default" if markup is None else f"{markup}%")
    return await catalogue_rules(db)
