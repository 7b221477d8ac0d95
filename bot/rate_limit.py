"""Outgoing Bot API requests within Telegram's limits, for the bot as a whole.

PTB's AIORateLimiter uses a leaky bucket: with capacity 30 it lets up to 60 messages through in
the first second of a burst (past Telegram's limit); with capacity 1 it spaces every message
1/30 s apart, so 25 simultaneous replies take most of a second. A sliding window does what
Telegram counts: a burst of up to 30 goes out at once, the 31st waits until the oldest of them
is a window old. A 429 pauses every message for its retry_after, and the request is retried.

Where the windows are kept is a WindowStore, so the waiting, the retries and the 429s are
handled once, here, whatever the store:

- LocalWindows: in this process (one instance of the bot; no REDIS_URL).
- RedisWindows: shared by every instance through one Redis (REDIS_URL). One Lua script, on
  Redis's clock (instances whose clocks disagree still count the same window), honours the shared
  429 pause, trims the bot's window and the chat's, and either records the send or says how long
  to wait. A 429 seen by any instance pauses them all. Each chat also gets a window of its own
  (CHAT_MESSAGES_PER_WINDOW): instances answering the same customer do not see each other's
  replies otherwise. If Redis does not answer, sends are counted in this process (which saw this
  instance's recent sends too) and Redis is used again as soon as it answers a ping.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

JSON = bool | dict[str, Any] | list[dict[str, Any]]


MESSAGES_PER_WINDOW = 30
# A little longer than Telegram's second: requests sent on time can still arrive bunched after a
# busy moment of the event loop (or of the network between instances and Telegram).
WINDOW_SECONDS = 1.02
# Per chat, at most 3 messages in any 3 seconds (with REDIS_URL). Telegram asks for about one a
# second per chat and lets short bursts pass. One tap here can send two or three messages at once
# (an announcement line and an invoice; an answer and an edit), and those go out together; only a
# sustained stream is spread to one a second. A 1/s bucket with burst 3 would let 5 through in 3 s
# (and 2 a second on average over any 3 s); the window holds one a second over any 3 s, and it is
# the same structure as the bot's window, so one script keeps both.
CHAT_MESSAGES_PER_WINDOW = 3
CHAT_WINDOW_SECONDS = 3.05  # a little over 3 s, for the same reason as WINDOW_SECONDS
# Calls that send nothing to a chat: they never wait for a slot, nor take one.
NEVER_COUNTED = frozenset({"getUpdates", "answerCallbackQuery", "answerInlineQuery", "answerPreCheckoutQuery",
                           "answerShippingQuery"})

REDIS_TIMEOUT = 1.0  # seconds for a connect or an answer: a send never waits long on a sick Redis
PROBE_SECONDS = 1.0  # while Redis is down, how often a ping asks whether it is back
WARN_EVERY = 60.0  # seconds between two warnings that Redis is down
DEFAULT_PREFIX = "smmbot:"


@dataclass(frozen=True)
class Limits:
    per_window: int = MESSAGES_PER_WINDOW
    window: float = WINDOW_SECONDS
    per_chat: int | None = None  # None: chats are not counted one by one
    chat_window: float = CHAT_WINDOW_SECONDS


# One process only (no REDIS_URL): what the bot has always done. Its own replies to a customer
# follow that customer's updates one at a time, and the notifier spaces a chat's notices by itself.
LOCAL_LIMITS = Limits()
# Several instances: the window is longer still. Requests let through one window apart by Redis's
# clock reach Telegram up to tens of milliseconds apart from different processes (seen in
# tests/test_cluster_e2e.py: 1 % of sends refused with 1.02 s on three instances and two CPUs).
SHARED_WINDOW_SECONDS = 1.1
SHARED_LIMITS = Limits(window=SHARED_WINDOW_SECONDS, per_chat=CHAT_MESSAGES_PER_WINDOW)


class Wait(NamedTuple):
    seconds: float  # 0: the send was recorded and may go now
    chat_bound: bool = False  # the wait is for this chat's window (other chats need not wait)


class WindowStore(Protocol):
    limits: Limits

    async def open(self) -> None:
        """Called when the bot starts; must not raise."""

    async def reserve(self, chat: str | None) -> Wait:
        """Record a send to ``chat`` now if the windows allow it, else say how long to wait. Never raises."""

    async def pause(self, seconds: float) -> None:
        """A 429: no send for ``seconds`` from now (or longer, if already paused). Never raises."""

    async def close(self) -> None:
        """Release what the store holds."""


def _window_wait(stamps: deque[float], limit: int, window: float, now: float) -> float:
    while stamps and now - stamps[0] >= window:
        stamps.popleft()
    if len(stamps) < limit:
        return 0.0
    return stamps[len(stamps) - limit] + window - now


class LocalWindows:
    """The windows of this process alone (monotonic clock)."""

    def __init__(self, limits: Limits = LOCAL_LIMITS, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._sent: deque[float] = deque()
        self._chats: dict[str, deque[float]] = {}
        self._paused_until = 0.0
        self._next_sweep = 0.0

    def take(self, chat: str | None) -> Wait:
        now = self._clock()
        if now < self._paused_until:
            return Wait(self._paused_until - now)
        limits = self.limits
        wait = _window_wait(self._sent, limits.per_window, limits.window, now)
        stamps = self._chat(chat, now)
        if stamps is not None:
            assert limits.per_chat is not None
            chat_wait = _window_wait(stamps, limits.per_chat, limits.chat_window, now)
            if chat_wait > 0 and chat_wait >= wait:
                return Wait(chat_wait, chat_bound=True)
        if wait > 0:
            return Wait(wait)
        self._sent.append(now)
        if stamps is not None:
            stamps.append(now)
        return Wait(0.0)

    def note(self, chat: str | None) -> None:
        """A send counted elsewhere (in Redis): remembered, so that a fallback here starts from it."""
        now = self._clock()
        _window_wait(self._sent, self.limits.per_window, self.limits.window, now)  # trims
        self._sent.append(now)
        stamps = self._chat(chat, now)
        if stamps is not None:
            stamps.append(now)

    def hold(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def _chat(self, chat: str | None, now: float) -> deque[float] | None:
        if chat is None or not self.limits.per_chat:
            return None
        if now >= self._next_sweep:  # chats that went quiet are forgotten, so the dict stays small
            self._next_sweep = now + self.limits.chat_window
            for key in [key for key, stamps in self._chats.items()
                        if not stamps or now - stamps[-1] >= self.limits.chat_window]:
                del self._chats[key]
        return self._chats.setdefault(chat, deque())

    async def open(self) -> None:
        """Nothing to set up."""

    async def reserve(self, chat: str | None) -> Wait:
        return self.take(chat)

    async def pause(self, seconds: float) -> None:
        self.hold(seconds)

    async def close(self) -> None:
        """Nothing to release."""


# KEYS: the pause, the bot's window[, the chat's window]
# ARGV: a unique member, the bot's limit, its window in µs[, the chat's limit, its window in µs]
# Returns {µs to wait, 1 if the chat's window is the reason}; {0, 0} when the send was recorded.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if paused > now then return {paused - now, 0} end
local function wait(key, limit, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count < limit then return 0 end
  local oldest = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
local global_wait = wait(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]))
local chat_wait = 0
if KEYS[3] then chat_wait = wait(KEYS[3], tonumber(ARGV[4]), tonumber(ARGV[5])) end
if chat_wait > 0 and chat_wait >= global_wait then return {chat_wait, 1} end
if global_wait > 0 then return {global_wait, 0} end
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[3]) / 1000) + 1000)
if KEYS[3] then
  redis.call('ZADD', KEYS[3], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[3], math.ceil(tonumber(ARGV[5]) / 1000) + 1000)
end
return {0, 0}
"""

# KEYS: the pause; ARGV: its length in µs. The later of the two ends wins; the key expires with it.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pause_end = now + tonumber(ARGV[1])
if pause_end > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], pause_end, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
"""


def redis_client(url: str) -> Redis:
    """A client that gives up quickly: one immediate retry (a connection Redis closed while idle is
    replaced at once), then the caller falls back."""
    return Redis.from_url(url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
                          retry=Retry(NoBackoff(), 1))


class RedisWindows:
    """The windows of every instance that uses this Redis and prefix.

    Keys: ``{prefix}rl:pause`` (end of a 429 pause, µs on Redis's clock), ``{prefix}rl:sent`` and
    ``{prefix}rl:chat:{chat_id}`` (sorted sets of sends, scored by the µs they were recorded at).
    Each expires a second after it stops mattering, so nothing is left behind.
    """

    def __init__(self, client: Redis, prefix: str = DEFAULT_PREFIX, limits: Limits = SHARED_LIMITS, *,
                 fallback: LocalWindows | None = None, probe_seconds: float = PROBE_SECONDS) -> None:
        self.limits = limits
        self.client = client
        self.prefix = prefix
        self.local = fallback if fallback is not None else LocalWindows(limits)
        self.pause_key = f"{prefix}rl:pause"
        self.sent_key = f"{prefix}rl:sent"
        # Set while Redis is used; cleared when it failed, until it answers a ping again.
        self.online = asyncio.Event()
        self.online.set()
        self._reserve = client.register_script(_RESERVE)
        self._pause = client.register_script(_PAUSE)
        self._instance = secrets.token_hex(8)  # members must differ across instances
        self._counter = itertools.count()
        self._probe_seconds = probe_seconds
        self._probe: asyncio.Task[None] | None = None
        self._warned_at: float | None = None
        kwargs = client.connection_pool.connection_kwargs
        self._where = f"{kwargs.get('host', kwargs.get('path', '?'))}:{kwargs.get('port', '')}".rstrip(":")

    def chat_key(self, chat: str) -> str:
        return f"{self.prefix}rl:chat:{chat}"

    async def open(self) -> None:
        try:
            await self.client.ping()
        except Exception as exc:
            self._lost(exc)
        else:
            log.info("Telegram's limits are shared through Redis at %s (keys %s*)", self._where, self.prefix)

    async def reserve(self, chat: str | None) -> Wait:
        if self.online.is_set():
            keys = [self.pause_key, self.sent_key]
            args: list[int | str] = [f"{self._instance}:{next(self._counter)}", self.limits.per_window,
                                     round(self.limits.window * 1e6)]
            if chat is not None and self.limits.per_chat:
                keys.append(self.chat_key(chat))
                args += [self.limits.per_chat, round(self.limits.chat_window * 1e6)]
            try:
                wait_us, chat_bound = await self._reserve(keys=keys, args=args)
            except Exception as exc:  # whatever Redis did, the send goes on, counted here
                self._lost(exc)
            else:
                if wait_us <= 0:
                    self.local.note(chat)
                    return Wait(0.0)
                return Wait(wait_us / 1e6, chat_bound=bool(chat_bound))
        return self.local.take(chat)

    async def pause(self, seconds: float) -> None:
        self.local.hold(seconds)  # a fallback honours it too
        if not self.online.is_set():
            return
        try:
            await self._pause(keys=[self.pause_key], args=[round(seconds * 1e6)])
        except Exception as exc:
            self._lost(exc)

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self.client.aclose()

    def _lost(self, exc: Exception) -> None:
        self.online.clear()
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("Redis at %s did not answer (%s: %s): Telegram's limits are counted by this instance "
                        "alone until it does", self._where, type(exc).__name__, exc)
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._wait_for_redis(), name="rate-limit-redis-probe")

    async def _wait_for_redis(self) -> None:
        while True:
            await asyncio.sleep(self._probe_seconds)
            try:
                await self.client.ping()
            except Exception as exc:
                log.debug("Redis at %s still does not answer: %s", self._where, exc)
                continue
            log.info("Redis at %s answers again: Telegram's limits are shared by every instance again", self._where)
            self.online.set()
            return


class SlidingWindowRateLimiter(BaseRateLimiter[int]):
    def __init__(self, store: WindowStore | None = None, *, max_retries: int = 3) -> None:
        self.store: WindowStore = store if store is not None else LocalWindows()
        self._max_retries = max_retries
        # One request of this instance at a time asks for a slot, in arrival order; the others queue
        # here rather than all asking again each time a slot frees.
        self._lock = asyncio.Lock()

    async def initialize(self) -> None:
        await self.store.open()

    async def shutdown(self) -> None:
        await self.store.close()

    async def _slot(self, chat: str) -> None:
        while True:
            async with self._lock:
                while True:
                    wait = await self.store.reserve(chat)
                    if wait.seconds <= 0:
                        return
                    if wait.chat_bound:
                        break
                    await asyncio.sleep(wait.seconds)
            await asyncio.sleep(wait.seconds)  # this chat is busy: wait without holding up the others

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        # Only messages to chats count against the limit (getUpdates, answerCallbackQuery… do not).
        counted = endpoint not in NEVER_COUNTED and data.get("chat_id") is not None
        for attempt in range(self._max_retries + 1):
            if counted:
                await self._slot(str(data["chat_id"]))
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self._max_retries:
                    raise
                delay = exc.retry_after if isinstance(exc.retry_after, int | float) else exc.retry_after.total_seconds()
                await self.store.pause(delay + 0.1)
                log.info("flood control: %s asked to wait %.1fs; retrying", endpoint, delay)
                if not counted:  # it takes no slot, so the pause would not hold it back
                    await asyncio.sleep(delay + 0.1)
        raise AssertionError("unreachable")


def build_rate_limiter(settings: Settings, *, max_retries: int = 3) -> SlidingWindowRateLimiter:
    """This process's limiter, or with REDIS_URL the one every instance of the bot shares."""
    if settings.redis_url is None:
        return SlidingWindowRateLimiter(max_retries=max_retries)
    store = RedisWindows(redis_client(settings.redis_url.get_secret_value()), settings.redis_prefix)
    return SlidingWindowRateLimiter(store, max_retries=max_retries)
