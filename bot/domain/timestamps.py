"""The one way a moment is shown: "2026-11-22 08:15 UTC" (or the day alone), from the ISO
timestamps the database stores ("2026-11-22T08:15:00.123Z") or from a datetime."""

from __future__ import annotations

from datetime import UTC, datetime


def _parsed(iso: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def shown_moment(value: str | datetime) -> str:
    moment = _parsed(value) if isinstance(value, str) else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def shown_day(value: str | datetime) -> str:
    moment = _parsed(value) if isinstance(value, str) else value.astimezone(UTC)
    return moment.strftime("%Y-%m-%d") if moment else "-"
