"""What the handlers and jobs share: settings, database, panel client, catalogue (in bot_data)."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram.ext import Application, CallbackContext

from bot.domain.catalogue import Catalogue
from bot.notifier import Notifier
from bot.panel import PanelClient
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
    catalogue: Catalogue
    currency: str
    notifier: Notifier | None = None
    sandbox_server: SandboxServer | None = None
    known_users: set[int] = field(default_factory=set)  # recorded in the database this run

    @property
    def sandbox(self) -> bool:
        return self.sandbox_server is not None

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.admin_ids

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
