"""The panels the shop buys from: one client each, what is known of each (its currency, how it
has answered this last hour), in the order PANELS lists them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bot.domain.panel_health import PanelHealth
from bot.panel import PanelClient
from bot.settings import MAIN_PANEL
from storage.database import Database
from storage.panels import learn_currency, learned_currencies

Observer = Callable[[str, str, float], None]  # (action, outcome, seconds), as the client tells
PanelObserver = Callable[[str, str, str, float], None]  # the same with the panel's name first


@dataclass
class Panel:
    name: str
    client: PanelClient
    configured_currency: str | None = None  # PANELS' `currency`: wins over what `balance` says
    low_balance: Decimal | None = None  # in the panel's currency; None: no alert
    learned_currency: str | None = None  # from its `balance` answer, kept in the database
    health: PanelHealth = field(default_factory=PanelHealth)

    @property
    def currency(self) -> str | None:
        return self.configured_currency or self.learned_currency


def currency_code(text: str | None) -> str | None:
    """A currency as the shop names them (ISO 4217's three letters), or None."""
    text = (text or "").strip()
    return text.upper() if len(text) == 3 and text.isascii() and text.isalpha() else None


def reporting_to(name: str, health: PanelHealth, also: PanelObserver | None = None) -> Observer:
    """What a panel's client reports each request to: the panel's health (and the metrics)."""
    def observe(action: str, outcome: str, seconds: float) -> None:
        health.observe(action, outcome, seconds, now=time.time())
        if also is not None:
            also(name, action, outcome, seconds)
    return observe


class Panels:
    def __init__(self, panels: Sequence[Panel]) -> None:
        assert panels, "a shop has at least one panel"
        self._panels = {panel.name: panel for panel in panels}

    @classmethod
    def one(cls, client: PanelClient, name: str = MAIN_PANEL, *, currency: str | None = None) -> Panels:
        """A shop of one panel (PANEL_API_URL's, named as PANELS would name it)."""
        return cls([Panel(name, client, configured_currency=currency)])

    def __iter__(self) -> Iterator[Panel]:
        return iter(self._panels.values())

    def __len__(self) -> int:
        return len(self._panels)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._panels)

    @property
    def first(self) -> Panel:
        return next(iter(self._panels.values()))

    def get(self, name: str) -> Panel | None:
        return self._panels.get(name)

    def currencies(self) -> dict[str, str | None]:
        return {panel.name: panel.currency for panel in self}

    async def load_learned(self, db: Database) -> None:
        """The currencies `balance` told before (other instances too)."""
        known = await learned_currencies(db)
        for panel in self:
            panel.learned_currency = known.get(panel.name, panel.learned_currency)

    async def learn(self, db: Database, name: str, currency: str | None) -> bool:
        """A panel's `balance` named its currency: remember it (a three-letter code, as /rate
        takes them; "usd" is USD, "$" tells nothing). True if that is news."""
        panel = self.get(name)
        currency = currency_code(currency)
        if panel is None or currency is None or panel.learned_currency == currency:
            return False
        await learn_currency(db, name, currency)
        panel.learned_currency = currency
        return True

    async def aclose(self) -> None:
        await asyncio.gather(*(panel.client.aclose() for panel in self), return_exceptions=True)
