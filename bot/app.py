"""The application factory: one `Application` wired to the panel, the database and handlers.

Resources are opened in `post_init` and closed in `post_shutdown`, which python-telegram-bot
runs around `run_polling()`; tests that drive the Application by hand call them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from aiolimiter import AsyncLimiter
from telegram import Bot, BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

from bot import i18n, texts
from bot.broadcaster import Broadcaster
from bot.dialogue import Dialogues
from bot.domain.panel_health import PanelHealth
from bot.http_server import start_http_server, stop_http_server
from bot.inbox import Inbox, decoder
from bot.metrics import Metrics
from bot.notifier import BULK_PER_SECOND, Notifier
from bot.panel import PanelClient
from bot.panel.sandbox import SandboxServer, start_sandbox_panels
from bot.rate_limit import build_rate_limiter
from bot.settings import Settings
from bot.shop.alerts import AdminAlerts
from bot.shop.catalogue import ShopCatalogue
from bot.shop.customers import Customers
from bot.shop.ordering import record_unrecorded, recover_interrupted
from bot.shop.panel_watch import check_balance, check_balances
from bot.shop.panels import Panel, Panels, reporting_to
from bot.shop.sync import ChangeWatcher
from bot.shop.tracking import PollReport, poll_orders, poll_refills
from bot.state import AppState, app_state, find_app_state, metrics_of, pop_app_state, set_app_state, set_metrics
from bot.telegram_request import AiohttpRequest
from bot.update_processor import PerUserUpdateProcessor
from handlers.dialogues import announce_expired
from handlers.routes import register_handlers
from storage.database import SQLITE, Database, open_database
from storage.kv import get_value, set_value
from storage.leases import release_lease, take_lease
from storage.ledger import ledger_is_empty
from storage.panels import adopt_unnamed, open_orders_by_panel

log = logging.getLogger(__name__)

SYNC_EVERY = 2.0  # seconds between looks at what other instances changed (bans, catalogue rules)

DEFAULT_CURRENCY = "USD"
CURRENCY = "currency"  # the kv key of the shop's currency, set once
STARTUP_PANEL_WAIT = 10.0  # seconds start-up waits for the panels' balances (their currencies)
SANDBOX_WARNING = (
    "SANDBOX MODE: no panel is configured, so the bot uses its built-in simulated panels: %s. "
    "Orders are simulated and nothing is bought. Set PANELS (or PANEL_API_URL and PANEL_API_KEY) to sell for real."
)


def build_application(settings: Settings, *, freeze_heap: bool = False) -> Application:  # type: ignore[type-arg]
    """`freeze_heap`: for a process that runs only this bot (`python -m bot`), see `_startup`."""
    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        await start_http_server(application, settings)  # first: a port taken stops the bot before anything runs
        await _startup(application, settings, freeze_heap=freeze_heap)

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        await stop_http_server(application)
        await _shutdown(application)

    metrics = Metrics()  # this application's own registry (bot/metrics.py)
    processor = PerUserUpdateProcessor()
    processor.observe = metrics.observe_update
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML))  # every text in bot/texts.py is HTML
        .rate_limiter(build_rate_limiter(settings))  # shared by every instance with REDIS_URL
        .request(AiohttpRequest(on_flood=metrics.observe_telegram_flood))
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .concurrent_updates(processor)
        .post_init(post_init)
        .post_stop(_stop)
        .post_shutdown(post_shutdown)
    )
    if settings.webhook:  # updates come in on our HTTP server (bot/http_server.py), not by polling
        builder = builder.updater(None)
    application = builder.build()
    set_metrics(application, metrics)
    register_handlers(application, settings.admin_ids)
    application.add_error_handler(_on_error)
    return application


async def _startup(application: Application, settings: Settings,  # type: ignore[type-arg]
                   *, freeze_heap: bool = False) -> None:
    instance = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    db = await open_database(settings.database_url, pool_size=settings.database_pool_size, owner=instance)
    # This instance is alive while it holds this lease (renewed by the sync job, released at stop):
    # orders it is placing are recovered by another instance only once it is gone.
    await take_lease(db, f"instance:{instance}", instance, now=time.time(), seconds=_alive_for(settings))
    sandbox_servers: tuple[SandboxServer, ...] = ()
    metrics = metrics_of(application)
    if settings.sandbox:
        started = await start_sandbox_panels(settings.sandbox_panels)
        sandbox_servers = tuple(server for _, server, _ in started)
        panels = Panels([_panel(metrics, spec.name, server.api_url, key, settings.panel_timeout_seconds,
                                settings.panel_max_concurrency, low_balance=settings.panel_low_balance)
                         for spec, server, key in started])
        log.warning(SANDBOX_WARNING, ", ".join(f"{spec.name} at {server.api_url}" for spec, server, _ in started))
    else:
        panels = Panels([_panel(metrics, config.name, config.url, config.key.get_secret_value(), config.timeout,
                                config.concurrency, currency=config.currency, low_balance=config.low_balance)
                         for config in settings.panels])
    async def send_alert(chat_id: int, text: object) -> object:
        return await application.bot.send_message(chat_id, text)  # type: ignore[arg-type]  # rendered on the wire

    logged = await ChangeWatcher.logged(db, time.time())  # before the caches are loaded
    customers = await Customers.load(db, settings.admin_ids, settings.allowed_user_ids)
    async def claim_alert(key: str, seconds: float) -> bool:
        return await take_lease(db, f"alert:{key}", instance, now=time.time(), seconds=seconds)

    alerts = AdminAlerts(settings.admin_ids, send_alert, locale_of=customers.locale_of,
                         claim=None if db.dialect == SQLITE else claim_alert)
    await adopt_unnamed(db, panels.first.name, await get_value(db, CURRENCY))
    # Each panel's currency, from PANELS, what it said before, or its `balance` now (side by side; a
    # panel that hangs holds up the start only so long: the balance job asks it again).
    await panels.load_learned(db)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STARTUP_PANEL_WAIT):
            await asyncio.gather(*(check_balance(db, panels, panel, alerts) for panel in panels
                                   if panel.currency is None))
    currency = await _shop_currency(db, settings, panels)
    await _warn_of_unconfigured(db, panels)
    catalogues = await ShopCatalogue.load(db, panels, settings.price_markup_percent, currency)
    catalogue = catalogues.full
    state = AppState(settings=settings, currency=currency, db=db, panels=panels,
                     alerts=alerts, dialogues=Dialogues(db, settings.conversation_timeout_seconds),
                     customers=customers,
                     catalogues=catalogues, sandbox_servers=sandbox_servers,
                     watcher=ChangeWatcher(db, customers, catalogues, logged),
                     instance=instance)
    processor = application.update_processor
    assert isinstance(processor, PerUserUpdateProcessor)
    processor.session = state.dialogues.session  # each update of a user reads and writes their dialogue
    processor.reader = lambda user: state.customers.language_of(user.id, user.language_code)
    bulk_pace = AsyncLimiter(1, 1 / BULK_PER_SECOND)  # notifications and broadcasts share Telegram's limit
    state.notifier = Notifier(application.bot, db, on_blocked=state.customers.forget, pace=bulk_pace,
                              lease=settings.claim_seconds)
    state.broadcaster = Broadcaster(application.bot, db, bulk_pace, on_blocked=state.customers.forget,
                                    locale_of=state.customers.locale_of, lease=settings.claim_seconds,
                                    alone=db.dialect == SQLITE)
    set_app_state(application, state)
    # Nothing cached yet, or a panel new to PANELS: customers need its catalogue now.
    refresh_now = not len(catalogue) or any(not catalogues.panel_services(name) for name in panels.names)
    if refresh_now:
        await _refresh(state)
    # The only instance (SQLite): whatever was being placed was cut short by its stop. Several: what
    # instances that are gone were placing (the poll job looks again every tick).
    await recover_interrupted(db, alerts, now=None if db.dialect == SQLITE else time.time())
    await _introduce(application.bot)
    assert application.job_queue is not None
    every = settings.catalogue_refresh_minutes * 60
    # A cached catalogue is refreshed as soon as the application runs (misfire_grace_time None: a
    # first run that falls due before the job queue starts is run then, not dropped as a misfire).
    application.job_queue.run_repeating(_refresh_job, interval=every, first=every if refresh_now else 0,
                                        name="catalogue-refresh",
                                        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None})
    # Each order's own schedule is in the database; the job only looks for what is due.
    tick = min(settings.poll_interval_seconds, 30.0)
    application.job_queue.run_repeating(_poll_job, interval=tick, first=tick, name="poll",
                                        job_kwargs={"max_instances": 1, "coalesce": True})
    sweep_every = min(settings.conversation_timeout_seconds / 2, 30.0)
    application.job_queue.run_repeating(announce_expired, interval=sweep_every, first=sweep_every,
                                        name="dialogue-expiry", job_kwargs={"max_instances": 1, "coalesce": True})
    if db.dialect != SQLITE:  # (a SQLite file has one instance: nobody else changes what it holds)
        application.job_queue.run_repeating(_sync_job, interval=SYNC_EVERY, first=SYNC_EVERY, name="sync",
                                            job_kwargs={"max_instances": 1, "coalesce": True})
    balance_every = settings.balance_check_minutes * 60
    application.job_queue.run_repeating(_balance_job, interval=balance_every, first=min(60, balance_every),
                                        name="balance-check", job_kwargs={"max_instances": 1, "coalesce": True})
    if settings.webhook:
        state.inbox = Inbox(db, state.instance, _handler(application), decoder(application.bot),
                            lease=settings.claim_seconds)
        state.inbox.start()  # also takes over what an instance that stopped left unhandled
    state.notifier.start()  # delivers what the outbox holds, also from before a restart
    if freeze_heap:
        # What start-up loaded (modules, the catalogue) stays for the life of the process. Frozen,
        # it is left out of the cyclic GC's full collections, which otherwise walk all of it and
        # hold up every reply in flight for ~30 ms (seen in bench/conversation_load.py).
        gc.collect()
        gc.freeze()
    state.broadcaster.start()  # resumes a broadcast a restart interrupted


def _panel(metrics: Metrics, name: str, url: str, key: str, timeout: float, concurrency: int, *,
           currency: str | None = None, low_balance: Decimal | None = None) -> Panel:
    """A panel and its client, which reports each request to the panel's health and the metrics."""
    health = PanelHealth()
    client = PanelClient(url, key, timeout=timeout, max_concurrency=concurrency,
                         observe=reporting_to(name, health, metrics.observe_panel))
    return Panel(name, client, configured_currency=currency, low_balance=low_balance, health=health)


async def _shop_currency(db: Database, settings: Settings, panels: Panels) -> str:
    """The shop's currency, which wallets are kept in: set once (SHOP_CURRENCY, else the first
    panel's, from PANELS or its `balance`) and remembered; never changed under existing wallets.
    The panels' currencies are known by then (as far as they answered)."""
    known = await get_value(db, CURRENCY)
    wanted = settings.shop_currency
    if known and wanted and wanted != known:
        if await ledger_is_empty(db):
            await set_value(db, CURRENCY, wanted)
            return wanted
        log.error("SHOP_CURRENCY is %s but the wallets already hold %s: keeping %s (wallets cannot change"
                  " currency; start a new database to sell in %s)", wanted, known, known, wanted)
        return known
    if known:
        return known
    currency = wanted or panels.first.currency
    if currency is None:
        log.warning("the panel %s does not answer or name its currency; wallets use %s until it does (set"
                    " SHOP_CURRENCY to choose)", panels.first.name, DEFAULT_CURRENCY)
        return DEFAULT_CURRENCY
    await set_value(db, CURRENCY, currency)
    return currency


async def _warn_of_unconfigured(db: Database, panels: Panels) -> None:
    """Open orders of a panel PANELS no longer lists cannot be followed: say so at every start."""
    for name, count in (await open_orders_by_panel(db)).items():
        if panels.get(name) is None and count:
            log.warning("%d open orders were placed at panel %r, which PANELS does not list: they are not followed"
                        " until it is listed again under that name", count, name)


async def _refresh(state: AppState) -> None:
    try:
        report = await state.catalogues.refresh()  # (each panel it could not read is logged by it)
        if not report.read_any:
            log.warning("no panel gave its services; keeping %d cached services", len(state.full_catalogue))
    except Exception:  # the database, say: the bot starts and serves the cached catalogue anyway
        log.exception("could not store the refreshed catalogue; keeping %d cached services",
                      len(state.full_catalogue))
        with contextlib.suppress(Exception):  # another instance may have stored one meanwhile
            await state.catalogues.reload()


async def _refresh_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    if await _one_instance(state, "catalogue-refresh", state.settings.catalogue_refresh_minutes * 60):
        await _refresh(state)


async def _one_instance(state: AppState, duty: str, every: float) -> bool:
    """Whether this instance does `duty` this time: the first to ask in each period does it (a
    little shorter than the period, so that the same instance tends to keep it)."""
    try:
        return await take_lease(state.db, duty, state.instance, now=time.time(), seconds=every * 0.9)
    except Exception:
        log.exception("could not take the %s lease; skipped this time", duty)
        return False


async def _sync_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    now = time.time()
    try:
        await take_lease(state.db, f"instance:{state.instance}", state.instance, now=now,
                         seconds=_alive_for(state.settings))  # still alive
    except Exception:
        log.exception("could not renew this instance's lease; trying again in a moment")
    if state.watcher is not None:
        await state.watcher.check(now)


def _alive_for(settings: Settings) -> float:
    """How long this instance's lease lasts: its claims' time, and always a few renewals' worth."""
    return max(settings.claim_seconds, 5 * SYNC_EVERY)


async def _balance_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    if not await _one_instance(state, "balance-check", state.settings.balance_check_minutes * 60):
        return
    reads = await check_balances(state.db, state.panels, state.alerts)  # (each panel's error is logged by it)
    if any(read.learned for read in reads):  # a panel told its currency at last: its services can be priced
        await state.catalogues.reload()


async def _introduce(bot: Bot) -> None:
    """The command menu and the descriptions Telegram shows, in every language with a catalog
    (the source language as the default for every other one)."""
    for locale in (*i18n.available()[1:], i18n.SOURCE):  # the default last
        language_code = None if locale == i18n.SOURCE else i18n.telegram_code(locale)
        with i18n.reading(locale):
            await bot.set_my_commands([BotCommand(name, str(about)) for name, about in texts.COMMANDS],
                                      language_code=language_code)
            await bot.set_my_description(str(texts.BOT_DESCRIPTION), language_code=language_code)
            await bot.set_my_short_description(str(texts.BOT_SHORT_DESCRIPTION), language_code=language_code)


async def _poll_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    state = app_state(context)
    interval = state.settings.poll_interval_seconds
    now = time.time()
    report, refills = PollReport(), 0
    if state.unrecorded:
        await record_unrecorded(state.db, state.unrecorded, poll_interval=interval)
    try:  # each duty on its own: a failure of one never keeps the other from running
        if state.db.dialect != SQLITE:  # another instance may have stopped while placing orders
            await recover_interrupted(state.db, state.alerts, now=now)
    except Exception:
        log.exception("could not look for orders an instance stopped placing")
    try:
        report = await poll_orders(state.db, state.panels, state.alerts, now=now, interval=interval,
                                   quantum=state.refund_quantum, lease=5 * state.settings.claim_seconds)
    except Exception:
        log.exception("order polling failed; it runs again next tick")
    try:
        refills = await poll_refills(state.db, state.panels, now=now, interval=interval)
    except Exception:
        log.exception("refill polling failed; it runs again next tick")
    if (report.changed or refills) and state.notifier is not None:
        state.notifier.wake()
    if report.due:
        log.info("poll: %d due, %d changed, %d refunds, %d held for an admin, %d failed, %d unknown to the panel",
                 report.due, report.changed, report.refunds, report.held, report.failed, report.missing)


def _handler(application: Application) -> Callable[[Update], Awaitable[None]]:  # type: ignore[type-arg]
    """How an update from the inbox is handled: as the update queue's would be (bot/update_processor.py)."""
    async def handle(update: Update) -> None:
        await application.update_processor.process_update(update, application.process_update(update))
    return handle


async def _stop(application: Application) -> None:  # type: ignore[type-arg]
    state = find_app_state(application)
    if state is not None and state.inbox is not None:
        await state.inbox.stop()  # the updates in hand are finished (the server already refuses new ones)
    if state is not None and state.broadcaster is not None:
        await state.broadcaster.stop()  # lets the batch in flight finish: a restart resumes after it
    if state is not None and state.notifier is not None:
        await state.notifier.stop()


async def _shutdown(application: Application) -> None:  # type: ignore[type-arg]
    state = pop_app_state(application)
    if state is None:
        return
    await state.panels.aclose()
    for server in state.sandbox_servers:
        await server.stop()
    with contextlib.suppress(Exception):  # gone: what it was placing is another instance's to recover now
        await release_lease(state.db, f"instance:{state.instance}", state.instance)
    await state.db.close()


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error (secrets are redacted by the log filter) and tell the user in plain words."""
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):  # may have been answered before the error
            await update.callback_query.answer()
    try:
        await context.bot.send_message(update.effective_chat.id, texts.ERROR_GENERIC)
    except TelegramError:  # the chat may be gone or flooded; the log already has the story
        log.warning("could not tell the user about the error", exc_info=True)


__all__ = ["build_application"]
