"""The bot's own HTTP server (aiohttp): Telegram's webhook, and health and metrics for operators.

- POST <path of WEBHOOK_URL> (webhook mode): an update from Telegram. Refused with 403 unless it
  carries the secret of setWebhook in X-Telegram-Bot-Api-Secret-Token (compared in constant
  time); 413 for a body over 1 MB, 400 for one that is no update; 503 while the application does
  not run (starting or stopping: Telegram delivers it again later, perhaps to another instance).
  A good update is put on the application's queue and answered 200 at once: Telegram waits for
  the answer, not for the handling.
- GET /healthz: the process is alive (200 "ok").
- GET /readyz: the database and the panel answer (200, or 503 with a JSON body naming what
  failed). The panel is asked at most once per PANEL_CHECK_SECONDS, however often this is scraped.
- GET /metrics: Prometheus text format (bot/metrics.py), the database's figures read now.

One server per Application, started in post_init and stopped in post_shutdown (bot/app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.panel import PanelClient, PanelError
from bot.settings import Settings
from bot.state import find_app_state, metrics_of
from storage.metrics import ShopFigures, read_figures

log = logging.getLogger(__name__)

T = TypeVar("T")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - the header's name, not its value
MAX_UPDATE_BYTES = 1_000_000  # Telegram's updates are a few KB; a long text with entities well under 100 KB
PANEL_CHECK_SECONDS = 5.0  # a readiness answer about the panel is reused this long
PANEL_CHECK_TIMEOUT = 5.0  # the panel client retries; readiness does not wait for all of it
DATABASE_TIMEOUT = 2.0
FIGURES_SECONDS = 1.0  # the database's figures are read at most once a second, whoever scrapes
_KEY = "http_server"


class HttpServerError(Exception):
    """The server could not listen; the message is one line for the operator."""


@dataclass(frozen=True)
class _Check:
    ok: bool
    detail: str = "ok"


class _Cached(Generic[T]):
    """The last answer of `fetch`, reused for `ttl` seconds; concurrent callers share one fetch,
    which runs to its end even if the caller that started it goes away."""

    def __init__(self, fetch: Callable[[], Awaitable[T]], ttl: float, clock: Callable[[], float]) -> None:
        self._fetch, self.ttl, self._clock = fetch, ttl, clock
        self._value: T | None = None
        self._until = float("-inf")  # nothing fetched yet
        self._task: asyncio.Task[T] | None = None

    async def get(self) -> T:
        if self._clock() < self._until:
            return self._value  # type: ignore[return-value]  # set with _until
        if self._task is None:
            self._task = asyncio.create_task(self._refresh())
        return await asyncio.shield(self._task)

    async def _refresh(self) -> T:
        try:
            value = await self._fetch()
        finally:
            self._task = None
        self._value, self._until = value, self._clock() + self.ttl
        return value

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class HttpServer:
    def __init__(self, application: Application, settings: Settings, metrics: Metrics) -> None:  # type: ignore[type-arg]
        self.application = application
        self.settings = settings
        self.metrics = metrics
        self.clock: Callable[[], float] = time.monotonic  # for the caches (tests move it)
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret is not None else ""
        self._secret = secret.encode()
        self._panel_check = _Cached(self._ask_panel, PANEL_CHECK_SECONDS, lambda: self.clock())
        self._figures = _Cached(self._read_figures, FIGURES_SECONDS, lambda: self.clock())
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """The server's own address (http://host:port), e.g. to deliver a test's webhook to."""
        host = self.settings.http_listen
        if host in ("0.0.0.0", "::"):  # noqa: S104 - listening everywhere: loopback is one of them
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPDATE_BYTES)
        if self.settings.webhook:
            app.router.add_post(self.settings.webhook_path, self._webhook)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        host, port = self.settings.http_listen, self.settings.http_server_port or 0
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise HttpServerError(f"cannot listen on {host}:{port} ({exc.strerror or exc}). "
                                  "Check HTTP_LISTEN and HTTP_PORT.") from None
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("HTTP server on %s:%s%s", host, self.port,
                 f" (webhook at {self.settings.webhook_path})" if self.settings.webhook else "")

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self._panel_check.aclose()
        await self._figures.aclose()

    # ---- the webhook

    async def _webhook(self, request: web.Request) -> web.Response:
        outcome, response = await self._take_update(request)
        self.metrics.observe_webhook(outcome)
        return response

    async def _take_update(self, request: web.Request) -> tuple[str, web.Response]:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self._secret):
            log.info("webhook: refused a request without the right secret from %s", request.remote)
            return "forbidden", web.Response(status=403, text="forbidden")
        if not self.application.running:  # before start() or once stop() began: the queue is not read
            return "not_running", web.Response(status=503, text="not running", headers={"Retry-After": "1"})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            log.warning("webhook: refused a body over %d bytes", MAX_UPDATE_BYTES)
            return "too_large", web.Response(status=413, text="body too large")
        update = self._decode(body)
        if update is None:
            return "bad_request", web.Response(status=400, text="not an update")
        state = find_app_state(self.application)
        if state is None or state.inbox is None:
            return "not_running", web.Response(status=503, text="not running", headers={"Retry-After": "1"})
        try:  # stored before it is acknowledged: any instance may then handle it (bot/inbox.py)
            stored = await state.inbox.receive(update, body.decode("utf-8"))
        except Exception:
            log.exception("webhook: could not store update %s; Telegram will post it again", update.update_id)
            return "not_stored", web.Response(status=503, text="try again", headers={"Retry-After": "1"})
        return ("accepted" if stored else "repeated"), web.Response(status=200)

    def _decode(self, body: bytes) -> Update | None:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
            log.warning("webhook: a body that is not JSON (%d bytes)", len(body))
            return None
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            log.warning("webhook: JSON that is not an update (no update_id)")
            return None
        try:
            return Update.de_json(data, self.application.bot)
        except Exception as exc:  # whatever PTB trips over in a malformed update: one line, no traceback
            log.warning("webhook: update %s could not be read (%s)", update_id, type(exc).__name__)
            return None

    # ---- health

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        state = find_app_state(self.application)
        if state is None or not self.application.running:
            return _json(503, {"ready": False, "application": "not running"})
        database, panel = await asyncio.gather(self._ask_database(), self._panel_check.get())
        ready = database.ok and panel.ok
        return _json(200 if ready else 503, {"ready": ready, "database": database.detail, "panel": panel.detail})

    async def _ask_database(self) -> _Check:
        state = find_app_state(self.application)
        if state is None:
            return _Check(False, "not open")
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                await state.db.fetchone("SELECT 1")
        except TimeoutError:
            return _Check(False, "timeout")
        except Exception as exc:
            log.warning("readiness: the database failed (%s)", type(exc).__name__)
            return _Check(False, "failed")
        return _Check(True)

    async def _ask_panel(self) -> _Check:
        state = find_app_state(self.application)
        if state is None:
            return _Check(False, "not ready")
        # Ready while any panel answers: a shop with several sells through the others.
        answers = await asyncio.gather(*(self._ask_one(panel.name, panel.client) for panel in state.panels))
        return next((check for check in answers if check.ok), answers[0])

    @staticmethod
    async def _ask_one(name: str, client: PanelClient) -> _Check:
        try:
            async with asyncio.timeout(PANEL_CHECK_TIMEOUT):
                await client.balance()
        except TimeoutError:
            log.warning("readiness: panel %s did not answer within %gs", name, PANEL_CHECK_TIMEOUT)
            return _Check(False, "timeout")
        except PanelError as exc:
            log.warning("readiness: panel %s failed (%s)", name, exc.message)
            return _Check(False, "failed")
        return _Check(True)

    # ---- metrics

    async def _metrics(self, request: web.Request) -> web.Response:
        self.metrics.set_shop_figures(await self._figures.get())
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _read_figures(self) -> ShopFigures | None:
        state = find_app_state(self.application)
        if state is None:
            return None
        try:
            async with asyncio.timeout(DATABASE_TIMEOUT):
                return await read_figures(state.db)
        except Exception as exc:  # the other metrics are still worth serving
            log.warning("metrics: could not read the database's figures (%s)", type(exc).__name__)
            return None


def _json(status: int, payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload, status=status)


async def start_http_server(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    """In post_init: serve when configured (webhook mode, or HTTP_PORT set)."""
    if settings.http_server_port is None:
        return
    server = HttpServer(application, settings, metrics_of(application))
    await server.start()
    application.bot_data[_KEY] = server


async def stop_http_server(application: Application) -> None:  # type: ignore[type-arg]
    """In post_shutdown, before the database closes (readiness and metrics read it)."""
    server = application.bot_data.pop(_KEY, None)
    if server is not None:
        await server.stop()


def http_server_of(application: Application) -> HttpServer | None:  # type: ignore[type-arg]
    return application.bot_data.get(_KEY)
