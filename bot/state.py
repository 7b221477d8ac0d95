"""What the handlers and jobs share (in bot_data): configuration, services, and the state those
services cache. A cache belongs to the service that writes it (`ShopCatalogue`, `Customers`,
`Throttle`): handlers read it through them and change it only by calling them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from telegram.ext import Application, CallbackContext

from bot.broadcaster import Broadcaster
from bot.dialogue import Dialogues
from bot.domain.catalogue import Catalogue, CatalogueRules
from bot.domain.money import quantum_micros
from bot.domain.order_form import OrderDraft
from bot.domain.pricing import price_per_1000
from bot.domain.throttle import Throttle
from bot.inbox import Inbox
from bot.metrics import Metrics
from bot.notifier import Notifier
from bot.panel import Service
from bot.panel.sandbox import SandboxServer
from bot.settings import Settings
from bot.shop.alerts import AdminAlerts
from bot.shop.catalogue import ShopCatalogue
from bot.shop.customers import Customers
from bot.shop.ordering import Quote, quote
from bot.shop.panels import Panels
from bot.shop.sync import ChangeWatcher
from storage.database import Database

_KEY = "app_state"
_METRICS = "metrics"  # made with the Application (bot/app.py), before the state


@dataclass
class AppState:
    # configuration: set at start-up, never changed
    settings: Settings
    currency: str  # the shop's (and wallets') currency: SHOP_CURRENCY, or the first panel's (bot/app.py)
    # services
    db: Database
    panels: Panels  # in PANELS' order
    alerts: AdminAlerts
    dialogues: Dialogues
    customers: Customers  # who may use the bot; bans
    catalogues: ShopCatalogue  # the catalogue customers see, and the operator's rules over it
    notifier: Notifier | None = None
    broadcaster: Broadcaster | None = None
    sandbox_servers: tuple[SandboxServer, ...] = ()  # sandbox mode: the simulated panels
    watcher: ChangeWatcher | None = None  # reloads what other instances changed
    inbox: Inbox | None = None  # webhook mode: updates through the database (bot/inbox.py)
    instance: str = "local"  # this process's name in leases and claims (host, pid, a random part)
    # state of the process's own duties
    # Orders the panel took whose id the database would not store yet: order id → panel id.
    unrecorded: dict[int, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic  # for throttles (tests move it)
    # Refresh (and Refill) on an order card ask the panel at most once per customer every 10 s,
    # and at most twice a second for the whole shop.
    card_throttle: Throttle = field(default_factory=lambda: Throttle(every=10.0, overall_every=0.5))

    # read-only views of the services, for the handlers' convenience
    @property
    def catalogue(self) -> Catalogue:
        return self.catalogues.visible

    @property
    def full_catalogue(self) -> Catalogue:
        return self.catalogues.full

    @property
    def rules(self) -> CatalogueRules:
        return self.catalogues.rules

    def markup_for(self, service: Service) -> Decimal:
        return self.catalogues.markup_for(service)

    def rate_of(self, service: Service) -> Decimal:
        """What a customer is shown as the rate: per 1000 (or per package)."""
        return price_per_1000(service, self.markup_for(service), self.settings.price_decimals)

    @property
    def refund_quantum(self) -> int:
        """The price step, in micro-units, that partial refunds are rounded down to."""
        return quantum_micros(self.settings.price_decimals)

    def quote(self, draft: OrderDraft) -> Quote:
        """The price of a draft as it would be charged now."""
        return quote(draft, self.markup_for(draft.service), self.settings.price_decimals)

    @property
    def sandbox(self) -> bool:
        return bool(self.sandbox_servers)

    def is_admin(self, user_id: int) -> bool:
        return self.customers.is_admin(user_id)

    def is_banned(self, user_id: int) -> bool:
        return self.customers.is_banned(user_id)

    def may_use(self, user_id: int) -> bool:
        return self.customers.may_use(user_id)


def app_state(context: CallbackContext) -> AppState:  # type: ignore[type-arg]
    return context.bot_data[_KEY]


def set_app_state(application: Application, state: AppState) -> None:  # type: ignore[type-arg]
    application.bot_data[_KEY] = state


def find_app_state(application: Application) -> AppState | None:  # type: ignore[type-arg]
    return application.bot_data.get(_KEY)


def pop_app_state(application: Application) -> AppState | None:  # type: ignore[type-arg]
    return application.bot_data.pop(_KEY, None)


def set_metrics(application: Application, metrics: Metrics) -> None:  # type: ignore[type-arg]
    application.bot_data[_METRICS] = metrics


def metrics_of(application: Application) -> Metrics:  # type: ignore[type-arg]
    return application.bot_data[_METRICS]
