"""Dialogue state, kept in the database and loaded around each update of its user.

A dialogue is a multi-step interaction: an order being filled in, a top-up, an admin's question.
Its state — which dialogue, which step, the draft so far, the nonce its buttons carry, when it
expires — is one row per user (storage/dialogues.py). `Dialogues.session(user_id)` reads the row
before the update's handlers run and writes it after they return, if they changed it; the update
processor (bot/update_processor.py) opens it inside the user's turn, so one user's updates see
each other's state in order. Nothing is kept in process memory between updates: a restart, or
another process, carries on from the row. (python-telegram-bot's ConversationHandler and
persistence keep conversations in memory and flush them on an interval; see
../shared/ptb-notes.md.)

One dialogue is open per user; an aside (`begin_aside`: /paysupport's question asked mid-order)
keeps the one it was opened over in its draft and gives it back, nonce and all, when it ends.

Handlers reach the state of the update they handle with `current()`. What each dialogue's steps
do, and the one rule for /cancel, Cancel and leaving, are in handlers/dialogues.py.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import Any

from storage.database import Database
from storage.dialogues import DialogueRow, close_expired, expired_users, load_dialogue, save_dialogue
from storage.inbox import handling_update

log = logging.getLogger(__name__)

FINISHED_KEPT = 20  # nonces of confirmed orders remembered per user, for "already confirmed"
UNDER = "under"  # in an aside's draft: the dialogue it was opened over (`Session.begin_aside`)


class Session:
    """The dialogue state of one user during one update."""

    def __init__(self, row: DialogueRow, now: float, timeout: float) -> None:
        self._row = row
        self._now = now
        self._timeout = timeout
        self.changed = False

    @property
    def user_id(self) -> int:
        return self._row.user_id

    @property
    def name(self) -> str | None:
        """The open dialogue (None: none is open)."""
        return self._row.name

    @property
    def step(self) -> str:
        return self._row.step

    @property
    def nonce(self) -> str:
        return self._row.nonce

    @property
    def draft(self) -> dict[str, Any]:
        """The answers so far (JSON values); change it through `goto`/`keep`."""
        return self._row.draft

    @property
    def expired(self) -> bool:
        return self._row.name is not None and self._row.expires_at <= self._now

    def is_open(self, name: str | None = None) -> bool:
        """A dialogue (named `name`, if given) is open and has not expired."""
        return self._row.name is not None and not self.expired and (name is None or self._row.name == name)

    def begin(self, name: str, step: str, **draft: Any) -> str:
        """Open dialogue `name` at `step`, ending the one open (its buttons expire: a new nonce)."""
        row = self._row
        row.name, row.step, row.nonce, row.draft = name, step, secrets.token_hex(3), dict(draft)
        self._touch()
        return row.nonce

    def goto(self, step: str, **draft: Any) -> None:
        """Move to `step`, adding `draft` to the answers so far."""
        self._row.step = step
        self.keep(**draft)

    def keep(self, **draft: Any) -> None:
        """Store answers without moving (the step's expiry starts again)."""
        self._row.draft.update(draft)
        self._touch()

    def end(self) -> None:
        """Close the open dialogue (its buttons expire)."""
        row = self._row
        if row.name is None:
            return
        row.name, row.step, row.draft = None, "", {}
        self.changed = True

    def begin_aside(self, name: str, step: str, **draft: Any) -> str:
        """Open `name` at `step` over the dialogue open now (a question asked mid-order), which
        `end_aside` opens again as it was: its step, its answers and its nonce, so the buttons it
        showed work again. An aside opened over an aside keeps the first one's dialogue under it."""
        row = self._row
        under: dict[str, Any] | None = None
        if self.is_open():
            under = row.draft.get(UNDER) or {"name": row.name, "step": row.step, "nonce": row.nonce,
                                             "draft": row.draft}
        self.begin(name, step, **draft)
        if under is not None:
            self._row.draft[UNDER] = under
        return self._row.nonce

    def end_aside(self) -> bool:
        """End the open dialogue; one it was opened over (`begin_aside`) is open again (True),
        unless the aside expired (what was under it is older still)."""
        under = self._row.draft.get(UNDER) if self.is_open() else None
        self.end()
        if not isinstance(under, dict) or not isinstance(under.get("name"), str):
            return False
        row = self._row
        row.name, row.step, row.nonce = under["name"], str(under.get("step", "")), str(under.get("nonce", ""))
        row.draft = dict(under.get("draft") or {})
        self._touch()
        return True

    def remember_confirmed(self, nonce: str) -> None:
        """The buttons carrying `nonce` made an order: they are answered "already confirmed"."""
        self._row.finished = (*self._row.finished, nonce)[-FINISHED_KEPT:]
        self.changed = True

    def confirmed(self, nonce: str) -> bool:
        return nonce in self._row.finished

    def renew(self) -> str:
        """A new nonce for the open dialogue: the buttons of its earlier messages expire."""
        self._row.nonce = secrets.token_hex(3)
        self._touch()
        return self._row.nonce

    def _touch(self) -> None:
        self._row.expires_at = self._now + self._timeout
        self.changed = True


_current: ContextVar[Session | None] = ContextVar("dialogue_session", default=None)


def current() -> Session:
    """The session of the update being handled (a blank one, never stored, outside any)."""
    session = _current.get()
    if session is None:
        session = Session(DialogueRow(0), time.time(), 0.0)
        _current.set(session)
    return session


class Dialogues:
    """The store of dialogue state (one per application)."""

    def __init__(self, db: Database, timeout: float, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.timeout = timeout
        self.clock = clock  # wall-clock seconds: an expiry must mean the same after a restart

    @asynccontextmanager
    async def session(self, user_id: int) -> AsyncIterator[Session]:
        session = Session(await load_dialogue(self.db, user_id), self.clock(), self.timeout)
        token = _current.set(session)
        try:
            yield session
        finally:
            _current.reset(token)
            if session.changed:
                await self._save(session._row)

    async def _save(self, row: DialogueRow) -> None:
        try:
            saved = await save_dialogue(self.db, row, finishing=handling_update.get(), now=time.time())
        except Exception:  # the reply went out; the next update starts from the state stored before
            log.exception("could not store the dialogue of user %s", row.user_id)
            return
        if not saved:
            log.info("the dialogue of user %s changed while an update was handled (it expired); not written over",
                     row.user_id)

    async def sweep(self, turn: Callable[[int], AbstractAsyncContextManager[object]]) -> list[DialogueRow]:
        """Close every dialogue whose time is up, each in its user's `turn` (so never under an
        update being handled, which may be answering it right now); returns those closed."""
        closed = []
        for user_id in await expired_users(self.db, self.clock()):
            async with turn(user_id):
                row = await close_expired(self.db, user_id, self.clock())
            if row is not None:
                closed.append(row)
        return closed
