"""python-telegram-bot's networking backend on aiohttp, for the bot's calls to the Bot API.

PTB's default backend (HTTPXRequest) spends most of a reply's CPU time in httpx and httpcore:
measured on loopback, about 0.55 ms a call one at a time and 1.25 ms with 25 calls in flight
(the pool is scanned on every request), against 0.08 ms for aiohttp, which the project already
uses for the sandbox panel's server. Under a burst of customers that CPU time is the reply
latency (bench/conversation_load.py). PTB documents BaseRequest as the seam for this.

It behaves as HTTPXRequest does where the bot's safety depends on it:
- timeouts keep PTB's meaning (None: no limit). The pool timeout is a wait for one of our own
  connection slots, so running out of them says "not sent"; aiohttp has no write timeout, so a
  request also gets a total cap of its phases' sum;
- redirects are not followed (a POST must not turn into a body-less GET elsewhere);
- a POST is never re-sent by aiohttp (it retries only idempotent methods);
- no exception text or chained cause carries the URL, which contains the bot token;
- certificates: certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR; proxies from the environment.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import ssl
from collections.abc import Callable
from urllib.parse import urlencode

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.texts import Rendered

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
POOL_TIMEOUT = ("Pool timeout: all connections in the connection pool are occupied. The request was not sent to "
                "Telegram.")
_TOKEN = re.compile(r"bot\d+:[\w-]+")  # never let the token reach an exception text or a log


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """As httpx builds it: SSL_CERT_FILE or SSL_CERT_DIR when set, else certifi's bundle (loaded once: ~20 ms)."""
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile or None, capath=capath or None)
    return ssl.create_default_context(cafile=certifi.where())


def _redacted(text: str) -> str:
    return _TOKEN.sub("bot<token>", text)


class AiohttpRequest(BaseRequest):
    """Defaults are HTTPXRequest's: 256 connections, 5 s read/write/connect, 1 s pool, 20 s media write."""

    __slots__ = ("_connect", "_media_write", "_on_flood", "_pool", "_pool_size", "_read", "_session", "_slots",
                 "_write")

    def __init__(self, connection_pool_size: int = 256, *, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0,
                 on_flood: Callable[[str], None] | None = None) -> None:
        """`on_flood(method)` is told of every 429 the Bot API answers (bot/metrics.py); the retry
        itself is the rate limiter's (bot/rate_limit.py)."""
        self._pool_size = connection_pool_size
        self._read, self._write, self._connect = read_timeout, write_timeout, connect_timeout
        self._pool, self._media_write = pool_timeout, media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(connection_pool_size)  # made again in initialize, in its event loop
        self._on_flood = on_flood

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._slots = asyncio.Semaphore(self._pool_size)
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=_tls_context())
            self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None),
                                                  trust_env=True)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        write = (self._media_write if files else self._write) if isinstance(write_timeout, DefaultValue) \
            else write_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        phases = (connect, write, read)
        total = None if None in phases else sum(p for p in phases if p is not None)
        # The slots are as many as the connector's connections, so aiohttp itself never waits for one.
        timeout = aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=read)
        headers = {"User-Agent": self.USER_AGENT}
        body: aiohttp.FormData | bytes | None = None
        if request_data is not None and files:
            form = aiohttp.FormData(_json_parameters(request_data), quote_fields=False)  # file names as they are
            for name, (filename, content, mime_type) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            body = form
        elif request_data is not None:
            body = urlencode(_json_parameters(request_data)).encode()
            headers.update(FORM)
        try:
            async with asyncio.timeout(pool):
                await self._slots.acquire()
        except TimeoutError:
            raise TimedOut(POOL_TIMEOUT) from None
        # `from None` below: aiohttp's own exceptions may quote the URL, token included.
        try:
            async with session.request(method, url, data=body, headers=headers, timeout=timeout,
                                       allow_redirects=False) as response:
                if response.status == 429 and self._on_flood is not None:
                    self._on_flood(url.rpartition("/")[2])  # the method: the token is in the part before
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors; the outcome is unknown
            raise TimedOut(_redacted(f"aiohttp.{type(exc).__name__}: {exc}")) from None
        except aiohttp.ClientError as exc:
            raise NetworkError(_redacted(f"aiohttp.{type(exc).__name__}: {exc}")) from None
        finally:
            self._slots.release()


def _json_parameters(request_data: RequestData) -> dict[str, str]:
    """PTB's `json_parameters`, with texts (bot/texts.py) rendered in the reader's language here,
    wherever they are in the request (a message, a button's label, a command's description)."""
    encoded = {}
    for name, value in request_data.parameters.items():
        if value is None:
            continue
        if isinstance(value, Rendered):
            value = str(value)
        encoded[name] = value if isinstance(value, str) else json.dumps(value, default=_rendered)
    return encoded


def _rendered(value: object) -> str:
    if isinstance(value, Rendered):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

