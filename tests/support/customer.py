"""A customer of a test shop, who types and taps like a person (and waits like one: for the
bot's answer, never for a fixed time)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from tests.support.fake_telegram import FakeUser, SentMessage

if TYPE_CHECKING:
    from tests.support.shop import Shop


class Customer:
    def __init__(self, shop: Shop, user: FakeUser) -> None:
        self.shop = shop
        self.user = user
        self.id = user.id

    async def say(self, text: str) -> SentMessage:
        """Send a message and return the bot's next new message to this chat."""
        await self.user.send(text)
        return await self.user.next_message()

    async def tap(self, message: SentMessage, button: str) -> tuple[SentMessage, str]:
        """Press a button (by text, or by the end of its callback data) and wait for the bot to
        edit that message; returns the edited message and the callback answer's text."""
        data = _find_button(message, button)
        seen = message.edits
        query_id = await self.user.press(message, data)
        answered = await self.user.wait_answer(query_id)
        await self.shop.telegram.wait_for(lambda: message if message.edits > seen else None,
                                          what=f"an edit after pressing {button!r}")
        return message, str(answered.params.get("text") or "")

    async def tap_answer(self, message: SentMessage, button: str) -> str:
        """Press a button whose only effect is the callback answer (a toast)."""
        query_id = await self.user.press(message, _find_button(message, button))
        return str((await self.user.wait_answer(query_id)).params.get("text") or "")

    async def wait_text(self, message: SentMessage, predicate: Callable[[str], bool]) -> SentMessage:
        return await self.shop.telegram.wait_for(lambda: message if predicate(message.text) else None,
                                                 what=f"message {message.message_id} to change")

    async def open_service(self, service_id: str) -> SentMessage:
        """/order → the service's category → the service (paging if needed), which is shown with
        the first question of its order."""
        menu = await self.say("/order")
        category = next(c for c in self.shop.state.catalogue.categories
                        if any(s.service_id == service_id for s in c.services))
        await _tap_through_pages(self, menu, f":cat:{category.key}:0")
        await _tap_through_pages(self, menu, f":svc:{service_id}")
        return menu


def _find_button(message: SentMessage, button: str) -> str:
    button = str(button)  # a text of bot/texts.py, as the reader would see it
    for row in message.buttons():
        for b in row:
            data = b.get("callback_data", "")
            if data.endswith(button) or button in b.get("text", ""):
                return data
    with_position = re.compile(re.escape(button) + r":[0-9]+$")  # a value button names its question too
    for row in message.buttons():
        for b in row:
            if with_position.search(data := b.get("callback_data", "")):
                return data
    raise AssertionError(f"no button {button!r} in {message.text[:80]!r}: {message.button_texts()}")


async def _tap_through_pages(customer: Customer, message: SentMessage, suffix: str) -> None:
    for _ in range(1000):
        if any(b.get("callback_data", "").endswith(suffix) for row in message.buttons() for b in row):
            await customer.tap(message, suffix)
            return
        await customer.tap(message, "Next ›")
    raise AssertionError(f"no page has {suffix}")


def money(text: str) -> Decimal:
    """The first amount in a text: "Price: 1.25 USD" → Decimal("1.25")."""
    match = re.search(r"(\d[\d,]*\.\d+)", text)
    assert match, text
    return Decimal(match.group(1).replace(",", ""))
