"""Tests for the fake Telegram Bot API server, driven by the real python-telegram-bot.

Why: every end-to-end test of the bot trusts this fake; these prove it speaks the wire
protocol PTB expects and that it refuses what Telegram refuses, with Telegram's texts.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    MessageEntity,
    PreCheckoutQuery,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from tests.support.fake_telegram import SECRET_HEADER, Charge, FakeTelegram, FakeUser, PaymentResult, SentMessage
from tests.support.telegram_html import parse_html, utf16_len

pytestmark = pytest.mark.timeout(10)
# PTB itself warns about RetryAfter.retry_after's future type while building the exception.
ignore_ptb_deprecation = pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning"
)

USER_ID = 4242


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A tiny storefront-like /start: HTML greeting plus an inline keyboard."""
    assert update.effective_user is not None and update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("🛒 Buy likes", callback_data="buy:likes")],
            [InlineKeyboardButton("Docs", url="https://example.com/docs")],
        ]
    )
    await update.effective_message.reply_text(
        f"<b>Welcome</b>, {update.effective_user.first_name}!",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard,
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the query and replace the menu (no keyboard: Telegram then drops it)."""
    query = update.callback_query
    assert query is not None
    await query.answer("Added to cart")
    await query.edit_message_text(f"You chose <code>{query.data}</code>", parse_mode="HTML")


@asynccontextmanager
async def running_bot(tg: FakeTelegram) -> AsyncIterator[Application]:
    """A real PTB Application polling the fake, started and stopped by hand."""
    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CallbackQueryHandler(on_button))
    async with running(app):
        yield app


@asynccontextmanager
async def running(app: Application) -> AsyncIterator[Application]:
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.user(USER_ID, "Ann", username="ann")
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    """A bare PTB Bot (same request stack as an Application's) for direct calls."""
    async with Bot(tg.token, base_url=tg.base_url) as client:
        yield client


@pytest.fixture
async def http(tg: FakeTelegram) -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP, to check the exact wire answers."""
    async with httpx.AsyncClient(base_url=tg.url) as client:
        yield client


# --------------------------------------------------------------------------- round trips


async def test_start_round_trip_and_button_press(tg: FakeTelegram) -> None:
    user = tg.user(USER_ID)
    async with running_bot(tg):
        sent = await user.send("/start")
        assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

        menu = await user.next_message()
        assert menu.text == "Welcome, Ann!"
        assert menu.raw_text == "<b>Welcome</b>, Ann!"
        assert menu.entities == [{"type": "bold", "offset": 0, "length": 7}]
        assert menu.button_texts() == [["🛒 Buy likes"], ["Docs"]]
        assert menu.button("Buy")["callback_data"] == "buy:likes"

        query_id = await user.press(menu, "Buy")
        answer = await user.wait_answer(query_id)
        assert answer.ok and answer.params["text"] == "Added to cart"

        edited = await user.wait_edit(menu)
        assert edited is menu
        assert menu.text == "You chose buy:likes" and menu.edits == 1
        assert menu.entities == [{"type": "code", "offset": 10, "length": 9}]
        assert menu.buttons() == []  # edited without reply_markup: keyboard removed

    methods = [call.method for call in tg.calls]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert all(call.ok for call in tg.calls if call.method != "getUpdates")
    # The last getUpdates (timeout=0) confirmed everything the bot processed.
    final = tg.calls_of("getUpdates")[-1]
    assert final.params["timeout"] == "0"
    assert tg.pending_updates == []


async def test_press_by_exact_callback_data_and_missing_button(tg: FakeTelegram) -> None:
    user = tg.user(USER_ID)
    async with running_bot(tg):
        await user.send("/start@storefront_test_bot")
        menu = await user.next_message()
        query_id = await user.press(menu, "buy:likes")
        assert (await user.wait_answer(query_id)).params["callback_query_id"] == query_id
        await user.wait_edit(menu)
        with pytest.raises(AssertionError, match="You chose buy:likes"):
            menu.button("Buy")  # the edit removed the keyboard
    with pytest.raises(AssertionError, match="no button"):
        await user.press(menu, "buy:likes")


async def test_next_message_is_a_fifo_per_user(tg: FakeTelegram, bot: Bot) -> None:
    ann, bob = tg.user(USER_ID), tg.user(7, "Bob")
    pending = asyncio.create_task(ann.next_message())
    await bot.send_message(USER_ID, "one")
    await bot.send_message(7, "for bob")
    await bot.send_message(USER_ID, "two")
    assert (await pending).text == "one"
    assert (await ann.next_message()).text == "two"
    assert (await bob.next_message()).text == "for bob"
    with pytest.raises(AssertionError, match="a message to chat 4242"):
        await ann.next_message(timeout=0.05)
    assert [m.text for m in ann.messages()] == ["one", "two"]


async def test_wait_call_is_event_driven_and_times_out_with_summary(
    tg: FakeTelegram, bot: Bot
) -> None:
    waiter = asyncio.create_task(
        tg.wait_call("sendMessage", lambda c: c.params.get("text") == "second")
    )
    await bot.send_message(USER_ID, "first")
    await bot.send_message(USER_ID, "second")
    call = await waiter
    assert call.chat_id == USER_ID and call.params["text"] == "second"
    # "first" was not returned yet, "second" was: the next plain wait gets "first".
    assert (await tg.wait_call("sendMessage")).params["text"] == "first"
    with pytest.raises(AssertionError, match=r"waiting for a sendMessage call[\s\S]*first"):
        await tg.wait_call("sendMessage", timeout=0.05)


# --------------------------------------------------------------------------- strictness


async def test_callback_data_is_limited_to_64_bytes(tg: FakeTelegram, bot: Bot) -> None:
    exactly_64 = "é" * 32  # 32 characters, 64 bytes
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data=exactly_64)]])
    await bot.send_message(USER_ID, "fits", reply_markup=ok)

    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=exactly_64 + "a")]])
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(USER_ID, "65 bytes", reply_markup=too_long)
    assert tg.calls[-1].error == "Bad Request: BUTTON_DATA_INVALID"
    assert [m.text for m in tg.messages(USER_ID)] == ["fits"]


@pytest.mark.parametrize(
    ("button", "error"),
    [
        ({"text": "go", "url": "javascript:alert(1)"}, "Bad Request: BUTTON_URL_INVALID"),
        ({"text": "plain"}, "Text buttons are unallowed in the inline keyboard"),
        ({"text": "", "callback_data": "x"}, "Bad Request: BUTTON_TEXT_INVALID"),
        ({"text": "both", "callback_data": "x", "url": "https://a.b"}, "exactly one"),
    ],
)
async def test_inline_buttons_are_validated(
    tg: FakeTelegram, http: httpx.AsyncClient, button: dict[str, str], error: str
) -> None:
    response = await http.post(
        f"/bot{tg.token}/sendMessage",
        data={"chat_id": str(USER_ID), "text": "hi",
              "reply_markup": json.dumps({"inline_keyboard": [[button]]})},
    )
    assert response.status_code == 400
    assert error in response.json()["description"]


async def test_at_most_100_inline_buttons(tg: FakeTelegram, bot: Bot) -> None:
    def grid(count: int) -> InlineKeyboardMarkup:
        buttons = [InlineKeyboardButton(str(n), callback_data=str(n)) for n in range(count)]
        return InlineKeyboardMarkup([buttons[row : row + 5] for row in range(0, count, 5)])

    await bot.send_message(USER_ID, "100 buttons", reply_markup=grid(100))
    with pytest.raises(BadRequest, match=r"(?i)reply markup is too long"):
        await bot.send_message(USER_ID, "101 buttons", reply_markup=grid(101))


async def test_text_limit_counts_utf16_units(tg: FakeTelegram, bot: Bot) -> None:
    emoji = "😀"  # one code point, two UTF-16 units
    fits = emoji * 2048
    assert utf16_len(fits) == 4096
    await bot.send_message(USER_ID, fits)

    too_long = fits + "a"  # only 2049 code points, but 4097 units
    assert len(too_long) < 4096
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER_ID, too_long)
    assert tg.calls[-1].error == "Bad Request: message is too long"


async def test_length_is_measured_after_html_parsing(tg: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(USER_ID, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER_ID, "&lt;" + "a" * 4096, parse_mode="HTML")


async def test_empty_text_is_rejected(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER_ID, "<b> </b>  ", parse_mode="HTML")


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("price <foo>1</foo>", 'Unsupported start tag "foo" at byte offset 6'),
        ("цена <x>", 'Unsupported start tag "x" at byte offset 9'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Tom & Jerry", "Character entity expected at byte offset 4"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("a <b", "Unclosed start tag at byte offset 2"),
    ],
)
async def test_invalid_html_is_rejected_with_telegrams_text(
    tg: FakeTelegram, bot: Bot, html: str, description: str
) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER_ID, html, parse_mode=ParseMode.HTML)
    assert tg.calls[-1].error == f"Bad Request: can't parse entities: {description}"
    assert tg.messages(USER_ID) == []


async def test_valid_nested_html_yields_utf16_entities(tg: FakeTelegram, bot: Bot) -> None:
    html = (
        '😀 <b>bold <i>both</i></b> <a href="https://example.com/?a=1&amp;b=2">link</a> '
        "<code>&lt;x&gt;</code> <tg-spoiler>s</tg-spoiler> &#128512;&#x41;\n"
        '<pre><code class="language-python">print(1)</code></pre>\n'
        "<blockquote expandable>quote</blockquote>"
    )
    message = await bot.send_message(USER_ID, html, parse_mode="HTML")
    assert message.text == "😀 bold both link <x> s 😀A\nprint(1)\nquote"
    got = [(e.type, e.offset, e.length) for e in message.entities]
    assert got == [
        (MessageEntity.BOLD, 3, 9),  # the emoji before counts 2 units
        (MessageEntity.ITALIC, 8, 4),
        (MessageEntity.TEXT_LINK, 13, 4),
        (MessageEntity.CODE, 18, 3),
        (MessageEntity.SPOILER, 22, 1),
        (MessageEntity.PRE, 28, 8),
        (MessageEntity.EXPANDABLE_BLOCKQUOTE, 37, 5),
    ]
    assert message.entities[2].url == "https://example.com/?a=1&b=2"
    assert message.entities[5].language == "python"
    stored = tg.messages(USER_ID)[0]
    assert stored.text == message.text and stored.parse_mode == "HTML"


def test_html_parser_can_allow_bare_ampersands() -> None:
    assert parse_html("Tom & Jerry", strict_ampersand=False) == ("Tom & Jerry", [])


async def test_markdown_is_refused_the_bot_speaks_html_only(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)unsupported parse_mode"):
        await bot.send_message(USER_ID, r"*Price:* 5\.00", parse_mode=ParseMode.MARKDOWN_V2)
    assert "parses HTML only" in str(tg.calls[-1].error)
    assert not tg.messages(USER_ID)


async def test_edit_with_identical_content_is_not_modified(tg: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(USER_ID, "<b>Menu</b>", parse_mode="HTML", reply_markup=keyboard)

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        # different HTML, same result: Telegram compares the parsed content
        await bot.edit_message_text(
            "<strong>Menu</strong>", USER_ID, sent.message_id, parse_mode="HTML",
            reply_markup=keyboard,
        )
    assert tg.calls[-1].error is not None and tg.calls[-1].error.startswith(
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same"
    )
    # Same text, no reply_markup: the keyboard goes away, so it *is* a modification.
    await bot.edit_message_text("<b>Menu</b>", USER_ID, sent.message_id, parse_mode="HTML")
    stored = tg.messages(USER_ID)[0]
    assert stored.buttons() == [] and stored.edits == 1
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(USER_ID, sent.message_id)
    # Bold -> plain with the same characters is a change too.
    await bot.edit_message_text("Menu", USER_ID, sent.message_id)
    assert stored.edits == 2 and stored.entities == []


async def test_edit_and_delete_need_an_existing_message(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER_ID, "bye")
    assert await bot.delete_message(USER_ID, sent.message_id)
    assert tg.messages(USER_ID)[0].deleted
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("again", USER_ID, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(USER_ID, sent.message_id)


async def test_unknown_or_repeated_callback_query_id(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("123")
    assert tg.calls[-1].error == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    user = tg.user(USER_ID)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    message = await bot.send_message(USER_ID, "pick", reply_markup=keyboard)
    assert tg.messages(USER_ID)[0].message_id == message.message_id
    query_id = await user.press(tg.messages(USER_ID)[0], "a")
    with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="x" * 200)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)


async def test_unknown_chat_and_blocked_user(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(999, "hello?")
    tg.blocked.add(USER_ID)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "hello")
    assert tg.calls[-1].status == 403
    assert tg.calls[-1].error == "Forbidden: bot was blocked by the user"
    assert tg.messages(USER_ID) == []


# --------------------------------------------------------------------------- flood control


@ignore_ptb_deprecation
async def test_per_chat_flood_limit() -> None:
    async with FakeTelegram(per_chat_limit_per_second=1) as tg:
        tg.user(1)
        tg.user(2)
        async with Bot(tg.token, base_url=tg.base_url) as bot:
            await bot.send_message(1, "first")
            with pytest.raises(RetryAfter):
                await bot.send_message(1, "second")
            await bot.send_message(2, "other chat is fine")
    flooded = tg.calls_of("sendMessage")[1]
    assert not flooded.ok and flooded.status == 429
    assert flooded.error == "Too Many Requests: retry after 1"
    assert [m.text for m in tg.messages(1)] == ["first"]  # the flooded one was not applied


async def test_global_flood_limit_returns_retry_after_parameter() -> None:
    async with FakeTelegram(global_limit_per_second=2) as tg:
        for chat in (1, 2, 3):
            tg.user(chat)
        async with httpx.AsyncClient(base_url=f"{tg.base_url}{tg.token}") as http:
            statuses = [
                (await http.post("/sendMessage", data={"chat_id": str(c), "text": "x"}))
                for c in (1, 2, 3)
            ]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].json() == {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }


@ignore_ptb_deprecation
async def test_inject_flood(tg: FakeTelegram, bot: Bot) -> None:
    tg.inject_flood(1, retry_after=7, method="editMessageText")
    tg.inject_flood(1, retry_after=3)
    with pytest.raises(RetryAfter, match=r"0:00:03|3 seconds"):
        await bot.send_message(USER_ID, "one")
    sent = await bot.send_message(USER_ID, "two")
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("three", USER_ID, sent.message_id)
    await bot.edit_message_text("three", USER_ID, sent.message_id)
    assert [c.ok for c in tg.calls_of("sendMessage")] == [False, True]
    assert tg.calls_of("editMessageText")[0].error == "Too Many Requests: retry after 7"
    assert [m.text for m in tg.messages(USER_ID)] == ["three"]


# --------------------------------------------------------------------------- protocol


async def test_unknown_method_is_400_not_404(tg: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await http.post(f"/bot{tg.token}/sendTelepathy", data={"chat_id": "1"})
    assert response.status_code == 400
    assert response.json() == {
        "ok": False, "error_code": 400, "description": "Bad Request: method not found"
    }
    assert tg.calls[-1].method == "sendTelepathy" and not tg.calls[-1].ok


async def test_wrong_token_is_401(tg: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await http.post("/bot999:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=tg.base_url):
            pass


async def test_bot_settings_and_lookup_methods(
    tg: FakeTelegram, bot: Bot
) -> None:
    await bot.set_my_commands([("start", "Open the shop"), ("orders", "My orders")])
    assert tg.commands == [
        {"command": "start", "description": "Open the shop"},
        {"command": "orders", "description": "My orders"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "orders"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Start", "uppercase is invalid")])
    me = await bot.get_me()
    assert me.username == "storefront_test_bot" and me.is_bot
    chat = await bot.get_chat(USER_ID)
    assert chat.first_name == "Ann" and chat.type == "private"
    assert await bot.send_chat_action(USER_ID, "typing")
    assert await bot.set_my_description("A shop") and await bot.set_my_short_description("Shop")


async def test_get_updates_offset_limit_and_allowed_updates(
    tg: FakeTelegram, http: httpx.AsyncClient
) -> None:
    url = f"/bot{tg.token}/getUpdates"
    ids = [await tg.push_update({"message": {"n": n}}) for n in range(3)]
    reaction = await tg.push_update({"message_reaction": {"n": 9}})

    first_two = (await http.post(url, data={"limit": "2"})).json()["result"]
    assert [u["update_id"] for u in first_two] == ids[:2]
    rest = (await http.post(url, data={"offset": str(ids[1] + 1)})).json()["result"]
    assert [u["update_id"] for u in rest] == [ids[2]]  # message_reaction is not default
    assert [u["update_id"] for u in tg.pending_updates] == [ids[2], reaction]
    only_reactions = (
        await http.post(url, data={"allowed_updates": '["message_reaction"]'})
    ).json()["result"]
    assert [u["update_id"] for u in only_reactions] == [reaction]
    assert tg.calls[-1].params["allowed_updates"] == ["message_reaction"]


async def test_webhook_blocks_polling_and_drop_pending_updates(
    tg: FakeTelegram, bot: Bot
) -> None:
    await tg.push_update({"message": {"text": "old"}})
    assert await bot.set_webhook("https://example.com/hook")
    assert (await bot.get_webhook_info()).url == "https://example.com/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert tg.pending_updates == []
    assert await bot.get_updates() == ()


async def test_long_poll_wakes_on_update_and_on_stop(tg: FakeTelegram) -> None:
    async with httpx.AsyncClient(base_url=f"{tg.base_url}{tg.token}") as http:
        poll = asyncio.create_task(http.post("/getUpdates", data={"timeout": "30"}))
        await tg.wait_call("getUpdates")
        update_id = await tg.push_update({"message": {"text": "hi"}})
        response = await asyncio.wait_for(poll, 2)
        assert [u["update_id"] for u in response.json()["result"]] == [update_id]

        poll = asyncio.create_task(
            http.post("/getUpdates", data={"timeout": "30", "offset": str(update_id + 1)})
        )
        await tg.wait_call("getUpdates")
        await tg.stop()
        response = await asyncio.wait_for(poll, 2)
        assert response.json() == {"ok": True, "result": []}


async def test_a_second_poller_terminates_the_first_with_409(tg: FakeTelegram) -> None:
    async with httpx.AsyncClient(base_url=f"{tg.base_url}{tg.token}") as http:
        first = asyncio.create_task(http.post("/getUpdates", data={"timeout": "30"}))
        await tg.wait_call("getUpdates")
        second = await http.post("/getUpdates", data={"timeout": "0"})
        assert second.status_code == 200
        response = await asyncio.wait_for(first, 2)
    assert response.status_code == 409
    assert "terminated by other getUpdates request" in response.json()["description"]


# --------------------------------------------------------------------------- photos and Stars payments

def assert_refused(tg: FakeTelegram, error: str) -> None:
    """The last call failed with Telegram's wording (PTB re-capitalises it in the exception)."""
    last = [call for call in tg.calls if call.method != "getUpdates"][-1]  # a polling app may be running
    assert not last.ok and last.error is not None and error in last.error, last

async def test_photos_are_forwarded_by_file_id_and_edited_by_caption(tg: FakeTelegram, bot: Bot) -> None:
    user = tg.user(USER_ID)
    sent = await user.send_photo("receipt <1>")
    file_id = sent["photo"][-1]["file_id"]
    photo = await bot.send_photo(USER_ID, file_id, caption="<b>Request</b> #1", parse_mode=ParseMode.HTML)
    assert photo.photo and photo.caption == "Request #1" and photo.caption_entities[0].type == "bold"
    live = tg.messages(USER_ID)[-1]
    assert live.kind == "photo" and live.text == "Request #1"
    with pytest.raises(BadRequest):
        await bot.send_photo(USER_ID, "AgACAgNOT-KNOWN")
    assert_refused(tg, "wrong file identifier")
    with pytest.raises(BadRequest):
        await bot.send_photo(USER_ID, file_id, caption="x" * 1025)
    assert_refused(tg, "caption is too long")
    with pytest.raises(BadRequest):
        await bot.edit_message_text("new", USER_ID, photo.message_id)
    assert_refused(tg, "no text in the message to edit")
    await bot.edit_message_caption(USER_ID, photo.message_id, caption="Approved")
    assert live.text == "Approved" and live.edits == 1
    with pytest.raises(BadRequest):
        await bot.edit_message_caption(USER_ID, photo.message_id, caption="Approved")
    assert_refused(tg, "not modified")
    text = await bot.send_message(USER_ID, "plain")
    with pytest.raises(BadRequest):
        await bot.edit_message_caption(USER_ID, text.message_id, caption="x")
    assert_refused(tg, "no caption in the message to edit")


@pytest.mark.parametrize(("changes", "error"), [
    ({"provider_token": "284685063:TEST:abc"}, "PAYMENT_PROVIDER_INVALID"),
    ({"currency": "USD"}, "CURRENCY_INVALID"),
    ({"prices": [LabeledPrice("a", 1), LabeledPrice("b", 1)]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
    ({"prices": [LabeledPrice("a", 0)]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
    ({"prices": [LabeledPrice("a", 10_001)]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
    ({"title": "t" * 33}, "INVOICE_TITLE_INVALID"),
    ({"description": "d" * 256}, "DESCRIPTION_INVALID"),
    ({"payload": "p" * 129}, "INVOICE_PAYLOAD_INVALID"),
])
async def test_stars_invoices_are_checked(tg: FakeTelegram, bot: Bot, changes: dict[str, object],
                                          error: str) -> None:
    tg.user(USER_ID)
    invoice: dict[str, object] = {"title": "Top-up", "description": "10 USD", "payload": "topup:1",
                                  "currency": "XTR", "prices": [LabeledPrice("Top-up", 500)]}
    with pytest.raises(BadRequest):
        await bot.send_invoice(USER_ID, **{**invoice, **changes})  # type: ignore[arg-type]
    assert_refused(tg, error)
    message = await bot.send_invoice(USER_ID, **invoice)  # type: ignore[arg-type]
    assert message.invoice is not None and message.invoice.total_amount == 500 and message.invoice.currency == "XTR"
    live = tg.messages(USER_ID)[-1]
    assert live.kind == "invoice" and live.invoice["payload"] == "topup:1"


async def test_pay_refuse_late_answer_and_refunds(tg: FakeTelegram) -> None:
    """A bot that accepts payload "good" only; Telegram's side of pay, refusal, timeout, refund."""
    seen: list[Update] = []

    async def checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.pre_checkout_query
        assert query is not None
        if query.invoice_payload == "late":
            return  # never answered
        if query.invoice_payload == "good":
            await query.answer(ok=True)
        else:
            await query.answer(ok=False, error_message="Not this one")

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    tg.pre_checkout_timeout = 0.3
    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(PreCheckoutQueryHandler(checkout))
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT | filters.StatusUpdate.REFUNDED_PAYMENT, record))
    async with running(app):
        user = tg.user(USER_ID)
        await app.bot.send_invoice(USER_ID, "Top-up", "10 USD", "good", "XTR", [LabeledPrice("x", 500)])
        invoice = await user.next_message()
        paid = await user.pay(invoice)
        assert paid.ok and paid.charge_id in tg.charges and paid.answered_after is not None
        await tg.wait_for(lambda: seen or None, what="the successful payment")
        payment = seen[0].message.successful_payment  # type: ignore[union-attr]
        assert payment is not None and payment.total_amount == 500 and payment.invoice_payload == "good"
        assert payment.telegram_payment_charge_id == paid.charge_id
        refused = await user.pay(invoice, payload="forged")
        assert not refused.ok and refused.error_message == "Not this one" and len(tg.charges) == 1
        late = await user.pre_checkout("late", 500)
        assert not late.ok and late.answered_after is None

        assert await app.bot.refund_star_payment(USER_ID, paid.charge_id)
        assert tg.charges[paid.charge_id].refunded  # type: ignore[index]
        await tg.wait_for(lambda: seen[1:] or None, what="the refunded_payment message")
        assert seen[1].message.refunded_payment is not None  # type: ignore[union-attr]
        with pytest.raises(BadRequest):
            await app.bot.refund_star_payment(USER_ID, paid.charge_id)
        assert_refused(tg, "CHARGE_ALREADY_REFUNDED")
        with pytest.raises(BadRequest):
            await app.bot.refund_star_payment(USER_ID + 1, paid.charge_id)
        assert_refused(tg, "CHARGE_NOT_FOUND")


async def test_inject_error_after_applying(tg: FakeTelegram, bot: Bot) -> None:
    tg.user(USER_ID)
    tg.inject_error(1, 502, "Bad Gateway", method="sendMessage", after_applying=True)
    with pytest.raises(NetworkError):
        await bot.send_message(USER_ID, "lost answer")
    assert [m.text for m in tg.messages(USER_ID)] == ["lost answer"]  # it was sent all the same
    tg.inject_error(1, 400, "Bad Request: CHAT_WRITE_FORBIDDEN", method="sendMessage")
    with pytest.raises(BadRequest):
        await bot.send_message(USER_ID, "refused")
    assert len(tg.messages(USER_ID)) == 1


# --------------------------------------------------------------------------- photos, more

ADMIN_ID = 777


async def test_a_users_photo_is_forwarded_to_an_admin_and_approved_by_a_button(tg: FakeTelegram) -> None:
    """The receipt flow: three growing sizes arrive, the bot re-sends the largest by file_id, and a
    button pressed under the photo carries the photo message (caption, no text)."""
    received: list[Message] = []
    pressed: list[Message] = []

    async def forward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.from_user is not None
        received.append(message)
        await context.bot.send_photo(
            ADMIN_ID, message.photo[-1].file_id, caption=f"<b>{message.from_user.first_name}</b>: {message.caption}",
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Approve", callback_data="approve")]]))

    async def approve(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and isinstance(query.message, Message)
        pressed.append(query.message)
        await query.answer()
        await query.edit_message_caption(caption=f"{query.message.caption}\n✅ Approved")

    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(MessageHandler(filters.PHOTO, forward))
    app.add_handler(CallbackQueryHandler(approve))
    admin, user = tg.user(ADMIN_ID, "Boss"), tg.user(USER_ID)
    async with running(app):
        sent = await user.send_photo("receipt 42")
        sizes = sent["photo"]
        assert [s["width"] for s in sizes] == sorted(s["width"] for s in sizes) and len(sizes) == 3
        assert [s["file_size"] for s in sizes] == sorted({s["file_size"] for s in sizes})
        assert sent["caption"] == "receipt 42" and "caption_entities" not in sent and "text" not in sent
        other = await user.send_photo()
        assert "caption" not in other
        ids = [s[key] for s in sizes + other["photo"] for key in ("file_id", "file_unique_id")]
        assert len(set(ids)) == len(ids) == 12

        forwarded = await admin.next_message()
        assert forwarded.kind == "photo" and forwarded.text == "Ann: receipt 42"
        assert forwarded.entities == [{"type": "bold", "offset": 0, "length": 3}]
        assert forwarded.photo == sizes  # the same file, as Telegram shows it again
        assert received[0].photo[-1].file_id == sizes[-1]["file_id"] and received[0].caption == "receipt 42"

        query_id = await admin.press(forwarded, "Approve")
        await admin.wait_answer(query_id)
        edit = await tg.wait_call("editMessageCaption")
        assert edit.ok, edit
        assert pressed[0].caption == "Ann: receipt 42" and pressed[0].text is None and pressed[0].photo
        assert pressed[0].caption_entities[0].type == "bold"
        assert forwarded.text == "Ann: receipt 42\n✅ Approved" and forwarded.edits == 1
        assert forwarded.entities == []  # the new caption was sent without markup


async def test_every_size_can_be_sent_again_and_uploads_are_accepted(
    tg: FakeTelegram, bot: Bot, http: httpx.AsyncClient
) -> None:
    uploaded = await bot.send_photo(USER_ID, b"\x89PNG not really a picture", caption="upload")
    assert len(uploaded.photo) == 3 and uploaded.caption == "upload"
    smallest = await bot.send_photo(USER_ID, uploaded.photo[0].file_id)
    assert [size.width for size in smallest.photo] == [90]  # a 90px file is only ever 90px wide
    largest = await bot.send_photo(USER_ID, uploaded.photo[-1].file_id)
    assert [size.file_id for size in largest.photo] == [size.file_id for size in uploaded.photo]
    with pytest.raises(BadRequest):
        await bot.send_photo(USER_ID, b"")
    assert_refused(tg, "Bad Request: file must be non-empty")
    with pytest.raises(BadRequest):
        await bot.send_photo(USER_ID, "https://example.com/receipt.jpg")
    assert_refused(tg, "Bad Request: wrong file identifier/HTTP URL specified")
    answer = await http.post(f"/bot{tg.token}/sendPhoto", data={"chat_id": USER_ID})
    assert answer.status_code == 400
    assert answer.json()["description"] == "Bad Request: there is no photo in the request"
    tg.blocked.add(USER_ID)
    with pytest.raises(Forbidden):
        await bot.send_photo(USER_ID, uploaded.photo[-1].file_id)
    assert len(tg.messages(USER_ID)) == 3


async def test_caption_limit_counts_utf16_units_after_parsing_and_may_be_empty(tg: FakeTelegram, bot: Bot) -> None:
    file_id = tg.new_file_id()
    long_html = await bot.send_photo(USER_ID, file_id, caption=f"<b>{'x' * 1024}</b>", parse_mode=ParseMode.HTML)
    assert long_html.caption == "x" * 1024
    emoji = await bot.send_photo(USER_ID, file_id, caption="😀" * 512)  # 512 characters, 1024 units
    assert emoji.caption == "😀" * 512
    with pytest.raises(BadRequest):
        await bot.send_photo(USER_ID, file_id, caption="😀" * 513)
    assert_refused(tg, "Bad Request: message caption is too long")
    for caption, mode in (("", None), ("   ", None), ("<b> </b>", ParseMode.HTML)):
        bare = await bot.send_photo(USER_ID, file_id, caption=caption, parse_mode=mode)
        assert bare.caption is None and not bare.caption_entities, caption
    with pytest.raises(BadRequest):
        await bot.send_photo(USER_ID, file_id, caption="<b>open", parse_mode=ParseMode.HTML)
    assert_refused(tg, "can't parse entities")
    removed = await bot.edit_message_caption(USER_ID, emoji.message_id, caption="")
    assert isinstance(removed, Message) and removed.caption is None and removed.photo
    assert tg.messages(USER_ID)[1].text == "" and tg.messages(USER_ID)[1].edits == 1
    with pytest.raises(BadRequest):
        await bot.edit_message_caption(USER_ID, emoji.message_id, caption="😀" * 513)
    assert_refused(tg, "message caption is too long")


# --------------------------------------------------------------------------- Stars invoices

STARS_INVOICE: dict[str, Any] = {"title": "Top-up", "description": "10.00 USD", "payload": "topup:1",
                                 "currency": "XTR", "prices": [LabeledPrice("Top-up", 500)]}


async def test_edits_follow_the_kind_of_message(tg: FakeTelegram, bot: Bot) -> None:
    """Text edits only texts, caption edits only media; the keyboard of every kind can change."""
    pay_first = InlineKeyboardMarkup([[InlineKeyboardButton("Pay 500 ⭐", pay=True)]])
    text = await bot.send_message(USER_ID, "text")
    photo = await bot.send_photo(USER_ID, tg.new_file_id(), caption="photo")
    invoice = await bot.send_invoice(USER_ID, **STARS_INVOICE, reply_markup=pay_first)
    with pytest.raises(BadRequest):
        await bot.edit_message_text("new", USER_ID, invoice.message_id)
    assert_refused(tg, "Bad Request: there is no text in the message to edit")
    with pytest.raises(BadRequest):
        await bot.edit_message_caption(USER_ID, invoice.message_id, caption="new")
    assert_refused(tg, "Bad Request: there is no caption in the message to edit")

    for sent in (text, photo, invoice):
        keyboard = [[InlineKeyboardButton("Pay 500 ⭐", pay=True)]] if sent is invoice else []
        markup = InlineKeyboardMarkup([*keyboard, [InlineKeyboardButton("Help", callback_data="help")]])
        edited = await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=markup)
        assert isinstance(edited, Message) and edited.reply_markup == markup
        assert (edited.text, edited.caption, edited.invoice) == (sent.text, sent.caption, sent.invoice)
        with pytest.raises(BadRequest):
            await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=markup)
        assert_refused(tg, "message is not modified")
    assert [(m.kind, m.edits) for m in tg.messages(USER_ID)] == [("text", 1), ("photo", 1), ("invoice", 1)]
    assert tg.messages(USER_ID)[2].text == "Top-up\n10.00 USD"


async def test_invoice_limits_are_inclusive_and_payload_counts_bytes(tg: FakeTelegram, bot: Bot) -> None:
    edge = {"title": "t" * 32, "description": "d" * 255, "payload": "é" * 64, "currency": "XTR",
            "prices": [LabeledPrice("All", 10_000)], "start_parameter": "topup"}
    message = await bot.send_invoice(USER_ID, **edge)
    assert message.invoice is not None and message.invoice.total_amount == 10_000
    wire = tg.calls_of("sendInvoice")[-1].result
    assert wire["invoice"] == {"title": "t" * 32, "description": "d" * 255, "start_parameter": "topup",
                               "currency": "XTR", "total_amount": 10_000}  # the payload is never shown
    assert "text" not in wire and "reply_markup" not in wire
    live = tg.messages(USER_ID)[-1]
    assert live.invoice == {**wire["invoice"], "payload": "é" * 64} and live.text == f"{'t' * 32}\n{'d' * 255}"
    for changes, error in (({"payload": "é" * 65}, "INVOICE_PAYLOAD_INVALID"),  # 65 characters, 130 bytes
                           ({"title": ""}, "INVOICE_TITLE_INVALID"),
                           ({"description": ""}, "DESCRIPTION_INVALID"),
                           ({"payload": ""}, "INVOICE_PAYLOAD_INVALID"),
                           ({"provider_token": ""}, None),  # empty is the same as absent
                           ({"prices": [LabeledPrice("a", -5)]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
                           ({"prices": []}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
                           ({"currency": "xtr"}, "CURRENCY_INVALID")):
        if error is None:
            await bot.send_invoice(USER_ID, **{**STARS_INVOICE, **changes})
            continue
        with pytest.raises(BadRequest):
            await bot.send_invoice(USER_ID, **{**STARS_INVOICE, **changes})
        assert_refused(tg, f"Bad Request: {error}")
    assert len(tg.messages(USER_ID)) == 2

    async with FakeTelegram(max_stars_per_invoice=100) as small, Bot(small.token, base_url=small.base_url) as other:
        small.user(USER_ID)
        assert (await other.send_invoice(USER_ID, **{**STARS_INVOICE, "prices": [LabeledPrice("a", 100)]})).invoice
        with pytest.raises(BadRequest):
            await other.send_invoice(USER_ID, **{**STARS_INVOICE, "prices": [LabeledPrice("a", 101)]})
        assert_refused(small, "CURRENCY_TOTAL_AMOUNT_INVALID")


async def test_invoice_keyboard_starts_with_pay_and_the_chat_must_be_reachable(tg: FakeTelegram, bot: Bot) -> None:
    for markup in (InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="cancel")]]),
                   InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="cancel"),
                                          InlineKeyboardButton("Pay", pay=True)]])):
        with pytest.raises(BadRequest):
            await bot.send_invoice(USER_ID, **STARS_INVOICE, reply_markup=markup)
        assert_refused(tg, "Bad Request: REPLY_MARKUP_BUY_EMPTY")
    good = InlineKeyboardMarkup([[InlineKeyboardButton("Pay 500 ⭐", pay=True)],
                                 [InlineKeyboardButton("Cancel", callback_data="cancel")]])
    message = await bot.send_invoice(USER_ID, **STARS_INVOICE, reply_markup=good)
    assert message.reply_markup == good
    with pytest.raises(BadRequest):
        await bot.send_invoice(USER_ID + 1, **STARS_INVOICE)
    assert_refused(tg, "Bad Request: chat not found")
    tg.blocked.add(USER_ID)
    with pytest.raises(Forbidden):
        await bot.send_invoice(USER_ID, **STARS_INVOICE)
    assert_refused(tg, "Forbidden: bot was blocked by the user")
    assert len(tg.messages(USER_ID)) == 1


@ignore_ptb_deprecation
async def test_payment_answers_and_refunds_do_not_count_against_flood_limits() -> None:
    async with FakeTelegram(global_limit_per_second=1) as tg, Bot(tg.token, base_url=tg.base_url) as bot:
        tg.user(USER_ID)
        await bot.send_invoice(USER_ID, **STARS_INVOICE)
        with pytest.raises(BadRequest):
            await bot.answer_pre_checkout_query("123", ok=True)
        assert_refused(tg, "query is too old")
        with pytest.raises(BadRequest):
            await bot.refund_star_payment(USER_ID, "stxNOPE")
        assert_refused(tg, "CHARGE_NOT_FOUND")
        with pytest.raises(RetryAfter):
            await bot.send_invoice(USER_ID, **STARS_INVOICE)  # the invoice itself did count


# --------------------------------------------------------------------------- pre-checkout and pay


def queued(tg: FakeTelegram, kind: str) -> list[dict[str, Any]]:
    """Queued updates of one kind ("pre_checkout_query", or a message field such as
    "refunded_payment"), oldest first; nothing confirms them while no bot is polling."""
    updates = tg.pending_updates
    if kind == "pre_checkout_query":
        return [u[kind] for u in updates if kind in u]
    return [u["message"] for u in updates if kind in u.get("message", {})]


async def next_pre_checkout(tg: FakeTelegram, seen: int) -> dict[str, Any]:
    """The first pre_checkout_query after the ``seen`` ones already queued."""
    return (await tg.wait_for(lambda: queued(tg, "pre_checkout_query")[seen:] or None,
                              what="a pre_checkout_query update"))[0]


async def pay_answered(tg: FakeTelegram, bot: Bot, user: FakeUser, invoice: SentMessage) -> PaymentResult:
    """user.pay() with the bot saying ok by hand (no Application)."""
    seen = len(queued(tg, "pre_checkout_query"))
    paying = asyncio.create_task(user.pay(invoice))
    query = await next_pre_checkout(tg, seen)
    assert await bot.answer_pre_checkout_query(query["id"], ok=True)
    return await paying


async def test_answer_pre_checkout_query_rules(tg: FakeTelegram, bot: Bot, http: httpx.AsyncClient) -> None:
    user = tg.user(USER_ID)
    asking = asyncio.create_task(user.pre_checkout("topup:1", 500))
    query = await next_pre_checkout(tg, 0)
    assert query == {"id": query["id"], "from": user.as_dict(), "currency": "XTR", "total_amount": 500,
                     "invoice_payload": "topup:1"}
    answer = await http.post(f"/bot{tg.token}/answerPreCheckoutQuery", data={"pre_checkout_query_id": query["id"]})
    assert (answer.status_code, answer.json()["description"]) == (400, 'Bad Request: parameter "ok" is required')
    for error_message in (None, "", "  "):
        with pytest.raises(BadRequest):
            await bot.answer_pre_checkout_query(query["id"], ok=False, error_message=error_message)
        assert_refused(tg, 'Bad Request: parameter "error_message" is required')
    with pytest.raises(BadRequest):
        await bot.answer_pre_checkout_query(query["id"] + "9", ok=True)
    assert_refused(tg, "Bad Request: query is too old and response timeout expired or query ID is invalid")
    assert not asking.done()  # refused answers are no answers

    assert await bot.answer_pre_checkout_query(query["id"], ok=False, error_message="Sold out")
    result = await asking
    assert not result.ok and result.error_message == "Sold out" and result.answered_after is not None
    assert result.charge_id is None and result.message is None
    with pytest.raises(BadRequest):
        await bot.answer_pre_checkout_query(query["id"], ok=True)  # the verdict was given already
    assert_refused(tg, "query is too old")

    tg.pre_checkout_timeout = 0.3
    late = await user.pre_checkout("topup:2", 500)  # nobody answers
    assert late == PaymentResult(ok=False)
    with pytest.raises(BadRequest):
        await bot.answer_pre_checkout_query((await next_pre_checkout(tg, 1))["id"], ok=True)
    assert_refused(tg, "query is too old")
    assert not tg.charges


async def test_pay_through_an_application_late_forged_and_on_wrong_messages(tg: FakeTelegram) -> None:
    """A bot that answers every pre-checkout ok, except payload "slow" which it answers too late."""
    release, late_done = asyncio.Event(), asyncio.Event()
    late_errors: list[str] = []
    queries: list[PreCheckoutQuery] = []
    payments: list[Message] = []
    pressed: list[Message] = []

    async def checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.pre_checkout_query
        assert query is not None
        queries.append(query)
        if query.invoice_payload == "slow":
            await release.wait()
            try:
                await query.answer(ok=True)
            except BadRequest as exc:
                late_errors.append(str(exc))
            late_done.set()
            return
        await query.answer(ok=True)

    async def paid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        payments.append(update.message)

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None and isinstance(update.callback_query.message, Message)
        pressed.append(update.callback_query.message)
        await update.callback_query.answer()

    tg.pre_checkout_timeout = 0.3
    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).build()
    app.add_handler(PreCheckoutQueryHandler(checkout))
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, paid))
    app.add_handler(CallbackQueryHandler(button))
    user, other = tg.user(USER_ID), tg.user(USER_ID + 1, "Bob")
    async with running(app):
        bot = app.bot
        await bot.send_invoice(USER_ID, **{**STARS_INVOICE, "payload": "slow"})
        slow = await user.next_message()
        timed_out = await user.pay(slow)
        assert timed_out == PaymentResult(ok=False) and not tg.charges
        release.set()
        async with asyncio.timeout(5):
            await late_done.wait()
        assert len(late_errors) == 1 and "query is too old" in late_errors[0].lower()
        [late] = tg.calls_of("answerPreCheckoutQuery")
        assert late.status == 400 and late.params["pre_checkout_query_id"] == queries[0].id

        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Pay", pay=True)],
                                         [InlineKeyboardButton("Cancel", callback_data="cancel")]])
        await bot.send_invoice(USER_ID, **STARS_INVOICE, reply_markup=keyboard)
        invoice = await user.next_message()
        await user.wait_answer(await user.press(invoice, "cancel"))
        assert pressed[0].invoice is not None and pressed[0].invoice.total_amount == 500 and pressed[0].text is None

        forged = await user.pay(invoice, payload="topup:999", total_amount=7)
        assert forged.ok and forged.charge_id is not None and forged.answered_after is not None
        assert queries[-1].invoice_payload == "topup:999" and queries[-1].total_amount == 7
        assert tg.charges[forged.charge_id] == Charge(forged.charge_id, USER_ID, 7, "XTR", "topup:999")
        honest = await user.pay(invoice)
        assert honest.ok and honest.charge_id not in (None, forged.charge_id)
        assert tg.charges[honest.charge_id].total_amount == 500  # type: ignore[index]
        await tg.wait_for(lambda: payments[1:] or None, what="two successful payments")
        first = payments[0]
        assert first.text is None and first.chat.id == USER_ID and first.from_user.id == USER_ID  # type: ignore[union-attr]
        assert first.successful_payment is not None and first.successful_payment.provider_payment_charge_id == ""
        assert first.successful_payment.telegram_payment_charge_id == forged.charge_id
        assert forged.message is not None and forged.message["successful_payment"]["total_amount"] == 7
        assert [p.successful_payment.total_amount for p in payments] == [7, 500]  # type: ignore[union-attr]

        await tg.push_update({"message": honest.message})  # Telegram delivering it again
        await tg.wait_for(lambda: payments[2:] or None, what="the replayed payment")
        assert payments[2].successful_payment == payments[1].successful_payment

        await bot.send_message(USER_ID, "not an invoice")
        with pytest.raises(AssertionError, match="is not an invoice"):
            await user.pay(await user.next_message())
        with pytest.raises(AssertionError, match="is not an invoice sent to user"):
            await other.pay(invoice)
        await bot.delete_message(USER_ID, invoice.message_id)
        with pytest.raises(AssertionError, match="deleted"):
            await user.pay(invoice)
    assert len(tg.charges) == 2 and len(queries) == 3


# --------------------------------------------------------------------------- refunds and lost answers


async def test_refunds_are_for_the_payers_own_charge_once(
    tg: FakeTelegram, bot: Bot, http: httpx.AsyncClient
) -> None:
    ann, bob = tg.user(USER_ID), tg.user(USER_ID + 1, "Bob")
    await bot.send_invoice(USER_ID, **STARS_INVOICE)
    await bot.send_invoice(bob.id, **{**STARS_INVOICE, "payload": "topup:bob"})
    anns = await pay_answered(tg, bot, ann, await ann.next_message())
    bobs = await pay_answered(tg, bot, bob, await bob.next_message())
    assert anns.charge_id and bobs.charge_id and anns.charge_id != bobs.charge_id

    with pytest.raises(BadRequest):
        await bot.refund_star_payment(bob.id, anns.charge_id)  # Bob's id, Ann's charge
    assert_refused(tg, "Bad Request: CHARGE_NOT_FOUND")
    with pytest.raises(BadRequest):
        await bot.refund_star_payment(USER_ID, "stxFAKE999999999999")
    assert_refused(tg, "Bad Request: CHARGE_NOT_FOUND")
    answer = await http.post(f"/bot{tg.token}/refundStarPayment",
                             data={"user_id": "ann", "telegram_payment_charge_id": anns.charge_id})
    assert (answer.status_code, answer.json()["description"]) == (400, "Bad Request: invalid user_id specified")
    assert not any(charge.refunded for charge in tg.charges.values()) and not queued(tg, "refunded_payment")

    assert await bot.refund_star_payment(USER_ID, anns.charge_id) is True
    assert tg.charges[anns.charge_id].refunded and not tg.charges[bobs.charge_id].refunded
    [message] = queued(tg, "refunded_payment")
    assert message["chat"]["id"] == message["from"]["id"] == USER_ID and "text" not in message
    assert message["refunded_payment"] == {"currency": "XTR", "total_amount": 500, "invoice_payload": "topup:1",
                                           "telegram_payment_charge_id": anns.charge_id}
    parsed = Update.de_json({"update_id": 1, "message": message}, bot)
    assert parsed.message is not None and parsed.message.refunded_payment is not None  # PTB digests it
    with pytest.raises(BadRequest):
        await bot.refund_star_payment(USER_ID, anns.charge_id)
    assert_refused(tg, "Bad Request: CHARGE_ALREADY_REFUNDED")
    assert len(queued(tg, "refunded_payment")) == 1  # no second refunded_payment
    assert await bot.refund_star_payment(bob.id, bobs.charge_id)


async def test_inject_error_before_and_after_the_call_takes_effect(tg: FakeTelegram, bot: Bot) -> None:
    user = tg.user(USER_ID)
    await bot.send_invoice(USER_ID, **STARS_INVOICE)
    payment = await pay_answered(tg, bot, user, await user.next_message())
    assert payment.charge_id is not None

    # Telegram refunds, and the answer is lost: the effect (and its service message) stays
    tg.inject_error(1, 500, "Internal Server Error", method="refundStarPayment", after_applying=True)
    with pytest.raises(NetworkError):
        await bot.refund_star_payment(USER_ID, payment.charge_id)
    assert tg.charges[payment.charge_id].refunded
    assert [m["refunded_payment"]["total_amount"] for m in queued(tg, "refunded_payment")] == [500]
    with pytest.raises(BadRequest):  # a retry learns it was done
        await bot.refund_star_payment(USER_ID, payment.charge_id)
    assert_refused(tg, "CHARGE_ALREADY_REFUNDED")

    # refused before anything happens, for exactly `count` calls; method names as in wait_call
    tg.inject_error(2, 403, "Forbidden: bot was blocked by the user", method="sendinvoice")
    for _ in range(2):
        with pytest.raises(Forbidden):
            await bot.send_invoice(USER_ID, **STARS_INVOICE)
    assert len(tg.messages(USER_ID)) == 1
    await bot.send_invoice(USER_ID, **STARS_INVOICE)
    assert len(tg.messages(USER_ID)) == 2

    # no method: the next call of any method but getUpdates
    tg.inject_error(1, 502, "Bad Gateway")
    await bot.get_updates(timeout=0)
    assert tg.calls_of("getUpdates")[-1].ok
    with pytest.raises(NetworkError):
        await bot.send_photo(USER_ID, tg.new_file_id())
    assert tg.calls[-1].status == 502 and len(tg.messages(USER_ID)) == 2


@ignore_ptb_deprecation
async def test_a_send_whose_answer_was_lost_still_counts_against_the_flood_limit() -> None:
    async with FakeTelegram(per_chat_limit_per_second=1) as tg, Bot(tg.token, base_url=tg.base_url) as bot:
        tg.user(USER_ID)
        tg.inject_error(1, 502, "Bad Gateway", method="sendMessage", after_applying=True)
        with pytest.raises(NetworkError):
            await bot.send_message(USER_ID, "sent, answer lost")
        with pytest.raises(RetryAfter):
            await bot.send_message(USER_ID, "too soon")
        assert [m.text for m in tg.messages(USER_ID)] == ["sent, answer lost"]


# --------------------------------------------------------------------------- webhook delivery


class WebhookTarget:
    """A loopback HTTP server standing in for one instance of a bot: it records every POST and
    answers `fail_first` of them with 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[str, str | None, dict[str, Any]]] = []  # (path, secret header, update)
        self.accepted: list[int] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> WebhookTarget:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _take(self, request: web.Request) -> web.Response:
        update = await request.json()
        self.received.append((request.path, request.headers.get(SECRET_HEADER), update))
        if len(self.received) <= self.fail_first:
            return web.Response(status=500)
        self.accepted.append(update["update_id"])
        return web.Response(status=200)


def free_port() -> int:
    """A port nothing listens on (bound, then released): a target that refuses connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_webhook_updates_are_posted_with_the_secret_and_retried_until_taken(
        tg: FakeTelegram, bot: Bot) -> None:
    tg.webhook_retry_base = 0.01
    async with WebhookTarget(fail_first=2) as target:
        assert await bot.set_webhook("https://shop.example/tg/hook?x=1", secret_token="s3cret-_Z",
                                     allowed_updates=["message"])
        tg.deliver_webhooks_to([target.url])
        ann, bob = tg.user(USER_ID), tg.user(USER_ID + 1, "Bob")
        for text in ("one", "two", "three"):
            await ann.send(text)
        await bob.send("hi")
        reaction = await tg.push_update({"message_reaction": {"chat": ann.chat_dict()}})  # not allowed
        await tg.wait_delivered()
        assert {(path, secret) for path, secret, _ in target.received} == {("/tg/hook", "s3cret-_Z")}
        text_of = {u["update_id"]: u["message"]["text"] for _, _, u in target.received}
        texts_taken = [text_of[update_id] for update_id in target.accepted]
        assert [t for t in texts_taken if t != "hi"] == ["one", "two", "three"]  # one chat: in order
        assert sorted(texts_taken) == ["hi", "one", "three", "two"]  # each taken once
        failed = [d for d in tg.webhook_deliveries if not d.ok]
        assert len(failed) == 2 and all(d.status == 500 for d in failed)
        assert [u["update_id"] for u in tg.pending_updates] == [reaction]
        info = await bot.get_webhook_info()
        assert info.url == "https://shop.example/tg/hook?x=1" and info.pending_update_count == 1
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_webhook_delivery_goes_round_the_targets_and_past_a_dead_one(tg: FakeTelegram, bot: Bot) -> None:
    tg.webhook_retry_base = 0.01
    async with WebhookTarget() as first, WebhookTarget() as second:
        dead = f"http://127.0.0.1:{free_port()}"
        await bot.set_webhook("https://shop.example/hook", secret_token="abc")
        users = [tg.user(USER_ID + i, f"U{i}") for i in range(6)]
        for user in users:  # held: no target yet
            await user.send("/start")
        tg.deliver_webhooks_to([first.url, dead, second.url])
        await tg.wait_delivered()
        assert len(first.accepted) + len(second.accepted) == 6 and first.accepted and second.accepted
        refused = [d for d in tg.webhook_deliveries if d.target.startswith(dead)]
        assert refused and all(d.status is None and d.error and d.error.startswith("Connection failed")
                               for d in refused)
        tg.deliver_webhooks_to([second.url], mode="random", seed=3)
        await users[0].send("again")
        await tg.wait_delivered()
        assert second.received[-1][2]["message"]["text"] == "again"


async def test_no_delivery_without_a_webhook_and_a_bad_secret_is_refused(tg: FakeTelegram, bot: Bot) -> None:
    async with WebhookTarget() as target:
        tg.deliver_webhooks_to([target.url])
        await tg.user(USER_ID).send("polled")
        with pytest.raises(BadRequest, match=r"(?i)secret token contains unallowed characters"):
            await bot.set_webhook("https://shop.example/hook", secret_token="no spaces")
        with pytest.raises(AssertionError, match="no webhook is set"):
            await tg.wait_delivered()
        assert [u["message"]["text"] for u in await bot.get_updates()] == ["polled"]
        assert target.received == []
        await bot.set_webhook("https://shop.example/hook", secret_token="ok")
        await tg.wait_delivered()
        assert [u["message"]["text"] for _, _, u in target.received] == ["polled"]
        assert await bot.delete_webhook()
        await tg.user(USER_ID).send("after")
        assert [u.message.text for u in await bot.get_updates(offset=0)] == ["after"]
        assert len(target.received) == 1
