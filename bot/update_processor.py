"""Updates of different users are handled at the same time; one user's updates one by one.

PTB's default handles every update in turn, so one customer's slow panel call would make all
others wait. Fully concurrent handling would let a double tap on Confirm, or two quick answers,
run side by side within one conversation. A lock per user gives both: concurrency across users,
order within a user.

It also runs low-priority Bot API calls (`defer`): answering a callback query only stops the
button's spinner, while the edited message is what the customer waits for. Under a burst, the
answers wait until no update is being handled (at most `DEFER_AT_MOST` seconds), so that every
customer's reply goes out first.

Inside a user's turn it opens the user's dialogue session (bot/dialogue.py): the state is read
when the update's turn comes and written when its handlers are done, so the next update of the
same user, here or after a restart, starts from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Any

from telegram import Update, User
from telegram.ext import BaseUpdateProcessor

from bot import i18n

log = logging.getLogger(__name__)

DEFER_AT_MOST = 1.0  # seconds; Telegram lets a callback query be answered for much longer

# The processor handling the current update, for `defer` (handlers get no reference to it).
current_processor: ContextVar[PerUserUpdateProcessor | None] = ContextVar("current_processor", default=None)


class PerUserUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self._handling = 0
        self._idle: asyncio.Event | None = None
        self._deferred: set[asyncio.Task[None]] = set()
        # Opens a user's dialogue session around the handling of their update (set at start-up).
        self.session: Callable[[int], AbstractAsyncContextManager[object]] | None = None
        # The locale a user's update is handled in (bot/i18n.py; set at start-up).
        self.reader: Callable[[User], str] | None = None
        # Told how long each update took, its turn's wait included (bot/metrics.py; set at build time).
        self.observe: Callable[[object, float], None] | None = None

    def defer(self, call: Coroutine[Any, Any, Any]) -> None:
        """Run `call` once no update is being handled, or after DEFER_AT_MOST seconds."""
        task = asyncio.create_task(self._when_idle(call))
        self._deferred.add(task)
        task.add_done_callback(self._deferred.discard)

    async def _when_idle(self, call: Coroutine[Any, Any, Any]) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle_event().wait(), DEFER_AT_MOST)
        try:
            await call
        except Exception:  # a spinner left turning is not worth an error report
            log.warning("deferred Bot API call failed", exc_info=True)

    def _idle_event(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
            if not self._handling:
                self._idle.set()
        return self._idle

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if _urgent(update):  # not even a free slot is waited for
            await self.do_process_update(update, coroutine)
        else:
            await super().process_update(update, coroutine)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        current_processor.set(self)
        self._handling += 1
        self._idle_event().clear()
        started = time.perf_counter()
        try:
            await self._in_turn(update, coroutine)
        finally:
            self._handling -= 1
            if not self._handling:
                self._idle_event().set()
            if self.observe is not None:
                self.observe(update, time.perf_counter() - started)

    async def _in_turn(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _owner(update)
        if key is None:  # no turn to wait for (a pre-checkout), but the payer's language all the same
            user = update.effective_user if isinstance(update, Update) else None
            with i18n.reading(self.reader(user) if self.reader is not None and user is not None else i18n.SOURCE):
                await coroutine
            return
        async with self.turn(key):
            await self._with_session(update, coroutine)

    @asynccontextmanager
    async def turn(self, key: int) -> AsyncIterator[None]:
        """One user's turn: their updates, and any duty on their state (a dialogue's expiry), one
        at a time."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:  # forget idle users so the maps stay small
                del self._waiting[key], self._locks[key]

    async def _with_session(self, update: object, coroutine: Awaitable[Any]) -> None:
        user = update.effective_user if isinstance(update, Update) else None
        if user is None:
            await coroutine
            return
        with i18n.reading(self.reader(user) if self.reader is not None else i18n.SOURCE):
            await self._in_session(user, coroutine)

    async def _in_session(self, user: User, coroutine: Awaitable[Any]) -> None:
        if self.session is None:
            await coroutine
            return
        session = self.session(user.id)
        try:
            await session.__aenter__()
        except Exception:  # the database, say: the handlers run (and fail in plain words) without it
            log.exception("could not read the dialogue of user %s", user.id)
            await coroutine
            return
        try:
            await coroutine
        finally:
            await session.__aexit__(None, None, None)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Send what is still deferred."""
        if self._deferred:
            await asyncio.wait(set(self._deferred), timeout=DEFER_AT_MOST + 5)


def _urgent(update: object) -> bool:
    """A pre-checkout query must be answered within 10 seconds, or Telegram cancels the payment:
    it never waits behind the payer's slow order, nor for a free slot (it only reads)."""
    return isinstance(update, Update) and update.pre_checkout_query is not None


def _owner(update: object) -> int | None:
    """Whose turn the update waits for; None: handled at once."""
    if _urgent(update):
        return None
    if isinstance(update, Update):
        if update.effective_user is not None:
            return update.effective_user.id
        if update.effective_chat is not None:
            return update.effective_chat.id
    return None
