"""A shop for end-to-end tests: the real bot, a fake Bot API, and a sandbox panel it talks to
over HTTP, all on loopback (its customers: tests/support/customer.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.domain.money import from_micros
from bot.http_server import http_server_of
from bot.panel.sandbox import Dialect, SandboxClock, SandboxPanel, SandboxServer
from bot.panel.sandbox.catalogue import DEMO_CATALOGUE, DemoService
from bot.settings import Settings, load_settings
from bot.state import AppState, app_state
from storage.dialogues import DialogueRow, load_dialogue
from storage.ledger import balance_micros
from tests.support.bot_runner import running_bot
from tests.support.customer import Customer
from tests.support.databases import database_url
from tests.support.fake_telegram import FakeTelegram
from tests.support.ledger_check import assert_ledger_consistent

PANEL_KEY = "sk-shop-test-key-0001"
ADMIN_ID = 900


@dataclass
class Shop:
    telegram: FakeTelegram
    panel: SandboxPanel
    server: SandboxServer
    app: Application  # type: ignore[type-arg]
    settings: Settings

    @property
    def state(self) -> AppState:
        return app_state(self.app)  # type: ignore[arg-type]

    def customer(self, user_id: int, first_name: str = "Ann") -> Customer:
        return Customer(self, self.telegram.user(user_id, first_name=first_name))

    async def balance(self, user_id: int) -> Decimal:
        return from_micros(await balance_micros(self.state.db, user_id))

    async def dialogue(self, user_id: int) -> DialogueRow:
        """The user's dialogue state as stored."""
        return await load_dialogue(self.state.db, user_id)

    def adds(self) -> list[dict[str, str]]:
        return [r.fields for r in self.server.requests if r.action == "add"]


@asynccontextmanager
async def open_shop(tmp_path: Path, *, catalogue: tuple[DemoService, ...] = DEMO_CATALOGUE,
                    dialect: Dialect = Dialect.V2, **overrides: Any) -> AsyncIterator[Shop]:
    panel = SandboxPanel(api_key=PANEL_KEY, dialect=dialect, clock=SandboxClock(speed=0), catalogue=catalogue)
    async with FakeTelegram() as telegram, SandboxServer(panel, hang_seconds=5) as server, \
            run_shop(tmp_path, telegram, server, **overrides) as shop:
        yield shop


@asynccontextmanager
async def run_shop(tmp_path: Path, telegram: FakeTelegram, server: SandboxServer, **overrides: Any
                   ) -> AsyncIterator[Shop]:
    """The bot alone, against a fake Telegram and a sandbox that outlive it (for restarts)."""
    values: dict[str, Any] = {
        "telegram_bot_token": telegram.token, "telegram_base_url": telegram.base_url,
        "panel_api_url": server.api_url, "panel_api_key": PANEL_KEY, "panel_timeout_seconds": 1,
        "database_url": await database_url(tmp_path / "shop.db"), "admin_ids": str(ADMIN_ID),
    } | overrides
    settings = load_settings(_env_file=None, **values)
    telegram.user(ADMIN_ID, first_name="Admin")
    earlier_queries = set(telegram._queries)
    async with running_bot(settings) as app:
        # Webhook mode: this instance joins the fake's delivery targets (behind the public URL).
        target = _webhook_target(app) if settings.webhook else None
        if target is not None:
            telegram.deliver_webhooks_to([*telegram.webhook_targets, target])
        try:
            yield Shop(telegram, server.panel, server, app, settings)
        finally:
            if target is not None and target in telegram.webhook_targets:
                telegram.deliver_webhooks_to([t for t in telegram.webhook_targets if t != target])
        db = app_state(app).db  # type: ignore[arg-type]
        if not db.closed:  # (a test may close it on purpose)
            await assert_ledger_consistent(db)  # after every test
    # Every button pressed while this bot ran was answered (Telegram shows a spinner until then).
    unanswered = set(telegram._queries) - earlier_queries - telegram._answered
    assert not unanswered, f"callback queries never answered: {sorted(unanswered)}"


def _webhook_target(app: Application) -> str:  # type: ignore[type-arg]
    server = http_server_of(app)
    assert server is not None, "webhook mode without an HTTP server"
    return server.url
