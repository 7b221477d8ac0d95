"""A shop's database from before several panels (Alembic revision 0002_instances: one unnamed
panel, its services cached in `services`, orders with no panel of their own) upgraded by the
real bot configured the old way (PANEL_API_URL + PANEL_API_KEY: the one panel `main`)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import asyncpg
from alembic import command
from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.panel.sandbox import DEMO_CATALOGUE, FaultKind, SandboxClock, SandboxPanel, SandboxServer
from bot.panel.sandbox.engine import PENDING_SECONDS, RUN_SECONDS
from bot.settings import MAIN_PANEL
from storage.alembic.runner import config
from storage.database import POSTGRESQL, Target
from storage.orders import get_order
from tests.support.databases import database_url
from tests.support.fake_telegram import FakeTelegram
from tests.support.shop import ADMIN_ID, PANEL_KEY, run_shop

BEFORE_PANELS = "0002_instances"
USER = 4242
CHEAP_FOLLOWERS = next(s for s in DEMO_CATALOGUE if s.service_id == 102)  # 0.12 per 1000
FAST = {"poll_interval_seconds": 1}


def _old_rows(conn: Connection, panel_order_id: str) -> dict[str, int]:
    """What a one-panel shop held: a customer credited 10 USD, one finished order and one the
    panel is still working on (both 0.12 USD), the panel's catalogue cached, its currency."""
    conn.execute(text("INSERT INTO users (user_id, first_name) VALUES (:user, 'Ann')"), {"user": USER})
    conn.execute(text("INSERT INTO kv (key, value) VALUES ('currency', 'USD')"))
    for position, s in enumerate(DEMO_CATALOGUE):
        conn.execute(text(
            "INSERT INTO services (service_id, position, name, type, category, rate, min_quantity, max_quantity,"
            " refill, cancel, dripfeed, description, fetched_at) VALUES (:id, :position, :name, :type, :category,"
            " :rate, :min, :max, :refill, :cancel, :dripfeed, :description, '2025-01-01T00:00:00.000Z')"),
            {"id": str(s.service_id), "position": position, "name": s.name, "type": s.type.value,
             "category": s.category, "rate": str(s.rate), "min": s.min, "max": s.max, "refill": int(s.refill),
             "cancel": int(s.cancel), "dripfeed": int(s.dripfeed), "description": s.description})
    conn.execute(text("INSERT INTO ledger (user_id, amount_micros, currency, reason, admin_id, note)"
                      " VALUES (:user, 10000000, 'USD', 'credit', :admin, 'before the upgrade')"),
                 {"user": USER, "admin": ADMIN_ID})
    ids = {}
    for name, panel_id, status, next_poll in (("done", "23400", "completed", None),
                                              ("open", panel_order_id, None, 0.0)):
        request = {"service": "102", "link": f"https://instagram.com/{name}", "quantity": "1000"}
        ids[name] = conn.execute(text(
            "INSERT INTO orders (user_id, draft_key, service_id, service_name, service_type, link, quantity,"
            " request_json, price_micros, cost_micros, currency, state, panel_order_id, panel_status,"
            " panel_raw_status, next_poll_at, placed_at) VALUES (:user, :key, '102', :service, 'Default', :link,"
            " 1000, :request, 120000, 120000, 'USD', 'placed', :panel_id, :status, :raw, :next_poll, :placed_at)"
            " RETURNING order_id"),
            {"user": USER, "key": f"draft-{name}", "service": CHEAP_FOLLOWERS.name, "link": request["link"],
             "request": json.dumps(request), "panel_id": panel_id, "status": status,
             "raw": status.capitalize() if status else None, "next_poll": next_poll,
             "placed_at": time.time() - 600}).scalar_one()
        conn.execute(text("INSERT INTO ledger (user_id, amount_micros, currency, reason, order_id)"
                          " VALUES (:user, -120000, 'USD', 'order', :order)"), {"user": USER, "order": ids[name]})
    return ids


async def old_database(url: str, panel_order_id: str) -> dict[str, int]:
    """The database at `url` as a shop left it at BEFORE_PANELS, with `_old_rows`; their order ids."""
    target = Target.parse(url)
    ids: dict[str, int] = {}

    def build(conn: Connection) -> None:
        if conn.dialect.name == "sqlite":  # (the driver is in autocommit mode: as storage.alembic.runner does)
            event.listen(conn, "begin", lambda c: c.exec_driver_sql("BEGIN IMMEDIATE"))
        with conn.begin():
            command.upgrade(config(conn), BEFORE_PANELS)
            ids.update(_old_rows(conn, panel_order_id))

    if target.dialect == POSTGRESQL:  # the test's database is made at the newest schema: start it again empty
        admin = await asyncpg.connect(url)
        try:
            await admin.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        finally:
            await admin.close()
        engine = create_async_engine(target.url)
    else:
        engine = create_async_engine(f"sqlite+aiosqlite:///{target.path}", connect_args={"isolation_level": None})
    try:
        async with engine.connect() as conn:
            await conn.run_sync(build)
    finally:
        await engine.dispose()
    return ids


def _old_panel() -> SandboxPanel:
    return SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))


async def test_a_one_panel_database_upgrades_with_its_orders_at_that_panel(tmp_path: Path) -> None:
    panel = _old_panel()
    [panel_order_id] = panel.create_orders(1, service_id="102", quantity=1000)
    url = await database_url(tmp_path / "shop.db")
    ids = await old_database(url, panel_order_id)
    async with FakeTelegram() as telegram, SandboxServer(panel, hang_seconds=5) as server, \
            run_shop(tmp_path, telegram, server, database_url=url, **FAST) as shop:
        db = shop.state.db
        assert shop.state.panels.names == (MAIN_PANEL,) and shop.state.currency == "USD"
        for name, order_id in ids.items():
            order = await get_order(db, order_id)
            assert order is not None, name
            assert (order.panel, order.panel_service_id, order.panel_currency, order.fx_rate) == (
                MAIN_PANEL, "102", "USD", "1"), name
            assert (order.price_micros, order.cost_micros, order.panel_cost_micros) == (120000, 120000, 120000), name
        assert await db.fetchall("SELECT panel FROM orders WHERE panel IS NULL OR panel <> 'main'") == []
        assert await db.fetchall("SELECT panel FROM panel_services WHERE panel <> 'main'") == []
        # The open order is polled at that panel, and its change reaches the customer.
        customer = shop.customer(USER)
        panel.clock.advance(PENDING_SECONDS + RUN_SECONDS + 1)
        notice = await customer.user.next_message(timeout=10)
        assert notice.text.startswith(f"✅ Order #{ids['open']}"), notice.text
        asked = [r.fields["orders"] for r in server.requests if r.action == "status"]
        assert asked and set(asked) == {panel_order_id}  # the finished order is not asked about
        open_order = await get_order(db, ids["open"])
        assert open_order is not None and open_order.panel_status == "completed"
        # The wallet is what it was, and the old service ids are still the shop's.
        assert await shop.balance(USER) == Decimal("9.76")
        assert (await customer.say("/balance")).text.startswith("💰 Your balance: 9.76 USD")
        old_ids = {str(s.service_id) for s in DEMO_CATALOGUE}
        assert {s.service_id for s in shop.state.full_catalogue.services()} == old_ids
        assert [s.label for s in shop.state.catalogues.sources("102")] == ["main:102"]
        card = await customer.open_service("102")
        assert CHEAP_FOLLOWERS.name.split(" –")[0] in card.text


async def test_an_upgraded_shop_whose_panel_is_down_still_offers_its_cached_catalogue(tmp_path: Path) -> None:
    """The panel does not answer at the first start after the upgrade: customers still browse
    what was cached before it, as they did before the upgrade."""
    panel = _old_panel()
    [panel_order_id] = panel.create_orders(1, service_id="102", quantity=1000)
    url = await database_url(tmp_path / "shop.db")
    ids = await old_database(url, panel_order_id)
    async with FakeTelegram() as telegram, SandboxServer(panel, hang_seconds=5) as server:
        server.inject(FaultKind.HTML_502, times=1000)  # every request, whatever its action
        async with run_shop(tmp_path, telegram, server, database_url=url) as shop:
            report = await shop.state.catalogues.refresh()  # as the refresh job would: in vain
            assert not report.read_any and report.errors[0].startswith(f"{MAIN_PANEL}: ")
            order = await get_order(shop.state.db, ids["open"])
            assert order is not None and order.panel == MAIN_PANEL
            old_ids = {str(s.service_id) for s in DEMO_CATALOGUE}
            assert {s.service_id for s in shop.state.full_catalogue.services()} == old_ids
            customer = shop.customer(USER)
            card = await customer.open_service("102")
            assert CHEAP_FOLLOWERS.name.split(" –")[0] in card.text
