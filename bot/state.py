"""What the handlers and jobs share: settings, database, panel client (in bot_data)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite
from telegram.ext import Application, CallbackContext

from bot.panel import PanelClient
from bot.panel.sandbox import SandboxServer
from bot.settings import Settings

_KEY = "app_state"


@dataclass
class AppState:
    settings: Settings
    db: aiosqlite.Connection
    panel: PanelClient
    sandbox_server: SandboxServer | None = None

    @property
    def sandbox(self) -> bool:
        return self.sandbox_server is not None


def app_state(context: CallbackContext) -> AppState:  # type: ignore[type-arg]
    return context.bot_data[_KEY]


def set_app_state(application: Application, state: AppState) -> None:  # type: ignore[type-arg]
    application.bot_data[_KEY] = state


def pop_app_state(application: Application) -> AppState | None:  # type: ignore[type-arg]
    return application.bot_data.pop(_KEY, None)
