"""Async client for the SMM panel API v2 (POST `key` + `action`, JSON back).

One `PanelClient` per panel: one pooled `httpx.AsyncClient` and one semaphore that bounds how
many requests are in flight at once, whatever mix of calls the bot makes.

Reads (`services`, `status`, `refill_status`, `balance`) are retried with exponential back-off
on transport errors, rate limits and gateway errors. Writes (`add`, `refill`, `cancel`) are sent
exactly once: the protocol has no idempotency key, so a retry could buy twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx
from pydantic import SecretStr

from bot.panel.errors import (
    OrderOutcomeUnknown,
    PanelAuthError,
    PanelBadResponse,
    PanelError,
    PanelNotFound,
    PanelRateLimited,
    PanelRejected,
    PanelTransportError,
    PanelUnreachable,
)
from bot.panel.models import (
    AddedOrder,
    Balance,
    CancelRequested,
    OrderStatusInfo,
    RefillRequested,
    RefillStatusInfo,
    Service,
)
from bot.panel.orders import OrderRequest
from bot.panel.parsing import (
    classify_error,
    decode_body,
    error_message,
    parse_added,
    parse_balance,
    parse_cancel,
    parse_cancels,
    parse_refill,
    parse_refill_status,
    parse_refill_statuses,
    parse_refills,
    parse_services,
    parse_status,
    parse_statuses,
    whole_request_error,
)
from bot.panel.values import to_id

log = logging.getLogger(__name__)

T = TypeVar("T")
# Told of each request: (action, outcome, seconds), outcome "ok", "error" (the panel said no) or
# what went wrong on the way ("unreachable", "timeout", "rate_limited", "bad_response", "auth",
# "aborted": cancelled before an answer).
Observer = Callable[[str, str, float], None]
BATCH_LIMIT = 100  # ids per request, as every panel documents
# A catalogue of 10,000 services is about 5 MB; anything larger is not an answer we can use.
MAX_BODY_BYTES = 16_000_000
# Extra status requests a chunk may cost to find the ids a panel refuses a whole batch for:
# one such id among 100 takes about 2 × log2(100) = 14, a panel that refuses everything no more.
NARROWING_BUDGET = 30
# Some panels refuse clients that do not look like a browser.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36 smm-storefront-bot/0.1"
)


class PanelClient:
    def __init__(
        self,
        api_url: str,
        api_key: str | SecretStr,
        *,
        timeout: float = 20.0,
        max_concurrency: int = 10,
        read_attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 10.0,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.AsyncBaseTransport | None = None,
        observe: Observer | None = None,
    ) -> None:
        """`observe(action, outcome, seconds)` is told of every request sent (bot/metrics.py)."""
        if max_concurrency < 1 or read_attempts < 1:
            raise ValueError("max_concurrency and read_attempts must be at least 1")
        self.api_url = api_url
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._timeout = timeout
        self._read_attempts = read_attempts
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self.max_concurrency = max_concurrency
        self._gate = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            timeout=timeout,
            headers={"User-Agent": user_agent, "Accept": "application/json, text/plain, */*"},
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            follow_redirects=False,  # a redirected POST turns into a GET and loses the form
            transport=transport,
        )
        # Learned per panel: does it take the many-ids form of these actions?
        self._takes_many: dict[str, bool] = {}
        self._observe = observe

    def __repr__(self) -> str:
        return f"PanelClient(api_url={self.api_url!r})"

    async def __aenter__(self) -> PanelClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ transport

    async def _post_once(self, action: str, params: dict[str, str]) -> tuple[int, Any]:
        """One request: (HTTP status, decoded JSON), or the PanelError for what went wrong."""
        async with self._gate:  # timed from here: a wait for a free slot is not the panel's latency
            started = time.perf_counter()
            outcome = "aborted"  # cancelled (a caller's deadline) until the request ends
            try:
                status, payload = await self._exchange(action, params, started)
                outcome = "ok" if error_message(payload) is None else "error"
                return status, payload
            except PanelError as exc:
                outcome = _outcome(exc)
                raise
            finally:
                if self._observe is not None:
                    self._observe(action, outcome, time.perf_counter() - started)

    async def _exchange(self, action: str, params: dict[str, str], started: float) -> tuple[int, Any]:
        form = {"key": self._key.get_secret_value(), "action": action, **params}
        try:
            # httpx's timeouts are per step; the deadline also ends an answer that trickles in.
            async with asyncio.timeout(2 * self._timeout), \
                    self._http.stream("POST", self.api_url, data=form) as response:
                content = await _read_capped(response, MAX_BODY_BYTES)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise PanelUnreachable(f"could not connect to the panel ({type(exc).__name__})") from None
        except (httpx.TimeoutException, TimeoutError):
            raise PanelTransportError(f"the panel did not answer within {self._timeout:g}s") from None
        except httpx.TransportError as exc:
            raise PanelTransportError(f"the connection to the panel broke ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:  # e.g. a body that does not match its Content-Encoding
            raise PanelBadResponse(f"the panel's answer could not be read ({type(exc).__name__})") from None
        if content is None:
            raise PanelBadResponse(f"the panel's answer is larger than {MAX_BODY_BYTES // 1_000_000} MB",
                                   http_status=response.status_code)
        status = response.status_code
        log.debug("panel %s → HTTP %s in %.0f ms", action, status, (time.perf_counter() - started) * 1000)
        if 300 <= status < 400:
            where = response.headers.get("location", "?")
            raise PanelBadResponse(f"the panel redirected to {where}; set the panel's URL to that address",
                                   http_status=status)
        if status == 429:
            raise PanelRateLimited("the panel is rate limiting us (HTTP 429)",
                                   retry_after=_retry_after(response.headers.get("retry-after")))
        key = self._key.get_secret_value().encode()
        # Some panels quote the request back ("Invalid key sk-…"): their words reach customers and logs.
        body = content.replace(key, b"***") if key else content
        try:
            payload = decode_body(body, status)
        except PanelBadResponse:
            if status in (401, 403):  # refused at the door (key, or a firewall): nothing was done
                raise PanelAuthError(f"the panel refused the request (HTTP {status}): check the key, and "
                                     "whether the panel blocks this server") from None
            raise
        if status >= 400 and error_message(payload) is None:
            if status in (401, 403):
                raise PanelAuthError(f"the panel refused the request (HTTP {status})")
            raise PanelBadResponse(f"the panel answered HTTP {status}", http_status=status)
        return status, payload

    async def _read(self, action: str, params: dict[str, str] | None = None) -> Any:
        """A read: retried with back-off on transport errors, rate limits and 5xx pages."""
        for attempt in range(1, self._read_attempts + 1):
            try:
                _, payload = await self._post_once(action, params or {})
                message = error_message(payload)
                if message is not None and isinstance(classify_error(message), PanelRateLimited):
                    raise classify_error(message)  # "Rate limit exceeded" with HTTP 200
                return payload
            except (PanelTransportError, PanelRateLimited, PanelBadResponse) as exc:
                retryable = not isinstance(exc, PanelBadResponse) or (exc.http_status or 0) >= 500
                if not retryable or attempt == self._read_attempts:
                    raise
                delay = min(self._backoff_max, self._backoff_base * 2 ** (attempt - 1))
                delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography
                if isinstance(exc, PanelRateLimited) and exc.retry_after:
                    delay = min(self._backoff_max, max(delay, exc.retry_after))
                log.warning("panel %s failed (%s); retry %d in %.1fs", action, exc.message, attempt, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _write(self, action: str, params: dict[str, str]) -> Any:
        """A write: sent once, never retried."""
        return (await self._post_once(action, params))[1]

    # ------------------------------------------------------------------ reads

    async def services(self) -> list[Service]:
        return parse_services(await self._read("services"))

    async def balance(self) -> Balance:
        return parse_balance(await self._read("balance"))

    async def status(self, order_id: str | int) -> OrderStatusInfo:
        order_id = _sendable(order_id)
        return parse_status(await self._read("status", {"order": order_id}), order_id)

    async def statuses(self, order_ids: Iterable[str | int]) -> dict[str, OrderStatusInfo | PanelError]:
        """Status of many orders: ≤100 ids a request, bounded concurrency, one result per id."""

        async def batch(chunk: list[str]) -> dict[str, OrderStatusInfo | PanelError]:
            return await self._narrowed(chunk, [NARROWING_BUDGET])

        return await self._batched(order_ids, batch)

    async def _narrowed(self, chunk: list[str], budget: list[int]) -> dict[str, OrderStatusInfo | PanelError]:
        """Statuses of a chunk. Some panels refuse a whole request ("Incorrect order ID") for one
        id they do not know: the chunk is asked again in halves until that id stands alone, and
        an id alone is asked in the single-order form, whose answer is that id's. At most
        `budget` extra requests a chunk: what is still refused then waits for the next poll,
        unanswered, never taken as "not found"."""
        payload = await self._read("status", {"orders": ",".join(chunk)})
        if not isinstance(whole_request_error(payload, chunk), PanelNotFound):
            return parse_statuses(payload, chunk)
        if len(chunk) == 1 and budget[0] >= 1:
            budget[0] -= 1
            try:
                return {chunk[0]: await self.status(chunk[0])}
            except PanelError as exc:
                return {chunk[0]: exc}
        if len(chunk) == 1 or budget[0] < 2:
            return parse_statuses(payload, chunk)  # refused as a whole: unanswered for each id
        budget[0] -= 2
        halves = chunk[:len(chunk) // 2], chunk[len(chunk) // 2:]
        answers = await asyncio.gather(*(self._narrowed(list(half), budget) for half in halves))
        return answers[0] | answers[1]

    async def refill_status(self, refill_id: str | int) -> RefillStatusInfo:
        refill_id = _sendable(refill_id)
        return parse_refill_status(await self._read("refill_status", {"refill": refill_id}), refill_id)

    async def refill_statuses(self, refill_ids: Iterable[str | int]) -> dict[str, RefillStatusInfo | PanelError]:
        async def batch(chunk: list[str]) -> dict[str, RefillStatusInfo | PanelError]:
            return await self._many_or_single(
                "refill_status", "refills", chunk, parse_refill_statuses,
                single=lambda one: self.refill_status(one), is_write=False,
            )

        return await self._batched(refill_ids, batch)

    # ------------------------------------------------------------------ writes

    async def add(self, order: OrderRequest) -> AddedOrder:
        """Place an order. Sent exactly once.

        Raises OrderOutcomeUnknown when the request may have reached the panel but no clear
        answer came back; the other PanelErrors mean the order was certainly not placed.
        Refill and cancel are sent once too; for them a PanelTransportError other than
        PanelUnreachable means the panel may have acted.
        """
        form = order.to_form()
        try:
            status, payload = await self._post_once("add", form)
        except PanelUnreachable:
            raise
        except (PanelTransportError, PanelBadResponse) as exc:
            raise OrderOutcomeUnknown(
                f"no readable answer to the new order ({exc.message}): it may exist on the panel",
            ) from None
        # A gateway error page with a JSON body, a bare string, or an error next to an order id
        # do not say "no": only a clear error answer is a rejection.
        if status >= 500:
            raise OrderOutcomeUnknown(f"the panel answered HTTP {status}: the order may exist on the panel")
        if not isinstance(payload, dict) or (payload.get("order") not in (None, "")
                                             and error_message(payload) is not None):
            raise OrderOutcomeUnknown("the panel's answer to the new order is ambiguous: it may exist on the panel")
        try:
            return parse_added(payload)
        except PanelBadResponse as exc:
            raise OrderOutcomeUnknown(f"{exc.message}: the order may exist on the panel") from None

    async def refill(self, order_id: str | int) -> RefillRequested:
        order_id = _sendable(order_id)
        return parse_refill(await self._write("refill", {"order": order_id}), order_id)

    async def refills(self, order_ids: Iterable[str | int]) -> dict[str, RefillRequested | PanelError]:
        async def batch(chunk: list[str]) -> dict[str, RefillRequested | PanelError]:
            return await self._many_or_single(
                "refill", "orders", chunk, parse_refills, single=lambda one: self.refill(one), is_write=True,
            )

        return await self._batched(order_ids, batch)

    async def cancel(self, order_ids: Iterable[str | int]) -> dict[str, CancelRequested | PanelError]:
        """Ask the panel to cancel orders: the `orders` form, or one `order` at a time for panels
        that only take that. The outcome (and the refund) shows in the orders' status later."""

        async def single(order_id: str) -> CancelRequested:
            return parse_cancel(await self._write("cancel", {"order": order_id}), order_id)

        async def batch(chunk: list[str]) -> dict[str, CancelRequested | PanelError]:
            return await self._many_or_single("cancel", "orders", chunk, parse_cancels, single=single,
                                              is_write=True)

        return await self._batched(order_ids, batch)

    # ------------------------------------------------------------------ batching

    async def _batched(
        self,
        ids: Iterable[str | int],
        batch: Callable[[list[str]], Awaitable[dict[str, T | PanelError]]],
    ) -> dict[str, T | PanelError]:
        """One result per distinct id, keyed as given; an id that cannot be sent gets a refusal."""
        given = list(dict.fromkeys(str(one) for one in ids))
        results: dict[str, T | PanelError] = {}
        sendable = []
        for one in given:
            try:
                sendable.append(_sendable(one))
            except PanelRejected as exc:
                results[one] = exc
        chunks = [sendable[i:i + BATCH_LIMIT] for i in range(0, len(sendable), BATCH_LIMIT)]

        async def guarded(chunk: list[str]) -> dict[str, T | PanelError]:
            try:
                return await batch(chunk)
            except PanelError as exc:
                return dict.fromkeys(chunk, exc)

        for part in await asyncio.gather(*(guarded(chunk) for chunk in chunks)):
            results.update(part)
        return {one: results[one] for one in given}

    async def _many_or_single(
        self,
        action: str,
        many_field: str,
        chunk: list[str],
        parse_many: Callable[[Any, list[str]], dict[str, T | PanelError]],
        *,
        single: Callable[[str], Awaitable[T]],
        is_write: bool,
    ) -> dict[str, T | PanelError]:
        """Use the many-ids form; if the panel refuses it as a whole, remember that and send
        one request per id instead (safe for writes: a refused request changed nothing)."""
        if self._takes_many.get(action, True):
            params = {many_field: ",".join(chunk)}
            payload = await (self._write(action, params) if is_write else self._read(action, params))
            message = error_message(payload) if not isinstance(payload, list) else None
            keyed = isinstance(payload, dict) and bool(set(payload) & set(chunk))
            if message is None or keyed or not isinstance(classify_error(message), PanelRejected):
                return parse_many(payload, chunk)
            log.info("panel refused %s with %s=…; using one request per id from now on", action, many_field)
            self._takes_many[action] = False

        async def one(one_id: str) -> T | PanelError:
            try:
                return await single(one_id)
            except PanelError as exc:
                return exc

        answers = await asyncio.gather(*(one(one_id) for one_id in chunk))
        return dict(zip(chunk, answers, strict=True))


def _sendable(order_id: str | int) -> str:
    """An id as it is sent; one that could not be (a comma, a space, too long) is refused here,
    per id, before anything is sent."""
    try:
        return to_id(order_id)
    except ValueError:
        raise PanelRejected(f"{str(order_id)[:70]!r} is not an id the panel can be asked about") from None


async def _read_capped(response: httpx.Response, limit: int) -> bytes | None:
    """The body, or None once it grows past `limit` bytes (the rest is never read)."""
    parts: list[bytes] = []
    size = 0
    async for part in response.aiter_bytes():
        size += len(part)
        if size > limit:
            return None
        parts.append(part)
    return b"".join(parts)


def _outcome(exc: PanelError) -> str:
    for kind, name in ((PanelUnreachable, "unreachable"), (PanelTransportError, "timeout"),
                       (PanelRateLimited, "rate_limited"), (PanelAuthError, "auth"),
                       (PanelBadResponse, "bad_response")):
        if isinstance(exc, kind):
            return name
    return "error"


def _retry_after(header: str | None) -> float | None:
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None
