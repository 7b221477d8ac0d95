"""Run the real Application by hand, in the order `run_polling()` uses, for end-to-end tests; in
webhook mode (WEBHOOK_URL set) exactly as `python -m bot` runs it (bot/webhook.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram.ext import Application

from bot.app import build_application
from bot.settings import Settings
from bot.webhook import running_webhook


@asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    application = build_application(settings)
    if settings.webhook:
        async with running_webhook(application, settings):
            yield application
        return
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=1)
    await application.start()
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
