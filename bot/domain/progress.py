"""A text progress bar for messages that are edited as work goes on."""

from __future__ import annotations


def progress_bar(done: int, total: int, width: int = 12) -> str:
    """`▓▓▓▓░░░░ 50%`: whole cells only, so the bar is full exactly when everything is done."""
    if total <= 0:
        return "░" * width + " 100%"
    done = max(0, min(done, total))
    filled = done * width // total
    return "▓" * filled + "░" * (width - filled) + f" {done * 100 // total}%"
