"""Several instances of the real bot (`python -m bot`, each its own process) on one PostgreSQL,
behind the fake Bot API, which posts each update to one of them (round-robin, as a load balancer
would), and one sandbox panel; customers that order like people. For tests/test_cluster_e2e.py
and bench/cluster.py.

An instance can be killed (SIGKILL: no goodbye, its claims left to expire) and started again on
the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from bot.domain.catalogue import category_key
from storage.database import open_database
from tests.support.fake_telegram import FakeTelegram, FakeUser, SentMessage

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_URL = "https://shop.example/telegram"
WEBHOOK_SECRET = "cluster-test-secret_0123456789"
READY_SECONDS = 30.0
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**settings: str) -> dict[str, str]:
    """A clean environment: PATH, the repository on PYTHONPATH, and the given settings."""
    python_path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PATH": os.environ.get("PATH", os.defpath), "PYTHONPATH": python_path, **settings}


class ClusterTelegram(FakeTelegram):
    """The fake Bot API, with what a thousand waiting customers need: an event per chat, set when
    a message to it is sent or edited (the server's own waiting re-checks every waiter on every
    call), and the time of every message, for the flood check."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sent_at: list[float] = []
        self._chat_events: dict[int, asyncio.Event] = {}

    def chat_event(self, chat_id: int) -> asyncio.Event:
        return self._chat_events.setdefault(chat_id, asyncio.Event())

    def _note_send(self, chat_id: int | None) -> None:
        super()._note_send(chat_id)
        self.sent_at.append(time.monotonic())
        if chat_id is not None:
            self.chat_event(chat_id).set()

    async def until(self, chat_id: int, probe: Callable[[], T | None], timeout: float,  # noqa: ASYNC109 - test API
                    what: str) -> T:
        """Wait until `probe()` gives something, looked at each time the chat gets a message."""
        event = self.chat_event(chat_id)
        deadline = time.monotonic() + timeout
        while (found := probe()) is None:
            event.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                shown = [f"{m.message_id}: {m.text[:70]!r}" for m in self.messages(chat_id)[-4:]]
                raise AssertionError(f"timed out after {timeout}s waiting for {what}; last messages: {shown}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), left)
        return found


@dataclass
class Instance:
    """One `python -m bot` in webhook mode, serving HTTP on `port`."""

    name: str
    port: int
    env: dict[str, str]
    home: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.home / f"{self.name}.log"

    async def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", env={**self.env, "HTTP_PORT": str(self.port)}, cwd=self.home,
                stdout=log, stderr=log)
        await self._until_ready()

    async def _until_ready(self) -> None:
        """Its /readyz answers 200 (the database and the panel answer, the application runs). A
        process coming up gives no event to wait for: its port is asked every 50 ms."""
        deadline = time.monotonic() + READY_SECONDS
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.returncode is not None:
                    raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{self.url}/readyz", timeout=aiohttp.ClientTimeout(total=2)) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} not ready after {READY_SECONDS}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: nothing is finished, nothing released."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM, as an orchestrator stops a container; returns the exit code."""
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process is not None else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(60):
                return await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(f"{self.name} did not stop on SIGTERM:\n{self.tail()}") from None

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@dataclass
class Cluster:
    telegram: ClusterTelegram
    instances: list[Instance] = field(default_factory=list)

    def route(self) -> None:
        """The load balancer: every instance that runs gets its share of the updates."""
        self.telegram.deliver_webhooks_to([i.url for i in self.instances])

    def logs(self) -> str:
        return "\n".join(f"--- {i.name}\n{i.tail()}" for i in self.instances)


@asynccontextmanager
async def running_cluster(home: Path, telegram: ClusterTelegram, count: int, **settings: str) -> AsyncIterator[Cluster]:
    """`count` instances with these settings (DATABASE_URL, PANEL_API_URL… as environment
    variables), all started before the first update is delivered; stopped with SIGTERM at the end."""
    env = child_env(TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_BASE_URL=telegram.base_url,
                    WEBHOOK_URL=WEBHOOK_URL, WEBHOOK_SECRET=WEBHOOK_SECRET, HTTP_LISTEN="127.0.0.1",
                    LOG_LEVEL="WARNING", **settings)
    cluster = Cluster(telegram)
    for number in range(1, count + 1):
        folder = home / f"bot{number}"
        folder.mkdir(parents=True, exist_ok=True)
        cluster.instances.append(Instance(f"bot{number}", free_port(), env, folder))
    try:
        await asyncio.gather(*(instance.start() for instance in cluster.instances))
        cluster.route()
        yield cluster
    finally:
        codes = await asyncio.gather(*(instance.stop() for instance in cluster.instances), return_exceptions=True)
        bad = [(i.name, c) for i, c in zip(cluster.instances, codes, strict=True) if c != 0]
        assert not bad, f"instances that did not stop cleanly: {bad}\n{cluster.logs()}"


# --------------------------------------------------------------------------- customers

@dataclass
class Step:
    """What a customer did and what the bot had shown before (to check replies come in order)."""

    action: str
    shown_before: int  # bot messages and edits in the chat before the action


class ClusterCustomer:
    """A customer who orders one service: /order, category, service, link, quantity, Confirm.

    Waits for each answer (an event from the fake Bot API, never a fixed time) and acts on what
    the bot shows last, so an update handled again after its instance was killed (its answer
    repeated) does not throw them off.
    """

    def __init__(self, telegram: ClusterTelegram, user: FakeUser, *, category: str, service_id: str, link: str,
                 quantity: int, patience: float) -> None:
        self.telegram, self.user = telegram, user
        self.category_key, self.service_id = category_key(category), service_id
        self.link, self.quantity = link, quantity
        self.patience = patience
        self.steps: list[Step] = []
        self.outcome = ""

    def _shown(self) -> int:
        return sum(1 + m.edits for m in self.user.messages())

    async def _changed(self, since: int, what: str) -> None:
        await self.telegram.until(self.user.id, lambda: True if self._shown() > since else None, self.patience,
                                  f"chat {self.user.id}: {what}")

    def _with_button(self, suffix: str) -> SentMessage | None:
        for message in reversed(self.user.messages()):
            for row in message.buttons():
                for button in row:
                    if str(button.get("callback_data", "")).endswith(suffix):
                        return message
        return None

    async def _say(self, text: str, what: str) -> None:
        since = self._shown()
        self.steps.append(Step(text, since))
        await self.user.send(text)
        await self._changed(since, what)

    async def _tap(self, suffix: str, what: str) -> None:
        """Press the button on the newest message that has it. If that message turns out stale (an
        update handled again after its instance was killed sent the menu anew: the tap is only
        answered "expired"), press it on the newer one, as a person would."""
        for _ in range(4):
            message = await self.telegram.until(self.user.id, lambda: self._with_button(suffix), self.patience,
                                                f"chat {self.user.id}: a button {suffix}")
            since, edits = self._shown(), message.edits
            self.steps.append(Step(suffix, since))
            data = next(str(b["callback_data"]) for row in message.buttons() for b in row
                        if str(b.get("callback_data", "")).endswith(suffix))
            await self.user.press(message, data)
            await self._changed(since, what)
            newest = self._with_button(suffix)
            if message.edits > edits or newest is None or newest.message_id == message.message_id:
                return
        raise AssertionError(f"chat {self.user.id}: {suffix} pressed four times, never taken")

    async def top_up(self, amount_button: str) -> str:
        """/start → Top up → a preset amount → pay the invoice; returns the receipt."""
        await self._say("/start", "the main menu")
        await self._tap("m:top", "the top-up menu")
        await self._tap(amount_button, "the invoice")
        invoice = await self.telegram.until(self.user.id, lambda: next(
            (m for m in reversed(self.user.messages()) if m.kind == "invoice"), None), self.patience,
            f"chat {self.user.id}: an invoice")
        since = self._shown()
        result = await self.user.pay(invoice)
        if not result.ok:
            raise AssertionError(f"chat {self.user.id}: the payment was refused: {result}")
        await self._changed(since, "the receipt")
        return await self.telegram.until(self.user.id, lambda: next(
            (m.text for m in self.user.messages() if m.text.startswith("✅ Payment received")), None),
            self.patience, f"chat {self.user.id}: the receipt")

    async def order(self, *, burst: bool = False) -> str:
        """Order the service; `burst`: the link and the quantity typed one after the other without
        waiting (two updates that may reach two instances at once)."""
        await self._say("/order", "the categories")
        await self._tap(f":cat:{self.category_key}:0", "the category's services")
        await self._tap(f":svc:{self.service_id}", "the service and its first question")
        if burst:
            since = self._shown()
            self.steps += [Step(self.link, since), Step(str(self.quantity), since)]
            await self.user.send(self.link)
            await self.user.send(str(self.quantity))
        else:
            await self._say(self.link, "the question for the quantity")
            await self._say(str(self.quantity), "the summary")
        await self._tap(":ok", "the order being placed")
        try:
            self.outcome = await self.telegram.until(self.user.id, self._placed, self.patience,
                                                     f"chat {self.user.id}: the order's outcome")
        except AssertionError:
            # Still "Placing…", or "the provider did not answer": the instance placing it was
            # killed with the `add` in flight. The order is then held as unverified for an admin
            # (the test checks it is).
            if not any(m.text.startswith(("⏳ Placing", "⏳ The provider did not answer"))
                       for m in self.user.messages()[-1:]):
                raise
            self.outcome = ""
        return self.outcome

    def _placed(self) -> str | None:
        for message in reversed(self.user.messages()):
            if message.text.startswith(("✅ Order placed", "❌")):
                return message.text
        return None


# --------------------------------------------------------------------------- the services

async def unreachable(postgres: str, redis_url: str) -> str | None:
    try:
        conn = await asyncpg.connect(postgres, timeout=3)
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        return f"no PostgreSQL at {postgres}: {exc}"
    client = aioredis.from_url(redis_url, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:  # redis raises its own ConnectionError
        return f"no Redis at {redis_url}: {exc}"
    finally:
        await client.aclose()
    return None


@asynccontextmanager
async def fresh_postgres(postgres: str, name: str) -> AsyncIterator[str]:
    """A new, empty database (migrated here once: the instances find it at head); dropped after."""
    conn = await asyncpg.connect(postgres)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = re.sub(r"/[^/]*$", f"/{name}", postgres)
    try:
        db = await open_database(url)
        await db.close()
        yield url
    finally:
        conn = await asyncpg.connect(postgres)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def forget_redis(redis_url: str, prefix: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        async for key in client.scan_iter(f"{prefix}*"):
            await client.delete(key)
    finally:
        await client.aclose()
