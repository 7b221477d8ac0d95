"""The catalogue's tables: what each panel lists (replaced whole per panel on its refresh), and
the shop's own services with their ranked sources at the panels (the operator's, kept)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from storage.database import NOW, Connection, Database


@dataclass(frozen=True)
class ServiceRow:
    """One service as a panel lists it (rate in the panel's currency)."""

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


@dataclass(frozen=True)
class ShopServiceRow:
    shop_id: str
    type: str
    name: str | None  # None: the first source's
    category: str | None
    description: str | None
    edited: bool  # the operator shaped it (merged, renamed): a refresh never reshapes it
    markup_percent: str | None = None  # Decimal as text; None: its category's


@dataclass(frozen=True)
class SourceRow:
    panel: str
    service_id: str
    shop_id: str
    rank: int
    flag: str | None  # 'gone', 'type'; None: in use
    name: str | None = None  # the panel's name for it when last listed


REPLACING_SERVICES = 7256002  # the advisory lock of a catalogue being replaced
_SERVICE_COLUMNS = ("service_id, name, type, category, rate, min_quantity, max_quantity, refill, cancel, dripfeed,"
                    " description")


async def replace_services(conn: Connection, panel: str, rows: Sequence[ServiceRow]) -> None:
    """One panel's list, inside the caller's transaction (with its sources' flags and the audit
    entry). Instances refreshing at once replace it one after the other."""
    await conn.one_at_a_time(REPLACING_SERVICES)
    await conn.execute("DELETE FROM panel_services WHERE panel = ?", (panel,))
    await conn.executemany(
        f"INSERT INTO panel_services (panel, position, {_SERVICE_COLUMNS}, fetched_at)"
        f" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?, {NOW})",
        [(panel, i, r.service_id, r.name, r.type, r.category, r.rate, r.min_quantity, r.max_quantity,
          int(r.refill), int(r.cancel), int(r.dripfeed), r.description) for i, r in enumerate(rows)],
    )


def _service_row(r: Sequence[object]) -> ServiceRow:
    return ServiceRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]),  # type: ignore[call-overload]
                      bool(r[7]), bool(r[8]), bool(r[9]), str(r[10]))


async def load_services(db: Database | Connection, panel: str | None = None) -> dict[str, list[ServiceRow]]:
    """Every panel's list (or `panel`'s alone), in each panel's order."""
    found: dict[str, list[ServiceRow]] = {}
    where, params = ("WHERE panel = ? ", (panel,)) if panel is not None else ("", ())
    for row in await db.fetchall(f"SELECT panel, {_SERVICE_COLUMNS} FROM panel_services {where}"
                                 "ORDER BY panel, position", params):
        found.setdefault(row[0], []).append(_service_row(row[1:]))
    return found


async def load_shop_services(db: Database | Connection) -> tuple[list[ShopServiceRow], list[SourceRow]]:
    services = [ShopServiceRow(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6]) for r in await db.fetchall(
        "SELECT shop_id, type, name, category, description, edited, markup_percent FROM shop_services")]
    sources = [SourceRow(r[0], r[1], r[2], int(r[3]), r[4], r[5]) for r in await db.fetchall(
        "SELECT panel, service_id, shop_id, rank, flag, name FROM shop_sources ORDER BY shop_id, rank")]
    return services, sources


async def add_shop_services(conn: Connection, services: Iterable[ShopServiceRow]) -> None:
    await conn.executemany("INSERT INTO shop_services (shop_id, type, name, category, description, edited)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           [(s.shop_id, s.type, s.name, s.category, s.description, int(s.edited)) for s in services])


async def add_sources(conn: Connection, sources: Iterable[SourceRow]) -> None:
    await conn.executemany("INSERT INTO shop_sources (panel, service_id, shop_id, rank, flag, name)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           [(x.panel, x.service_id, x.shop_id, x.rank, x.flag, x.name) for x in sources])


async def set_flags(conn: Connection, flags: Iterable[tuple[str, str, str | None]]) -> None:
    """(panel, service id, flag) for sources whose state changed."""
    await conn.executemany("UPDATE shop_sources SET flag = ? WHERE panel = ? AND service_id = ?",
                           [(flag, panel, service_id) for panel, service_id, flag in flags])


async def set_names(conn: Connection, names: Iterable[tuple[str, str, str]]) -> None:
    """(panel, service id, name) for sources whose panel renamed them."""
    await conn.executemany("UPDATE shop_sources SET name = ? WHERE panel = ? AND service_id = ?",
                           [(name, panel, service_id) for panel, service_id, name in names])


async def set_types(conn: Connection, types: Iterable[tuple[str, str]]) -> None:
    """(shop id, type): a service nobody shaped follows its one source's type."""
    await conn.executemany("UPDATE shop_services SET type = ? WHERE shop_id = ?",
                           [(kind, shop_id) for shop_id, kind in types])


async def set_sources(conn: Connection, shop_id: str, sources: Sequence[tuple[str, str]], *,
                      edited: bool = True) -> None:
    """These existing sources are `shop_id`'s, in this order of preference (the operator merged,
    reordered or took one out: the service counts as shaped by them from now on)."""
    await conn.executemany("UPDATE shop_sources SET shop_id = ?, rank = ? WHERE panel = ? AND service_id = ?",
                           [(shop_id, rank, panel, service_id) for rank, (panel, service_id) in enumerate(sources)])
    if edited:
        await conn.execute("UPDATE shop_services SET edited = 1 WHERE shop_id = ?", (shop_id,))


async def delete_shop_service(conn: Connection, shop_id: str) -> None:
    """A shop service whose sources went to another (merged into it)."""
    await conn.execute("DELETE FROM shop_services WHERE shop_id = ?", (shop_id,))


EDITABLE = ("name", "category", "description", "markup_percent")  # what the operator may set on a shop service


async def edit_shop_service(conn: Connection, shop_id: str, column: str, value: str | None) -> None:
    """One of the operator's own words (or markup) for a service; None: back to the default."""
    if column not in EDITABLE:
        raise ValueError(f"not an editable column: {column}")
    await conn.execute(f"UPDATE shop_services SET {column} = ?, edited = 1 WHERE shop_id = ?", (value, shop_id))
