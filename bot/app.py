"""The application factory: one `Application` wired to the panel, the database and handlers.

Resources are opened in `post_init` and closed in `post_shutdown`, which python-telegram-bot
runs around `run_polling()`; tests that drive the Application by hand call them too.
"""

from __future__ import annotations

import logging
import secrets

from telegram import BotCommand, Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from bot import texts
from bot.panel import PanelClient, PanelError
from bot.panel.sandbox import SandboxPanel, SandboxServer
from bot.settings import Settings
from bot.state import AppState, app_state, pop_app_state, set_app_state
from handlers import start
from storage.database import open_database

log = logging.getLogger(__name__)

SANDBOX_WARNING = (
    "SANDBOX MODE: PANEL_API_URL is not set, so the bot uses its built-in simulated panel at %s. "
    "Orders are simulated and nothing is bought. Set PANEL_API_URL and PANEL_API_KEY to sell for real."
)


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .post_init(lambda app: _startup(app, settings))
        .post_shutdown(_shutdown)
        .build()
    )
    start.register(application)
    application.add_error_handler(_on_error)
    return application


async def _startup(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    db = await open_database(settings.database_path)
    sandbox_server = None
    if settings.sandbox:
        sandbox_key = secrets.token_urlsafe(24)
        sandbox_server = await SandboxServer(SandboxPanel(api_key=sandbox_key)).start()
        api_url, api_key = sandbox_server.api_url, sandbox_key
        log.warning(SANDBOX_WARNING, api_url)
    else:
        assert settings.panel_api_url is not None and settings.panel_api_key is not None
        api_url, api_key = settings.panel_api_url, settings.panel_api_key.get_secret_value()
    panel = PanelClient(api_url, api_key, timeout=settings.panel_timeout_seconds,
                        max_concurrency=settings.panel_max_concurrency)
    set_app_state(application, AppState(settings=settings, db=db, panel=panel, sandbox_server=sandbox_server))
    await application.bot.set_my_commands([BotCommand(name, about) for name, about in texts.COMMANDS])
    assert application.job_queue is not None
    application.job_queue.run_once(_check_panel, when=0, name="panel-check")


async def _check_panel(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say at start-up whether the panel answers, without holding the bot back if it does not."""
    panel = app_state(context).panel
    try:
        balance = await panel.balance()
    except PanelError as exc:
        log.warning("the panel at %s does not answer as expected: %s", panel.api_url, exc.message)
    else:
        log.info("panel at %s answers: balance %s %s", panel.api_url, balance.amount, balance.currency or "")


async def _shutdown(application: Application) -> None:  # type: ignore[type-arg]
    state = pop_app_state(application)
    if state is None:
        return
    await state.panel.aclose()
    if state.sandbox_server is not None:
        await state.sandbox_server.stop()
    await state.db.close()


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error (secrets are redacted by the log filter) and tell the user in plain words."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(update.effective_chat.id, texts.ERROR_GENERIC)
        except Exception:  # the chat may be gone or flooded; the log already has the story
            log.warning("could not tell the user about the error", exc_info=True)


__all__ = ["build_application"]
