"""Messages to the operators (ADMIN_IDS), with throttling for alerts that repeat."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable

from bot import i18n
from bot.texts import Formatted, Text

log = logging.getLogger(__name__)

Send = Callable[[int, "str | Text | Formatted"], Awaitable[object]]
LocaleOf = Callable[[int], Awaitable[str]]
# Whether this instance may send the throttled alert `key` now, for `seconds` (a lease shared by
# every instance: one "panel out of funds" a quarter of an hour for the shop, not one per instance).
Claim = Callable[[str, float], Awaitable[bool]]


class AdminAlerts:
    def __init__(self, admin_ids: Iterable[int], send: Send, *, clock: Callable[[], float] = time.monotonic,
                 locale_of: LocaleOf | None = None, claim: Claim | None = None) -> None:
        self._admins = sorted(admin_ids)
        self._send = send
        self._clock = clock
        self._locale_of = locale_of  # each admin reads alerts in their own language
        self._last: dict[str, float] = {}
        self._claim = claim

    async def alert(self, text: str | Text | Formatted, *, throttle_key: str | None = None,
                    every_seconds: float = 3600) -> bool:
        """Send `text` to every admin, rendered in each one's language (pass `texts.X.lazy(...)`);
        with a throttle key at most once per `every_seconds`. Returns whether it was sent (to at
        least the attempt)."""
        if throttle_key is not None:
            now = self._clock()
            last = self._last.get(throttle_key)
            if last is not None and now - last < every_seconds:
                return False
            self._last[throttle_key] = now
            if self._claim is not None and not await self._shared(throttle_key, every_seconds):
                return False
        if not self._admins:
            log.warning("admin alert with no ADMIN_IDS configured: %s", text)
        for admin_id in self._admins:
            try:
                locale = await self._locale_of(admin_id) if self._locale_of is not None else i18n.current()
                with i18n.reading(locale):
                    await self._send(admin_id, text)
            except Exception:  # one unreachable admin must not stop the others
                log.warning("could not alert admin %s", admin_id, exc_info=True)
        return True

    async def _shared(self, key: str, seconds: float) -> bool:
        assert self._claim is not None
        try:
            return await self._claim(key, seconds)
        except Exception:  # the database: better an alert twice than none
            log.warning("could not claim the alert %s; sending it", key, exc_info=True)
            return True
