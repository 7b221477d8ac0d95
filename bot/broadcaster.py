"""Delivers broadcasts: every recipient at most once, through the rate limiter, resumable.

Recipients are claimed in batches (marked 'sending' and committed before anything goes out) and
settled with the result afterwards; see storage/broadcasts.py. A stop lets the batch in flight
finish, so a restart resumes exactly where delivery stopped. After a crash, the rows left in
'sending' count as failed and are never sent again: nobody gets the message twice. Several
instances share the work batch by batch; a batch claimed by an instance that died counts as
failed once its claim runs out (`lease`), and the instance that sends the last batch reports.
The admin's progress message is edited every few seconds; a report follows at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiolimiter import AsyncLimiter
from telegram import Bot
from telegram.error import Forbidden, RetryAfter, TelegramError

from bot import i18n, texts
from bot.domain.progress import progress_bar
from bot.texts import Text
from storage.broadcasts import (
    Broadcast,
    Progress,
    claim_batch,
    fail_interrupted,
    finish,
    progress,
    renew_batch,
    sending_broadcasts,
    settle,
)
from storage.database import Database
from storage.tracking import mark_blocked

log = logging.getLogger(__name__)

BATCH = 30  # about one second of sending
PROGRESS_EVERY = 3.0  # seconds between edits of the progress message
STOP_WAIT = 30.0  # seconds a stop waits for the batch in flight


@dataclass
class Broadcaster:
    bot: Bot
    db: Database
    pace: AsyncLimiter  # shared with the notifier: bulk sending stays under Telegram's limit
    on_blocked: Callable[[int], None] = lambda user_id: None
    clock: Callable[[], float] = time.monotonic
    locale_of: Callable[[int], Awaitable[str]] | None = None  # the admin's progress and report in their language
    lease: float = 60.0  # seconds a claimed batch is this instance's (it takes one or two)
    alone: bool = True  # the only instance (SQLite): what was 'sending' at start-up was its own, cut short
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="broadcaster")

    def wake(self) -> None:
        """A broadcast was started."""
        self._wake.set()

    async def stop(self) -> None:
        """Let the batch in flight finish (its results recorded), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        started = time.time()
        while not self._stopping:
            try:
                for broadcast in await sending_broadcasts(self.db):
                    now = time.time()
                    cut_short = now if not self.alone else max(now, started + self.lease)
                    if lost := await fail_interrupted(self.db, broadcast.broadcast_id, now=cut_short):
                        log.warning("broadcast %s: %d recipients were being sent to when an instance stopped;"
                                    " counted as failed, not sent again", broadcast.broadcast_id, lost)
                    await self.deliver(broadcast)
                    if self._stopping:
                        return
            except Exception:  # a database hiccup must not end broadcasting for good
                log.exception("broadcast round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=5.0)
            self._wake.clear()

    async def deliver(self, broadcast: Broadcast) -> None:
        """Send to every pending recipient, batch after batch, then report (unless stopping)."""
        locale = await self.locale_of(broadcast.admin_id) if self.locale_of is not None else i18n.SOURCE
        with i18n.reading(locale):  # what the admin reads; the broadcast itself is the admin's own text
            await self._deliver(broadcast)

    async def _deliver(self, broadcast: Broadcast) -> None:
        shown_at = self.clock()
        while not self._stopping:
            users = await claim_batch(self.db, broadcast.broadcast_id, BATCH, now=time.time(), lease=self.lease)
            if not users:
                break
            renewing = asyncio.create_task(self._renew(broadcast.broadcast_id, users))
            try:
                results = await asyncio.gather(*(self._send(broadcast.text, user_id) for user_id in users))
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing
            await settle(self.db, broadcast.broadcast_id, dict(zip(users, results, strict=True)))
            if self.clock() - shown_at >= PROGRESS_EVERY:
                shown_at = self.clock()
                await self._show(broadcast, texts.BROADCAST_PROGRESS, await progress(self.db, broadcast.broadcast_id))
        if self._stopping or not await finish(self.db, broadcast.broadcast_id):
            return  # (another instance still sends its last batch: it reports)
        done = await progress(self.db, broadcast.broadcast_id)
        await self._show(broadcast, texts.BROADCAST_PROGRESS, done)
        log.info("broadcast %s finished: %d sent, %d blocked, %d failed", broadcast.broadcast_id, done.sent,
                 done.blocked, done.failed)
        with contextlib.suppress(TelegramError):
            await self.bot.send_message(broadcast.admin_id, texts.BROADCAST_REPORT.format(
                broadcast_id=broadcast.broadcast_id, sent=done.sent, blocked=done.blocked, failed=done.failed,
                total=done.total))

    async def _renew(self, broadcast_id: int, users: list[int]) -> None:
        """Keep the batch's claim while it is being sent (every third of the claim's time)."""
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await renew_batch(self.db, broadcast_id, users, until=time.time() + self.lease)
            except Exception:  # the database: the claim may run out; nobody gets the message twice
                log.warning("could not renew broadcast %s's batch", broadcast_id, exc_info=True)

    async def _send(self, text: str, user_id: int) -> tuple[str, str | None]:
        async with self.pace:
            try:
                await self.bot.send_message(user_id, text)
            except Forbidden:
                await mark_blocked(self.db, user_id)
                self.on_blocked(user_id)
                return "blocked", "blocked by the user"
            except RetryAfter:  # refused, so certainly not delivered: a later batch takes it again
                return "pending", None
            except TelegramError as exc:  # a bad request, or a network error that may have delivered it
                return "failed", str(exc)[:300]
        return "sent", None

    async def _show(self, broadcast: Broadcast, template: Text, figures: Progress) -> None:
        if broadcast.progress_message_id is None:
            return
        text = template.format(broadcast_id=broadcast.broadcast_id, done=figures.done, total=figures.total,
                               bar=progress_bar(figures.done, figures.total), sent=figures.sent,
                               blocked=figures.blocked, failed=figures.failed)
        try:
            await self.bot.edit_message_text(text, chat_id=broadcast.admin_id,
                                             message_id=broadcast.progress_message_id)
        except TelegramError as exc:  # "not modified", or the admin deleted it: progress is not worth more
            log.debug("broadcast progress not shown: %s", exc)
