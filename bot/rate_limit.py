"""Outgoing Bot API requests within Telegram's ~30 messages a second, without delaying bursts.

PTB's AIORateLimiter uses a leaky bucket: with capacity 30 it lets up to 60 messages through in
the first second of a burst (past Telegram's limit); with capacity 1 it spaces every message
1/30 s apart, so 25 simultaneous replies take most of a second. A sliding window does what
Telegram counts: a burst of up to 30 goes out at once, the 31st waits until the oldest of them
is a window old. A 429 pauses every request for its retry_after, and the request is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

JSON = bool | dict[str, Any] | list[dict[str, Any]]


MESSAGES_PER_WINDOW = 30
WINDOW_SECONDS = 1.02


class SlidingWindowRateLimiter(BaseRateLimiter[int]):
    def __init__(self, max_per_window: int = MESSAGES_PER_WINDOW, window_seconds: float = WINDOW_SECONDS,
                 max_retries: int = 3) -> None:
        # The window is a little longer than Telegram's second: requests sent on time can still
        # arrive bunched after a busy moment of the event loop.
        self._max = max_per_window
        self._window = window_seconds
        self._max_retries = max_retries
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._paused_until = 0.0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def _slot(self) -> None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                while self._sent and now - self._sent[0] >= self._window:
                    self._sent.popleft()
                if len(self._sent) < self._max:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._window - (now - self._sent[0]))

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
        counted = data.get("chat_id") is not None
        for attempt in range(self._max_retries + 1):
            if counted:
                await self._slot()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self._max_retries:
                    raise
                delay = exc.retry_after if isinstance(exc.retry_after, int | float) else exc.retry_after.total_seconds()
                log.info("flood control: %s asked to wait %.1fs; retrying", endpoint, delay)
                self._paused_until = max(self._paused_until, asyncio.get_running_loop().time() + delay + 0.1)
        raise AssertionError("unreachable")
