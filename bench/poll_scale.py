"""Status of 10,000 orders against the sandbox panel with 50 ms latency per request.

Target (issue #2): exactly 100 requests (100 ids each), wall time at most 20 × the latency,
and never more requests in flight at the panel than the client's configured concurrency.
The sandbox runs in its own process, as a real panel would, so its work does not share the
client's CPU; it reports what it saw on its /_sandbox/stats endpoint.

    python bench/poll_scale.py [--orders 10000] [--latency 0.05] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import sys
import time

import httpx

from bot.panel import BATCH_LIMIT, OrderStatusInfo, PanelClient

KEY = "bench-key"


async def start_sandbox(orders: int, latency: float) -> tuple[asyncio.subprocess.Process, str, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.panel.sandbox", "--port", "0", "--key", KEY, "--speed", "0",
        "--latency", str(latency), "--orders", str(orders), stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    first = last = 0
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
        if not line:
            raise RuntimeError("the sandbox exited before it was ready")
        if match := re.search(r"ids (\d+)\.\.(\d+)", line):
            first, last = int(match.group(1)), int(match.group(2))
        if match := re.search(r"at (http://\S+)", line):
            return process, match.group(1), [str(i) for i in range(first, last + 1)]


async def run(orders: int, latency: float, concurrency: int) -> bool:
    process, api_url, ids = await start_sandbox(orders, latency)
    stats_url = api_url.replace("/api/v2", "/_sandbox/stats")
    try:
        async with PanelClient(api_url, KEY, max_concurrency=concurrency) as client, httpx.AsyncClient() as http:
            await client.balance()  # warm the connection pool outside the measurement
            await http.post(api_url.replace("/api/v2", "/_sandbox/reset"))
            started = time.perf_counter()
            results = await client.statuses(ids)
            wall = time.perf_counter() - started
            stats = (await http.get(stats_url)).json()
    finally:
        process.terminate()
        await process.wait()
    answered = sum(isinstance(r, OrderStatusInfo) for r in results.values())
    requests = stats["requests"].get("status", 0)
    expected_requests = math.ceil(orders / BATCH_LIMIT)
    wall_budget = 20 * latency
    checks = {
        f"requests == {expected_requests}": requests == expected_requests,
        f"wall time <= {wall_budget * 1000:.0f} ms (20 x latency)": wall <= wall_budget,
        f"max in flight <= {concurrency}": stats["max_in_flight"] <= concurrency,
        "every id answered": answered == orders,
    }
    print(f"orders: {orders}  latency: {latency * 1000:.0f} ms  client concurrency: {concurrency}")
    print(f"requests made: {requests}")
    print(f"wall time: {wall * 1000:.0f} ms ({wall / latency:.1f} x latency)")
    print(f"max concurrent requests seen by the panel: {stats['max_in_flight']}")
    print(f"ids answered with a status: {answered}/{orders}")
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Poll 10,000 order statuses against the sandbox panel.")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args(argv)
    return 0 if asyncio.run(run(args.orders, args.latency, args.concurrency)) else 1


if __name__ == "__main__":
    sys.exit(main())
