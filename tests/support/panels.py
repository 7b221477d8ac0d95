"""A shop over the three demo panels of sandbox mode (SANDBOX_PANELS: alpha V2 USD, beta V3 EUR,
gamma RESELLER USD), each its own sandbox over loopback HTTP, configured as PANELS would be in
production, with one bot (tests/support/shop.py `run_shop`) in front of them all, and its
operator shaping the catalogue as a person would (typing commands, pressing the admin's buttons).

    async with open_multi_shop(tmp_path) as multi:
        await set_rate(multi, "EUR", "1.10")
        await merge(multi, "101", "beta-1101")
        multi.panel("beta").funds = Decimal(0)
        multi.adds("gamma")  # what gamma was asked to place

Their clocks are frozen (`speed=0`): a test moves a panel's orders with `multi.panel(name).clock.advance(s)`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import texts
from bot.domain.catalogue import category_key
from bot.panel.sandbox import SANDBOX_PANELS, SandboxClock, SandboxPanel, SandboxServer
from handlers.admin_sources import service_key
from handlers.buttons import AdminCategory, AdminCategoryServices, AdminMerge, AdminService, ServiceAction
from tests.support.customer import Customer
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.shop import ADMIN_ID, Shop, run_shop


def panel_key(name: str) -> str:
    """Each sandbox's own key (a made-up test key: the shop must send each panel its own)."""
    return f"sk-{name}-test-key-0001"


@dataclass
class MultiShop:
    shop: Shop
    servers: dict[str, SandboxServer]  # by panel name, in PANELS' order

    def panel(self, name: str) -> SandboxPanel:
        return self.servers[name].panel

    def adds(self, name: str) -> list[dict[str, str]]:
        """What the panel was asked to place (the fields of each `add`, without the key)."""
        return [r.fields for r in self.servers[name].requests if r.action == "add"]

    def status_requests(self, name: str) -> list[dict[str, str]]:
        return [r.fields for r in self.servers[name].requests if r.action == "status"]


def panels_json(servers: Mapping[str, SandboxServer], options: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """PANELS for these servers (each entry's extra keys, e.g. a timeout, from `options`); no
    currency: the shop learns each panel's from its `balance` answer, as it would in production."""
    return json.dumps([{"name": name, "url": server.api_url, "key": panel_key(name), **(options or {}).get(name, {})}
                       for name, server in servers.items()])


@asynccontextmanager
async def sandbox_panels(*, hang_seconds: float = 5.0) -> AsyncIterator[dict[str, SandboxServer]]:
    """The three demo panels, each over its own port, their clocks frozen; by name, in PANELS' order."""
    async with AsyncExitStack() as stack:
        servers: dict[str, SandboxServer] = {}
        for spec in SANDBOX_PANELS:
            panel = SandboxPanel(api_key=panel_key(spec.name), dialect=spec.dialect, clock=SandboxClock(speed=0),
                                 funds=spec.funds, currency=spec.currency, catalogue=spec.catalogue,
                                 first_order_id=spec.first_order_id, first_refill_id=spec.first_refill_id)
            servers[spec.name] = await stack.enter_async_context(SandboxServer(panel, hang_seconds=hang_seconds))
        yield servers


@asynccontextmanager
async def run_multi_shop(tmp_path: Path, telegram: FakeTelegram, servers: Mapping[str, SandboxServer], *,
                         panel_options: Mapping[str, Mapping[str, Any]] | None = None,
                         **overrides: Any) -> AsyncIterator[MultiShop]:
    """The bot alone over `servers` (all of them, or some: a shop of fewer panels), wallets in
    USD, against a fake Telegram and panels that outlive it (for restarts); `overrides` are
    settings, `panel_options` extra keys of a panel's PANELS entry."""
    settings: dict[str, Any] = {"panels": panels_json(servers, panel_options), "panel_api_url": None,
                                "panel_api_key": None, "shop_currency": "USD"} | overrides
    first = next(iter(servers.values()))  # (run_shop's Shop.panel and .server are the first panel's)
    async with run_shop(tmp_path, telegram, first, **settings) as shop:
        yield MultiShop(shop, dict(servers))


@asynccontextmanager
async def open_multi_shop(tmp_path: Path, *, panel_options: Mapping[str, Mapping[str, Any]] | None = None,
                          hang_seconds: float = 5.0, **overrides: Any) -> AsyncIterator[MultiShop]:
    """The three demo panels, started, and the bot over them all."""
    async with FakeTelegram() as telegram, sandbox_panels(hang_seconds=hang_seconds) as servers, \
            run_multi_shop(tmp_path, telegram, servers, panel_options=panel_options, **overrides) as multi:
        yield multi


# --------------------------------------------------------------------------- the operator

def operator(multi: MultiShop) -> Customer:
    return multi.shop.customer(ADMIN_ID, "Admin")


async def set_rate(multi: MultiShop, currency: str, rate: str) -> None:
    """The admin types `/rate CUR RATE`: one `currency` unit is `rate` shop units from now on."""
    answer = await operator(multi).say(f"/rate {currency} {rate}")
    assert answer.text.startswith(f"✅ 1 {currency} = "), answer.text


async def merge(multi: MultiShop, into: str, other: str) -> SentMessage:
    """The admin opens shop service `into` from /catalogue, presses Merge and picks `other` among
    the suggestions (the services most like it at its other panels); returns the service's card."""
    admin = operator(multi)
    service = multi.shop.state.full_catalogue.service(into)
    assert service is not None, f"no service {into} on sale"
    key = category_key(service.category)
    screen = await admin.say("/catalogue")
    await _tap_on_some_page(admin, screen, AdminCategory(key).data)
    await admin.tap(screen, AdminCategoryServices(key, 0).data)
    await _tap_on_some_page(admin, screen, AdminService(into).data)
    await admin.tap(screen, AdminService(into, ServiceAction.MERGE).data)
    await admin.tap(screen, AdminMerge(into, service_key(other)).data)  # (not suggested: no such button)
    assert screen.text.startswith("✅ Merged"), screen.text
    return screen


async def _tap_on_some_page(admin: Customer, screen: SentMessage, data: str) -> None:
    """Press the button with callback `data`, paging on (Next ›) until a page has it."""
    for _ in range(100):
        if any(b.get("callback_data") == data for row in screen.buttons() for b in row):
            await admin.tap(screen, data)
            return
        await admin.tap(screen, str(texts.BUTTON_NEXT))
    raise AssertionError(f"no page has a button {data!r}")
