"""Messages to the operators (ADMIN_IDS), with throttling for alerts that repeat."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

Send = Callable[[int, str], Awaitable[object]]


class AdminAlerts:
    def __init__(self, admin_ids: Iterable[int], send: Send, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._admins = sorted(admin_ids)
        self._send = send
        self._clock = clock
        self._last: dict[str, float] = {}

    async def alert(self, text: str, *, throttle_key: str | None = None, every_seconds: float = 3600) -> bool:
        """Send `text` to every admin; with a throttle key at most once per `every_seconds`.
        Returns whether it was sent (to at least the attempt)."""
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
                await self._send(admin_id, text)
            except Exception:  # one unreachable admin must not stop the others
                log.warning("could not alert admin %s", admin_id, exc_info=True)
        return True
