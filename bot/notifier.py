"""Delivers the outbox: customers' notifications, through the rate limiter, at most one message a
second per chat (Telegram's private-chat limit, which AIORateLimiter does not enforce).

A message is marked sent as soon as Telegram accepted it; one that failed is retried later, with
back-off; a customer who blocked the bot is marked and skipped. Several instances share the
outbox: each round claims its messages for a while (storage/tracking.py `due_notices`), so no two
send one; an instance killed mid-round leaves its claims to expire, and another sends them. Only
a crash between Telegram's "ok" and the mark (one database write) can repeat that one message,
never lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import i18n
from bot.shop.outbox import rendered
from storage.database import Database
from storage.tracking import (
    PendingNotice,
    drop,
    due_notices,
    mark_blocked,
    mark_sent,
    release_notices,
    renew_notices,
    retry_later,
)

log = logging.getLogger(__name__)

PER_CHAT_SECONDS = 1.0
IN_FLIGHT = 30  # messages handed to the rate limiter at once
# Bulk sending is spaced evenly, a little under Telegram's 30 a second, so that a long burst of
# notifications never bunches up past the limit (replies to customers may still burst).
BULK_PER_SECOND = 29.8
BATCH = 500
# A notice for a customer in the middle of a dialogue waits for its end, this long at most: a
# status change landing between a summary and its Confirm reads as part of the order.
HOLD_MID_DIALOGUE = 60.0


@dataclass
class Notifier:
    bot: Bot
    db: Database
    on_blocked: Callable[[int], None] = lambda user_id: None
    clock: Callable[[], float] = time.time
    hold: float = HOLD_MID_DIALOGUE
    lease: float = 60.0  # seconds a round's messages are this instance's (another sends them after that)
    delivered: int = 0
    _last_sent: dict[int, float] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    pace: AsyncLimiter = field(default_factory=lambda: AsyncLimiter(1, 1 / BULK_PER_SECOND))
    _task: asyncio.Task[None] | None = None
    _in_hand: set[int] = field(default_factory=set)  # this round's messages not yet sent

    def wake(self) -> None:
        """New messages are waiting (the poller calls this after a cycle that wrote some)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.deliver_round()
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("notifier round failed")
                sent = 0
            if not sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=PER_CHAT_SECONDS)
                self._wake.clear()

    async def deliver_round(self) -> int:
        """Send what is due, one message per chat; returns how many were delivered."""
        now = self.clock()
        self._last_sent = {user: at for user, at in self._last_sent.items() if now - at < PER_CHAT_SECONDS}
        chosen: dict[int, PendingNotice] = {}
        later: list[int] = []
        # About what goes out in half the claim's time; the claim is renewed while the round lasts
        # (replies share Telegram's limit and may slow it), so no other instance takes these.
        batch = max(1, min(BATCH, int(self.lease / 2 * BULK_PER_SECOND)))
        for notice in await due_notices(self.db, now, batch, hold=self.hold, lease=self.lease):
            if notice.user_id not in chosen and now - self._last_sent.get(notice.user_id, 0) >= PER_CHAT_SECONDS:
                chosen[notice.user_id] = notice
            else:
                later.append(notice.notification_id)
        await release_notices(self.db, later)
        if not chosen:
            return 0
        gate = asyncio.Semaphore(IN_FLIGHT)
        self._in_hand = {notice.notification_id for notice in chosen.values()}
        renewing = asyncio.create_task(self._renew())
        try:
            # Every send runs to its end (and the claim is renewed until then), whatever one of them raises.
            outcomes = await asyncio.gather(*(self._send(gate, notice) for notice in chosen.values()),
                                            return_exceptions=True)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        for failure in (o for o in outcomes if isinstance(o, BaseException)):
            log.error("notifier: a message's outcome could not be stored", exc_info=failure)
        sent = sum(1 for o in outcomes if o is True)
        self.delivered += sent
        return sent

    async def _send(self, gate: asyncio.Semaphore, notice: PendingNotice) -> bool:
        text, label = notice.text, notice.button_text
        if notice.template:  # rendered now, in the recipient's language (bot/shop/outbox.py)
            with i18n.reading(i18n.resolve(notice.language, notice.language_code)):
                try:
                    text, label = rendered(notice.template)
                except (KeyError, ValueError, TypeError, IndexError):  # a text renamed since: as it was queued
                    log.error("notification %s: its template no longer renders; sent as queued, in English",
                                notice.notification_id)
        markup = None
        if label and notice.button_data:
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=notice.button_data)]])
        async with gate, self.pace:
            try:
                await self.bot.send_message(notice.user_id, text, reply_markup=markup)
            except Forbidden:
                log.info("user %s blocked the bot; their notifications are skipped", notice.user_id)
                await mark_blocked(self.db, notice.user_id)
                self.on_blocked(notice.user_id)
                return False
            except RetryAfter as exc:  # still flooded after the rate limiter's own retries
                await retry_later(self.db, notice.notification_id, self.clock() + _seconds(exc.retry_after), str(exc))
                return False
            except BadRequest as exc:  # Telegram will never take this one (chat gone, bad text)
                log.warning("notification %s dropped: %s", notice.notification_id, exc)
                await drop(self.db, notice.notification_id, str(exc))
                return False
            except TelegramError as exc:  # network trouble: try again with back-off
                delay = min(600.0, 5.0 * 2 ** min(notice.attempts, 7))
                await retry_later(self.db, notice.notification_id, self.clock() + delay, str(exc))
                return False
            finally:
                self._last_sent[notice.user_id] = self.clock()
        await mark_sent(self.db, [notice.notification_id])  # at once: the window for a repeat is this write
        self._in_hand.discard(notice.notification_id)
        return True

    async def _renew(self) -> None:
        """Keep this round's claim while it lasts (a third of the claim's time between renewals)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            if self._in_hand:
                try:
                    await renew_notices(self.db, sorted(self._in_hand), until=self.clock() + self.lease)
                except Exception:  # the database: the claim may run out, the sends go on
                    log.warning("could not renew the outbox claim", exc_info=True)


def _seconds(value: object) -> float:
    total_seconds = getattr(value, "total_seconds", None)
    return float(total_seconds()) if callable(total_seconds) else float(value)  # type: ignore[arg-type]
