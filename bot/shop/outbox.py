"""Messages for the outbox (the notifier sends them): stored by name with their parameters and
rendered in the recipient's language when they are sent, so a customer who switches language
gets the next notification in the new one (bot/i18n.py)."""

from __future__ import annotations

import json

from bot import i18n
from bot.texts import Formatted
from storage.tracking import Notice


def notice(user_id: int, message: Formatted, button: tuple[Formatted, str] | None = None, *,
           order_id: int | None = None) -> Notice:
    """A message (and its one button: label, callback data) for `user_id`. Its text is kept in
    the source language as well, for the log and the admins."""
    template = {"message": message.to_json(), "button": button[0].to_json() if button else None}
    with i18n.reading(i18n.SOURCE):
        return Notice(user_id, str(message), str(button[0]) if button else None, button[1] if button else None,
                      order_id=order_id, template=json.dumps(template, ensure_ascii=False))


def rendered(template: str) -> tuple[str, str | None]:
    """A stored message and its button label, in the language being read now."""
    data = json.loads(template)
    button = data.get("button")
    return str(Formatted.from_json(data["message"])), str(Formatted.from_json(button)) if button else None
