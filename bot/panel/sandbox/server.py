"""The sandbox panel over real HTTP (aiohttp on loopback), with latency and fault injection.

    panel = SandboxPanel()
    async with SandboxServer(panel) as server:
        client = PanelClient(server.api_url, panel.api_key)

Every request is recorded (action and fields, never the key), and the server counts how many
requests were in flight at once, so tests and benchmarks can check batching and concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

from bot.panel.sandbox.engine import Dialect, SandboxPanel

log = logging.getLogger(__name__)


class FaultKind(StrEnum):
    HTML_502 = "html_502"  # a Cloudflare-style gateway page
    EMPTY = "empty"  # HTTP 200 with no body
    BROKEN_JSON = "broken_json"
    RATE_LIMIT = "rate_limit"  # HTTP 429 with Retry-After
    RATE_LIMIT_JSON = "rate_limit_json"  # HTTP 200 {"error": "Rate limit exceeded"}
    TIMEOUT = "timeout"  # no answer until the client gives up
    DROP = "drop"  # the connection is closed without an answer
    ANSWER = "answer"  # a chosen answer: `payload` (JSON, or Raw text) with `http_status`


@dataclass(frozen=True)
class Raw:
    """An answer body sent exactly as written (JSON no encoder would write: 1e1000000, [[[[…)."""

    text: str


# Changes the sandbox's own answer to a request: (action, form, answer) → answer to send.
Tamper = Callable[[str, Mapping[str, str], Any], Any]


@dataclass
class Fault:
    kind: FaultKind
    action: str | None = None  # None: any action
    times: int = 1
    # True: the panel does the work first, then the answer is lost (an order that exists
    # although the client saw a timeout).
    after_processing: bool = False
    payload: Any = None  # ANSWER: what to send
    http_status: int = 200  # ANSWER: with this status


@dataclass(frozen=True)
class RecordedRequest:
    action: str
    fields: dict[str, str]  # without the key


_HTML_502 = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway | panel.example</title></head>"
    "<body><h1>Bad gateway</h1><p>Cloudflare Ray ID: 8a1b2c3d4e5f</p></body></html>"
)


class SandboxServer:
    def __init__(self, panel: SandboxPanel, *, host: str = "127.0.0.1", port: int = 0,
                 latency: float = 0.0, hang_seconds: float = 60.0) -> None:
        self.panel = panel
        self.host = host
        self.port = port
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: list[Fault] = []
        self.tamper: Tamper | None = None
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v2"

    def actions(self) -> Counter[str]:
        return Counter(r.action for r in self.requests)

    def inject(self, kind: FaultKind, *, action: str | None = None, times: int = 1,
               after_processing: bool = False, payload: Any = None, http_status: int = 200) -> None:
        self._faults.append(Fault(FaultKind(kind), action, times, after_processing, payload, http_status))

    def clear_faults(self) -> None:
        self._faults.clear()

    def reset_counters(self) -> None:
        self.requests.clear()
        self.max_in_flight = 0

    async def start(self) -> SandboxServer:
        app = web.Application()
        app.router.add_get("/_sandbox/stats", self._stats)
        app.router.add_post("/_sandbox/reset", self._reset)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the port the OS picked when asked for 0
        return self

    async def stop(self) -> None:
        self._release.set()  # let hung requests finish so shutdown does not wait for them
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SandboxServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _stats(self, request: web.Request) -> web.Response:
        """Counters for a benchmark that runs the sandbox in another process."""
        return web.json_response({"requests": dict(self.actions()), "max_in_flight": self.max_in_flight})

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset_counters()
        return web.json_response({"ok": True})

    def _take_fault(self, action: str) -> Fault | None:
        for fault in self._faults:
            if fault.action in (None, action):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = await self._answer(request)
        if self.panel.dialect is Dialect.RESELLER:  # a PHP script: every answer opens a session
            response.set_cookie("PHPSESSID", secrets.token_hex(13), httponly=True)
        return response

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        reseller = self.panel.dialect is Dialect.RESELLER
        if reseller and request.method != "POST":
            return web.Response(status=405, text="Method Not Allowed", headers={"Allow": "POST"})
        form: dict[str, str] = {} if reseller else dict(request.query)  # the reseller reads form fields only
        if request.method == "POST":
            form.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        if reseller and "key" not in form and request.headers.get("X-Api-Key"):
            form["key"] = request.headers["X-Api-Key"]
        action = form.get("action", "")
        self.requests.append(RecordedRequest(action, {k: v for k, v in form.items() if k != "key"}))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            fault = self._take_fault(action)
            if fault is None:
                status, payload = self.panel.handle(form)
                if self.tamper is not None:
                    payload = self.tamper(action, form, payload)
                return self._json(status, payload)
            if fault.after_processing:
                self.panel.handle(form)
            if fault.kind is FaultKind.ANSWER:
                return self._json(fault.http_status, fault.payload)
            return await self._faulty(request, fault.kind)
        finally:
            self.in_flight -= 1

    @staticmethod
    def _json(status: int, payload: Any) -> web.Response:
        # Real panels often say text/html for JSON; the client must not care.
        text = payload.text if isinstance(payload, Raw) else json.dumps(payload)
        return web.Response(status=status, text=text, content_type="text/html")

    async def _faulty(self, request: web.Request, kind: FaultKind) -> web.StreamResponse:
        if kind is FaultKind.HTML_502:
            return web.Response(status=502, text=_HTML_502, content_type="text/html")
        if kind is FaultKind.EMPTY:
            return web.Response(status=200, text="", content_type="text/html")
        if kind is FaultKind.BROKEN_JSON:
            return web.Response(status=200, text='{"order": 12, "status": "Pen', content_type="text/html")
        if kind is FaultKind.RATE_LIMIT:
            return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "0"})
        if kind is FaultKind.RATE_LIMIT_JSON:
            return self._json(200, {"error": "Rate limit exceeded"})
        if kind is FaultKind.TIMEOUT:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=self.hang_seconds)
            return self._json(200, {"error": "late answer nobody reads"})
        # DROP: close the socket without a word.
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError
