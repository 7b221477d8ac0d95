"""Telegram's limits shared by several instances of the bot through a real Redis (issue #15).

Each "instance" is a SlidingWindowRateLimiter with its own Redis client, in this process; the
callbacks stand in for the Bot API and note when each send went out. Every test uses its own key
prefix and deletes its keys afterwards. REDIS_TEST_URL (default redis://127.0.0.1:6379/0) says
where Redis is; without one, these tests are skipped (pytest -ra names the reason).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from telegram.error import RetryAfter

from bot.logging_setup import RedactSecrets
from bot.rate_limit import (
    JSON,
    SHARED_LIMITS,
    Limits,
    LocalWindows,
    RedisWindows,
    SlidingWindowRateLimiter,
    build_rate_limiter,
    redis_client,
)
from bot.settings import ConfigError, load_settings
from tests.support.shop import open_shop
from tests.support.windows import most_in_window

REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
TOKEN = "123456:ABCdef-ghiJKL"

MakeLimiter = Callable[..., Awaitable[SlidingWindowRateLimiter]]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    except RedisError as exc:
        await client.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    prefix = f"test-rl:{secrets.token_hex(6)}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def make(prefix: str) -> AsyncIterator[MakeLimiter]:
    """Builds limiters ("instances") on the test's prefix, each with its own client; shut down after."""
    made: list[SlidingWindowRateLimiter] = []

    async def build(limits: Limits = SHARED_LIMITS, url: str = REDIS_URL, **kwargs: float) -> SlidingWindowRateLimiter:
        limiter = SlidingWindowRateLimiter(RedisWindows(redis_client(url), prefix, limits, **kwargs))
        made.append(limiter)
        await limiter.initialize()
        return limiter

    yield build
    for limiter in made:
        await limiter.shutdown()


def store_of(limiter: SlidingWindowRateLimiter) -> RedisWindows:
    assert isinstance(limiter.store, RedisWindows)
    return limiter.store


async def send(limiter: SlidingWindowRateLimiter, chat_id: int | None, stamps: list[float],
               endpoint: str = "sendMessage") -> None:
    async def callback() -> JSON:
        stamps.append(time.monotonic())
        return True

    data = {} if chat_id is None else {"chat_id": chat_id}
    await limiter.process_request(callback, (), {}, endpoint, data, None)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SeenLog(logging.Handler):
    """Sets an event when a record containing ``needle`` is logged."""

    def __init__(self, needle: str) -> None:
        super().__init__()
        self.needle = needle
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.event.set()


async def test_three_instances_together_send_at_most_30_a_second(make: MakeLimiter) -> None:
    instances = [await make() for _ in range(3)]
    stamps: list[float] = []
    start = time.monotonic()
    # 30 each, to 90 different chats: alone, each instance would send its 30 at once.
    await asyncio.gather(*(send(instances[i % 3], 1000 + i, stamps) for i in range(90)))
    assert len(stamps) == 90
    assert most_in_window(stamps, 1.0) <= 30
    span = max(stamps) - start
    assert 2.0 <= span < 3.0  # 30 at once, 30 a window later, 30 two windows later: no slower than that


async def test_one_chat_gets_three_in_three_seconds_across_instances_and_others_do_not_wait(
        make: MakeLimiter) -> None:
    instances = [await make() for _ in range(3)]
    busy: list[float] = []
    others: list[float] = []
    start = time.monotonic()
    await asyncio.gather(*(send(instance, 777, busy) for instance in instances for _ in range(2)),
                         *(send(instance, 2000 + 10 * n + k, others) for n, instance in enumerate(instances)
                           for k in range(3)))
    busy.sort()
    assert len(busy) == 6 and most_in_window(busy, 3.0) <= 3
    assert busy[2] - start < 0.5  # a burst of three goes at once
    assert busy[3] - busy[0] >= 3.0  # the fourth waits for the first to leave the window
    assert len(others) == 9 and max(others) - start < 0.5  # the busy chat held nobody else up


async def test_a_429_seen_by_one_instance_pauses_the_others(make: MakeLimiter,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.rate_limit")
    seen = SeenLog("flood control: sendMessage asked to wait 1.0s")
    logging.getLogger("bot.rate_limit").addHandler(seen)
    first, second = await make(), await make()
    flooded_at: list[float] = []
    retried: list[float] = []

    async def flooded() -> JSON:
        if not flooded_at:
            flooded_at.append(time.monotonic())
            raise RetryAfter(1)
        retried.append(time.monotonic())
        return True

    try:
        task = asyncio.create_task(first.process_request(flooded, (), {}, "sendMessage", {"chat_id": 1}, None))
        await asyncio.wait_for(seen.event.wait(), 5)  # logged once the shared pause is set
        other: list[float] = []
        await send(second, 2, other)  # another instance, another chat
        assert await task is True
    finally:
        logging.getLogger("bot.rate_limit").removeHandler(seen)
    assert other[0] - flooded_at[0] >= 1.0  # retry_after 1 s (+0.1), as counted by Redis
    assert retried[0] - flooded_at[0] >= 1.0


async def test_a_shorter_pause_never_shortens_a_longer_one(make: MakeLimiter, redis: Redis) -> None:
    store = store_of(await make())
    await store.pause(5)
    await store.pause(1)
    assert 4000 < await redis.pttl(store.pause_key) <= 6000
    wait = await store.reserve("5")
    assert 4.5 < wait.seconds <= 5 and not wait.chat_bound


async def test_uncounted_calls_neither_wait_nor_count(make: MakeLimiter, redis: Redis) -> None:
    limiter = await make()
    store = store_of(limiter)
    await store.pause(30)
    stamps: list[float] = []
    start = time.monotonic()
    await send(limiter, None, stamps, endpoint="getUpdates")
    await send(limiter, 5, stamps, endpoint="answerCallbackQuery")
    await send(limiter, None, stamps, endpoint="sendMessage")  # no chat: not a message to anyone
    assert len(stamps) == 3 and time.monotonic() - start < 0.5
    assert await redis.exists(store.sent_key) == 0


async def test_members_are_unique_across_instances(make: MakeLimiter, redis: Redis) -> None:
    roomy = Limits(per_window=1000, per_chat=1000)
    instances = [await make(roomy) for _ in range(2)]
    stamps: list[float] = []
    await asyncio.gather(*(send(instances[i % 2], 7, stamps) for i in range(60)))
    store = store_of(instances[0])
    assert await redis.zcard(store.sent_key) == 60  # a member reused would have replaced another send
    assert await redis.zcard(store.chat_key("7")) == 60


async def test_every_key_has_a_short_ttl(make: MakeLimiter, redis: Redis, prefix: str) -> None:
    limiter = await make()
    store = store_of(limiter)
    await send(limiter, 42, [])
    await store.pause(0.2)
    ttls = {key.decode(): await redis.pttl(key) async for key in redis.scan_iter(match=f"{prefix}*")}
    assert set(ttls) == {store.sent_key, store.chat_key("42"), store.pause_key}
    window_ms = int(store.limits.window * 1000)
    assert 0 < ttls[store.sent_key] <= window_ms + 1000 and 0 < ttls[store.chat_key("42")] <= 4050
    assert 0 < ttls[store.pause_key] <= 1200


async def test_keys_are_gone_a_second_after_they_stop_mattering(make: MakeLimiter, redis: Redis) -> None:
    store = store_of(await make(Limits(window=0.05, per_chat=3, chat_window=0.05)))
    assert (await store.reserve("43")).seconds == 0
    await store.pause(0.05)
    assert await redis.exists(store.sent_key, store.chat_key("43"), store.pause_key) == 3
    await asyncio.sleep(1.2)  # the time passing is what is tested
    assert await redis.exists(store.sent_key, store.chat_key("43"), store.pause_key) == 0


async def test_redis_down_sends_still_go_paced_here(make: MakeLimiter, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.rate_limit")
    limiter = await make(url=f"redis://127.0.0.1:{unused_port()}/0")
    stamps: list[float] = []
    start = time.monotonic()
    await asyncio.gather(*(send(limiter, 3000 + i, stamps) for i in range(40)))
    assert len(stamps) == 40 and most_in_window(stamps, 1.0) <= 30
    assert max(stamps) - start >= 1.0  # the 31st waited: counted in this process
    assert not store_of(limiter).online.is_set()
    warnings = [r for r in caplog.records if "did not answer" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING  # once, not once a send


class Proxy:
    """A TCP relay to Redis that can be cut and restored, on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.close()
                self._writers.discard(sink)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_back_to_redis_when_it_answers_again(make: MakeLimiter, redis: Redis,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.rate_limit")
    target = urlsplit(REDIS_URL)
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    limiter = await make(url=f"redis://127.0.0.1:{proxy.port}{target.path}", probe_seconds=0.05)
    store = store_of(limiter)
    stamps: list[float] = []
    await send(limiter, 1, stamps)
    assert await redis.zcard(store.sent_key) == 1

    await proxy.stop()
    await send(limiter, 2, stamps)  # goes, counted here
    assert not store.online.is_set() and await redis.zcard(store.sent_key) == 1

    await proxy.start()
    await asyncio.wait_for(store.online.wait(), 5)
    await send(limiter, 3, stamps)
    assert await redis.zcard(store.sent_key) == 2 and len(stamps) == 3
    assert any("answers again" in r.getMessage() for r in caplog.records)
    await limiter.shutdown()
    await proxy.stop()


def test_local_windows_count_the_bot_and_each_chat() -> None:
    now = [100.0]
    windows = LocalWindows(SHARED_LIMITS, clock=lambda: now[0])
    assert all(windows.take(str(chat)).seconds == 0 for chat in range(30))
    assert windows.take("99").seconds == pytest.approx(SHARED_LIMITS.window)
    now[0] += SHARED_LIMITS.window
    assert [windows.take("x").seconds for _ in range(3)] == [0, 0, 0]
    fourth = windows.take("x")
    assert fourth.chat_bound and fourth.seconds == pytest.approx(3.05)
    windows.hold(2)
    assert windows.take("8") == (2, False)
    # Without REDIS_URL only the bot's window counts, as before.
    alone = LocalWindows(clock=lambda: now[0])
    assert [alone.take("7").seconds for _ in range(5)] == [0] * 5


async def test_the_bot_with_redis_url_answers_start(tmp_path: Path, redis: Redis, prefix: str) -> None:
    async with open_shop(tmp_path, redis_url=REDIS_URL, redis_prefix=prefix) as shop:
        store = shop.app.bot.rate_limiter.store  # type: ignore[attr-defined]
        assert isinstance(store, RedisWindows) and store.prefix == prefix
        reply = await shop.customer(1001, "Ann").say("/start")
        assert "Ann" in reply.text
        assert await redis.zcard(store.chat_key("1001")) >= 1  # the reply was counted in Redis
        assert store.online.is_set()


@pytest.fixture
def no_redis_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_PREFIX"):
        monkeypatch.delenv(name, raising=False)


async def test_without_redis_url_the_limiter_counts_in_this_process(no_redis_env: None) -> None:
    settings = load_settings(_env_file=None, telegram_bot_token=TOKEN, redis_url="  ")
    assert settings.redis_url is None and settings.redis_prefix == "smmbot:"
    limiter = build_rate_limiter(settings)
    assert isinstance(limiter.store, LocalWindows) and limiter.store.limits.per_chat is None


async def test_redis_url_builds_the_shared_limiter_and_its_password_is_a_secret(no_redis_env: None) -> None:
    settings = load_settings(_env_file=None, telegram_bot_token=TOKEN, redis_url="redis://:p%40ss-w0rd@cache:6380/2",
                             redis_prefix="shop1:")
    assert "p%40ss-w0rd" not in repr(settings) and "p@ss-w0rd" not in repr(settings)
    assert settings.secrets() == [TOKEN, "p%40ss-w0rd", "p@ss-w0rd"]
    redacting = RedactSecrets(settings.secrets())
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "cannot reach %s", ("p@ss-w0rd",), None)
    redacting.filter(record)
    assert record.getMessage() == "cannot reach ***"
    limiter = build_rate_limiter(settings)
    store = store_of(limiter)
    assert store.prefix == "shop1:" and store.limits == SHARED_LIMITS
    assert store.client.connection_pool.connection_kwargs["socket_timeout"] == 1.0  # never a long wait
    await limiter.shutdown()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"redis_url": "http://:hunter2@cache:6379"}, "REDIS_URL must be a redis:// (or rediss://) URL"),
        ({"redis_url": "redis://:hunter2@cache:port"}, "REDIS_URL has a port that is not a number"),
        ({"redis_url": "redis://:hunter2@/0"}, "REDIS_URL must be a redis:// (or rediss://) URL"),
        ({"redis_url": "redis://cache", "redis_prefix": "my bot:"}, "REDIS_PREFIX must be 1 to 64 characters"),
        ({"redis_url": "redis://cache", "redis_prefix": ""}, "REDIS_PREFIX must be 1 to 64 characters"),
    ],
)
def test_bad_redis_settings_name_the_variable(no_redis_env: None, overrides: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, telegram_bot_token=TOKEN, **overrides)
    assert expected in str(error.value) and "hunter2" not in str(error.value)
