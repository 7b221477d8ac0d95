"""Counting events in time windows (the flood limits' checks)."""

from __future__ import annotations

from collections.abc import Iterable


def most_in_window(stamps: Iterable[float], window: float) -> int:
    """The most of these times (seconds) that fall within any one `window`."""
    ordered = sorted(stamps)
    most, first = 0, 0
    for last, stamp in enumerate(ordered):
        while stamp - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most
