"""Keeping the catalogue: fetched from the panel, cached in the database, served from memory."""

from __future__ import annotations

import logging

from bot.domain.catalogue import Catalogue
from bot.panel import PanelClient, Service
from storage.catalogue import ServiceRow, load_services, replace_services
from storage.database import Database

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


async def refresh_catalogue(db: Database, panel: PanelClient) -> Catalogue:
    """Fetch the panel's services, replace the cache, and return the new catalogue.
    Raises PanelError when the panel cannot be read (the old cache stays)."""
    services = await panel.services()
    unique: dict[str, Service] = {}
    for service in services:
        unique.setdefault(service.service_id, service)  # a duplicated id: the first entry wins
    await replace_services(db, [_row(s) for s in unique.values()])
    catalogue = Catalogue(services)
    log.info("catalogue refreshed: %d services (%d orderable) in %d categories",
             len(services), len(catalogue), len(catalogue.categories))
    return catalogue
