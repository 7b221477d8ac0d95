"""Who may use the bot, and who is recorded: the users table, with what one process keeps of it to
spare a database trip per update (the banned, and who was recorded this run). Only these methods
change that; handlers ask, they never update it."""

from __future__ import annotations

import time
from collections.abc import Callable

from bot import i18n
from bot.shop.moderation import set_ban
from storage.database import Database
from storage.users import (
    access_of,
    banned_ids,
    chosen_languages,
    claim_ban_notice,
    mark_seen,
    reader_of,
    set_language,
    touch_user,
)

SEEN_EVERY = 3600.0  # seconds: last_seen_at (the stats' "active") is written at most this often


class Customers:
    def __init__(self, db: Database, admins: frozenset[int], allowed: frozenset[int], banned: set[int], *,
                 languages: dict[int, str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self._admins = admins
        self._allowed = allowed  # empty: everyone
        self._banned = banned
        self._told: set[int] = set()  # banned users told this run (the database knows across runs)
        self._seen_at: dict[int, float] = {}  # recorded this run: when last_seen_at was written
        self._clock = clock
        self._languages = dict(languages or {})  # chosen with /language (the database has them too)

    @classmethod
    async def load(cls, db: Database, admins: frozenset[int], allowed: frozenset[int]) -> Customers:
        return cls(db, admins, allowed, await banned_ids(db), languages=await chosen_languages(db))

    def language_of(self, user_id: int, telegram_code: str | None) -> str:
        """The locale texts are rendered in for this user (bot/i18n.py `resolve`)."""
        return i18n.resolve(self._languages.get(user_id), telegram_code)

    async def locale_of(self, user_id: int) -> str:
        """The locale of a user the bot writes to unprompted (an alert, a timed-out order)."""
        _, telegram_code = await reader_of(self._db, user_id)
        return self.language_of(user_id, telegram_code)

    def chosen_language(self, user_id: int) -> str | None:
        return self._languages.get(user_id)

    async def choose_language(self, user_id: int, locale: str) -> str:
        """Store the user's choice (a locale with a catalog); returns the locale now in use."""
        if locale not in i18n.available():
            raise ValueError(f"no catalog for {locale!r}")
        await set_language(self._db, user_id, locale)
        self._languages[user_id] = locale
        return locale

    @property
    def banned(self) -> frozenset[int]:
        return frozenset(self._banned)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self._admins

    def is_banned(self, user_id: int) -> bool:
        return user_id in self._banned and not self.is_admin(user_id)

    def may_use(self, user_id: int) -> bool:
        return not self._allowed or user_id in self._allowed or self.is_admin(user_id)

    async def record(self, user_id: int, first_name: str, username: str | None, language_code: str | None) -> None:
        """A user wrote: recorded once a run, their last_seen_at at most once an hour."""
        now = self._clock()
        seen = self._seen_at.get(user_id)
        if seen is None:
            await touch_user(self._db, user_id, first_name, username, language_code)
            self._seen_at[user_id] = now
        elif now - seen >= SEEN_EVERY:
            await mark_seen(self._db, user_id)
            self._seen_at[user_id] = now

    async def ban_notice_due(self, user_id: int) -> bool:
        """True once per ban: the banned user is told, then ignored."""
        if user_id in self._told:
            return False
        self._told.add(user_id)
        return await claim_ban_notice(self._db, user_id)

    async def set_ban(self, admin_id: int, user_id: int, banned: bool) -> bool:
        """Ban or unban (moderation.set_ban: audited, CannotBan for admins and strangers)."""
        changed = await set_ban(self._db, admin_id, user_id, banned, admins=self._admins)
        if banned:
            self._banned.add(user_id)
        else:
            self._banned.discard(user_id)
            self._told.discard(user_id)
        return changed

    async def reload(self, user_id: int) -> None:
        """Another instance changed the user (a ban, a language): take it as stored."""
        banned, language = await access_of(self._db, user_id)
        if banned:
            self._banned.add(user_id)
        else:
            self._banned.discard(user_id)
            self._told.discard(user_id)
        if language:
            self._languages[user_id] = language
        else:
            self._languages.pop(user_id, None)

    def forget(self, user_id: int) -> None:
        """The user blocked the bot: recorded anew when they come back."""
        self._seen_at.pop(user_id, None)
