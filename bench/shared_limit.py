"""Several instances of the bot share Telegram's 30 messages a second through Redis (issue #15).

Three limiters, each with its own Redis client (as three processes would have), push 300
messages to 300 chats at once. Prints the total time, the most messages sent in any 1-second
window (target: at most 30; exit 1 past it), and what the Redis round trip adds to a request
(p50/p95) against the in-process limiter. Keys get a random prefix and are deleted afterwards.

    python bench/shared_limit.py [--messages 300] [--instances 3] [--samples 1000]
                                 [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import argparse
import asyncio
import math
import secrets
import statistics
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.rate_limit import (
    JSON,
    MESSAGES_PER_WINDOW,
    SHARED_LIMITS,
    WINDOW_SECONDS,
    Limits,
    LocalWindows,
    RedisWindows,
    SlidingWindowRateLimiter,
    redis_client,
)
from tests.support.windows import most_in_window

TELEGRAM_LIMIT = 30  # messages in any one second, for the whole bot
ROOMY = Limits(per_window=10**9, per_chat=10**9)  # for timing the round trip alone: nothing ever waits


async def send(limiter: SlidingWindowRateLimiter, chat_id: int, stamps: list[float]) -> None:
    async def callback() -> JSON:
        stamps.append(time.monotonic())
        return True

    await limiter.process_request(callback, (), {}, "sendMessage", {"chat_id": chat_id}, None)


async def latencies(limiter: SlidingWindowRateLimiter, samples: int) -> list[float]:
    """Seconds per request, one at a time, with limits that never make anything wait."""
    spent = []
    for i in range(samples):
        start = time.perf_counter()
        await send(limiter, 10_000 + i, [])
        spent.append(time.perf_counter() - start)
    return spent


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


async def main(args: argparse.Namespace) -> int:
    probe = Redis.from_url(args.redis, socket_connect_timeout=1, socket_timeout=1)
    try:
        await probe.ping()
    except RedisError as exc:
        print(f"no Redis at {args.redis}: {exc}")
        await probe.aclose()
        return 2
    prefix = f"bench-rl:{secrets.token_hex(6)}:"
    limiters: list[SlidingWindowRateLimiter] = []
    try:
        instances = [SlidingWindowRateLimiter(RedisWindows(redis_client(args.redis), prefix, SHARED_LIMITS))
                     for _ in range(args.instances)]
        limiters += instances
        for limiter in instances:
            await limiter.initialize()
        stamps: list[float] = []
        start = time.monotonic()
        await asyncio.gather(*(send(instances[i % args.instances], 1000 + i, stamps) for i in range(args.messages)))
        total = time.monotonic() - start
        most = most_in_window(stamps, 1.0)
        fastest = (math.ceil(args.messages / MESSAGES_PER_WINDOW) - 1) * WINDOW_SECONDS

        local = SlidingWindowRateLimiter(LocalWindows(ROOMY))
        shared = SlidingWindowRateLimiter(RedisWindows(redis_client(args.redis), prefix + "latency:", ROOMY))
        limiters.append(shared)
        local_spent = await latencies(local, args.samples)
        shared_spent = await latencies(shared, args.samples)
    finally:
        for limiter in limiters:
            await limiter.shutdown()
        keys = [key async for key in probe.scan_iter(match=f"{prefix}*")]
        if keys:
            await probe.delete(*keys)
        await probe.aclose()

    print(f"instances: {args.instances}, messages: {args.messages} to {args.messages} chats, sent: {len(stamps)}")
    print(f"total time: {total:.2f} s (fastest the window allows: {fastest:.2f} s)")
    print(f"most messages in any 1-second window: {most}")
    ms = 1000
    for name, spent in (("in-process", local_spent), ("redis", shared_spent)):
        print(f"latency per request, {name}: p50 {percentile(spent, 0.5) * ms:.3f} ms, "
              f"p95 {percentile(spent, 0.95) * ms:.3f} ms ({len(spent)} requests, one at a time)")
    print(f"added by the Redis round trip: p50 "
          f"{(percentile(shared_spent, 0.5) - percentile(local_spent, 0.5)) * ms:.3f} ms, p95 "
          f"{(percentile(shared_spent, 0.95) - percentile(local_spent, 0.95)) * ms:.3f} ms")
    ok = most <= TELEGRAM_LIMIT and len(stamps) == args.messages
    print(f"{'PASS' if ok else 'FAIL'}  at most {TELEGRAM_LIMIT} messages in any 1-second window, all sent")
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--samples", type=int, default=1000, help="requests timed for the latency figures")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    sys.exit(asyncio.run(main(parser.parse_args())))
