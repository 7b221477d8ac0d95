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


class AdminAlerts:
    def __init__(self, admin_ids: Iterable[int], send: Send, *, clock: Callable[[], float] = time.monotonic,
                 locale_of: LocaleOf | None = None) -> None:
        self._admins = sorted(admin_ids)
        self._send = send
        self._clock = clock
        self._locale_of = locale_of  # each admin reads alerts in their own language
        self._last: dict[str, float] = {}

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
