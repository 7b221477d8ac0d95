"""Webhook mode and the bot's HTTP server end to end: the real bot behind its own aiohttp server,
the fake Bot API posting updates to it as Telegram would (tests/support/fake_telegram.py), and a
sandbox panel over loopback HTTP. Also /healthz, /readyz, /metrics, and `python -m bot` itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from telegram import Update

from bot import texts
from bot.app import build_application
from bot.http_server import MAX_UPDATE_BYTES, PANEL_CHECK_SECONDS, SECRET_HEADER, HttpServer, http_server_of
from bot.metrics import Metrics
from bot.panel.sandbox import SandboxClock, SandboxPanel, SandboxServer
from bot.settings import load_settings
from bot.state import metrics_of
from tests.support.fake_telegram import FakeTelegram, FakeUser
from tests.support.shop import PANEL_KEY, Shop, open_shop, run_shop
from tests.test_ordering_e2e import confirm, funded, order_until_summary, quoted

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_URL = "https://bot.example.com/tg/hook"
SECRET = "hook-Secret_123"
WEBHOOK = {"webhook_url": WEBHOOK_URL, "webhook_secret": SECRET, "http_port": "0"}


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(tmp_path, **WEBHOOK) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def server_of(shop: Shop) -> HttpServer:
    server = http_server_of(shop.app)
    assert server is not None
    return server


def metric_samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition: (name, labels) → value."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def metric(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient, shop: Shop) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await http.get(f"{server_of(shop).url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return metric_samples(response.text)


def message_update(update_id: int, user: FakeUser, text: str) -> dict[str, Any]:
    """A message update as Telegram would post it (for requests made by hand)."""
    message = {"message_id": 90_000 + update_id % 1000, "from": user.as_dict(), "chat": user.chat_dict(),
               "date": int(time.time()), "text": text}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": update_id, "message": message}


# --------------------------------------------------------------------------- webhook mode


async def test_a_customer_orders_end_to_end_over_the_webhook(tmp_path: Path, http: httpx.AsyncClient) -> None:
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
    async with FakeTelegram() as telegram, SandboxServer(panel) as sandbox:
        async with run_shop(tmp_path, telegram, sandbox, **WEBHOOK) as shop:
            registered = telegram.calls_of("setWebhook")
            assert len(registered) == 1 and registered[0].ok
            assert registered[0].params["url"] == WEBHOOK_URL
            assert registered[0].params["secret_token"] == SECRET
            assert registered[0].params["allowed_updates"] == list(Update.ALL_TYPES)

            customer = await funded(shop, 7001, amount="20")
            summary = await order_until_summary(customer, "102", ["https://instagram.com/webhook", "1000"])
            price = quoted(summary)
            assert (await confirm(customer, summary)).startswith("✅ Order placed")
            assert len(shop.adds()) == 1
            assert await shop.balance(7001) == Decimal(20) - price
            # Every update came by the webhook, to its path, and was taken at the first attempt.
            deliveries = telegram.webhook_deliveries
            assert deliveries and all(d.ok and d.attempt == 1 and d.target.endswith("/tg/hook") for d in deliveries)
            assert telegram.calls_of("getUpdates") == []

            # A Bot API 429 is counted (and the rate limiter still retries it).
            telegram.inject_flood(1, retry_after=1, method="sendMessage")
            assert (await customer.say("/balance")).text.startswith("💰 Your balance")
            await telegram.wait_delivered()
            samples = await scrape(http, shop)
            delivered: dict[str, int] = {}
            for delivery in telegram.webhook_deliveries:
                delivered[delivery.kind] = delivered.get(delivery.kind, 0) + 1
            assert set(delivered) == {"message", "callback_query"}
            # Updates are counted when their handling ends: all but at most the last (/balance) by now.
            for kind, count in delivered.items():
                assert count - 1 <= metric(samples, "smm_updates_total", kind=kind) <= count, kind
                assert metric(samples, "smm_update_duration_seconds_count", kind=kind) == metric(
                    samples, "smm_updates_total", kind=kind)
            assert metric(samples, "smm_updates_total", kind="callback_query") >= 3
            assert metric(samples, "smm_webhook_requests_total", outcome="accepted") == len(telegram.webhook_deliveries)
            assert metric(samples, "smm_telegram_rate_limited_total", method="sendMessage") == 1
            assert metric(samples, "smm_panel_requests_total", panel="main", action="add", outcome="ok") == 1
            assert metric(samples, "smm_panel_request_duration_seconds_count", panel="main", action="add") == 1
            assert metric(samples, "smm_panel_requests_total", panel="main", action="services",
                          outcome="ok") >= 1
            orders = {labels: value for (name, labels), value in samples.items() if name == "smm_orders"}
            assert sum(orders.values()) == 1 and dict(next(iter(orders)))["state"] == "placed"
            assert metric(samples, "smm_wallet_turnover", reason="credit", currency="USD") == 20
            assert metric(samples, "smm_wallet_turnover", reason="order", currency="USD") == -float(price)
            pending = await shop.state.db.fetchone("SELECT COUNT(*) FROM notifications WHERE state = 'pending'")
            assert pending is not None and metric(samples, "smm_outbox_pending") == pending[0]
            assert metric(samples, "smm_database_metrics_ok") == 1
        # Stopping leaves the webhook registered: other instances (or this one, restarted) serve it.
        assert telegram.calls_of("deleteWebhook") == []
        await customer.user.send("/help")  # while no instance runs: Telegram keeps it
        assert [u["message"]["text"] for u in telegram.pending_updates] == ["/help"]
        async with run_shop(tmp_path, telegram, sandbox, **WEBHOOK):
            assert (await customer.user.next_message()).text.startswith("How ordering works")


async def test_a_request_without_the_right_secret_is_refused_and_not_handled(
        shop: Shop, http: httpx.AsyncClient) -> None:
    url = f"{server_of(shop).url}/tg/hook"
    bob = shop.customer(7002, "Bob")
    forged = message_update(990_001, bob.user, "/balance")
    for headers in ({}, {SECRET_HEADER: ""}, {SECRET_HEADER: SECRET[:-1] + "x"}, {SECRET_HEADER: SECRET + "x"},
                    {SECRET_HEADER: SECRET.lower()}):
        response = await http.post(url, json=forged, headers=headers)
        assert response.status_code == 403, headers
        assert SECRET not in response.text
    # The customer's next reply answers what they really sent: the forged /balance did nothing.
    assert (await bob.say("/help")).text.startswith("How ordering works")
    assert len(bob.user.messages()) == 1
    # The same request with the secret is an update like any other (so the 403s were the secret's).
    assert (await http.post(url, json=forged, headers={SECRET_HEADER: SECRET})).status_code == 200
    assert (await bob.user.next_message()).text.startswith("💰 Your balance")
    samples = await scrape(http, shop)
    assert metric(samples, "smm_webhook_requests_total", outcome="forbidden") == 5


async def test_bad_bodies_are_answered_4xx_without_a_traceback(
        shop: Shop, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{server_of(shop).url}/tg/hook"
    secret = {SECRET_HEADER: SECRET}
    cid = shop.customer(7003, "Cid")
    bad_bodies = [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b'{"message": {}}', b'{"update_id": true}',
                  b'{"update_id": "7"}', b"[" * 200_000, json.dumps({"update_id": 5, "message": "nope"}).encode(),
                  json.dumps({"update_id": 6, "message": {"message_id": 1}}).encode(),
                  json.dumps({"update_id": 7, "callback_query": {"id": 1}}).encode(), b""]
    for body in bad_bodies:
        response = await http.post(url, content=body, headers=secret | {"Content-Type": "application/json"})
        assert response.status_code == 400, body[:40]
    too_large = b'{"update_id": 8, "pad": "' + b"x" * MAX_UPDATE_BYTES + b'"}'
    assert (await http.post(url, content=too_large, headers=secret)).status_code == 413
    assert (await http.post(url, content=too_large)).status_code == 403  # the secret is checked first
    chunked = (part for part in (b'{"update_id": 9, "pad": "', b"x" * MAX_UPDATE_BYTES, b'"}'))
    assert (await http.post(url, content=_aiter(chunked), headers=secret)).status_code == 413
    assert (await http.get(url, headers=secret)).status_code == 405
    assert (await http.post(f"{server_of(shop).url}/elsewhere", json={}, headers=secret)).status_code == 404
    # The bot carries on, and nothing was handled or logged as a crash.
    assert "Cid" in (await cid.say("/start")).text
    assert len(cid.user.messages()) == 1
    assert not [r for r in caplog.records if r.exc_info or r.exc_text or r.levelno >= logging.ERROR]
    samples = await scrape(http, shop)
    assert metric(samples, "smm_webhook_requests_total", outcome="bad_request") == len(bad_bodies)
    assert metric(samples, "smm_webhook_requests_total", outcome="too_large") == 2


async def _aiter(parts: Any) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_an_instance_not_running_answers_503_so_telegram_delivers_again(
        tmp_path: Path, http: httpx.AsyncClient) -> None:
    settings = load_settings(_env_file=None, telegram_bot_token="123:abcdefg", database_url=f"sqlite:///{tmp_path}/x.db",
                             **WEBHOOK)
    application = build_application(settings)  # built, never started: as before start() or once stop() began
    server = HttpServer(application, settings, metrics_of(application))
    await server.start()
    try:
        update = {"update_id": 1, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}
        response = await http.post(f"{server.url}/tg/hook", json=update, headers={SECRET_HEADER: SECRET})
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert application.update_queue.empty()
        assert (await http.get(f"{server.url}/healthz")).text == "ok"
        ready = await http.get(f"{server.url}/readyz")
        assert ready.status_code == 503 and ready.json() == {"ready": False, "application": "not running"}
    finally:
        await server.stop()


# --------------------------------------------------------------------------- health


async def test_health_and_readiness_ask_the_panel_at_most_every_few_seconds(
        shop: Shop, http: httpx.AsyncClient) -> None:
    server = server_of(shop)
    now = [time.monotonic()]
    server.clock = lambda: now[0]
    health = await http.get(f"{server.url}/healthz")
    assert (health.status_code, health.text) == (200, "ok")

    def balance_requests() -> int:
        return shop.server.actions()["balance"]

    before = balance_requests()
    ready = await http.get(f"{server.url}/readyz")
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "database": "ok", "panel": "ok"})
    assert balance_requests() == before + 1
    answers = await asyncio.gather(*(http.get(f"{server.url}/readyz") for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5 and balance_requests() == before + 1  # cached
    now[0] += PANEL_CHECK_SECONDS + 0.1
    answers = await asyncio.gather(*(http.get(f"{server.url}/readyz") for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5 and balance_requests() == before + 2  # one for all

    await shop.server.stop()  # the panel is down
    assert (await http.get(f"{server.url}/readyz")).status_code == 200  # still the cached answer
    now[0] += PANEL_CHECK_SECONDS + 0.1
    down = await http.get(f"{server.url}/readyz")
    assert (down.status_code, down.json()) == (503, {"ready": False, "database": "ok", "panel": "failed"})
    await shop.state.db.close()  # and now the database too
    both = await http.get(f"{server.url}/readyz")
    assert (both.status_code, both.json()) == (503, {"ready": False, "database": "failed", "panel": "failed"})
    samples = await scrape(http, shop)  # metrics are still served, without the database's figures
    assert metric(samples, "smm_database_metrics_ok") == 0
    assert metric(samples, "smm_panel_requests_total", panel="main", action="balance",
                  outcome="unreachable") >= 1
    assert health.status_code == (await http.get(f"{server.url}/healthz")).status_code == 200


async def test_polling_serves_health_and_metrics_only_when_http_port_is_set(
        tmp_path: Path, http: httpx.AsyncClient) -> None:
    async with open_shop(tmp_path / "a") as shop:
        assert http_server_of(shop.app) is None  # the default: no server, nothing listens
    async with open_shop(tmp_path / "b", http_port="0") as shop:
        server = server_of(shop)
        assert shop.app.updater is not None and shop.telegram.calls_of("setWebhook") == []
        ann = shop.customer(7004, "Ann")
        await ann.say("/start")
        await ann.say("/help")
        assert (await http.get(f"{server.url}/healthz")).status_code == 200
        assert (await http.get(f"{server.url}/readyz")).json()["ready"] is True
        assert (await http.post(f"{server.url}/", json={"update_id": 1})).status_code == 404  # no webhook
        samples = await scrape(http, shop)
        assert metric(samples, "smm_updates_total", kind="message") >= 1
        assert shop.telegram.calls_of("getUpdates")


def test_every_application_counts_in_a_registry_of_its_own(tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, telegram_bot_token="123:abcdefg", database_url=f"sqlite:///{tmp_path}/x.db")
    first, second = (metrics_of(build_application(settings)) for _ in range(2))
    assert first is not second and first.registry is not second.registry
    first.observe_panel("main", "add", "ok", 0.2)
    assert metric(metric_samples(first.exposition().decode()), "smm_panel_requests_total", panel="main",
                  action="add",
                  outcome="ok") == 1
    assert metric(metric_samples(second.exposition().decode()), "smm_panel_requests_total", panel="main",
                  action="add",
                  outcome="ok") == 0
    assert isinstance(first, Metrics)


# --------------------------------------------------------------------------- python -m bot


def bot_environment(telegram: FakeTelegram, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "PANEL_", "DATABASE_", "WEBHOOK_", "HTTP_", "LOG_"))}
    return env | {"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_BASE_URL": telegram.base_url,
                  "PYTHONPATH": str(ROOT)} | extra


async def test_python_m_bot_in_webhook_mode_logs_json_without_secrets(tmp_path: Path) -> None:
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0))
    async with FakeTelegram() as telegram, SandboxServer(panel) as sandbox:
        env = bot_environment(telegram, PANEL_API_URL=sandbox.api_url, PANEL_API_KEY=PANEL_KEY,
                              WEBHOOK_URL=WEBHOOK_URL, WEBHOOK_SECRET=SECRET, HTTP_PORT="0",
                              LOG_FORMAT="json", LOG_LEVEL="DEBUG")
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=tmp_path, env=env,
                                                       stdout=asyncio.subprocess.PIPE,
                                                       stderr=asyncio.subprocess.PIPE)
        lines: list[str] = []
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def read_log() -> None:
            assert process.stderr is not None
            async for raw in process.stderr:
                line = raw.decode()
                lines.append(line)
                with contextlib.suppress(ValueError, KeyError):
                    message = json.loads(line)["message"]
                    if message.startswith("HTTP server on") and not listening.done():
                        listening.set_result(int(message.split(":")[1].split()[0]))

        reader = asyncio.create_task(read_log())
        try:
            port = await asyncio.wait_for(asyncio.shield(listening), 30)
            await telegram.wait_call("setWebhook", timeout=30)
            telegram.deliver_webhooks_to([f"http://127.0.0.1:{port}"])
            dan = telegram.user(7005, first_name="Dan")
            await dan.send(f"leaking {telegram.token} and {PANEL_KEY} and {SECRET}?")
            assert (await dan.next_message(timeout=15)).text == texts.UNKNOWN_INPUT
            telegram.inject_error(1, 500, "Internal Server Error", method="sendMessage")  # a handler fails
            await dan.send("/help")
            assert (await dan.next_message(timeout=15)).text == texts.ERROR_GENERIC
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=30)
            await reader
    log = "".join(lines)
    assert process.returncode == 0, log[-3000:]
    assert telegram.token not in log and PANEL_KEY not in log and SECRET not in log
    assert "leaking ***" in log  # the update, logged at DEBUG, with every secret in it redacted
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    assert all(record["time"].endswith("Z") and datetime.fromisoformat(record["time"]) for record in records)
    failures = [r for r in records if "exc" in r]
    assert failures and any("NetworkError" in r["exc"] for r in failures)
    assert telegram.calls_of("deleteWebhook") == [] and telegram.calls_of("getUpdates") == []


async def test_python_m_bot_says_in_one_line_when_the_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        async with FakeTelegram() as telegram:
            env = bot_environment(telegram, HTTP_PORT=str(taken.getsockname()[1]))
            process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", cwd=tmp_path, env=env,
                                                           stdout=asyncio.subprocess.PIPE,
                                                           stderr=asyncio.subprocess.PIPE)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    last = stderr.decode().strip().splitlines()[-1]
    assert last.startswith("Configuration error: cannot listen on 127.0.0.1:") and "HTTP_PORT" in last
    assert "Traceback" not in stderr.decode()
