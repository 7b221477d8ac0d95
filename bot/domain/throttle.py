"""A throttle for requests people trigger by hand (the order card's Refresh): at most one per
key every `every` seconds, and at most one overall every `overall_every` seconds, so a customer
tapping fast cannot get the shop's panel key rate-limited (after which every `add` is refused)."""

from __future__ import annotations

import math

PRUNE_AT = 10_000  # keys remembered before the stale ones are forgotten


class Throttle:
    def __init__(self, every: float, overall_every: float) -> None:
        self.every = every
        self.overall_every = overall_every
        self._last: dict[object, float] = {}
        self._last_overall = -math.inf

    def wait(self, key: object, now: float) -> float:
        """0 when `key` may go now (and it is counted as gone), else the seconds to wait."""
        wait = max(self._last.get(key, -math.inf) + self.every, self._last_overall + self.overall_every) - now
        if wait > 0:
            return wait
        if len(self._last) >= PRUNE_AT:
            self._last = {k: t for k, t in self._last.items() if t + self.every > now}
        self._last[key] = now
        self._last_overall = now
        return 0.0
