"""A shop over the three demo panels of sandbox mode (SANDBOX_PANELS: alpha V2 USD, beta V3 EUR,
gamma RESELLER USD), each its own sandbox over loopback HTTP, configured as PANELS would be in
production, with one bot (tests/support/shop.py `run_shop`) in front of them all.

    async with open_multi_shop(tmp_path) as multi:
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

from bot.panel.sandbox import SANDBOX_PANELS, SandboxClock, SandboxPanel, SandboxServer
from tests.support.fake_telegram import FakeTelegram
from tests.support.shop import Shop, run_shop

PANEL_NAMES = tuple(spec.name for spec in SANDBOX_PANELS)  # alpha, beta, gamma: PANELS' order


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
