"""The one way a moment is shown: "2026-11-22 08:15 UTC" (or the day alone), from the ISO
timestamps the database stores ("2026-11-22T08:15:00.123Z") or from a datetime; for customers,
how long ago ("2 hours ago")."""

from __future__ import annotations

from datetime import UTC, date, datetime

from babel.dates import format_date

from bot import i18n, texts


def _parsed(iso: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def shown_moment(value: str | datetime) -> str:
    """The moment in UTC, the zone named: "2026-11-22 08:15 UTC" in English (the operators' lists
    sort by it), the reader's own date format otherwise ("22 нояб. 2026 г., 08:15 UTC")."""
    moment = _parsed(value) if isinstance(value, str) else value.astimezone(UTC)
    if moment is None:
        return "-"
    if i18n.current() == i18n.SOURCE:
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"{format_date(moment, 'medium', locale=i18n.current())}, {moment:%H:%M} UTC"


def shown_date(day: date) -> str:
    """A date a customer typed (an end date), as they write dates: 31/12/2027 in English, as the
    question asks for it."""
    if i18n.current() == i18n.SOURCE:
        return day.strftime("%d/%m/%Y")
    return format_date(day, "medium", locale=i18n.current())


def shown_day(value: str | datetime) -> str:
    moment = _parsed(value) if isinstance(value, str) else value.astimezone(UTC)
    if moment is None:
        return "-"
    if i18n.current() == i18n.SOURCE:
        return moment.strftime("%Y-%m-%d")
    return format_date(moment, "medium", locale=i18n.current())


def shown_ago(value: str | datetime, now: datetime) -> str:
    """How long before `now`, as a customer reads it: "just now", "5 minutes ago", "2 hours ago",
    "yesterday", "3 days ago"; a week or more back, the day; ahead of `now` by more than a minute (a clock off),
    the moment with its zone named."""
    moment = _parsed(value) if isinstance(value, str) else value.astimezone(UTC)
    if moment is None:
        return "-"
    seconds = (now.astimezone(UTC) - moment).total_seconds()
    if seconds < -60:
        return shown_moment(moment)
    if seconds < 60:
        return texts.JUST_NOW
    if seconds < 3600:
        return texts.MINUTES_AGO.format(minutes=int(seconds // 60))
    if seconds < 86400:
        return texts.HOURS_AGO.format(hours=int(seconds // 3600))
    if seconds < 2 * 86400:
        return texts.YESTERDAY
    if seconds < 7 * 86400:
        return texts.DAYS_AGO.format(days=int(seconds // 86400))
    return shown_day(moment)

