"""The bot's Bot API transport (bot/telegram_request.py), driven by the real `telegram.Bot`.

Why: every call the bot makes to Telegram goes through it. These check the wire format a Bot API
server expects (form-encoded fields, multipart for files), that PTB's error mapping still sees
Telegram's answers, and that a timeout or a dropped connection is reported as PTB's TimedOut /
NetworkError (an unknown outcome to the callers) without the token in the text.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
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
        await bot.send_document(42, b"order,amount\n1,2.50\n", filename="заказы 2026.csv", caption="Export")

    assert seen == {"type": "multipart/form-data", "chat": "42", "caption": "Export", "name": "заказы 2026.csv",
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


def get_me() -> web.Response:
    return web.json_response({"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Shop",
                                                     "username": "shop_bot"}})


def full_traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


async def test_timeouts_keep_ptbs_meaning_per_call_default_and_none() -> None:
    """A per-call timeout wins over the default in both directions, and None means no limit."""
    async def handler(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return get_me()
        await asyncio.sleep(float((await request.post())["text"]))  # answers after `text` seconds
        return web.json_response({"ok": True, "result": message(42, "late")})

    async with api_server(handler) as url:
        async with bot_at(url, AiohttpRequest(read_timeout=30)) as patient:
            with pytest.raises(TimedOut) as slow:  # the call's 0.2 s, not the default's 30 s
                await patient.send_message(42, "1.5", read_timeout=0.2)
        assert TOKEN not in full_traceback(slow.value)
        async with bot_at(url, AiohttpRequest(read_timeout=0.2)) as hasty:
            with pytest.raises(TimedOut):
                await hasty.send_message(42, "0.6")
            assert (await hasty.send_message(42, "0.6", read_timeout=None)).text == "late"  # no limit


async def test_a_long_poll_outlasts_the_read_timeout() -> None:
    """getUpdates waits `timeout` seconds at Telegram: PTB adds it to the read timeout, which the
    transport must honour (its default read_timeout is what PTB adds to)."""
    async def handler(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return get_me()
        await asyncio.sleep(1.0)  # the long poll ends with no update
        return web.json_response({"ok": True, "result": []})

    async with api_server(handler) as url:
        bot = Bot(TOKEN, base_url=url, request=AiohttpRequest(),
                  get_updates_request=AiohttpRequest(connection_pool_size=1, read_timeout=0.3))
        async with bot:
            assert await bot.get_updates(timeout=1) == ()


async def test_running_out_of_connections_says_not_sent() -> None:
    held = asyncio.Event()
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.match_info["method"] == "getMe":
            return get_me()
        held.set()
        await release.wait()
        return web.json_response({"ok": True, "result": message(42, "x")})

    async with api_server(handler) as url, bot_at(url, AiohttpRequest(connection_pool_size=1)) as bot:
        first = asyncio.create_task(bot.send_message(42, "first"))
        try:
            await held.wait()
            started = time.monotonic()
            with pytest.raises(TimedOut, match="was not sent") as waited:
                await bot.send_message(42, "second", pool_timeout=0.2)
            assert time.monotonic() - started < 3  # the pool's 0.2 s, not a connect timeout on top
        finally:
            release.set()
            await first
    assert TOKEN not in full_traceback(waited.value)


async def test_a_redirect_is_an_error_not_a_body_less_get_elsewhere() -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(f"{request.method} {request.match_info['method']}")
        if request.match_info["method"] == "getMe":
            return get_me()
        raise web.HTTPTemporaryRedirect(location=f"/bot{TOKEN}/getMe")  # 307: "POST it there instead"

    async with api_server(handler) as url, bot_at(url) as bot:
        seen.clear()
        with pytest.raises(NetworkError) as redirected:
            await bot.send_message(42, "hello")
    assert seen == ["POST sendMessage"]
    assert TOKEN not in full_traceback(redirected.value)


async def test_a_refused_connection_is_a_network_error_and_no_error_shows_the_token() -> None:
    async def handler(request: web.Request) -> web.Response:
        return get_me()

    async with api_server(handler) as url:
        pass  # the port is free again: nothing listens there
    request = AiohttpRequest(connect_timeout=1.0)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as refused:
            await request.post(f"{url}{TOKEN}/sendMessage")
        with pytest.raises(NetworkError) as invalid:  # aiohttp quotes the URL in this one
            await request.post(f"http://127.0.0.1:99999/bot{TOKEN}/sendMessage")
    finally:
        await request.shutdown()
    assert not isinstance(refused.value, TimedOut)
    assert "bot<token>/sendMessage" in str(invalid.value)
    for error in (refused.value, invalid.value):
        assert TOKEN not in full_traceback(error) and "SECRET" not in full_traceback(error)


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
    assert request.read_timeout == 5.0 and AiohttpRequest(read_timeout=7.5).read_timeout == 7.5
