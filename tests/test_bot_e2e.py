"""The real bot end to end: Application ↔ fake Bot API over loopback, SQLite file, sandbox panel."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import texts
from bot.panel.sandbox import SandboxClock, SandboxPanel, SandboxServer
from bot.settings import Settings, load_settings
from bot.state import app_state
from storage.users import get_user
from tests.support.bot_runner import running_bot
from tests.support.databases import database_url
from tests.support.fake_telegram import FakeTelegram
from tests.support.shop import ADMIN_ID, PANEL_KEY, Shop, run_shop
from tests.test_ordering_e2e import order_until_summary

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def settings(telegram: FakeTelegram, tmp_path: Path) -> Settings:
    return load_settings(_env_file=None, telegram_bot_token=telegram.token, telegram_base_url=telegram.base_url,
                         database_url=await database_url(tmp_path / "bot.db"))


async def test_start_greets_in_sandbox_mode_and_records_the_user(
        telegram: FakeTelegram, settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    ann = telegram.user(1001, first_name="<Ann & Co>")
    async with running_bot(settings) as app:
        commands = await telegram.wait_call("setMyCommands")
        assert [c["command"] for c in commands.params["commands"]] == [
            "start", "order", "orders", "balance", "topup", "paysupport", "help", "language", "cancel"]
        await ann.send("/start")
        reply = await ann.next_message()
        assert reply.text.startswith("🧪 Sandbox mode")
        assert "Hello, <Ann & Co>!" in reply.text  # escaped in HTML, shown as typed
        assert reply.parse_mode == "HTML"
        assert reply.button_texts() == [["🛒 New order", "📦 My orders"], ["💰 Balance", "💳 Top up"],
                                        ["❓ Help", "🌐 Language"]]
        user = await get_user(app_state(app).db, 1001)
        assert user is not None and user.first_name == "<Ann & Co>"
        # The in-process sandbox panel answers over HTTP like a real one.
        balance = await app_state(app).panels.first.client.balance()
        assert balance.amount > 0 and balance.currency == "USD"
    assert any("SANDBOX MODE" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


async def test_help_explains_ordering(telegram: FakeTelegram, settings: Settings) -> None:
    bob = telegram.user(1002, first_name="Bob")
    async with running_bot(settings):
        await bob.send("/help")
        reply = await bob.next_message()
        assert reply.text.startswith("How ordering works")
        assert "/order" in reply.text and "Confirm" in reply.text


async def test_a_failing_handler_answers_in_plain_words(telegram: FakeTelegram, settings: Settings) -> None:
    cid = telegram.user(1003, first_name="Cid")
    async with running_bot(settings) as app:
        await app_state(app).db.close()  # the database is gone: /start cannot record the user
        await cid.send("/start")
        reply = await cid.next_message()
        assert reply.text == texts.ERROR_GENERIC


async def test_python_m_bot_starts_against_the_embedded_sandbox(telegram: FakeTelegram, tmp_path: Path) -> None:
    """The newcomer's path: only a token (and here the fake Bot API's address) → a working bot."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PANEL_", "DATABASE_"))}
    env |= {"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_BASE_URL": telegram.base_url,
            "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        await telegram.wait_call("getUpdates", timeout=30)
        dan = telegram.user(1004, first_name="Dan")
        await dan.send("/start")
        reply = await dan.next_message(timeout=15)
        assert "Sandbox mode" in reply.text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr_bytes = await asyncio.wait_for(process.communicate(), timeout=30)
    stderr = stderr_bytes.decode()
    assert process.returncode == 0, stderr
    assert "SANDBOX MODE" in stderr
    assert telegram.token not in stderr
    assert (tmp_path / "data" / "bot.db").exists()  # the default DATABASE_URL, relative to the cwd


async def test_sandbox_mode_orders_say_nothing_was_bought(telegram: FakeTelegram, tmp_path: Path) -> None:
    settings = load_settings(_env_file=None, telegram_bot_token=telegram.token, telegram_base_url=telegram.base_url,
                             database_url=await database_url(tmp_path / "bot.db"), admin_ids="900")
    telegram.user(900, first_name="Admin")
    async with running_bot(settings) as app:
        (sandbox,) = app_state(app).sandbox_servers  # one simulated panel unless SANDBOX_PANELS says more
        shop = Shop(telegram, sandbox.panel, sandbox, app, settings)
        customer, admin = shop.customer(1005, "Eve"), shop.customer(900, "Admin")
        await customer.say("/start")
        await admin.say("/credit 1005 10")
        await customer.user.next_message()
        await customer.open_service("102")
        await customer.say("https://instagram.com/sandbox")
        summary = await customer.say("1000")
        await customer.tap(summary, ":ok")
        placed = await customer.wait_text(summary, lambda text: text.startswith("✅"))
        assert placed.text.endswith(str(texts.SANDBOX_ORDER_NOTE))
        assert len([r for r in sandbox.requests if r.action == "add"]) == 1


async def test_sandbox_mode_with_three_panels_sells_from_each_once_priced(telegram: FakeTelegram,
                                                                          tmp_path: Path) -> None:
    """SANDBOX_PANELS=3: alpha (USD), beta (EUR) and gamma (USD), each its own dialect and
    catalogue; beta's services go on sale once the admin sets a rate for EUR."""
    settings = load_settings(_env_file=None, telegram_bot_token=telegram.token, telegram_base_url=telegram.base_url,
                             database_url=await database_url(tmp_path / "bot.db"), admin_ids="900", sandbox_panels=3)
    telegram.user(900, first_name="Admin")
    async with running_bot(settings) as app:
        state = app_state(app)
        assert state.panels.names == ("alpha", "beta", "gamma") and len(state.sandbox_servers) == 3
        assert state.panels.currencies() == {"alpha": "USD", "beta": "EUR", "gamma": "USD"}  # from their `balance`
        on_sale = {s.service_id.partition("-")[0] for s in state.catalogue.services()}
        assert "beta" not in on_sale and "gamma" in on_sale  # (alpha's keep their own ids)
        admin = Shop(telegram, state.sandbox_servers[0].panel, state.sandbox_servers[0], app, settings).customer(900)
        assert (await admin.say("/rate EUR 1.08")).text.startswith("✅ 1 EUR = 1.08 USD")
        assert any(s.service_id.startswith("beta-") for s in state.catalogue.services())


async def test_text_outside_a_conversation_points_to_the_menu(telegram: FakeTelegram, settings: Settings) -> None:
    ann = telegram.user(1006, first_name="Ann")
    async with running_bot(settings):
        for text in ("hello?", "/nonsense"):
            await ann.send(text)
            reply = await ann.next_message()
            assert reply.text == texts.UNKNOWN_INPUT
            assert reply.button(texts.BUTTON_NEW_ORDER)["callback_data"] == "m:new"


async def test_wallets_are_kept_in_the_currency_the_panel_reports(tmp_path: Path) -> None:
    """Learned once from `balance` and remembered: a panel that later says another currency (or
    none) does not relabel the money already in the wallets."""
    panel = SandboxPanel(api_key=PANEL_KEY, clock=SandboxClock(speed=0), currency="EUR")
    async with FakeTelegram() as telegram, SandboxServer(panel) as server:
        async with run_shop(tmp_path, telegram, server) as shop:
            ann = shop.customer(5101, "Ann")
            admin = shop.customer(ADMIN_ID, "Admin")
            assert "0.00 EUR" in (await ann.say("/balance")).text
            assert "20.00 EUR" in (await admin.say(f"/credit {ann.id} 20")).text
            assert "20.00 EUR" in (await ann.user.next_message()).text  # told of the credit
            summary = await order_until_summary(ann, "102", ["https://instagram.com/ann", "1000"])
            assert "EUR" in summary.text and "USD" not in summary.text  # type: ignore[attr-defined]
        panel.currency = "USD"
        async with run_shop(tmp_path, telegram, server) as shop:
            assert "EUR" in (await shop.customer(5101, "Ann").say("/balance")).text


async def test_a_database_that_does_not_answer_stops_the_bot_in_one_line_without_its_password(
        telegram: FakeTelegram, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "PANEL_", "DATABASE_"))}
    env |= {"TELEGRAM_BOT_TOKEN": telegram.token, "TELEGRAM_BASE_URL": telegram.base_url, "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"postgresql://shop:s3cret-pw@127.0.0.1:{port}/shop"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr_bytes = await asyncio.wait_for(process.communicate(), timeout=60)
    stderr = stderr_bytes.decode()
    assert process.returncode == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Configuration error: cannot open the database at postgresql://shop:***@127.0.0.1:")
    assert "s3cret-pw" not in stderr and "Traceback" not in stderr

