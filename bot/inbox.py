"""Webhook updates through the database, so that any instance may take any update.

An update Telegram posts is stored (storage/inbox.py) before it is acknowledged, then handled by
whichever instance claims it: this one at once, normally. A user's updates are claimed strictly
one after the other in update_id order, across all instances, so two quick taps that land on two
instances are still handled in turn, on the dialogue the first one left. An update whose instance
died is claimed again by another once its lease runs out (leases are renewed while an update is
being handled, however slow the panel is). Telegram's repeats of an update are recognised by its
id and acknowledged without handling it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable

from telegram import Update

from storage.database import Database
from storage.inbox import (
    InboxUpdate,
    claim_updates,
    finish_update,
    handling_update,
    prune_inbox,
    renew_leases,
    store_update,
)

log = logging.getLogger(__name__)

SWEEP_EVERY = 1.0  # seconds between looks for updates nobody is handling (their instance died)
KEEP_DONE = 600.0  # seconds a handled update is remembered (a late repeat is still recognised)


def owner_of(update: Update) -> int:
    """Whose turn the update waits for: the user, else the chat (0: nobody's, e.g. a poll's answer).
    A pre-checkout query waits for nobody's (Telegram cancels the payment after 10 seconds): it
    is a turn of its own (bot/update_processor.py handles it at once, too)."""
    if update.pre_checkout_query is not None:
        return -update.update_id
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return 0


class Inbox:
    def __init__(self, db: Database, owner: str, handle: Callable[[Update], Awaitable[None]],
                 decode: Callable[[str], Update], *, lease: float, clock: Callable[[], float] = time.time) -> None:
        self._db, self._owner, self._handle, self._decode = db, owner, handle, decode
        self._lease, self._clock = lease, clock
        self._chains: dict[int, asyncio.Task[None]] = {}  # user → the task handling their updates here
        self._again: set[int] = set()  # users with an update stored since their chain last looked
        self._ready: dict[int, list[InboxUpdate]] = {}  # claimed by the sweeper, for the user's chain
        self._in_hand: set[int] = set()  # update ids claimed here and not finished: renewed
        self._stopping = False
        self._sweeper: asyncio.Task[None] | None = None

    async def receive(self, update: Update, payload: str) -> bool:
        """Store a posted update (before Telegram is answered) and start handling it; False when it
        was stored before (Telegram's repeat). Database errors propagate: Telegram then posts it again."""
        user = owner_of(update)
        stored = await store_update(self._db, update.update_id, user, payload, now=self._clock())
        if stored:
            self._kick(user)
        return stored

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="inbox-sweeper")

    async def stop(self, wait: float = 30.0) -> None:
        """Claim nothing more, finish the updates in hand (their leases are renewed meanwhile),
        then stop; what is left is another instance's once its lease runs out."""
        self._stopping = True
        deadline = self._clock() + wait
        while self._chains and self._clock() < deadline:
            await asyncio.wait(set(self._chains.values()), timeout=max(0.0, deadline - self._clock()))
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    def _kick(self, user: int, claimed: InboxUpdate | None = None) -> None:
        if claimed is not None:
            self._ready.setdefault(user, []).append(claimed)
        self._again.add(user)
        if user not in self._chains:
            self._chains[user] = asyncio.create_task(self._chain(user), name=f"inbox-{user}")

    async def _chain(self, user: int) -> None:
        """Handle the user's updates here one by one, for as long as there are any to claim."""
        try:
            while True:
                if ready := self._ready.get(user):
                    await self._run(ready.pop(0))
                    continue
                self._ready.pop(user, None)
                if self._stopping:
                    return
                self._again.discard(user)
                claimed = await claim_updates(self._db, self._owner, now=self._clock(), lease=self._lease,
                                              user_id=user)
                self._in_hand.update(u.update_id for u in claimed)
                if not claimed:
                    if user in self._again:  # stored while we looked
                        continue
                    return
                for update in claimed:
                    await self._run(update)
        except Exception:  # the database: the sweeper (here or elsewhere) takes the update later
            log.exception("inbox: could not go on with the updates of %s", user)
        finally:
            self._chains.pop(user, None)

    async def _run(self, claimed: InboxUpdate) -> None:
        self._in_hand.add(claimed.update_id)
        token = handling_update.set(claimed.update_id)  # its dialogue is saved with its being done
        try:
            try:
                await self._handle(self._decode(claimed.payload))
            except Exception:  # handlers report their own errors; this is past them: never handled twice
                log.exception("inbox: update %s failed", claimed.update_id)
            finally:
                handling_update.reset(token)
            await finish_update(self._db, claimed.update_id, now=self._clock())  # (an update without a dialogue)
        finally:  # not renewed any more: if it was not marked done, another instance takes it later
            self._in_hand.discard(claimed.update_id)

    async def _sweep(self) -> None:
        renewed_at = pruned_at = self._clock()
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            now = self._clock()
            try:
                if self._in_hand and now - renewed_at >= self._lease / 3:
                    renewed_at = now
                    await renew_leases(self._db, self._owner, sorted(self._in_hand), now=now, lease=self._lease)
                # Updates nobody is handling: an instance died with them, or their user's previous
                # update was finished elsewhere without a look at the next one.
                claimed = [] if self._stopping else await claim_updates(
                    self._db, self._owner, now=now, lease=self._lease, limit=20)
                for update in claimed:
                    self._in_hand.add(update.update_id)
                    self._kick(update.user_id, update)
                if now - pruned_at >= 60:
                    pruned_at = now
                    await prune_inbox(self._db, before=now - KEEP_DONE)
            except Exception:
                log.exception("inbox sweep failed; it runs again in a moment")


def decoder(bot: object) -> Callable[[str], Update]:
    def decode(payload: str) -> Update:
        return Update.de_json(json.loads(payload), bot)  # type: ignore[arg-type]
    return decode
