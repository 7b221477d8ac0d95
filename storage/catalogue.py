"""The cached panel catalogue: replaced whole on every refresh, read at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import NOW, Connection, Database


@dataclass(frozen=True)
class ServiceRow:
    service_id: str
    name: str
    type: str
    category: str
    rate: str  # Decimal as text
    min_quantity: int
    max_quantity: int
    refill: bool
    cancel: bool
    dripfeed: bool
    description: str


REPLACING_SERVICES = 7256002  # the advisory lock of a catalogue being replaced


async def replace_services(conn: Connection, rows: list[ServiceRow]) -> None:
    """Inside the caller's transaction (with the refresh time and its audit entry). Two instances
    refreshing at once (both started on an empty catalogue) replace it one after the other."""
    await conn.one_at_a_time(REPLACING_SERVICES)
    await conn.execute("DELETE FROM services")
    await conn.executemany(
        "INSERT INTO services (service_id, position, name, type, category, rate, min_quantity, max_quantity,"
        " refill, cancel, dripfeed, description, fetched_at)"
        f" VALUES (?,?,?,?,?,?,?,?,?,?,?,?, {NOW})",
        [(r.service_id, i, r.name, r.type, r.category, r.rate, r.min_quantity, r.max_quantity, int(r.refill),
          int(r.cancel), int(r.dripfeed), r.description) for i, r in enumerate(rows)],
    )


async def load_services(db: Database) -> list[ServiceRow]:
    rows = await db.fetchall(
        "SELECT service_id, name, type, category, rate, min_quantity, max_quantity, refill, cancel, dripfeed,"
        " description FROM services ORDER BY position")
    return [ServiceRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]), bool(r[8]), bool(r[9]), r[10])
            for r in rows]
