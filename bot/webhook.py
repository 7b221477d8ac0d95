"""Webhook mode: the Application run by hand around our HTTP server, as `run_polling` would run it.

Order: initialize (getMe) → post_init (database, panel, the HTTP server) → start → setWebhook
(with the secret, every update type) → serve → on SIGTERM/SIGINT: stop (updates already taken
are handled first; the server answers new ones 503 from then on, so Telegram delivers them
again, to another instance or to this one after a restart) → post_stop → shutdown →
post_shutdown (the server closes, then the database).

deleteWebhook is never called on the way out: other instances behind the same WEBHOOK_URL
still serve it, and with a single instance Telegram keeps the updates until it is back.
Going back to long polling needs nothing either: `run_polling` deletes the webhook first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application

from bot.settings import Settings

log = logging.getLogger(__name__)


class WebhookRefused(Exception):
    """Telegram would not take WEBHOOK_URL; the message is one line for the operator."""


@contextlib.asynccontextmanager
async def running_webhook(application: Application, settings: Settings) -> AsyncIterator[None]:  # type: ignore[type-arg]
    """The application, started and registered with Telegram, for the time of the `with`."""
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            try:
                await application.bot.set_webhook(settings.webhook_url, allowed_updates=Update.ALL_TYPES,
                                                  secret_token=settings.webhook_secret.get_secret_value())
            except BadRequest as exc:  # e.g. "bad webhook: Failed to resolve host"
                raise WebhookRefused(f"Telegram refused WEBHOOK_URL ({exc.message}). Check that it is "
                                     "this bot's public https address.") from None
            log.info("webhook mode: Telegram posts updates to %s", settings.webhook_url)
            yield
        finally:
            await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)


async def serve_webhook(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    """`python -m bot` in webhook mode: serve until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running_webhook(application, settings):
            await stop.wait()
            log.info("stopping: the updates already taken are handled first")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
