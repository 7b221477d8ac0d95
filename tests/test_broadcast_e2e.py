"""Broadcast end to end: 500 customers, the fake Bot API's flood limits on, a restart halfway."""

from __future__ import annotations

from pathlib import Path

from bot.panel.sandbox import SandboxClock, SandboxPanel, SandboxServer
from storage.broadcasts import progress
from storage.users import get_user, touch_user
from tests.support.fake_telegram import FakeTelegram, SentMessage
from tests.support.shop import ADMIN_ID, PANEL_KEY, run_shop

CUSTOMERS = 500
BLOCKED = {6000 + i for i in range(0, CUSTOMERS, 50)}  # 10 customers who blocked the bot
TEXT = "Big sale & news"


def received(telegram: FakeTelegram, user_id: int) -> int:
    return sum(1 for m in telegram.messages(user_id) if m.text == TEXT)


async def test_broadcast_reaches_everyone_once_across_a_restart(tmp_path: Path) -> None:
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
    users = [6000 + i for i in range(CUSTOMERS)]
    async with FakeTelegram(global_limit_per_second=30, per_chat_limit_per_second=1) as telegram, \
            SandboxServer(panel) as server:
        for user_id in users:
            telegram.user(user_id, first_name=f"C{user_id}")
        telegram.blocked |= BLOCKED
        admin = telegram.user(ADMIN_ID, first_name="Admin")
        async with run_shop(tmp_path, telegram, server) as shop:
            for user_id in users:  # customers who wrote to the bot some time ago
                await touch_user(shop.state.db, user_id, f"C{user_id}", None, "en")
            await admin.send("/broadcast")
            ask = await admin.next_message()
            assert ask.text.startswith(f"📣 Send the message for every customer ({CUSTOMERS} can receive it)")
            await admin.send("<b>Big sale</b> &amp; news <i>unclosed")
            refused = await admin.next_message()
            assert refused.text.startswith("⚠️ Telegram refuses this text:") and "parse entities" in refused.text
            await admin.send("<b>Big sale</b> &amp; news")
            preview = await admin.next_message()
            assert preview.text == TEXT and preview.entities[0]["type"] == "bold"
            confirm = await admin.next_message()
            assert confirm.text.startswith(f"👆 This is how customers will see it. Send it to {CUSTOMERS} customers?")
            await admin.press(confirm, "📣 Send")
            await telegram.wait_for(lambda: True if sum(received(telegram, u) for u in users) >= 150 else None,
                                    timeout=30, what="150 customers reached")
        # The bot stopped halfway (the batch in flight finished): nobody got it twice so far.
        halfway = sum(received(telegram, u) for u in users)
        assert 150 <= halfway < CUSTOMERS - len(BLOCKED)
        assert all(received(telegram, u) <= 1 for u in users)
        assert confirm.text.startswith("📣 Broadcast #1")  # the confirmation became the progress message
        async with run_shop(tmp_path, telegram, server) as shop:
            report: SentMessage = await telegram.wait_for(lambda: next(
                (m for m in telegram.messages(ADMIN_ID) if m.text.startswith("📣 Broadcast #1 finished")), None),
                timeout=40, what="the final report")
            figures = await progress(shop.state.db, 1)
            blocked_user = await get_user(shop.state.db, min(BLOCKED))
        assert report.text == (f"📣 Broadcast #1 finished: {CUSTOMERS - len(BLOCKED)} delivered, {len(BLOCKED)} "
                               f"blocked the bot, 0 failed (of {CUSTOMERS}).")
        assert (figures.sent, figures.blocked, figures.failed) == (CUSTOMERS - len(BLOCKED), len(BLOCKED), 0)
        assert [u for u in users if received(telegram, u) != (0 if u in BLOCKED else 1)] == []
        assert blocked_user is not None and blocked_user.blocked_at  # skipped by the next broadcast too
        assert confirm.text.startswith("📣 Broadcast #1\n▓▓▓▓▓▓▓▓▓▓▓▓ 100%")
        assert received(telegram, ADMIN_ID) == 1  # the preview only: admins are not in the audience
