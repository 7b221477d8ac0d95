"""What the handlers and jobs share: settings, database, panel client, catalogue (in bot_data)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from telegram.ext import Application, CallbackContext

from bot.broadcaster import Broadcaster
from bot.dialogue import Dialogues
from bot.domain.catalogue import Catalogue, CatalogueRules, visible
from bot.domain.throttle import Throttle
from bot.notifier import Notifier
from bot.panel import PanelClient, Service
from bot.panel.sandbox import SandboxServer
from bot.settings import Settings
from bot.shop.alerts import AdminAlerts
from storage.database import Database

_KEY = "app_state"


@dataclass
class AppState:
    settings: Settings
    db: Database
    panel: PanelClient
    alerts: AdminAlerts
    full_catalogue: Catalogue  # everything the panel offers that we can order
    currency: str
    dialogues: Dialogues
    rules: CatalogueRules = field(default_factory=CatalogueRules)
    catalogue: Catalogue = field(default_factory=lambda: Catalogue(()))  # what customers see: `show_catalogue`
    notifier: Notifier | None = None
    broadcaster: Broadcaster | None = None
    sandbox_server: SandboxServer | None = None
    known_users: set[int] = field(default_factory=set)  # recorded in the database this run
    seen_at: dict[int, float] = field(default_factory=dict)  # last_seen_at written (monotonic), by user
    banned: set[int] = field(default_factory=set)
    ban_told: set[int] = field(default_factory=set)  # banned users told this run
    # Orders the panel took whose id the database would not store yet: order id → panel id.
    unrecorded: dict[int, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic  # for expiries and throttles (tests move it)
    # Refresh (and Refill) on an order card ask the panel at most once per customer every 10 s,
    # and at most twice a second for the whole shop.
    card_throttle: Throttle = field(default_factory=lambda: Throttle(every=10.0, overall_every=0.5))

    def __post_init__(self) -> None:
        self.show_catalogue(self.full_catalogue, self.rules)

    def show_catalogue(self, full: Catalogue, rules: CatalogueRules) -> None:
        """Adopt a new catalogue or new rules: customers see the result from the next update on."""
        self.full_catalogue, self.rules = full, rules
        self.catalogue = visible(full, rules)

    def markup_for(self, service: Service) -> Decimal:
        return self.rules.markup_for(service, self.settings.price_markup_percent)

    @property
    def sandbox(self) -> bool:
        return self.sandbox_server is not None

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.admin_ids

    def is_banned(self, user_id: int) -> bool:
        return user_id in self.banned and not self.is_admin(user_id)

    def may_use(self, user_id: int) -> bool:
        allowed = self.settings.allowed_user_ids
        return not allowed or user_id in allowed or self.is_admin(user_id)


def app_state(context: CallbackContext) -> AppState:  # type: ignore[type-arg]
    return context.bot_data[_KEY]


def set_app_state(application: Application, state: AppState) -> None:  # type: ignore[type-arg]
    application.bot_data[_KEY] = state


def find_app_state(application: Application) -> AppState | None:  # type: ignore[type-arg]
    return application.bot_data.get(_KEY)


def pop_app_state(application: Application) -> AppState | None:  # type: ignore[type-arg]
    return application.bot_data.pop(_KEY, None)
