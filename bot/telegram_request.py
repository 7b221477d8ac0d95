"""python-telegram-bot's networking backend on aiohttp, for the bot's calls to the Bot API.

PTB's default backend (HTTPXRequest) spends most of a reply's CPU time in httpx and httpcore:
measured on loopback, about 0.55 ms a call one at a time and 1.25 ms with 25 calls in flight
(the pool is scanned on every request), against 0.08 ms for aiohttp, which the project already
uses for the sandbox panel's server. Under a burst of customers that CPU time is the reply
latency (bench/conversation_load.py). PTB documents BaseRequest as the seam for this.

Timeouts keep PTB's meaning: connect, read, pool (waiting for a free connection) and write; aiohttp
has no write timeout of its own, so every request also gets a total cap of their sum.
"""

from __future__ import annotations

import functools
import re
import ssl
from urllib.parse import urlencode

import aiohttp
import certifi
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_TOKEN = re.compile(r"bot\d+:[\w-]+")  # never let the token reach an exception text or a log


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())  # loading the bundle takes ~20 ms: once


class AiohttpRequest(BaseRequest):
    """Defaults are HTTPXRequest's: 256 connections, 5 s read/write/connect, 1 s pool, 20 s media write."""

    __slots__ = ("_connect", "_media_write", "_pool", "_pool_size", "_read", "_session", "_write")

    def __init__(self, connection_pool_size: int = 256, *, read_timeout: float | None = 5.0,
                 write_timeout: float | None = 5.0, connect_timeout: float | None = 5.0,
                 pool_timeout: float | None = 1.0, media_write_timeout: float | None = 20.0) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write, self._connect = read_timeout, write_timeout, connect_timeout
        self._pool, self._media_write = pool_timeout, media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # As with httpx: certifi's CA bundle, and HTTPS_PROXY / NO_PROXY from the environment.
            connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=_tls_context())
            self._session = aiohttp.ClientSession(connector=connector,
                                                  timeout=aiohttp.ClientTimeout(total=None), trust_env=True)

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
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data is not None and request_data.contains_files
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        write = (self._media_write if files else self._write) if isinstance(write_timeout, DefaultValue) \
            else write_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        phases = (pool, connect, write, read)
        total = None if None in phases else sum(p for p in phases if p is not None)
        # aiohttp's `connect` covers waiting for a pooled connection and opening a new one.
        opening = None if pool is None or connect is None else pool + connect
        timeout = aiohttp.ClientTimeout(total=total, connect=opening, sock_connect=connect, sock_read=read)
        headers = {"User-Agent": self.USER_AGENT}
        body: aiohttp.FormData | bytes | None = None
        if request_data is not None and files:
            form = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mime_type) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mime_type)
            body = form
        elif request_data is not None:
            body = urlencode(request_data.json_parameters).encode()
            headers.update(FORM)
        try:
            async with self._session.request(method, url, data=body, headers=headers, timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors; the outcome is unknown
            raise TimedOut(_TOKEN.sub("bot<token>", str(exc)) or "Timed out") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(_TOKEN.sub("bot<token>", f"aiohttp.{type(exc).__name__}: {exc}")) from exc
