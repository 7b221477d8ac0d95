"""The bot's Bot API transport (bot/telegram_request.py), driven by the real `telegram.Bot`.

Why: every call the bot makes to Telegram goes through it. These check the wire format a Bot API
server expects (form-encoded fields, multipart for files), that PTB's error mapping still sees
Telegram's answers, and that a timeout or a dropped connection is reported as PTB's TimedOut /
NetworkError (an unknown outcome to the callers) without the token in the text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.telegram_request import AiohttpRequest

TOKEN = "123456:SECRET-token_value"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def api_server(handler: Handler) -> AsyncIterator[str]:
    """A Bot API stand-in on loopback answering every method with ``handler``; yields the base URL."""
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        await runner.cleanup()


def message(chat_id: int, text: str) -> dict[str, Any]:
    return {"message_id": 7, "date": 0, "chat": {"id": chat_id, "type": "private"}, "text": text}


@asynccontextmanager
async def bot_at(base_url: str, request: AiohttpRequest | None = None) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, base_url=base_url, request=request or AiohttpRequest(),
              get_updates_request=AiohttpRequest(connection_pool_size=1))
    async with bot:
        yield bot


async def test_fields_are_form_encoded_and_the_result_is_parsed() -> None:
    seen: list[tuple[str, str, dict[str, str], str]] = []

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        seen.append((request.match_info["method"], request.content_type, {k: str(v) for k, v in form.items()},
                     request.headers["User-Agent"]))
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Shop",
                                                             "username": "shop_bot"}})
        return web.json_response({"ok": True, "result": message(int(str(form["chat_id"])), str(form["text"]))})

    async with api_server(handler) as url, bot_at(url) as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Go & <see>", callback_data="o:ab12:go")]])
        sent = await bot.send_message(42, "Price: 1 < 2 & ünïcode ✅", reply_markup=markup)

    assert sent.text == "Price: 1 < 2 & ünïcode ✅" and sent.chat_id == 42
    method, content_type, form, agent = seen[-1]
    assert (method, content_type) == ("sendMessage", "application/x-www-form-urlencoded")
    assert form["chat_id"] == "42" and form["text"] == "Price: 1 < 2 & ünïcode ✅"
    assert json.loads(form["reply_markup"]) == {"inline_keyboard": [[{"text": "Go & <see>",
                                                                     "callback_data": "o:ab12:go"}]]}
    assert agent.startswith("python-telegram-bot")


async def test_a_file_goes_as_multipart_with_the_other_fields() -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Shop",
                                                             "username": "shop_bot"}})
        seen["type"] = request.content_type
        form = await request.post()
        upload = form["document"]
        assert isinstance(upload, web.FileField)
        seen.update(chat=form["chat_id"], caption=form["caption"], name=upload.filename, body=upload.file.read())
        return web.json_response({"ok": True, "result": message(42, "")})

    async with api_server(handler) as url, bot_at(url) as bot:
        await bot.send_document(42, b"order,amount\n1,2.50\n", filename="orders.csv", caption="Export")

    assert seen == {"type": "multipart/form-data", "chat": "42", "caption": "Export", "name": "orders.csv",
                    "body": b"order,amount\n1,2.50\n"}


async def test_telegrams_error_answers_still_become_ptbs_exceptions() -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Shop",
                                                             "username": "shop_bot"}})
        if request.match_info["method"] == "sendMessage":
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: message text is empty"}, status=400)
        return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
                                  "parameters": {"retry_after": 3}}, status=429)

    async with api_server(handler) as url, bot_at(url) as bot:
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(42, "x")
        with pytest.raises(RetryAfter) as flood:
            await bot.edit_message_text("x", chat_id=42, message_id=7)
    assert flood.value.retry_after in (3, timedelta(seconds=3))


async def test_a_slow_answer_is_timed_out_and_a_refused_connection_a_network_error() -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Shop",
                                                             "username": "shop_bot"}})
        await release.wait()  # never answers in time
        return web.json_response({"ok": True, "result": message(42, "late")})

    async with api_server(handler) as url, bot_at(url, AiohttpRequest(read_timeout=0.2)) as bot:
        with pytest.raises(TimedOut) as slow:
            await bot.send_message(42, "hello")
        with pytest.raises(TimedOut):  # a per-call timeout wins over the default
            await bot.send_message(42, "hello", read_timeout=0.1)
        release.set()
    assert TOKEN not in str(slow.value)

    async with api_server(handler) as url:
        pass  # the port is free again: nothing listens there
    request = AiohttpRequest(connect_timeout=1.0)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as refused:
            await request.post(f"{url}{TOKEN}/sendMessage")
    finally:
        await request.shutdown()
    assert not isinstance(refused.value, TimedOut)
    assert TOKEN not in str(refused.value) and "SECRET" not in str(refused.value)


async def test_it_can_be_shut_down_and_started_again_and_refuses_calls_in_between() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "result": True})

    request = AiohttpRequest()
    async with api_server(handler) as url:
        await request.initialize()
        assert await request.post(f"{url}{TOKEN}/deleteWebhook") is True
        await request.shutdown()
        await request.shutdown()  # twice is harmless, as PTB may do on the way out
        with pytest.raises(NetworkError, match="not initialized"):  # PTB wraps the RuntimeError
            await request.post(f"{url}{TOKEN}/deleteWebhook")
        await request.initialize()
        assert await request.post(f"{url}{TOKEN}/deleteWebhook") is True
        await request.shutdown()
    assert request.read_timeout == 5.0
